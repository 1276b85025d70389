"""The one registry of layer types: op names (with their aliases and rank suffixes) and
the command-line options each type takes. Every command builds layers through here.

Each builder imports its layer module when it runs, so a command loads only the rules of
the layer types it uses (start-up time: ``convcalc shape`` compiles what it needs)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Callable

from convcalc.errors import InputError


@dataclass(frozen=True)
class OpSpec:
    """A layer type as the command line knows it."""

    name: str
    build: Callable[..., Any]
    options: tuple[str, ...]  # option names (without dashes) this op accepts
    spatial: bool = True
    summary: str = ""


def _conv(rank, o):
    from convcalc.layers.conv import Conv

    return Conv(rank=rank, out_channels=o.get("out"), kernel_size=_required(o, "k", "conv"), stride=o.get("stride", (1,)),
                padding=o.get("pad", 0), dilation=o.get("dilation", (1,)), groups=o.get("groups", 1),
                depthwise=o.get("depthwise", False), bias=not o.get("no-bias", False), padding_mode=o.get("padding-mode", "zeros"))


def _conv_transpose(rank, o):
    from convcalc.layers.conv import ConvTranspose

    return ConvTranspose(rank=rank, out_channels=o.get("out"), kernel_size=_required(o, "k", "conv-transpose"),
                         stride=o.get("stride", (1,)), padding=o.get("pad", 0), dilation=o.get("dilation", (1,)),
                         groups=o.get("groups", 1), depthwise=o.get("depthwise", False), bias=not o.get("no-bias", False),
                         padding_mode=o.get("padding-mode", "zeros"), output_padding=o.get("output-padding", (0,)))


def _maxpool(rank, o):
    from convcalc.layers.pool import MaxPool

    return MaxPool(rank=rank, kernel_size=_required(o, "k", "maxpool"), stride=o.get("stride"), padding=o.get("pad", 0),
                   dilation=o.get("dilation", (1,)), ceil_mode=o.get("ceil-mode", False))


def _avgpool(rank, o):
    from convcalc.layers.pool import AvgPool

    return AvgPool(rank=rank, kernel_size=_required(o, "k", "avgpool"), stride=o.get("stride"), padding=o.get("pad", 0),
                   ceil_mode=o.get("ceil-mode", False), count_include_pad=o.get("count-include-pad", True),
                   divisor_override=o.get("divisor-override"))


def _adaptive(mode):
    def build(rank, o):
        from convcalc.layers.pool import AdaptivePool

        return AdaptivePool(rank=rank, mode=mode, output_size=_required(o, "output-size", f"adaptive-{mode}pool"))
    return build


def _global(mode):
    def build(rank, o):
        from convcalc.layers.pool import AdaptivePool

        return AdaptivePool(rank=rank, mode=mode, output_size=(1,), global_=True)
    return build


def _separable(rank, o):
    from convcalc.layers.separable import DepthwiseSeparable

    return DepthwiseSeparable(rank=rank, out_channels=o.get("out"), kernel_size=_required(o, "k", "depthwise-separable"),
                              stride=o.get("stride", (1,)), padding=o.get("pad", 0), dilation=o.get("dilation", (1,)),
                              bias=not o.get("no-bias", False), padding_mode=o.get("padding-mode", "zeros"),
                              multiplier=o.get("multiplier", 1))


def _linear(rank, o):
    from convcalc.layers.dense import Linear

    return Linear(out_features=o.get("out"), bias=not o.get("no-bias", False))


def _flatten(rank, o):
    from convcalc.layers.dense import Flatten

    return Flatten(start_dim=o.get("start-dim", 1), end_dim=o.get("end-dim", -1), start_given="start-dim" in o)


def _required(options: dict, key: str, op: str):
    if key not in options:
        example = {"k": "--k 3", "output-size": "--output-size 6x6"}[key]
        raise InputError(f"{op} needs --{key} (e.g. {example})")
    return options[key]


_CONV_OPTS = ("out", "k", "stride", "pad", "dilation", "groups", "depthwise", "padding-mode", "no-bias")
OPS: dict[str, OpSpec] = {
    spec.name: spec
    for spec in (
        OpSpec("conv", _conv, _CONV_OPTS, summary="convolution (cross-correlation), PyTorch Conv1d/2d/3d"),
        OpSpec("conv-transpose", _conv_transpose, _CONV_OPTS + ("output-padding",),
               summary="transposed convolution, PyTorch ConvTranspose1d/2d/3d"),
        OpSpec("maxpool", _maxpool, ("k", "stride", "pad", "dilation", "ceil-mode"), summary="max pooling"),
        OpSpec("avgpool", _avgpool, ("k", "stride", "pad", "ceil-mode", "count-include-pad", "divisor-override"),
               summary="average pooling"),
        OpSpec("adaptive-avgpool", _adaptive("avg"), ("output-size",), summary="adaptive average pooling"),
        OpSpec("adaptive-maxpool", _adaptive("max"), ("output-size",), summary="adaptive max pooling"),
        OpSpec("global-avgpool", _global("avg"), (), summary="global average pooling (adaptive, output 1)"),
        OpSpec("global-maxpool", _global("max"), (), summary="global max pooling (adaptive, output 1)"),
        OpSpec("depthwise-separable", _separable, ("out", "k", "stride", "pad", "dilation", "padding-mode", "no-bias", "multiplier"),
               summary="depthwise conv + 1x1 pointwise conv, against a standard conv"),
        OpSpec("linear", _linear, ("out", "no-bias"), spatial=False, summary="fully connected layer on the last dimension"),
        OpSpec("flatten", _flatten, ("start-dim", "end-dim"), spatial=False, summary="merge dimensions start..end"),
    )
}

_ALIASES = {
    "conv": "conv", "convolution": "conv",
    "convtranspose": "conv-transpose", "transposedconv": "conv-transpose", "deconv": "conv-transpose",
    "convt": "conv-transpose", "transposeconv": "conv-transpose",
    "maxpool": "maxpool", "max": "maxpool",
    "avgpool": "avgpool", "averagepool": "avgpool", "meanpool": "avgpool",
    "adaptiveavgpool": "adaptive-avgpool", "adaptivemaxpool": "adaptive-maxpool",
    "globalavgpool": "global-avgpool", "gap": "global-avgpool", "globalaveragepool": "global-avgpool",
    "globalmaxpool": "global-maxpool",
    "depthwiseseparable": "depthwise-separable", "separable": "depthwise-separable", "sepconv": "depthwise-separable",
    "separableconv": "depthwise-separable", "dwsep": "depthwise-separable",
    "linear": "linear", "fc": "linear", "dense": "linear",
    "flatten": "flatten",
}
_RANK = re.compile(r"^(.*?)([123])d$")


def resolve_op(text: str, dims: int | None = None) -> tuple[OpSpec, int | None]:
    """``'conv-transpose3d'`` → (the conv-transpose spec, 3); aliases, ``_``/``-`` and case ignored."""
    raw = str(text).strip()
    key = re.sub(r"[\s_\-]", "", raw.lower())
    rank = None
    match = _RANK.match(key)
    if match and match.group(1) in _ALIASES:
        key, rank = match.group(1), int(match.group(2))
    if key not in _ALIASES:
        close = difflib.get_close_matches(raw.lower(), list(OPS), n=3, cutoff=0.5)
        hint = f" — did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown op '{raw}'{hint} Valid ops: {', '.join(OPS)} (add 1d/2d/3d for the rank)")
    spec = OPS[_ALIASES[key]]
    if dims is not None:
        if dims not in (1, 2, 3):
            raise InputError(f"--dims must be 1, 2 or 3; got {dims}")
        if rank is not None and rank != dims:
            raise InputError(f"--op {raw} is {rank}-d but --dims says {dims}: give one of them")
        rank = dims
    if not spec.spatial:
        if rank is not None:
            raise InputError(f"{spec.name} has no spatial rank: drop the {rank}d / --dims")
        return spec, None
    return spec, rank or 2


def build_layer(op: str, options: dict[str, Any], dims: int | None = None):
    """Build the layer an op name and its (already parsed) options describe.

    Options that do not apply to the op are refused, naming the ops they belong to.
    """
    spec, rank = resolve_op(op, dims)
    for key in options:
        if key not in spec.options:
            owners = [s.name for s in OPS.values() if key in s.options]
            where = f" (it is for {', '.join(owners)})" if owners else ""
            raise InputError(f"--{key} does not apply to {spec.name}{where}")
    return spec.build(rank, options)


def __getattr__(name: str):
    """The layer classes this module once imported at the top, still importable from here."""
    from convcalc import layers

    if name in layers.__all__:
        return getattr(layers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
