"""Counting conventions: what goes into a headline "FLOPs"/"MACs" figure.

Our own figure (``totals.macs``) is exactly the conv + linear multiply-accumulates, bias
excluded (spec §5.1–5.2); everything else the walk counts (bias adds, norms, pooling,
activations, residual adds) is *other work*, grouped here into categories so ``--count``
can put chosen ones into the headline.

``--as TOOL`` reproduces another tool's headline number for the network, from the same walk.
Each rule below states what the tool counts and where that was read (spec §5.3; tool
sources as cited). These are the tools' conventions, computed from our per-layer facts
(output shapes, MACs, bias adds) — no layer formula is repeated here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from convcalc.engine.dims import Dim, product
from convcalc.errors import InputError
from convcalc.network.walk import NetworkReport, Row

# --- categories of work ---------------------------------------------------------------------

CATEGORIES = ("bias", "norm", "activation", "pool", "add", "other")
_CATEGORY_ALIASES = {"bn": "norm", "batchnorm": "norm", "norms": "norm", "act": "activation", "activations": "activation",
                     "relu": "activation", "pooling": "pool", "residual": "add", "adds": "add", "merge": "add",
                     "biases": "bias"}
NORM_TYPES = ("batchnorm", "groupnorm", "layernorm", "lrn")
MERGE_TYPES = ("add", "mul", "concat")


def is_pool(row_type: str) -> bool:
    return "pool" in row_type


def is_gemm(row: Row) -> bool:
    """Conv, transposed conv and linear layers: the ones with multiply-accumulates."""
    return row.type.startswith(("conv", "linear", "depthwise"))


def category(row: Row, op_name: str) -> str:
    """The category of one entry of a row's other work."""
    if op_name == "bias adds":
        return "bias"
    if row.type in NORM_TYPES:
        return "norm"
    if is_pool(row.type):
        return "pool"
    if row.type in MERGE_TYPES:
        return "add"
    if op_name == "activation ops":
        return "activation"
    return "other"


def other_work(report: NetworkReport) -> dict[str, Dim]:
    """Other work per category, summed over every leaf."""
    sums: dict[str, Dim] = {}
    for row in report.leaves():
        for op_name, n in row.other_ops:
            key = category(row, op_name)
            sums[key] = sums.get(key, 0) + n
    return sums


def parse_count(text: str | None) -> tuple[str, ...]:
    """``--count bias,norm`` → the categories added to the MACs headline (``all``, ``none`` too)."""
    if text is None or text.strip().lower() in ("", "macs", "none"):
        return ()
    chosen: list[str] = []
    for word in text.replace("+", ",").split(","):
        word = word.strip().lower()
        if word in ("", "macs"):
            continue
        if word == "all":
            return CATEGORIES
        word = _CATEGORY_ALIASES.get(word, word)
        if word not in CATEGORIES:
            raise InputError(f"--count '{word}' is not one of macs, {', '.join(CATEGORIES)}, all")
        if word not in chosen:
            chosen.append(word)
    return tuple(chosen)


@dataclass(frozen=True)
class Headline:
    """MACs plus the chosen categories of other work (each counted as one op per element)."""

    included: tuple[str, ...]
    value: Dim
    parts: dict[str, Dim]


def headline(report: NetworkReport, included: tuple[str, ...]) -> Headline:
    work = other_work(report)
    parts = {"macs": report.totals.macs, **{c: work.get(c, 0) for c in included}}
    return Headline(included, sum(parts.values()), parts)


# --- other tools ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ToolRule:
    name: str
    unit: str  # what the tool calls its headline
    rule: str  # what it counts, in one line
    source: str  # where the rule was read
    per_row: Callable[[Row], Dim]


def _numel(shape) -> Dim:
    return product(shape)


def _ops(row: Row, name: str) -> Dim:
    return sum((n for op, n in row.other_ops if op == name), 0)


def _affine(row: Row) -> bool:
    return bool(row.params.total) if row.params is not None else False


def _flop_counter(row: Row) -> Dim:
    # torch.utils.flop_counter: aten conv/mm/addmm formulas, 2 FLOPs per MAC, bias not counted,
    # nothing for norms, pooling or element-wise ops.
    return 2 * row.macs if is_gemm(row) else 0


def _fvcore(row: Row) -> Dim:
    # fvcore FlopCountAnalysis (facebookresearch/fvcore, fvcore/nn/flop_count.py + jit_handles.py):
    # "one fused multiply-add = one flop"; conv/linear without bias; batch_norm at eval 1/elem
    # (+1 with affine); group/layer norm like batch norm in training (5/elem with affine, 4 without);
    # adaptive_avg_pool2d and upsample 1/output elem; relu, max pool, add are skipped ("unsupported").
    n = _numel(row.output)
    if is_gemm(row):
        return row.macs
    if row.type == "batchnorm":
        return n * (2 if _affine(row) else 1)
    if row.type in ("groupnorm", "layernorm"):
        return n * (5 if _affine(row) else 4)
    if row.type.startswith(("adaptive-avgpool", "global-avgpool")):
        return _numel(row.input)
    if row.type.startswith("upsample"):
        return n
    return 0


def _ptflops(row: Row) -> Dim:
    # ptflops, pytorch backend (sovrasov/flops-counter.pytorch, ptflops/pytorch_ops.py), in MACs:
    # conv = N·Πo·Πk·C_in·C_out/g + bias (N·Πo·C_out); linear = in·out·N + out·N; BN/GN/LN = numel
    # (×2 if affine); ReLU-family activations = numel; every pooling = input numel; upsample = output
    # numel; dropout, flatten and functional adds are not counted. Transposed conv is counted here with
    # the input-size formula; ptflops used the output size until #149 (fixed 2025).
    n = _numel(row.output)
    if is_gemm(row):
        return row.macs + _ops(row, "bias adds")
    if row.type in ("batchnorm", "groupnorm", "layernorm"):
        return n * (2 if _affine(row) else 1)
    if row.type in ("relu", "relu6", "leaky_relu", "elu", "prelu"):
        return n
    if is_pool(row.type):
        return _numel(row.input)
    if row.type.startswith("upsample"):
        return n
    return 0


def _thop(row: Row) -> Dim:
    # thop (ultralytics/thop 2.x, thop/vision/basic_hooks.py + calc_func.py), MACs:
    # conv = output numel·(C_in/g)·Πk (no bias); linear = in·out_numel (no bias); BN = 2·numel
    # (×2 affine); ReLU / max pool / dropout = 0; avg pool = output numel; adaptive avg pool =
    # (Π(input/output) + 1)·output numel.
    n = _numel(row.output)
    if is_gemm(row):
        return row.macs
    if row.type == "batchnorm":
        return 2 * n * (2 if _affine(row) else 1)
    if row.type.startswith("avgpool"):
        return n
    if row.type.startswith(("adaptive-avgpool", "global-avgpool")):
        kernel = product(i // o for i, o in zip(row.input[1:], row.output[1:]))
        return (kernel + 1) * n
    return 0


def _calflops(row: Row) -> Dim:
    # calflops (MrYxJ/calculate-flops.pytorch, calflops/pytorch_ops.py; after DeepSpeed's flops
    # profiler), FLOPs: conv/linear = 2·MACs + bias adds; ReLU-family = numel; pooling = input
    # numel; batch norm at eval = numel (×2 affine); dropout 0; in-place residual adds not seen.
    n = _numel(row.output)
    if is_gemm(row):
        return 2 * row.macs + _ops(row, "bias adds")
    if row.type in ("relu", "relu6", "leaky_relu", "elu", "prelu", "silu", "gelu", "sigmoid", "tanh", "hardswish"):
        return n
    if is_pool(row.type):
        return _numel(row.input)
    if row.type in ("batchnorm", "groupnorm", "layernorm"):
        return n * (2 if _affine(row) else 1)
    return 0


def _torchinfo(row: Row) -> Dim:
    # torchinfo (TylerYep/torchinfo, torchinfo/layer_info.py, LayerInfo.calculate_macs), "Mult-Adds":
    # for each weight/bias parameter, conv layers add params·N·Πo (output spatial, channels left out),
    # other layers (linear, norms) add params·N. So conv/linear include the bias; BN adds 2C·N.
    spatial = _numel(row.output[1:]) if row.type.startswith("conv") else 1
    return row.params.total * spatial if row.params is not None else 0


TOOLS: dict[str, ToolRule] = {
    "flop_counter": ToolRule("flop_counter", "FLOPs", "2 × conv/linear MACs; bias, norms, pooling, activations not counted",
                             "torch.utils.flop_counter.FlopCounterMode (torch/utils/flop_counter.py)", _flop_counter),
    "fvcore": ToolRule("fvcore", "flops (= MACs)", "conv/linear MACs without bias + batch-norm 1–2/elem + adaptive avg pool; "
                       "ReLU, max pool and adds skipped", "facebookresearch/fvcore fvcore/nn/jit_handles.py", _fvcore),
    "ptflops": ToolRule("ptflops", "MACs", "conv/linear MACs + bias + BN (2/elem affine) + ReLU 1/elem + pooling 1/input elem",
                        "sovrasov/flops-counter.pytorch ptflops/pytorch_ops.py", _ptflops),
    "thop": ToolRule("thop", "MACs", "conv/linear MACs without bias + BN 4/elem (affine) + avg pooling; ReLU, max pool 0",
                     "ultralytics/thop thop/vision/basic_hooks.py, calc_func.py", _thop),
    "calflops": ToolRule("calflops", "FLOPs", "2 × MACs + bias + ReLU 1/elem + pooling 1/input elem + BN 2/elem",
                         "MrYxJ/calculate-flops.pytorch calflops/pytorch_ops.py (DeepSpeed profiler rules)", _calflops),
    "torchinfo": ToolRule("torchinfo", "Mult-Adds", "every weight and bias element × output positions (conv) or × batch "
                          "(linear, norms)", "TylerYep/torchinfo torchinfo/layer_info.py calculate_macs", _torchinfo),
}


def tool_names() -> list[str]:
    return list(TOOLS)


@dataclass(frozen=True)
class ToolCount:
    tool: str
    unit: str
    value: Dim
    rule: str
    source: str
    ours_macs: Dim
    difference: str


def as_tool(report: NetworkReport, tool: str) -> ToolCount:
    """The headline number ``tool`` would report for this network, and how it differs from ours."""
    key = tool.strip().lower().replace("-", "_")
    key = {"flopcounter": "flop_counter", "torch": "flop_counter", "flopcountermode": "flop_counter"}.get(key, key)
    if key not in TOOLS:
        raise InputError(f"--as '{tool}' is not one of {', '.join(TOOLS)}")
    rule = TOOLS[key]
    value = sum((rule.per_row(row) for row in report.leaves() if not row.children), 0)
    macs = report.totals.macs
    base, label = (2 * macs, "our FLOPs") if rule.unit == "FLOPs" else (macs, "our MACs")
    if value == base:
        diff = f"equals {label}"
    elif isinstance(value, int) and isinstance(base, int) and base:
        extra = value - base
        diff = f"{label} {'+' if extra >= 0 else '−'} {abs(extra):,} ({value / base:.4f}×)"
    else:
        diff = f"{label}: {base}"
    return ToolCount(key, rule.unit, value, rule.rule, rule.source, macs, diff)
