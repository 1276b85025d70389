"""``--as TOOL``: the headline number another counting tool prints for a network, from our walk.

Each tool is a set of per-layer rules, read from the tool's source at the version named in
``checked`` and compared with the real tool on the networks recorded in
``tests/reference/tool_counts.json`` (``tests/reference/make_tool_counts.py`` runs the tools,
``tests/test_arch_tools.py`` checks that every recorded number is reproduced exactly).

The tools see a network as ``convcalc.network.torch_build`` builds it: every layer an ``nn.Module``
(``nn.ReLU``, ``nn.AdaptiveAvgPool2d`` …), residual adds, concatenations and SE gates as tensor
operators (``a + b``, ``torch.cat``, ``x * s``), which no tool counts. Hook-based tools (ptflops,
thop, torchinfo) and function-patching ones (calflops, ptflops) count a layer differently when a
model calls it functionally inside ``forward`` (torchvision's Inception uses ``F.relu``, DenseNet
``F.relu`` and ``F.adaptive_avg_pool2d`` at the end, ShuffleNet/MNASNet ``x.mean([2, 3])``).

Which ops a model calls functionally is a property of the network (``Leaf.functional``, recorded in
the zoo where torchvision's forward makes a call); ``code="torchvision"`` (the default) counts those
rows as each tool counts the call: hook-only tools (thop, ultralytics-thop, torchinfo) not at all;
ptflops by its patched function alone (``F.relu``, ``F.*pool*``: input elements, no module hook);
calflops and fvcore as before (they see functions or the traced graph either way); ``x.mean([2, 3])``
by none of them (``Tensor.mean`` is patched by neither ptflops nor calflops, and is not among
fvcore's ops). ``code="modules"`` counts every row as an ``nn.Module``: a model written with modules
only, as ``torch_build(code="modules")`` builds it.

A rule maps one leaf row and the batch size to the parts of the tool's figure it adds, keyed by
what they are (``conv/linear``, ``bias``, ``norm``, ``activation``, ``pool``, ``upsample``), so the
"how it differs from ours" line can say where the difference comes from.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from convcalc.dims import Dim, product
from convcalc.errors import InputError
from convcalc.layers.attention import PatchEmbedding
from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.dense import Linear
from convcalc.layers.elementwise import Activation, PReLU
from convcalc.layers.norm import BatchNorm, GroupNorm, LayerNorm, LocalResponseNorm
from convcalc.layers.pool import AdaptivePool, AvgPool, MaxPool
from convcalc.layers.resample import Upsample
from convcalc.network.conventions import is_gemm
from convcalc.network.walk import NetworkReport, Row

Parts = tuple[tuple[str, Dim], ...]

GEMM = "conv/linear"


# --- facts about one row, in the tools' terms --------------------------------------------------

def _in(row: Row, n: int) -> Dim:
    """Input elements, batch included (torch's ``input.numel()``)."""
    return n * product(row.input)


def _out(row: Row, n: int) -> Dim:
    return n * product(row.output)


def _bias_adds(row: Row) -> Dim:
    return sum((v for op, v in row.other_ops if op == "bias adds"), 0)


def _activation(row: Row) -> str | None:
    """The torch.nn activation a row stands for (``relu``, ``relu6``, ``prelu`` …), or None."""
    if isinstance(row.layer, PReLU):
        return "prelu"
    if isinstance(row.layer, Activation):
        return row.layer.kind
    return None


def _pool(row: Row) -> str | None:
    """``max``, ``avg``, ``adaptive-avg`` or ``adaptive-max`` (global pools are adaptive ones in torch)."""
    layer = row.layer
    if isinstance(layer, MaxPool):
        return "max"
    if isinstance(layer, AvgPool):
        return "avg"
    if isinstance(layer, AdaptivePool):
        return f"adaptive-{layer.mode}"
    return None


def _spatial(row: Row) -> tuple:
    return tuple(row.input[1:]), tuple(row.output[1:])


def _kernel(row: Row) -> Dim:
    assert row.report is not None  # a layer's row (only blocks and merges have none)
    return product(row.report.hyper["kernel_size"])


def _transposed_at_output(row: Row, n: int) -> Dim:
    """A transposed conv counted like a conv at its OUTPUT positions: N·C_out·Πo · (C_in/g)·Πk
    (thop 0.1.1 and torchinfo count it so; ours, torch's and fvcore's count input positions)."""
    assert row.report is not None  # a layer's row (only blocks and merges have none)
    groups = row.report.hyper["groups"]
    return _out(row, n) * (row.input[0] // groups) * _kernel(row)


def _rank(row: Row) -> int:
    return len(row.input) - 1


# --- the tools ---------------------------------------------------------------------------------

def _flop_counter(row: Row, n: int) -> Parts:
    return ((GEMM, 2 * row.macs),) if is_gemm(row) else ()


def _torchinfo(row: Row, n: int) -> Parts:
    # torchinfo 1.8.0, layer_info.py LayerInfo.calculate_macs: for each leaf module, every parameter
    # named weight/bias adds numel × N·Π(output spatial) when the class name contains "Conv", else
    # numel × N. ConvNeXt's layer scale is a parameter named gamma: not counted.
    if row.params is None or not row.params.total or row.type == "layer-scale":
        return ()
    scale = n * product(row.output[1:]) if isinstance(row.layer, (Conv, ConvTranspose)) else n
    if isinstance(row.layer, PatchEmbedding):  # its Conv2d's output positions are the tokens
        scale = n * row.output[0]
    weight, bias = row.params.weight * scale, row.params.bias * scale
    if is_gemm(row):
        return (GEMM, weight), ("bias", bias)
    return (("activation" if _activation(row) else "norm"), weight + bias),


def _fvcore(row: Row, n: int) -> Parts:
    # fvcore 0.1.5, nn/flop_count.py _DEFAULT_SUPPORTED_OPS + nn/jit_handles.py, on the jit trace:
    # aten::_convolution N·Πw·Π(out, or IN when transposed), aten::linear, no bias; batch_norm (eval)
    # 1/elem, 2 with affine; group_norm/layer_norm 4/elem, 5 with affine; adaptive_avg_pool2d
    # 1/input elem; upsample_nearest2d 1 and upsample_bilinear2d 4 per output elem. Every other op
    # (relu, max_pool2d, avg_pool2d, add, mul, cat, softmax, sigmoid …) is skipped.
    layer = row.layer
    if is_gemm(row):
        return (GEMM, row.macs),
    if isinstance(layer, BatchNorm):
        return ("norm", _in(row, n) * (2 if layer.affine else 1)),
    if isinstance(layer, (GroupNorm, LayerNorm)):
        return ("norm", _in(row, n) * (5 if _affine(layer) else 4)),
    if _pool(row) == "adaptive-avg" and _rank(row) == 2:
        return ("pool", _in(row, n)),
    if isinstance(layer, Upsample) and _rank(row) == 2:
        return ("upsample", _out(row, n) * {"nearest": 1, "bilinear": 4}.get(layer.mode, 0)),
    return ()


def _affine(layer) -> bool:
    return bool(getattr(layer, "affine", getattr(layer, "elementwise_affine", True)))


def _lrn_tensor_ops(row: Row, n: int) -> Dim:
    """What patched ``Tensor.mul``/``Tensor.add`` and ``F.avg_pool3d`` see inside
    ``F.local_response_norm``: x·x, the channel-padded average (C + size − 1 channels), ·α and +k."""
    size = row.layer.size
    return 3 * _in(row, n) + n * (row.input[0] + size - 1) * product(row.input[1:])


# ptflops: which nn modules have a hook (MODULES_MAPPING) and which F functions are patched.
_PTFLOPS_MODULE_ACTS = {"relu", "prelu", "elu", "leaky_relu", "relu6", "gelu"}
_PTFLOPS_F_ACTS = {"relu", "prelu", "elu", "gelu",
                   "silu", "softmax"}  # nn.ReLU6 calls F.hardtanh, LeakyReLU F.leaky_relu


def _ptflops(row: Row, n: int) -> Parts:
    # ptflops 0.7.5, default pytorch backend (pytorch_engine.py, pytorch_ops.py). Module hooks,
    # divided by the batch size at the end ("per image"): conv N·Πo·Πk·C_in·C_out/g (transposed:
    # input positions) + bias N·C_out·Πo; linear (in·out + out)·N; BN/GN numel (×2 with affine),
    # nn.LayerNorm numel (it has no .affine), subclasses of these (LayerNorm2d) nothing; ReLU, PReLU,
    # ELU, LeakyReLU, ReLU6, GELU output numel; every pooling input numel; Upsample output numel.
    # On top, patched functionals count again, undivided: F.relu/prelu/elu/gelu/silu/softmax input
    # numel, F.*pool* input numel, F.interpolate output numel, Tensor.mul/add numel (seen in LRN).
    # So nn.ReLU, pooling and nn.Upsample count twice; ReLU6 and LeakyReLU once; SiLU once (F only).
    # The Upsample hook counts the first sample only (output[0]), so it too is divided by N; the
    # total is a float, truncated by int().
    layer, act, pool = row.layer, _activation(row), _pool(row)
    if is_gemm(row):
        return (GEMM, row.macs // n), ("bias", _bias_adds(row) // n)
    if act is not None:
        module = product(row.output) if act in _PTFLOPS_MODULE_ACTS else 0
        functional = _in(row, n) if act in _PTFLOPS_F_ACTS else 0
        return ("activation", module + functional),
    if pool is not None:
        return ("pool", product(row.input) + _in(row, n)),
    if isinstance(layer, Upsample):
        return ("upsample", Fraction(product(row.output), n) + _out(row, n)),
    if isinstance(layer, (BatchNorm, GroupNorm)):
        return ("norm", product(row.input) * (2 if layer.affine else 1)),
    if isinstance(layer, LayerNorm):
        return ("norm", 0 if layer.channels_first else product(row.input)),
    if isinstance(layer, LocalResponseNorm):
        return ("norm", _lrn_tensor_ops(row, n)),
    return ()


_THOP_UPSAMPLE = {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 259}  # trilinear: warned, 0


def _softmax_ops(row: Row, n: int) -> Dim:
    """thop's softmax over dim 1: per row of C features, C exp + (C − 1) adds + C divides."""
    features = row.input[0]
    return (_in(row, n) // features) * (3 * features - 1)


def _thop(row: Row, n: int) -> Parts:
    # thop 0.1.1-2209072238 (Lyken17/pytorch-OpCounter, PyPI "thop"), profile.py register_hooks
    # (exact module types) + vision/basic_hooks.py, calc_func.py. MACs without bias: conv
    # output numel·(C_in/g)·Πk, also for a transposed conv (its output positions); linear
    # in_features·output numel; BatchNorm/nn.LayerNorm 2·numel, ×2 with affine (LayerNorm2d, a
    # subclass, and GroupNorm: no rule, 0); avg pool output numel; adaptive avg pool
    # int((Π in/out + 1)·output numel) in float64; PReLU numel; softmax; upsample nearest 1, linear 5,
    # bilinear 11, bicubic 259 per output element. ReLU, ReLU6, LeakyReLU, max pools, dropout: 0.
    layer, act, pool = row.layer, _activation(row), _pool(row)
    if isinstance(layer, ConvTranspose):
        return (GEMM, _transposed_at_output(row, n)),
    if is_gemm(row):
        return (GEMM, row.macs),
    if isinstance(layer, BatchNorm) or (isinstance(layer, LayerNorm) and not layer.channels_first):
        return ("norm", 2 * _in(row, n) * (2 if _affine(layer) else 1)),
    if act == "prelu":
        return ("activation", _in(row, n)),
    if act == "softmax":
        return ("activation", _softmax_ops(row, n)),
    if pool == "avg":
        return ("pool", _out(row, n)),
    if pool == "adaptive-avg":
        ratio = 1.0
        for i, o in zip(*_spatial(row)):
            ratio *= i / o  # torch.prod of float64 quotients
        return ("pool", int((ratio + 1) * _out(row, n))),
    if isinstance(layer, Upsample):
        return ("upsample", _THOP_UPSAMPLE.get(layer.mode, 0) * _out(row, n)),
    return ()


def _windows(inputs: int, outputs: int, k: int, s: int, p: int, include_pad: bool) -> int:
    """Input elements summed by an avg pool along one axis (windows clipped to the padded or real input)."""
    from convcalc.engine.axis import real_reads_total  # closed form: O(1) in the sizes

    # Clipped to the padded input: the same count on an input of inputs + 2p with no padding.
    if include_pad:
        return real_reads_total(inputs + 2 * p, k, s, 0, outputs)
    return real_reads_total(inputs, k, s, p, outputs)


def _adaptive_windows(inputs: int, outputs: int) -> int:
    """Input elements read by an adaptive pool along one axis: window j is [⌊jI/O⌋, ⌈(j+1)I/O⌉)."""
    from convcalc.engine.axis import adaptive_bin_lengths  # closed form: O(1) in the sizes

    return adaptive_bin_lengths(inputs, outputs)[2]


_ULTRA_UPSAMPLE = {"nearest": 0, "linear": 5, "bilinear": 11, "bicubic": 259, "trilinear": 31}


def _ultralytics_thop(row: Row, n: int) -> Parts:
    # ultralytics-thop 2.2.3 (ultralytics/thop, module "thop"), profile.py register_hooks resolved
    # along the class's MRO + vision/basic_hooks.py: MACs without bias, conv and transposed conv as
    # ours (input positions for a transposed one); linear in·output numel; every norm (_NormBase,
    # LayerNorm and subclasses, GroupNorm) 2·numel, ×2 with affine; avg pool: one add per input
    # element of each (clipped) window + one divide per output; adaptive avg pool likewise;
    # upsample nearest 0, linear 5, bilinear 11, bicubic 259, trilinear 31 per output element;
    # PReLU numel; softmax; ReLU, ReLU6, LeakyReLU, max pools: 0; other activations have no rule.
    layer, act, pool = row.layer, _activation(row), _pool(row)
    if is_gemm(row):
        return (GEMM, row.macs),
    if isinstance(layer, (BatchNorm, GroupNorm, LayerNorm)):
        return ("norm", 2 * _in(row, n) * (2 if _affine(layer) else 1)),
    if act == "prelu":
        return ("activation", _in(row, n)),
    if act in ("softmax", "log_softmax"):
        extra = _in(row, n) // row.input[0] if act == "log_softmax" else 0
        return ("activation", _softmax_ops(row, n) + extra),
    if pool == "avg":
        assert row.report is not None  # a layer's row (only blocks and merges have none)
        hyper = row.report.hyper
        reads = n * row.input[0]
        for i, o, k, s, (p, _), in zip(*_spatial(row), hyper["kernel_size"], hyper["stride"], hyper["padding"]):
            reads *= _windows(i, o, k, s, p, hyper["count_include_pad"])
        return ("pool", reads + _out(row, n)),
    if pool == "adaptive-avg":
        reads = n * row.input[0] * product(_adaptive_windows(i, o) for i, o in zip(*_spatial(row)))
        return ("pool", reads + _out(row, n)),
    if isinstance(layer, Upsample):
        return ("upsample", _ULTRA_UPSAMPLE.get(layer.mode, 0) * _out(row, n)),
    return ()


_CALFLOPS_ACTS = {"relu", "prelu", "elu", "leaky_relu", "silu", "gelu", "softmax"}  # nn.ReLU6 calls F.hardtanh


def _calflops_transposed(row: Row, n: int) -> Dim:
    """calflops' ``_conv_trans_flops_compute``: MACs Πk·C_in·(C_out/g)/g·N·Πi (its out_channels is
    weight.shape[1], already C_out/g) and bias adds over the size a *conv* with the same numbers
    would give, ⌊(i + 2p − d(k − 1) − 1)/s⌋ + 1."""
    assert row.report is not None  # a layer's row (only blocks and merges have none)
    hyper = row.report.hyper
    groups = hyper["groups"]
    per_group = hyper["out_channels"] // groups
    macs = _kernel(row) * row.input[0] * (per_group // groups) * n * product(row.input[1:])
    bias = 0
    if hyper["bias"]:
        sizes = [(i + 2 * p - (d * (k - 1) + 1)) // s + 1 for i, k, s, (p, _), d in
                 zip(row.input[1:], hyper["kernel_size"], hyper["stride"], hyper["padding"], hyper["dilation"])]
        bias = per_group * n * product(sizes)
    return 2 * macs + bias


def _calflops(row: Row, n: int) -> Parts:
    # calflops 0.3.2 (MrYxJ/calculate-flops.pytorch, calflops/pytorch_ops.py, after DeepSpeed's
    # profiler): patched torch.nn.functional calls. F.conv*: 2·MACs + bias N·C_out·Πo; F.linear:
    # 2·MACs, bias NOT counted; F.relu/prelu/elu/leaky_relu/silu/gelu/softmax: input numel (nn.ReLU6
    # calls F.hardtanh: 0; sigmoid, tanh, hardswish: 0); every F.*pool* input numel;
    # F.batch_norm (eval) numel, ×2 with affine; F.layer_norm/group_norm 4/elem, 5 with affine;
    # F.interpolate input numel (its scale factor is dropped); Tensor.mul/add numel (in LRN).
    layer, act, pool = row.layer, _activation(row), _pool(row)
    if isinstance(layer, ConvTranspose):
        value = _calflops_transposed(row, n)
        return (GEMM, value),
    if isinstance(layer, Linear):
        return (GEMM, 2 * row.macs),
    if is_gemm(row):
        return (GEMM, 2 * row.macs), ("bias", _bias_adds(row))
    if act in _CALFLOPS_ACTS:
        return ("activation", _in(row, n)),
    if pool is not None:
        return ("pool", _in(row, n)),
    if isinstance(layer, BatchNorm):
        return ("norm", _in(row, n) * (2 if layer.affine else 1)),
    if isinstance(layer, (GroupNorm, LayerNorm)):
        return ("norm", _in(row, n) * (5 if _affine(layer) else 4)),
    if isinstance(layer, LocalResponseNorm):
        return ("norm", _lrn_tensor_ops(row, n)),
    if isinstance(layer, Upsample):
        return ("upsample", _in(row, n)),
    return ()


# --- functional calls (torchvision's forward), per tool -------------------------------------------

def _not_seen(row: Row, n: int) -> Parts:
    """Hook-only tools: a call inside ``forward`` has no module, so no hook and no count."""
    return ()


def _ptflops_call(row: Row, n: int) -> Parts:
    # ptflops 0.7.5 FUNCTIONAL_MAPPING: F.relu/prelu/elu/relu6/gelu/silu/softmax and every F.*pool*
    # count their input numel (undivided by the batch); Tensor.mean is not patched.
    if row.functional == "Tensor.mean":
        return ()
    if _pool(row) is not None:
        return ("pool", _in(row, n)),
    act = _activation(row)
    return (("activation", _in(row, n)),) if act in _PTFLOPS_F_ACTS else ()


def _mean_unseen(rule: Callable[[Row, int], Parts]) -> Callable[[Row, int], Parts]:
    """calflops/fvcore: a functional call counts as its module does (both see the function or the
    traced aten op), except ``x.mean([2, 3])``: calflops does not patch Tensor.mean, fvcore has no
    handle for aten::mean."""
    def per_row(row: Row, n: int) -> Parts:
        return () if row.functional == "Tensor.mean" else rule(row, n)

    return per_row


# --- what the tools print ------------------------------------------------------------------------

def _torchinfo_printed(value: int) -> str:
    """torchinfo's summary line (model_statistics.py format_output_num, units auto)."""
    unit, scale = next(((u, s) for u, s in (("T", 1e12), ("G", 1e9)) if value >= s), ("M", 1e6))
    number = value / scale
    text = f"{int(number):,d}" if number.is_integer() else f"{number:,.2f}"
    return f"Total mult-adds ({unit}): {text}"


def _ptflops_printed(value: int) -> str:
    """get_model_complexity_info(..., as_strings=True): flops_to_string, precision 2."""
    for unit, scale in (("GMac", 10**9), ("MMac", 10**6), ("KMac", 10**3)):
        if value // scale > 0:
            return f"{round(value / float(scale), 2)} {unit}"
    return f"{value} Mac"


def _thop_printed(value: int) -> str:
    """thop.clever_format(macs) with its default "%.2f" (thop 0.1.1: strictly above each unit)."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value > scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.2f}B"


def _ultralytics_thop_printed(value: int) -> str:
    """ultralytics-thop's clever_format: from each unit on (>=)."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.2f}B"


def _calflops_printed(value: int) -> str:
    """calculate_flops(..., output_as_string=True): number_to_string, precision 2, + "FLOPS"."""
    unit, scale = next(((u, s) for u, s in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)) if value >= s), ("", 1))
    return f"{round(value / scale, 2):g} {unit}FLOPS"


@dataclass(frozen=True)
class ToolRule:
    name: str
    unit: str  # what the tool calls its headline
    checked: str  # the tool and version the rule was checked against (tests/reference/tool_counts.json)
    rule: str  # what it counts, in one line
    source: str  # where the rule was read
    per_row: Callable[[Row, int], Parts]
    gemm_note: str = ""  # why its conv/linear figure can differ from ours
    printed: Callable[[int], str] | None = None  # the number as the tool prints it, where it rounds
    call: Callable[[Row, int], Parts] | None = None  # a row the forward calls as a function; None: as per_row


TOOLS: dict[str, ToolRule] = {rule.name: rule for rule in (
    ToolRule("torchinfo", "Mult-Adds", "torchinfo 1.8.0",
             "every weight and bias element × output positions × N for Conv* modules, × N for the rest (linear, "
             "norms, PReLU); so bias and norm parameters are in, activations and pooling are not",
             "torchinfo/layer_info.py LayerInfo.calculate_macs", _torchinfo,
             "transposed convs counted at their output positions", _torchinfo_printed, _not_seen),
    ToolRule("fvcore", "flops (= MACs)", "fvcore 0.1.5.post20221221",
             "conv/linear MACs without bias; batch norm 1/elem (2 affine), layer/group norm 5/elem; adaptive avg "
             "pool 1/input elem; upsample nearest 1, bilinear 4 per output elem; ReLU, max/avg pool, adds skipped",
             "fvcore/nn/flop_count.py, fvcore/nn/jit_handles.py", _fvcore, call=_mean_unseen(_fvcore)),
    ToolRule("ptflops", "MACs", "ptflops 0.7.5 (pytorch backend)",
             "conv/linear MACs + bias; BN numel (×2 affine); nn.ReLU, ELU, GELU, PReLU, every pooling and "
             "Upsample counted twice (module hook + patched F call); ReLU6, LeakyReLU once, SiLU once; "
             "LayerNorm2d, sigmoid, hardswish 0",
             "ptflops/pytorch_engine.py, ptflops/pytorch_ops.py", _ptflops, printed=_ptflops_printed,
             call=_ptflops_call),
    ToolRule("thop", "MACs", "thop 0.1.1-2209072238 (pip install thop: Lyken17/pytorch-OpCounter)",
             "conv/linear MACs without bias; BN 2/elem (×2 affine); avg pool 1, adaptive avg pool (in/out + 1) per "
             "output elem; upsample nearest 1, bilinear 11 per output elem; ReLU, max pool, GroupNorm, LayerNorm2d 0",
             "Lyken17/pytorch-OpCounter thop/profile.py, thop/vision/basic_hooks.py, calc_func.py", _thop,
             "transposed convs counted at their output positions", _thop_printed, _not_seen),
    ToolRule("ultralytics_thop", "MACs", "ultralytics-thop 2.2.3 (pip install ultralytics-thop)",
             "conv/linear MACs without bias; every norm 2/elem (×2 affine); avg pools 1 per window input + 1 per "
             "output; upsample nearest 0, bilinear 11 per output elem; ReLU, max pool, other activations 0",
             "ultralytics/thop thop/profile.py, thop/vision/basic_hooks.py", _ultralytics_thop,
             printed=_ultralytics_thop_printed, call=_not_seen),
    ToolRule("calflops", "FLOPs", "calflops 0.3.2",
             "2 × MACs + conv bias (linear bias not counted); F.relu-family 1/elem (ReLU6, sigmoid, hardswish 0); "
             "every pooling 1/input elem; BN 1/elem (2 affine), layer/group norm 5/elem; upsample 1/input elem",
             "MrYxJ/calculate-flops.pytorch calflops/pytorch_ops.py (DeepSpeed profiler rules)", _calflops,
             "grouped transposed convs divided by the groups again, their bias over a conv-formula size",
             _calflops_printed, _mean_unseen(_calflops)),
    ToolRule("flop_counter", "FLOPs", "torch 2.13.0",
             "2 × conv/linear MACs (transposed conv at input positions); bias, norms, pooling, activations not counted",
             "torch.utils.flop_counter.FlopCounterMode (torch/utils/flop_counter.py)", _flop_counter),
)}

_ALIASES = {"flopcounter": "flop_counter", "torch": "flop_counter", "flopcountermode": "flop_counter",
            "ultralytics": "ultralytics_thop"}


@dataclass(frozen=True)
class ToolCount:
    tool: str
    unit: str
    value: Dim
    rule: str
    source: str
    difference: str
    parts: dict[str, Dim]
    checked: str = ""
    printed: str = ""  # as the tool prints it ("4.13 GMac"), where it rounds


def _difference(parts: dict[str, Dim], base: Dim, label: str, gemm_note: str) -> str:
    """``our MACs + 1,372,416 bias + 986,368 activation`` — the tool's figure from ours."""
    pieces = []
    excess = parts.get(GEMM, 0) - base
    if excess:
        pieces.append((excess, gemm_note or "conv/linear counted differently"))
    pieces += [(value, name) for name, value in parts.items() if name != GEMM and value]
    if not pieces:
        return f"equals {label}"
    text = label
    for value, name in pieces:
        text += f" {'+' if value >= 0 else '−'} {_number(abs(value))} {name}"
    return text


def _number(value: Dim) -> str:
    if isinstance(value, Fraction) and value.denominator != 1:
        return f"{float(value):,.1f}"
    return f"{int(value):,}"


def _whole(value: Dim) -> Dim:
    """The tools print whole numbers (ptflops truncates its float total with int())."""
    return math.floor(value) if isinstance(value, Fraction) else value


CODES = ("torchvision", "modules")


def as_tool(report: NetworkReport, tool: str, code: str = "torchvision") -> ToolCount:
    """The headline number ``tool`` prints for this network, and how it differs from ours.

    ``code``: "torchvision" counts the rows the model's forward calls as functions (``Row.functional``)
    as the tool counts such calls; "modules" counts every row as an nn.Module."""
    if code not in CODES:
        raise InputError(f"{{field}} '{code}' is not one of {', '.join(CODES)}", field="code", value=code,
                         valid=", ".join(CODES))
    key = tool.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in TOOLS:
        names = ", ".join(name.replace("_thop", "-thop") for name in TOOLS)
        raise InputError(f"{{field}} '{tool}' is not one of {names}", field="as", value=tool, valid=names)
    rule = TOOLS[key]
    parts: dict[str, Dim] = {}
    for row in report.leaves():
        if row.children:
            continue
        per_row = rule.call if (code == "torchvision" and row.functional and rule.call) else rule.per_row
        for name, value in per_row(row, report.batch):
            parts[name] = parts.get(name, 0) + value
    macs = report.totals.macs
    base, label = (2 * macs, "our FLOPs (2 × MACs)") if rule.unit == "FLOPs" else (macs, "our MACs")
    difference = _difference(parts, base, label, rule.gemm_note)
    value = _whole(sum(parts.values(), 0))
    printed = rule.printed(value) if rule.printed and isinstance(value, int) else ""
    return ToolCount(key, rule.unit, value, rule.rule, rule.source, difference, parts, rule.checked, printed)
