"""A PyTorch module from the user's own code as a convcalc network
(``convcalc arch my_net.py:Net --in 3x32x32``, ``"pkg.mod:factory(width=2)"``).

This imports the user's file or package and runs its code (the module's ``__init__``, and
its ``forward`` under tracing). The call's arguments are read with ``ast.literal_eval`` only.

Tracing: ``torch.fx.symbolic_trace`` where it traces (no tensors are computed, so a model whose
sizes disagree is still read whole — the shape debugger's case); otherwise one forward pass on
zeros with forward hooks on the leaf modules and a ``TorchFunctionMode`` that records the
functional calls between them (``F.relu``, ``torch.flatten``, ``x.mean([2, 3])``, ``torch.cat``,
a residual ``+``). Both give the same records: modules mapped by their class name's layer descriptor (:data:`READERS`),
functions and tensor methods by name (:data:`FUNCTIONS`). Each layer is named as the model
names its modules (``layer1.0.conv1``); a function call is named after the module it runs in.
Declared sizes (``in_features``, ``in_channels``) are kept so the walk can check them.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from convcalc.errors import InputError
from convcalc.interop.graph import Op, descriptor_reader, structure
from convcalc.layers.tensor import Pad, Permute, Pointwise, Reshape, Slice, Unmapped
from convcalc.network import build
from convcalc.network.declared import declare
from convcalc.network.model import Leaf, Network
from convcalc.notation import format_shape

INSTALL = (
    "reading a PyTorch model needs torch, which is not installed: pip install 'convcalc[torch]' (or pip install torch)"
)


def _torch():
    try:
        import torch
    except ImportError:
        raise InputError(INSTALL) from None
    return torch


# --- finding and building the user's model ------------------------------------------------------


def parse_target(text: str) -> tuple[str, str, tuple, dict]:
    """``file.py:Name(args)`` / ``pkg.mod:name(args)`` → (module, attribute, args, kwargs);
    the arguments must be Python literals (``ast.literal_eval``; nothing is evaluated)."""
    from convcalc.interop import _PYTHON_TARGET

    match = _PYTHON_TARGET.match(text)
    if match is None:
        raise InputError(f"'{text}' is not FILE.py:Name or package.module:name(args)")
    module, rest = match["module"], match["attr"] + (match["call"] or "")
    attr, call = rest, ""
    if "(" in rest:
        attr, call = rest[: rest.index("(")].strip(), rest[rest.index("(") :]
        if not call.endswith(")"):
            raise InputError(f"'{text}': the call's arguments must end with ')'")
    if not attr.isidentifier():
        raise InputError(
            f"'{text}': after ':' give a class or function name (like my_net.py:Net or pkg.mod:factory(width=2))"
        )
    args: tuple = ()
    kwargs: dict = {}
    if call:
        try:
            tree = ast.parse(f"f{call}", mode="eval").body
        except SyntaxError:
            raise InputError(f"'{call}' is not a call's argument list") from None
        if not isinstance(tree, ast.Call):
            raise InputError(f"'{call}' is not a call's argument list")
        try:
            args = tuple(ast.literal_eval(a) for a in tree.args)
            kwargs = {k.arg: ast.literal_eval(k.value) for k in tree.keywords if k.arg is not None}
        except ValueError:
            raise InputError(
                f"the arguments in '{call}' must be Python literals (numbers, strings, tuples, lists, "
                "dicts, True/False/None); nothing is evaluated"
            ) from None
        if any(k.arg is None for k in tree.keywords) or any(isinstance(a, ast.Starred) for a in tree.args):
            raise InputError(f"'{call}': * and ** arguments are not accepted")
    return module.strip(), attr, args, kwargs


def _user_error(what: str, error: BaseException, path: str | None) -> InputError:
    """The user's exception as one line, with where in their code it was raised."""
    where = ""
    frames = traceback.extract_tb(error.__traceback__)
    user = [f for f in frames if path is None or os.path.abspath(f.filename) == os.path.abspath(path)] or frames[-1:]
    if user:
        where = f" ({os.path.relpath(user[-1].filename)}:{user[-1].lineno})"
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return InputError(f"{what} raised {type(error).__name__}{': ' + message if message else ''}{where}")


def import_target(module: str):
    """Import ``module`` (a ``.py`` file or a dotted module name); the user's code runs."""
    if module.endswith(".py"):
        if not os.path.isfile(module):
            raise InputError(f"Python file '{module}' does not exist")
        name = "_convcalc_user_" + os.path.splitext(os.path.basename(module))[0].replace("-", "_")
        spec = importlib.util.spec_from_file_location(name, module)
        if spec is None or spec.loader is None:
            raise InputError(f"'{module}' cannot be imported as a Python file")
        mod = importlib.util.module_from_spec(spec)
        folder = os.path.dirname(os.path.abspath(module))
        sys.path.insert(0, folder)
        try:
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
        except BaseException as error:
            sys.modules.pop(name, None)
            raise _user_error(f"importing {module}", error, module) from None
        finally:
            sys.path.remove(folder)
        return mod, module
    sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module), None
    except ModuleNotFoundError as error:
        if error.name and module.startswith(error.name):
            raise InputError(
                f"no Python module '{module}' (looked in the current directory and the installed packages)"
            ) from None
        raise _user_error(f"importing {module}", error, None) from None
    except BaseException as error:
        raise _user_error(f"importing {module}", error, None) from None
    finally:
        sys.path.remove(os.getcwd())


def build_model(text: str):
    """The ``nn.Module`` named by ``text``, built (in eval mode)."""
    torch = _torch()
    module, attr, args, kwargs = parse_target(text)
    mod, path = import_target(module)
    if not hasattr(mod, attr):
        public = sorted(
            n for n, v in vars(mod).items() if not n.startswith("_") and (isinstance(v, type) or callable(v))
        )
        raise InputError(f"'{module}' has no '{attr}'" + (f"; it defines {', '.join(public[:12])}" if public else ""))
    obj = getattr(mod, attr)
    if isinstance(obj, torch.nn.Module):
        model = obj
    else:
        if not callable(obj):
            raise InputError(
                f"'{attr}' in {module} is a {type(obj).__name__}, not an nn.Module class or a function returning one"
            )
        try:
            model = obj(*args, **kwargs)
        except BaseException as error:
            raise _user_error(f"{attr}({_call_text(args, kwargs)})", error, path) from None
    if not isinstance(model, torch.nn.Module):
        kind = f"the class {obj.__name__}" if isinstance(obj, type) else f"{attr}()"
        raise InputError(f"{kind} in {module} gives a {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def _call_text(args: tuple, kwargs: dict) -> str:
    return ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])


# --- the mapping tables -------------------------------------------------------------------------


def _pair(value, rank: int) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * rank


def _conv_module(m, rank: int, transposed: bool = False):
    if transposed:
        layer = build.conv_t(
            m.out_channels,
            _pair(m.kernel_size, rank),
            stride=_pair(m.stride, rank),
            pad=_pair(m.padding, rank),
            output_padding=_pair(m.output_padding, rank),
            dilation=_pair(m.dilation, rank),
            groups=m.groups,
            bias=m.bias is not None,
            rank=rank,
        )
        return (declare(layer, "in_channels", m.in_channels),)
    padding = m.padding if isinstance(m.padding, str) else _pair(m.padding, rank)
    layer = build.conv(
        m.out_channels,
        _pair(m.kernel_size, rank),
        stride=_pair(m.stride, rank),
        pad=padding,
        dilation=_pair(m.dilation, rank),
        groups=m.groups,
        bias=m.bias is not None,
        rank=rank,
        padding_mode=m.padding_mode,
    )
    return (declare(layer, "in_channels", m.in_channels),)


def _pool_module(m, rank: int, kind: str):
    stride = m.stride if m.stride is not None else m.kernel_size
    if kind == "max":
        return (
            build.maxpool(
                _pair(m.kernel_size, rank),
                stride=_pair(stride, rank),
                pad=_pair(m.padding, rank),
                dilation=_pair(m.dilation, rank),
                ceil_mode=m.ceil_mode,
                rank=rank,
            ),
        )
    return (
        build.avgpool(
            _pair(m.kernel_size, rank),
            stride=_pair(stride, rank),
            pad=_pair(m.padding, rank),
            ceil_mode=m.ceil_mode,
            count_include_pad=m.count_include_pad,
            rank=rank,
        ),
    )


def _adaptive(m, rank: int, mode: str):
    size = _pair(m.output_size, rank)
    if all(s == 1 for s in size) and mode == "avg":
        return (build.global_avgpool(rank),)
    return ((build.adaptive_avgpool if mode == "avg" else build.adaptive_maxpool)(size, rank),)


def _shift_only(m) -> bool:
    """β without γ (Keras's scale=False): an affine-free batch norm with a learnt bias of its own."""
    import torch

    return not m.affine and isinstance(getattr(m, "bias", None), torch.nn.Parameter)


def _batchnorm_module(m):
    from convcalc.layers.norm import BatchNorm

    shift_only = _shift_only(m)
    layer = Leaf(
        BatchNorm(
            affine=m.affine or shift_only,
            scale=not shift_only,
            eps=m.eps,
            momentum=m.momentum if m.momentum is not None else 0.1,
            track_running_stats=m.track_running_stats,
        )
    )
    return (declare(layer, "num_features", m.num_features),)


def _instancenorm_module(m):
    from convcalc.layers.norm import GroupNorm

    return (Leaf(GroupNorm(groups=m.num_features, affine=m.affine, eps=m.eps)),)


def _activation(kind: str) -> Callable:
    return lambda m: (build.act(kind),)


def _leaky(m):
    from convcalc.layers.elementwise import Activation

    return (Leaf(Activation("leaky_relu", float(m.negative_slope))),)


def _flatten_module(m):
    start = m.start_dim - 1 if m.start_dim > 0 else m.start_dim
    end = m.end_dim - 1 if m.end_dim > 0 else m.end_dim
    return (build.flatten(start, end),)


def _upsample_module(m):
    scale = m.scale_factor
    if isinstance(scale, tuple):
        scale = scale[0] if len(set(scale)) == 1 else None
    if scale is None or float(scale) != int(scale):
        return None
    return (build.upsample(int(scale), m.mode),)


def _rank(m) -> int:
    """The spatial rank a torch.nn class name ends with (``Conv2d`` → 2; 2 without one)."""
    name = type(m).__name__
    return int(name[-2]) if name.endswith("d") and name[-2].isdigit() else 2


def _groupnorm_module(m):
    from convcalc.layers.norm import GroupNorm

    if type(m).__name__.startswith("InstanceNorm"):
        return _instancenorm_module(m)
    return (Leaf(GroupNorm(groups=m.num_groups, affine=m.affine, eps=m.eps)),)


def _dropout_module(m):
    kind = type(m).__name__.lower()
    return (build.dropout(m.p),) if kind == "dropout" else (build.dropout(m.p, kind),)


def _attention_module(m):
    """``nn.MultiheadAttention(E, heads, batch_first=True)`` with its biases and one embedding size
    (q, k and v of E features); called as attention(x, x, x), the walk's self-attention on (L, E)."""
    from convcalc.layers.attention import MultiheadSelfAttention

    if not m.batch_first or not m._qkv_same_embed_dim or m.in_proj_bias is None or m.bias_k is not None:
        return None
    return (Leaf(MultiheadSelfAttention(dim=m.embed_dim, heads=m.num_heads, dropout=float(m.dropout))),)


#: Modules whose forward returns a tuple, the data first (attention's (output, weights)): the
#: walk reads element 0, and their call counts as self-attention only with one tensor as q, k, v.
TUPLE_MODULES = frozenset(("MultiheadAttention",))


def _normalization_module(m):
    """A module named Normalization with Keras's adapted weights as buffers (``mean``, ``variance``
    (C,) and ``count``), as convcalc's builder writes Keras ``Normalization``: that layer. Any
    other module of the name is walked through."""
    from convcalc.layers.preprocess import Normalization

    names = {name for name, _ in m.named_buffers(recurse=False)}
    if {"mean", "variance", "count"} <= names:
        return (Leaf(Normalization()),)
    fixed = getattr(m, "fixed", None)  # constants: a (mean, variance) pair of per-channel tensors
    if isinstance(fixed, tuple) and len(fixed) == 2 and all(hasattr(t, "flatten") for t in fixed):
        mean, variance = (tuple(float(v) for v in t.flatten().tolist()) for t in fixed)
        return (Leaf(Normalization(mean=mean, variance=variance)),)
    return None


def _window_attention_module(m):
    """torchvision's ``ShiftedWindowAttention`` (V2 with its ``cpb_mlp``): square window_size and
    shift_size, num_heads, the qkv and proj linears with their biases. torchvision's works on
    channels-last (H, W, C) maps, read between moves of the channels first and back; convcalc's
    builder's (``channels_first``) on (C, H, W). Any other module of the name is walked through."""
    from convcalc.layers.tensor import Permute
    from convcalc.layers.window import WindowAttention

    window, shift = list(getattr(m, "window_size", ())), list(getattr(m, "shift_size", ()))
    qkv: Any = getattr(m, "qkv", None)
    proj: Any = getattr(m, "proj", None)
    heads = getattr(m, "num_heads", None)
    if len(window) != 2 or len(set(window)) != 1 or len(shift) != 2 or len(set(shift)) != 1 or not heads:
        return None
    if not all(getattr(f, "bias", None) is not None for f in (qkv, proj)) or qkv.out_features != 3 * qkv.in_features:
        return None
    layer = Leaf(WindowAttention(dim=qkv.in_features, heads=int(heads), window=int(window[0]), shift=int(shift[0]),
                                 v2=hasattr(m, "cpb_mlp")))
    if getattr(m, "channels_first", False):
        return (layer,)
    return (Leaf(Permute((2, 0, 1))), layer, Leaf(Permute((1, 2, 0))))


def _relpos_attention_module(m):
    """torchvision's MaxViT ``RelativePositionalMultiHeadAttention`` on (G, P, D) token groups:
    to_qkv and merge with their biases, head_dim, size (P = size²) and the ((2·size − 1)², heads)
    bias table. Any other module of the name is walked through."""
    from convcalc.layers.partition import RelativePositionAttention

    to_qkv: Any = getattr(m, "to_qkv", None)
    merge: Any = getattr(m, "merge", None)
    table: Any = getattr(m, "relative_position_bias_table", None)
    size, head_dim = getattr(m, "size", None), getattr(m, "head_dim", None)
    if not isinstance(size, int) or not isinstance(head_dim, int) or table is None:
        return None
    if not all(getattr(f, "bias", None) is not None for f in (to_qkv, merge)):
        return None
    dim = to_qkv.in_features
    if dim % head_dim or to_qkv.out_features != 3 * dim or tuple(table.shape) != ((2 * size - 1) ** 2, dim // head_dim):
        return None
    return (Leaf(RelativePositionAttention(dim=dim, head_dim=head_dim, size=size)),)


#: Readers of modules known by a name that other code reuses for other layouts: where one
#: declines a module, it is walked through as any container.
_DECLINING = frozenset(("window_attention", "relpos_attention", "normalization"))


def _linear_module(m):
    return (declare(build.linear(m.out_features, bias=m.bias is not None), "in_features", m.in_features),)


# Which layer type a torch.nn class is comes from the layer descriptors' ``torch`` words
# (:func:`convcalc.layers.descriptor.lookup`); what stays here is how each type reads the
# module's attributes, keyed by the descriptor's name. Activations without attributes need
# no reader.
READERS: dict[str, Callable[[Any], tuple | None]] = {
    "conv": lambda m: _conv_module(m, _rank(m)),
    "conv_transpose": lambda m: _conv_module(m, _rank(m), True),
    "linear": _linear_module,
    "self_attention": _attention_module,
    "normalization": _normalization_module,
    "window_attention": _window_attention_module,
    "relpos_attention": _relpos_attention_module,
    "maxpool": lambda m: _pool_module(m, _rank(m), "max"),
    "avgpool": lambda m: _pool_module(m, _rank(m), "avg"),
    "adaptive_avgpool": lambda m: _adaptive(m, _rank(m), "avg"),
    "adaptive_maxpool": lambda m: _adaptive(m, _rank(m), "max"),
    "batchnorm": _batchnorm_module,
    "groupnorm": _groupnorm_module,
    "layernorm": lambda m: (build.layernorm(len(m.normalized_shape), affine=m.elementwise_affine),),
    "lrn": lambda m: (build.lrn(m.size, m.alpha, m.beta, m.k),),
    "leaky_relu": _leaky,
    "prelu": lambda m: (build.prelu(m.num_parameters),),
    "dropout": _dropout_module,
    "identity": lambda m: (build.identity(),),
    "flatten": _flatten_module,
    "upsample": _upsample_module,
    "channel_shuffle": lambda m: (build.channel_shuffle(m.groups),),
    "pad": lambda m: _pad_module(m, _rank(m)),
    "pixel_shuffle": lambda m: (_pixel_shuffle(m.upscale_factor, False),),
    "pixel_unshuffle": lambda m: (_pixel_shuffle(m.downscale_factor, True),),
}


_DECLINERS = frozenset(READERS[name] for name in _DECLINING)


def module_reader(m) -> Callable[[Any], tuple | None] | None:
    """How a torch.nn module is read: by the descriptor its class name is a ``torch`` word of
    (an attribute-free activation is the activation); None when no descriptor names it. A
    subclass of nn.MultiheadAttention (a ``SelfAttention`` whose forward takes one tensor) is
    attention too; other subclasses are walked through (their forward may be another layer's,
    as a channels-first ``LayerNorm2d(nn.LayerNorm)`` is)."""
    found = reader(type(m).__name__)
    if found is not None:
        if found in _DECLINERS and found(m) is None:
            return None
        return found
    bases = {c.__name__ for c in type(m).__mro__ if c.__module__.startswith("torch.")}
    if bases & TUPLE_MODULES:
        return _attention_module
    if bases & {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d"} and _shift_only(m):
        return _batchnorm_module  # a batch norm that adds a learnt β after an affine-free one
    return None


def reader(class_name: str) -> Callable[[Any], tuple | None] | None:
    return descriptor_reader("torch", class_name, READERS, _activation)


def mapped_modules() -> frozenset[str]:
    """Every torch.nn class name the importer reads."""
    from convcalc.layers.descriptor import all_words

    return frozenset(name for name in all_words("torch") if reader(name) is not None)


def _pad_module(m, rank: int):
    """``nn.ZeroPad2d((left, right, top, bottom))``: torch lists the last axis first, in pairs."""
    from convcalc.layers.padding import Pad

    given = tuple(m.padding)
    if len(given) != 2 * rank:
        return None
    pairs = tuple((given[2 * (rank - 1 - j)], given[2 * (rank - 1 - j) + 1]) for j in range(rank))
    grow = tuple((max(b, 0), max(a, 0)) for b, a in pairs)
    cut = tuple((max(-b, 0), max(-a, 0)) for b, a in pairs)
    layers: tuple = ()
    if any(v for pair in grow for v in pair) or not any(v for pair in cut for v in pair):
        layers += (Leaf(Pad(rank=rank, padding=grow, value=float(getattr(m, "value", 0.0)))),)
    if any(v for pair in cut for v in pair):  # torch crops where an amount is negative
        from convcalc.layers.crop import Crop

        layers += (Leaf(Crop(rank=rank, cropping=cut)),)
    return layers


def _pixel_shuffle(factor: int, inverse: bool) -> Leaf:
    from convcalc.layers.pixel_shuffle import PixelShuffle

    return Leaf(PixelShuffle(factor=int(factor), inverse=inverse))


@dataclass
class Call:
    """A functional call as the mappers see it: its name, arguments (data tensors replaced by
    :class:`Data`), the shapes (batch dropped) of its data inputs and of its output when known."""

    name: str
    args: tuple
    kwargs: dict
    out_shape: tuple | None = None

    def arg(self, index: int, key: str, default=None):
        if key in self.kwargs:
            return self.kwargs[key]
        return self.args[index] if index < len(self.args) else default


@dataclass(frozen=True)
class Data:
    """A data tensor in a call's arguments: its tensor name and shape (batch dropped) if known."""

    name: str
    shape: tuple | None = None


@dataclass(frozen=True)
class Result:
    layers: tuple = ()
    merge: str | None = None
    inputs: tuple = ()  # the data tensors read, in order (default: every Data argument)


def _dim(value, rank: int) -> int | None:
    """A torch dim of the batched tensor → the walk's (batch-free) axis; None for the batch."""
    value = int(value)
    if value < 0:
        value += rank + 1
    return None if value == 0 else value - 1


def _shape_rank(call: Call) -> int:
    first = next((a for a in call.args if isinstance(a, Data)), None)
    return len(first.shape) if first is not None and first.shape is not None else 3


def _f_flatten(call: Call):
    rank = _shape_rank(call)
    start, end = call.arg(1, "start_dim", 0), call.arg(2, "end_dim", -1)
    if int(start) % (rank + 1) == 0:
        return None
    s, e = _dim(start, rank), _dim(end, rank)
    if s is None or e is None:  # an end dim at the batch: torch refuses it before we get here
        return None
    return Result((build.flatten(s, e),))


def _f_activation(kind: str):
    return lambda call: Result((build.act(kind),))


def _f_pool(kind: str, rank: int):
    def mapper(call: Call):
        k = call.arg(1, "kernel_size")
        stride = call.arg(2, "stride") or k
        pad = call.arg(3, "padding", 0)
        if kind == "max":
            return Result(
                (
                    build.maxpool(
                        _pair(k, rank),
                        stride=_pair(stride, rank),
                        pad=_pair(pad, rank),
                        dilation=_pair(call.arg(4, "dilation", 1), rank),
                        ceil_mode=bool(call.arg(5, "ceil_mode", False)),
                        rank=rank,
                    ),
                )
            )
        return Result(
            (
                build.avgpool(
                    _pair(k, rank),
                    stride=_pair(stride, rank),
                    pad=_pair(pad, rank),
                    ceil_mode=bool(call.arg(4, "ceil_mode", False)),
                    count_include_pad=bool(call.arg(5, "count_include_pad", True)),
                    rank=rank,
                ),
            )
        )

    return mapper


def _f_adaptive(mode: str):
    def mapper(call: Call):
        rank = _shape_rank(call) - 1
        size = _pair(call.arg(1, "output_size"), rank)
        if mode == "avg" and all(s == 1 for s in size):
            return Result((build.global_avgpool(rank),))
        return Result(((build.adaptive_avgpool if mode == "avg" else build.adaptive_maxpool)(size, rank),))

    return mapper


def _f_mean(call: Call):
    rank = _shape_rank(call)
    dims = call.arg(1, "dim")
    if dims is None:
        return None
    dims = [dims] if isinstance(dims, int) else list(dims)
    if sorted(d % (rank + 1) for d in dims) != list(range(2, rank + 1)):
        return None
    layers: tuple[Leaf, ...] = (build.global_avgpool(rank - 1),)
    if not call.arg(2, "keepdim", False):
        layers += (build.flatten(),)
    return Result(layers)


def _f_binary(merge: str, kind: str):
    def mapper(call: Call):
        data = [a for a in call.args[:2] if isinstance(a, Data)]
        if len(data) == 2:
            return Result(merge=merge)
        other = next((a for a in call.args[:2] if not isinstance(a, Data)), None)
        shape, learnable = _constant_shape(other)
        tokens = data[0].shape if data else None
        if tokens is not None and len(shape) == len(tokens) + 1 and shape[:1] == (1,):
            shape = shape[1:]  # the constant's own batch axis (a (1, C, 1, 1) mean), dropped like the data's
        if kind == "add" and learnable and tokens and len(tokens) == 2 and shape == tuple(tokens):
            from convcalc.layers.attention import PositionEmbedding

            return Result((Leaf(PositionEmbedding(*tokens)),))  # a learned (L, D) added to the tokens: ViT's
        return Result((Leaf(Pointwise(kind, shape, learnable)),))

    return mapper


def _constant_shape(value) -> tuple[tuple, bool]:
    """A constant operand's shape (batch-free when it has one) and whether it is a parameter."""
    shape = tuple(getattr(value, "shape", ()))
    learnable = bool(getattr(value, "requires_grad", False)) or type(value).__name__ == "Parameter"
    return shape, learnable


def _f_cat(call: Call):
    tensors = call.arg(0, "tensors")
    data = [t for t in tensors if isinstance(t, Data)]
    if len(tensors) == 2 and len(data) == 1 and tensors[1] is data[0] and data[0].shape and len(data[0].shape) == 2:
        # ViT's class token: cat([token.expand(N, -1, -1), x], dim=1) with x of (L, D) tokens
        length, dim = data[0].shape
        if _dim(call.arg(1, "dim", 0), 2) == 0 and call.out_shape == (length + 1, dim):
            from convcalc.layers.attention import ClassToken

            return Result((Leaf(ClassToken(int(dim))),), inputs=(data[0].name,))
    rank = len(tensors[0].shape) if isinstance(tensors[0], Data) and tensors[0].shape else 3
    if len(data) != len(tensors) or _dim(call.arg(1, "dim", 0), rank) != 0:
        return None
    return Result(merge="concat", inputs=tuple(t.name for t in tensors))


def _f_view(call: Call):
    sizes = call.args[1:]
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if len(sizes) == 2 and sizes[1] == -1:
        return Result((build.flatten(),))
    if call.out_shape is not None:
        return Result((Leaf(Reshape(tuple(call.out_shape))),))
    return None


def _f_permute(call: Call):
    dims = call.args[1:]
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    dims = tuple(int(d) % len(dims) for d in dims)  # permute(0, -1, 1, 2): torch counts from the end
    if not dims or dims[0] != 0:
        return None
    return Result((Leaf(Permute(tuple(d - 1 for d in dims[1:]))),))


def _f_transpose(call: Call):
    """``x.transpose(a, b)`` (or ``torch.transpose``) of two axes other than the batch."""
    rank = _shape_rank(call)
    a, b = (_dim(call.arg(i, name), rank) for i, name in ((1, "dim0"), (2, "dim1")))
    if a is None or b is None:
        return None
    perm = list(range(rank))
    perm[a], perm[b] = perm[b], perm[a]
    return Result((Leaf(Permute(tuple(perm))),))


def _f_movedim(call: Call):
    rank = _shape_rank(call)
    src, dst = _dim(call.arg(1, "source"), rank), _dim(call.arg(2, "destination"), rank)
    if src is None or dst is None:
        return None
    order = list(range(rank))
    order.insert(dst, order.pop(src))
    return Result((Leaf(Permute(tuple(order))),))


def _f_layer_norm(call: Call):
    affine = call.arg(2, "weight") is not None or call.arg(3, "bias") is not None
    return Result((build.layernorm(len(_pair(call.arg(1, "normalized_shape"), 1)), affine=affine),))


def _f_pad(call: Call):
    pads = list(call.arg(1, "pad"))
    rank = _shape_rank(call)
    pairs = [(0, 0)] * rank
    for i in range(len(pads) // 2):  # F.pad lists the last axis first
        pairs[rank - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    mode = str(call.arg(2, "mode", "constant"))
    if all(p >= 0 for pair in pairs for p in pair):
        return Result((Leaf(Pad(tuple(pairs), mode)),))
    if pairs[0] != (0, 0) or not 1 <= rank - 1 <= 3:
        return None  # a crop of the channels
    from convcalc.layers.crop import Crop

    grow = tuple((max(b, 0), max(a, 0)) for b, a in pairs)  # a negative amount crops
    crop = Leaf(Crop(rank=rank - 1, cropping=tuple((max(-b, 0), max(-a, 0)) for b, a in pairs[1:])))
    return Result(((Leaf(Pad(grow, mode)),) if any(v for pair in grow for v in pair) else ()) + (crop,))


def _f_getitem(call: Call):
    index = call.args[1]
    if not isinstance(index, tuple):
        index = (index,)
    if not index or index[0] != slice(None):
        return None
    rank = _shape_rank(call)
    if len(index) == 2 and isinstance(index[1], int) and not isinstance(index[1], bool) and rank == 2:
        from convcalc.layers.attention import TokenSelect

        return Result((Leaf(TokenSelect(index[1])),))  # x[:, i] of (L, D) tokens: ViT's class token read out
    layers = []
    shape = list(call.args[0].shape or ())
    for dim, item in enumerate(index[1:]):
        if item == slice(None) or item is Ellipsis:
            continue
        if not isinstance(item, slice) or dim >= rank:
            return None
        start, stop, step = item.start or 0, item.stop, item.step or 1
        layers.append(Leaf(Slice(dim, start, stop if stop is not None else (shape[dim] if shape else 2**31), step)))
    return Result(tuple(layers) or (build.identity(),))


def _f_chunk_item(call: Call):
    """``x.chunk(n, dim=1)[i]`` (recorded as one call ``chunk_item`` with chunks, dim, index)."""
    from convcalc.layers.channels import ChannelChunk

    chunks, dim, index = call.args[1:4]
    if _dim(dim, _shape_rank(call)) != 0:
        return None
    return Result((Leaf(ChannelChunk(chunks=int(chunks), index=int(index))),))


def _f_upsample(call: Call):
    scale = call.arg(2, "scale_factor")
    if scale is None or float(scale) != int(scale):
        return None
    return Result((build.upsample(int(scale), str(call.arg(3, "mode", "nearest"))),))


FUNCTIONS: dict[str, Callable[[Call], Result | None]] = {
    "relu": _f_activation("relu"),
    "relu6": _f_activation("relu6"),
    "gelu": _f_activation("gelu"),
    "silu": _f_activation("silu"),
    "sigmoid": _f_activation("sigmoid"),
    "tanh": _f_activation("tanh"),
    "hardswish": _f_activation("hardswish"),
    "hardsigmoid": _f_activation("hardsigmoid"),
    "elu": _f_activation("elu"),
    "leaky_relu": _f_activation("leaky_relu"),
    "softmax": _f_activation("softmax"),
    "log_softmax": _f_activation("log_softmax"),
    "mish": _f_activation("mish"),
    "softplus": _f_activation("softplus"),
    "max_pool1d": _f_pool("max", 1),
    "max_pool2d": _f_pool("max", 2),
    "max_pool3d": _f_pool("max", 3),
    "avg_pool1d": _f_pool("avg", 1),
    "avg_pool2d": _f_pool("avg", 2),
    "avg_pool3d": _f_pool("avg", 3),
    "adaptive_avg_pool1d": _f_adaptive("avg"),
    "adaptive_avg_pool2d": _f_adaptive("avg"),
    "adaptive_avg_pool3d": _f_adaptive("avg"),
    "adaptive_max_pool2d": _f_adaptive("max"),
    "flatten": _f_flatten,
    "mean": _f_mean,
    "add": _f_binary("add", "add"),
    "iadd": _f_binary("add", "add"),
    "__add__": _f_binary("add", "add"),
    "__radd__": _f_binary("add", "add"),
    "sub": _f_binary("add", "sub"),
    "__sub__": _f_binary("add", "sub"),
    "mul": _f_binary("mul", "mul"),
    "imul": _f_binary("mul", "mul"),
    "__mul__": _f_binary("mul", "mul"),
    "__rmul__": _f_binary("mul", "mul"),
    "truediv": _f_binary("mul", "div"),
    "div": _f_binary("mul", "div"),
    "__truediv__": _f_binary("mul", "div"),
    "cat": _f_cat,
    "concat": _f_cat,
    "view": _f_view,
    "reshape": _f_view,
    "permute": _f_permute,
    "transpose": _f_transpose,
    "movedim": _f_movedim,
    "layer_norm": _f_layer_norm,
    "pad": _f_pad,
    "getitem": _f_getitem,
    "__getitem__": _f_getitem,
    "chunk_item": _f_chunk_item,
    "interpolate": _f_upsample,
    "contiguous": lambda call: Result((build.identity(),)),
    "dropout": lambda call: Result((build.dropout(float(call.arg(1, "p", 0.5))),)),
}


# --- tracing ------------------------------------------------------------------------------------


def load(text: str, input_shape: tuple | None) -> Network:
    if input_shape is None:
        raise InputError(
            f"give --in for '{text}' (C x H x W, e.g. --in 3x32x32): a PyTorch module does not say its input size"
        )
    torch = _torch()
    model = build_model(text)
    shape = tuple(int(d) for d in input_shape)
    try:
        ops, source, sink, kinds, notes = _trace_fx(model, shape)
        how = "torch.fx"
    except InputError:
        raise
    except Exception:
        ops, source, sink, kinds, notes = _trace_run(model, shape, torch)
        how = "forward hooks"
    body = structure(ops, source, sink, kinds, what=f"'{text}'")
    name = parse_target(text)[1]
    params = sum(p.numel() for p in model.parameters())
    return Network(
        name,
        shape,
        body,
        source=f"PyTorch {type(model).__name__} from {parse_target(text)[0]} (traced with {how})",
        notes=tuple(notes) + (f"torch counts {params:,} parameters in the module",),
    )


def _unmapped_leaf(what: str, out_shape: tuple | None, name: str) -> Leaf:
    if out_shape is None:
        raise InputError(
            f"{name} ({what}) is not mapped and its output size is unknown (the forward pass does not run "
            "through it): convcalc cannot walk past it"
        )
    return Leaf(Unmapped(what, tuple(out_shape)))


def _trace_fx(model, shape: tuple):
    import torch
    import torch.fx

    class Tracer(torch.fx.Tracer):
        """fx's tracer, with every module convcalc reads as one layer a leaf (a Keras
        Normalization, a Swin window attention): its call is that layer, not its insides."""

        def is_leaf_module(self, m, qualified_name: str) -> bool:
            return super().is_leaf_module(m, qualified_name) or id(m) in read_whole

    # decided before tracing: while fx traces, a module's parameters read as proxies
    read_whole = {id(m) for m in model.modules() if module_reader(m) is not None}
    graph_module = torch.fx.GraphModule(model, Tracer().trace(model), type(model).__name__)
    shapes: dict[str, tuple] = {}
    sizes: dict[str, Any] = {}

    class Shapes(torch.fx.Interpreter):
        """Every node's output shape on a zeros input (what fx's ShapeProp records, without the
        fake-tensor machinery it imports: two seconds of a cold start)."""

        def run_node(self, node):
            result = super().run_node(node)
            if isinstance(result, torch.Tensor):
                shapes[node.name] = tuple(int(d) for d in result.shape[1:])
            elif _sizes(result):
                sizes[node.name] = result  # a size the forward computed (x.size(1) // 2, a pad's amounts)
            return result

    try:
        with torch.no_grad():
            Shapes(graph_module).run(torch.zeros((1,) + shape))
    except Exception:
        pass  # sizes that disagree stop the run: the nodes before keep their shapes
    modules = dict(model.named_modules())
    data: set[str] = set()
    ops: list[Op] = []
    kinds: dict[str, str] = {}
    notes: list[str] = []
    source = sink = None
    chunk_of: dict[str, tuple] = {}
    tuple_of: set[str] = set()  # a module's tuple output (attention: output, weights)
    alias: dict[str, str] = {}  # element 0 of such a tuple → the module's own output
    for node in graph_module.graph.nodes:
        stack = node.meta.get("nn_module_stack") or {}
        for path, (_, cls) in stack.items():
            kinds.setdefault(path, getattr(cls, "__name__", str(cls)))
        scope = list(stack)[-1] if stack else ""
        if node.op == "placeholder":
            if source is not None:
                raise InputError(
                    "the module's forward takes more than one tensor; convcalc walks models with one input"
                )
            source = node.name
            data.add(node.name)
            continue
        if node.op == "output":
            out = node.args[0]
            while isinstance(out, (tuple, list)):
                out = out[0]
            sink = alias.get(out.name, out.name) if hasattr(out, "name") else None
            continue
        inputs = [alias.get(a.name, a.name) for a in node.all_input_nodes if a.name in data]
        if not inputs:
            continue
        if node.op == "call_module":
            module = modules[node.target]
            mapper = module_reader(module)
            layers = mapper(module) if mapper else None
            if type(module).__name__ in TUPLE_MODULES:
                if len(set(inputs)) != 1 or len(node.all_input_nodes) != 1:  # cross-attention, a mask
                    layers = None
                tuple_of.add(node.name)
                if layers is None:
                    raise InputError(f"{node.target} ({type(module).__name__}) is not mapped: convcalc reads "
                                     "nn.MultiheadAttention(E, heads, batch_first=True) with its biases, called "
                                     "as self-attention (the same tensor as query, key and value, no mask)")
            if layers is None:
                layers = (_unmapped_leaf(type(module).__name__, shapes.get(node.name), node.target),)
                notes.append(f"{node.target}: {type(module).__name__} is not mapped (no parameters or MACs counted)")
            ops.append(Op((inputs[0],), node.name, _named(node.target, layers)))
            data.add(node.name)
            continue
        fname = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
        if fname in ("size", "dim", "numel", "shape") or (fname == "getattr" and node.args[1] in _NOT_DATA):
            continue  # sizes, not data: a view's x.size(0) argument
        if fname == "chunk" and _dim(node.kwargs.get("dim", node.args[2] if len(node.args) > 2 else 0), 3) == 0:
            chunk_of[node.name] = (
                inputs[0],
                node.args[1],
                node.kwargs.get("dim", node.args[2] if len(node.args) > 2 else 0),
            )
            data.add(node.name)  # its items are data: x.chunk(2, dim=1)[1]
            continue
        if fname == "getitem" and node.args[0].name in tuple_of:
            if node.args[1] != 0:
                raise InputError(f"{node.name}: element {node.args[1]!r} of {node.args[0].name}'s output "
                                 "(the attention weights) is not walked; convcalc follows the output, element 0")
            alias[node.name] = inputs[0]  # the attention's output itself: no layer of its own
            data.add(node.name)
            continue
        if fname == "getitem" and node.args[0].name in chunk_of:
            src, chunks, dim = chunk_of[node.args[0].name]
            call = Call("chunk_item", (Data(src, shapes.get(src)), chunks, dim, node.args[1]), {})
            fname = "chunk_item"
            inputs = [src]  # the item reads the chunked tensor; the chunk itself is no layer
        else:
            call = Call(
                fname,
                _args(node.args, data, shapes, graph_module, sizes),
                _args(node.kwargs, data, shapes, graph_module, sizes),
                shapes.get(node.name),
            )
        function = FUNCTIONS.get(fname)
        mapped = function(call) if function else None
        name = f"{scope}.{node.name}" if scope else node.name
        if mapped is None:
            notes.append(f"{name}: {fname} is not mapped (no parameters or MACs counted)")
            mapped = Result((_unmapped_leaf(fname, shapes.get(node.name), name),), inputs=(inputs[0],))
        read = mapped.inputs or tuple(inputs)
        if mapped.merge:
            ops.append(Op(read, node.name, merge=mapped.merge, scope=scope))
        else:
            ops.append(Op((read[0],), node.name, _named(name, mapped.layers)))
        data.add(node.name)
    if source is None or sink is None:
        raise InputError("the module's forward has no tensor input or output")
    return _fuse_tokens(ops, shapes), source, sink, kinds, notes


def _fuse_tokens(ops: list[Op], shapes: dict) -> list[Op]:
    """``x.flatten(2).transpose(1, 2)`` of a (C, *spatial) feature map — ViT's tokens — as the one
    tokens layer, which keeps each pixel's receptive field (a flatten alone ends it). The flatten's
    output must be read by the transpose only."""
    from collections import Counter

    from convcalc.layers.attention import Tokens
    from convcalc.layers.dense import Flatten

    readers = Counter(name for op in ops for name in op.inputs)
    by_output = {op.output: op for op in ops}
    fused: dict[str, Op] = {}  # the transpose's output → the tokens op
    dropped: set[str] = set()
    for op in ops:
        swap = op.layers[0][1].layer if len(op.layers) == 1 else None
        if not isinstance(swap, Permute) or swap.perm != (1, 0):
            continue
        flat = by_output.get(op.inputs[0])
        if flat is None or len(flat.layers) != 1 or readers[flat.output] != 1:
            continue
        layer, before = flat.layers[0][1].layer, shapes.get(flat.inputs[0])
        if not isinstance(layer, Flatten) or before is None or len(before) < 3:
            continue
        if layer.start_dim % len(before) != 1 or layer.end_dim % len(before) != len(before) - 1:
            continue
        first, second = flat.layers[0][0], op.layers[0][0]
        scope = first.rpartition(".")[0]
        name = scope if scope and scope == second.rpartition(".")[0] else second
        fused[op.output] = Op(flat.inputs, op.output, ((name, Leaf(Tokens())),))
        dropped.add(flat.output)
    return [fused.get(op.output, op) for op in ops if op.output not in dropped]


def _args(value, data: set, shapes: dict, graph_module, sizes: dict | None = None):
    """fx arguments with data nodes as :class:`Data` and parameters (get_attr) as tensors."""
    import torch.fx

    if isinstance(value, torch.fx.Node):
        if value.name in data:
            return Data(value.name, shapes.get(value.name))
        if value.op == "get_attr":
            target = graph_module
            for part in str(value.target).split("."):
                target = getattr(target, part)
            return target
        if sizes and value.name in sizes:
            return sizes[value.name]
        return value
    if isinstance(value, tuple):
        return tuple(_args(v, data, shapes, graph_module, sizes) for v in value)
    if isinstance(value, list):
        return [_args(v, data, shapes, graph_module, sizes) for v in value]
    if isinstance(value, dict):
        return {k: _args(v, data, shapes, graph_module, sizes) for k, v in value.items()}
    if isinstance(value, slice):
        return slice(*(_args(v, data, shapes, graph_module, sizes) for v in (value.start, value.stop, value.step)))
    return value


#: Tensor attributes a forward reads that are not data (x.shape, x.dtype for a constant's .to()).
_NOT_DATA = ("shape", "ndim", "dtype", "device")


def _sizes(value) -> bool:
    """Whether ``value`` is plain data the forward computed from sizes: an int, a slice, a
    torch.Size, or a tuple or list of such (an index ``(slice(None),) + (slice(None, None, 2),) * 2``)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int) or value is Ellipsis:
        return True
    if isinstance(value, slice):
        return all(v is None or (isinstance(v, int) and not isinstance(v, bool))
                   for v in (value.start, value.stop, value.step))
    return isinstance(value, (tuple, list)) and bool(value) and all(v is None or _sizes(v) for v in value)


def _named(name: str, layers: tuple) -> tuple:
    return tuple((name if i == 0 else f"{name}_{leaf.layer.name}", leaf) for i, leaf in enumerate(layers))


def _trace_run(model, shape: tuple, torch):
    """One forward pass on zeros: hooks on leaf modules, a TorchFunctionMode for the calls between."""
    from torch.overrides import TorchFunctionMode

    names: dict[int, str] = {}  # id(tensor) → tensor name
    keep: list = []  # the tensors named, alive so their ids stay unique
    ops: list[Op] = []
    kinds: dict[str, str] = {}
    notes: list[str] = []
    scope: list[str] = []
    inside = [0]
    counter = [0]

    def name_of(tensor) -> str | None:
        return names.get(id(tensor)) if isinstance(tensor, torch.Tensor) else None

    def new_name(tensor, hint: str) -> str:
        counter[0] += 1
        name = f"{hint}#{counter[0]}"
        names[id(tensor)] = name
        keep.append(tensor)
        return name

    def wrap(value):
        name = name_of(value)
        if name is not None:
            return Data(name, tuple(value.shape[1:]))
        if isinstance(value, (tuple, list)):
            return type(value)(wrap(v) for v in value)
        return value

    leaf_paths = {id(m): path for path, m in model.named_modules()}
    for path, module in model.named_modules():
        kinds[path] = type(module).__name__

    def pre(module, args):
        path = leaf_paths.get(id(module), "")
        scope.append(path)
        if module_reader(module) is not None:
            inside[0] += 1

    def post(module, args, output):
        path = scope.pop()
        mapper = module_reader(module)
        if mapper is None:
            return
        inside[0] -= 1
        if inside[0]:
            return
        source = next((name_of(a) for a in args if name_of(a) is not None), None)
        if type(module).__name__ in TUPLE_MODULES and isinstance(output, tuple):
            if len({id(a) for a in args if isinstance(a, torch.Tensor)}) != 1:
                return  # not self-attention: its output stays unnamed, and the walk says so there
            output = output[0]
        if source is None or not isinstance(output, torch.Tensor):
            return
        layers = mapper(module)
        if layers is None:
            layers = (_unmapped_leaf(type(module).__name__, tuple(output.shape[1:]), path),)
        ops.append(Op((source,), new_name(output, path), _named(path, layers)))

    class Record(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            result = func(*args, **kwargs)
            if inside[0]:
                return result
            fname = getattr(func, "__name__", str(func))
            flat = list(args) + [v for a in args if isinstance(a, (tuple, list)) for v in a]
            reads = [name_of(a) for a in flat if name_of(a) is not None]
            if not reads or fname in ("size", "dim", "__get__", "numel", "__len__"):
                return result
            if fname in ("chunk", "split", "unbind") and isinstance(result, (tuple, list)):
                for index, part in enumerate(result):
                    call = Call(
                        "chunk_item",
                        (
                            wrap(args[0]),
                            args[1] if len(args) > 1 else kwargs.get("chunks"),
                            kwargs.get("dim", args[2] if len(args) > 2 else 0),
                            index,
                        ),
                        {},
                    )
                    _record(call, part, reads[:1])
                return result
            if isinstance(result, torch.Tensor):
                _record(Call(fname, wrap(tuple(args)), wrap(dict(kwargs)), tuple(result.shape[1:])), result, reads)
            return result

    def _record(call: Call, result, reads) -> None:
        here = scope[-1] if scope else ""
        mapper = FUNCTIONS.get(call.name)
        mapped = mapper(call) if mapper else None
        hint = f"{here}.{call.name}" if here else call.name
        if mapped is None:
            notes.append(f"{hint}: {call.name} is not mapped (no parameters or MACs counted)")
            mapped = Result((Leaf(Unmapped(call.name, tuple(result.shape[1:]))),), inputs=(reads[0],))
        read = mapped.inputs or tuple(reads)
        name = new_name(result, hint)
        if mapped.merge:
            ops.append(Op(read, name, merge=mapped.merge, scope=here))
        else:
            ops.append(Op((read[0],), name, _named(hint, mapped.layers)))

    handles = []
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))
    x = torch.zeros((1,) + shape)
    source = new_name(x, "input")
    try:
        with torch.no_grad(), Record():
            output = model(x)
    except Exception as error:
        raise _user_error(
            f"the forward pass of {type(model).__name__} on {format_shape((1,) + shape)}", error, None
        ) from None
    finally:
        for handle in handles:
            handle.remove()
    while isinstance(output, (tuple, list)):
        output = output[0]
    sink = name_of(output)
    if sink is None:
        raise InputError("the module's output is not a tensor computed from its input")
    return ops, source, sink, kinds, notes
