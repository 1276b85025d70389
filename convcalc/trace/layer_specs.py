"""The sequential spec form: PyTorch layer types with their parameter values.

Each layer type reads its keys (PyTorch names), builds the :mod:`convcalc.layers` object
that computes it, and checks its tensors against the shape coming in — so a mismatch is
reported naming the layer and both shapes. The shape rule used is the layer's own
``analyze`` (one source of truth).

Layouts (PyTorch): an input written as a plain matrix is one image (1x1xHxW) when the chain
starts with an image layer, a vector is one sample (1xF) when it starts with ``linear``.
conv2d weight: kh x kw (one kernel), C_in x kh x kw (one filter) or C_out x C_in/g x kh x kw;
conv_transpose2d weight: C_in x C_out/g x kh x kw (kh x kw for one kernel);
linear weight: out x in; biases: a number or one per output channel/feature.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from convcalc.compute.params import conv_weight
from convcalc.errors import InputError
from convcalc.layers.base import analyze_batched
from convcalc.layers.descriptor import LayerDescriptor, descriptors, normalise
from convcalc.notation import parse_padding
from convcalc.trace.spec import (
    LayerStep,
    Loss,
    SequentialSpec,
    Tensor,
    check_keys,
    closest,
    display_shape,
    flag,
    number,
    pair,
    shape_text,
    tensor,
    whole,
)

ELEMENTWISE = ("relu", "leaky_relu", "elu", "sigmoid", "tanh", "dropout")
def _trace_descriptors() -> dict[str, LayerDescriptor]:
    return {d.trace: d for d in descriptors() if d.trace is not None}


#: the backprop spec's layer types, their words and default tensor names, from the descriptors
_TRACE = _trace_descriptors()
LAYER_TYPES = tuple(_TRACE)
_ALIASES = {word: d.trace for d in _TRACE.values() if d.trace for word in d.words("trace")}
#: layers that take an image: the hand-written ones, and every type read from its descriptor alone
IMAGE_LAYERS = tuple(kind for kind in LAYER_TYPES if kind not in ("linear", "softmax") + ELEMENTWISE)
LOSSES = ("mse_half_sum", "mse", "sse", "cross_entropy", "sum", "upstream")
_LOSS_ALIASES = {
    "msehalfsum": "mse_half_sum",
    "halfmse": "mse_half_sum",
    "halfsse": "mse_half_sum",
    "mse": "mse",
    "mseloss": "mse",
    "sse": "sse",
    "crossentropy": "cross_entropy",
    "ce": "cross_entropy",
    "sum": "sum",
    "upstream": "upstream",
    "given": "upstream",
}

OUTPUT_NAMES = {kind: d.trace_output for kind, d in _TRACE.items()}
PARAM_NAMES = {(kind, key): name for kind, d in _TRACE.items() for key, name in d.trace_params.items()}

COMMON_KEYS = ("type", "name", "output", "names")
TOP_KEYS = ("input", "input_name", "layers", "loss", "lr", "title", "description", "dtype", "$schema", "comment")
#: "dtype": what the trace computes in. exact: whole numbers and p/q as exact fractions (a decimal is
#: refused); float64: every tensor float64 (as a decimal anywhere makes it); float32: every tensor
#: float32, PyTorch's default (rounding shows in the last digits). Without it: exact unless a decimal.
DTYPES = ("exact", "float64", "float32")


def canonical_type(text: Any, what: str) -> str:
    if not isinstance(text, str):
        raise InputError(f'{what}: "type" must be a layer type name such as "conv2d"; got {text!r}')
    key = normalise("trace", text)
    if key in _ALIASES:
        return _ALIASES[key]
    from convcalc.layers.descriptor import lookup

    network_layer = lookup("spec", text)
    if network_layer is not None and network_layer.build is not None:  # an arch/run layer: say why not here
        raise InputError(f'{what}: "{text}" ({network_layer.name}) is not a backprop trace type: a trace writes out '
                         "every tensor and explains each step by hand, which only the types listed below have so far. "
                         "convcalc run NETWORK --backward runs it forward and backward on numbers (NETWORK: an inline "
                         f"chain or spec file). Valid types: {', '.join(LAYER_TYPES)}")
    close = closest([text.strip().lower()], LAYER_TYPES)
    hint = f" — did you mean {close}?" if close else ""
    raise InputError(f'{what}: unknown layer type "{text}"{hint} Valid types: {", ".join(LAYER_TYPES)}')


def parse_sequential(data: dict, source: str) -> SequentialSpec:
    check_keys(data, TOP_KEYS, source)
    layers_raw = data.get("layers")
    if not isinstance(layers_raw, list) or not layers_raw:
        raise InputError(f'{source}: "layers" must be a non-empty list of layers, e.g. [{{"type": "relu"}}]')
    if "input" not in data:
        raise InputError(f'{source}: "input" is missing (the input tensor, e.g. a matrix [[1, 2], [3, 4]])')
    kinds = []
    for i, raw in enumerate(layers_raw, 1):
        if not isinstance(raw, dict):
            raise InputError(f'{source}: layer {i} must be an object like {{"type": "relu"}}; got {raw!r}')
        if "type" not in raw:
            raise InputError(f'{source}: layer {i} has no "type" (one of {", ".join(LAYER_TYPES)})')
        kinds.append(canonical_type(raw["type"], f"layer {i}"))

    raw_input = tensor(data["input"], "input")
    layout = _input_layout(kinds)
    x, implicit = _batched_input(raw_input, layout, kinds)
    input_name = _name(data.get("input_name", "I" if layout == "image" else "x"), "input_name")

    names = _Names(input_name)
    steps: list[LayerStep] = []
    shape = x.shape
    for i, (raw, kind) in enumerate(zip(layers_raw, kinds), 1):
        step = _build_layer(i, kind, raw, shape, names)
        steps.append(step)
        shape = step.output_shape
    loss = _parse_loss(data.get("loss"), shape, implicit, source)
    lr = number(data["lr"], "lr") if data.get("lr") is not None else None
    title = data.get("title") or " → ".join(s.kind for s in steps)
    spec = SequentialSpec(
        title=str(title),
        input=Tensor(input_name, "input", x, raw_input.shape),
        layers=tuple(steps),
        loss=loss,
        lr=lr,
        implicit_dims=implicit,
        description=str(data.get("description", "")),
    )
    return _unify_kind(spec, _dtype(data.get("dtype"), source))


def _dtype(value: Any, source: str) -> str | None:
    if value is None:
        return None
    if value not in DTYPES:
        raise InputError(f'{source}: "dtype" must be one of {", ".join(DTYPES)} (exact fractions, or PyTorch\'s '
                         f"float64 / float32); got {json.dumps(value)}")
    return value


def _unify_kind(spec: SequentialSpec, dtype: str | None = None) -> SequentialSpec:
    """A decimal anywhere makes every tensor float64 ("floats give floats"); ``dtype`` (the spec's
    "dtype") asks for one kind: exact (a decimal refused), float64 or float32 for every tensor."""
    arrays = [spec.input.values] + [t.values for s in spec.layers for t in s.params.values()]
    arrays += [b for s in spec.layers for b in s.buffers.values()]
    arrays += [a for a in (spec.loss.target, spec.loss.grad) if a is not None and not spec.loss.class_indices]
    floats = any(a.dtype != object for a in arrays)
    if dtype == "exact":
        if floats:
            raise InputError('"dtype": "exact", but the spec has decimals: write them as whole numbers or "p/q" '
                             '(0.5 → "1/2"), or use "dtype": "float64"')
        return spec
    if dtype is None and not floats:
        return spec
    from dataclasses import replace

    kind = np.float32 if dtype == "float32" else np.float64

    def f(t: Tensor) -> Tensor:
        return replace(t, values=t.values.astype(kind))

    layers = tuple(
        replace(
            s,
            params={k: f(v) for k, v in s.params.items()},
            buffers={k: b.astype(kind) for k, b in s.buffers.items()},
        )
        for s in spec.layers
    )
    loss = spec.loss
    loss = replace(
        loss,
        target=loss.target if loss.target is None or loss.class_indices else loss.target.astype(kind),
        grad=None if loss.grad is None else loss.grad.astype(kind),
    )
    return replace(spec, input=f(spec.input), layers=layers, loss=loss)


def _input_layout(kinds: list[str]) -> str:
    for kind in kinds:
        if kind in IMAGE_LAYERS:
            return "image"
        if kind in ("linear", "softmax"):
            return "features"
    return "features"


def _batched_input(x: np.ndarray, layout: str, kinds: list[str]) -> tuple[np.ndarray, int]:
    if layout == "image":
        first = next(k for k in kinds if k in IMAGE_LAYERS)
        if x.ndim == 2:
            return x.reshape((1, 1) + x.shape), 2
        if x.ndim == 3:
            return x.reshape((1,) + x.shape), 1
        if x.ndim == 4:
            return x, 0
        raise InputError(
            f"input: {first} takes an image: H x W (a plain matrix), C x H x W or N x C x H x W; "
            f"got {x.ndim}-d ({shape_text(x.shape)})"
        )
    if x.ndim == 0:
        return x.reshape(1, 1), 2
    if x.ndim == 1:
        return x.reshape((1,) + x.shape), 1
    return x, 0


class _Names:
    """Tensor names: the user's, else defaults (K, W, b, J, P, O …) numbered when repeated."""

    def __init__(self, input_name: str) -> None:
        self.used = {input_name}
        self.counts: dict[str, int] = {}

    def take(self, name: str, where: str) -> str:
        if name in self.used:
            raise InputError(f'{where}: the name "{name}" is used twice; every tensor needs its own name')
        self.used.add(name)
        return name


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or any(ch in value for ch in "[](),.; "):
        raise InputError(f'{what}: a name must be a short word such as "K" or "conv1"; got {value!r}')
    return value.strip()


# --- one layer -------------------------------------------------------------------------------


def _build_layer(index: int, kind: str, raw: dict, shape: tuple[int, ...], names: _Names) -> LayerStep:
    where = f"layer {index} ({kind})"
    allowed = COMMON_KEYS + _KEYS.get(kind, _generic_keys(kind))
    check_keys(raw, allowed, where)
    builder = _BUILDERS.get(kind, _generic)
    try:
        layer, params, buffers, options = builder(raw, shape, where)
    except InputError as error:
        raise InputError(_in_spec_words(error, where)) from None
    notes = tuple(options.pop("notes", ()))
    out_shape = _output_shape(layer, kind, shape, params, where)
    layer_name = _name(raw["name"], f"{where}: name") if "name" in raw else kind
    user_names = raw.get("names", {})
    if not isinstance(user_names, dict):
        raise InputError(f'{where}: "names" maps parameter names to tensor names, e.g. {{"weight": "K"}}')
    check_keys(user_names, tuple(params), f"{where}: names")
    named: dict[str, Tensor] = {}
    for key, (array, given_shape) in params.items():
        display = (
            _name(user_names[key], f"{where} names.{key}") if key in user_names else _auto_param_name(kind, key, names)
        )
        named[key] = Tensor(names.take(display, where), f"{index}.{key}", array, given_shape)
    output = _name(raw["output"], f"{where}: output") if "output" in raw else _auto_output_name(kind, names)
    return LayerStep(
        index=index,
        kind=kind,
        name=layer_name,
        output=names.take(output, where),
        layer=layer,
        params=named,
        buffers=buffers,
        options=options,
        input_shape=tuple(shape),
        output_shape=out_shape,
        notes=notes,
    )


def _in_spec_words(error: InputError, where: str) -> str:
    """A layer class's message, its field spelled as the spec's key (``padding_mode``: a backprop
    spec uses PyTorch's keywords, which are the layers' own) and prefixed with the layer's place."""
    message = str(error.spelled(str))
    if message.startswith(where):
        return message
    for prefix in ("conv2d: ", "conv-transpose2d: ", "maxpool2d: ", "avgpool2d: ", "linear: ", "flatten: "):
        message = message.removeprefix(prefix)
    return f"{where}: {message}"


def _auto_param_name(kind: str, key: str, names: _Names) -> str:
    base = PARAM_NAMES.get((kind, key), "b" if key == "bias" else key)
    return _next_free(base, names)


def _auto_output_name(kind: str, names: _Names) -> str:
    return _next_free(OUTPUT_NAMES[kind], names)


def _next_free(base: str, names: _Names) -> str:
    # The first use keeps the plain name (K, J); later ones are numbered K2, J2 …
    if base not in names.used:
        return base
    n = 2
    while f"{base}{n}" in names.used:
        n += 1
    return f"{base}{n}"


def _output_shape(layer, kind: str, shape: tuple[int, ...], params, where: str) -> tuple[int, ...]:
    """The layer's own shape rule (``analyze``) on the batched input shape."""
    if kind in ELEMENTWISE or kind in ("softmax", "batchnorm2d"):
        return tuple(shape)
    try:
        if kind == "flatten":  # the layer counts dims over one sample
            return (shape[0],) + tuple(int(d) for d in layer.analyze(tuple(shape[1:])).output)
        report = analyze_batched(layer, tuple(shape))
    except InputError as error:
        raise InputError(_in_spec_words(error, where) + f" (its input is {shape_text(shape)})") from None
    return tuple(int(d) for d in report.output)


def _need_image(shape: tuple[int, ...], kind: str, where: str) -> tuple[int, int, int, int]:
    if len(shape) != 4:
        raise InputError(
            f"{where}: {kind} needs an image input N x C x H x W, but its input is {shape_text(shape)}"
            + (" (it comes after a flatten or linear layer)" if len(shape) == 2 else "")
        )
    return shape  # type: ignore[return-value]


def _channels(count: int, kind: str = "") -> str:
    return f"{count} {kind}channel{'s' if count != 1 else ''}"


def _weight_4d(raw: Any, where: str, transposed: bool,
               in_channels: int) -> tuple[np.ndarray, tuple[int, ...], str | None]:
    """The weight as PyTorch's 4-d layout, by the rule ``convcalc conv`` follows too
    (:func:`convcalc.compute.params.conv_weight`); a note when it read matrices as output channels."""
    w = tensor(raw, f"{where}: weight")
    given = w.shape
    if w.ndim in (2, 3, 4):
        weight, note = conv_weight(w, in_channels, transposed)
        if weight is None:  # C x kh x kw on an input with other channels: one filter, refused below
            weight = w.reshape((w.shape[0], 1) + w.shape[1:]) if transposed else w.reshape((1,) + w.shape)
        return weight, given, note
    layout = "C_in x C_out/groups x kh x kw" if transposed else "C_out x C_in/groups x kh x kw"
    raise InputError(
        f"{where}: weight must be kh x kw (one kernel) or {layout}; got {w.ndim}-d ({shape_text(w.shape)})"
    )


def _bias(raw: Any, count: int, where: str, what: str = "bias") -> tuple[np.ndarray, tuple[int, ...]] | None:
    if raw is None or raw is False:
        return None
    b = tensor(raw, f"{where} {what}")
    given = b.shape
    if b.ndim == 0:
        b = b.reshape(1)
    if b.ndim != 1 or b.shape[0] != count:
        raise InputError(f"{where}: {what} must have one number per output ({count}); got {shape_text(given)}")
    return b, given


def _check_declared(raw: dict, key: str, actual: int, where: str, source: str) -> None:
    """Keys PyTorch carries (in_channels, out_features …) are accepted and must agree."""
    if key in raw:
        declared = whole(raw[key], f"{where} {key}", 1)
        if declared != actual:
            raise InputError(f"{where}: {key} is {declared} but {source} is {actual}")


def _padding(raw: dict, where: str):
    """A number, [pH, pW] (PyTorch's symmetric padding), "same"/"valid", or asymmetric per-axis
    before:after pairs as convcalc conv takes them: [[top, bottom], [left, right]] or "0:2x0:2"
    (what F.pad does before an unpadded conv). Symmetric values come back as (pH, pW)."""
    value = raw.get("padding", 0)
    valid = 'use a number, [pH, pW], [[top, bottom], [left, right]], "0:2x0:2", "same" or "valid"'
    if isinstance(value, str):
        if value in ("same", "valid"):
            return value
        if ":" not in value:
            raise InputError(f"{where}: padding '{value}' is not valid: {valid}")
        pads = parse_padding(value, f"{where}: padding", strict=True)
    elif isinstance(value, list) and any(isinstance(v, list) for v in value):
        if len(value) != 2 or not all(isinstance(v, list) and len(v) == 2 for v in value):
            raise InputError(f"{where}: padding {json.dumps(value)} is not valid: {valid}")
        pads = tuple((whole(a, f"{where}: padding", 0), whole(b, f"{where}: padding", 0)) for a, b in value)
    else:
        return pair(value, f"{where}: padding", 0)
    if isinstance(pads, str) or len(pads) not in (1, 2):
        raise InputError(f"{where}: padding '{value}' is not valid: {valid}")
    pads = tuple(pads) * (2 // len(pads))
    if all(a == b for a, b in pads):
        return pads[0][0], pads[1][0]
    return pads


def _conv(raw: dict, shape, where: str, transposed: bool = False):
    _n, c, _h, _w = _need_image(shape, "conv_transpose2d" if transposed else "conv2d", where)
    if "weight" not in raw:
        raise InputError(f'{where}: "weight" is missing (the kernel values, e.g. [[1, 0], [0, -1]])')
    weight, given, note = _weight_4d(raw["weight"], where, transposed, c)
    groups = whole(raw.get("groups", 1), f"{where}: groups", 1)
    kh, kw = weight.shape[2:]
    if transposed:
        c_in_w, c_out = weight.shape[0], weight.shape[1] * groups
        if c_in_w != c:
            raise InputError(
                f"{where}: weight is {shape_text(given)} (C_in x C_out/groups x kh x kw), so it takes "
                f"{_channels(c_in_w, 'input ')}, but its input is {shape_text(shape)} ({_channels(c)})"
            )
    else:
        c_out, c_in = weight.shape[0], weight.shape[1] * groups
        if c_in != c:
            raise InputError(
                f"{where}: weight is {shape_text(given)} (C_out x C_in/groups x kh x kw), so with groups={groups} "
                f"it takes {_channels(c_in, 'input ')}, but its input is {shape_text(shape)} ({_channels(c)})"
            )
    if c % groups or c_out % groups:
        raise InputError(
            f"{where}: groups={groups} must divide both the input channels ({c}) and the output channels ({c_out})"
        )
    _check_declared(raw, "in_channels", c, where, "the input's channel count")
    _check_declared(raw, "out_channels", c_out, where, "the weight's output channel count")
    if "kernel_size" in raw:
        declared = pair(raw["kernel_size"], f"{where}: kernel_size", 1)
        if declared != (kh, kw):
            raise InputError(f"{where}: kernel_size is {shape_text(declared)} but the weight's kernel is {kh}x{kw}")
    bias = _bias(raw.get("bias"), c_out, where)
    stride = pair(raw.get("stride", 1), f"{where}: stride", 1)
    dilation = pair(raw.get("dilation", 1), f"{where}: dilation", 1)
    padding = _padding(raw, where)
    options: dict[str, Any] = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    shared = {
        "rank": 2,
        "out_channels": c_out,
        "kernel_size": (kh, kw),
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": groups,
        "bias": bias is not None,
    }
    if transposed:
        from convcalc.layers.conv import ConvTranspose

        if isinstance(padding, str) or isinstance(padding[0], tuple):
            raise InputError(f"{where}: conv_transpose2d takes padding as numbers, [pH, pW] (PyTorch has no 'same' "
                             "and no asymmetric padding here)")
        output_padding = pair(raw.get("output_padding", 0), f"{where}: output_padding", 0)
        options["output_padding"] = output_padding
        layer = ConvTranspose(**shared, output_padding=output_padding)
    else:
        from convcalc.layers.conv import Conv

        mode = raw.get("padding_mode", "zeros")
        if mode not in ("zeros", "reflect", "replicate", "circular"):
            raise InputError(f"{where}: padding_mode '{mode}' is not one of zeros, reflect, replicate, circular")
        options["padding_mode"] = mode
        layer = Conv(**shared, padding_mode=mode)
    params = {"weight": (weight, given)}
    if bias is not None:
        params["bias"] = bias
    if note is not None:
        options["notes"] = (note,)  # taken off again by _build_layer: a note, not a hyper-parameter
    return layer, params, {}, options


def _pool(raw: dict, shape, where: str, kind: str):
    _need_image(shape, kind, where)
    if "kernel_size" not in raw:
        raise InputError(f'{where}: "kernel_size" is missing (e.g. 2 for 2x2 windows)')
    kernel = pair(raw["kernel_size"], f"{where}: kernel_size", 1)
    stride = pair(raw["stride"], f"{where}: stride", 1) if raw.get("stride") is not None else kernel
    padding = pair(raw.get("padding", 0), f"{where}: padding", 0)
    ceil_mode = flag(raw.get("ceil_mode", False), f"{where}: ceil_mode")
    options: dict[str, Any] = {"kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": ceil_mode}
    if kind == "maxpool2d":
        from convcalc.layers.pool import MaxPool

        dilation = pair(raw.get("dilation", 1), f"{where}: dilation", 1)
        options["dilation"] = dilation
        layer = MaxPool(
            rank=2, kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode
        )
    else:
        from convcalc.layers.pool import AvgPool

        include = flag(raw.get("count_include_pad", True), f"{where}: count_include_pad")
        divisor = raw.get("divisor_override")
        if divisor is not None:
            divisor = whole(divisor, f"{where}: divisor_override", 1)
        options.update(count_include_pad=include, divisor_override=divisor)
        layer = AvgPool(
            rank=2,
            kernel_size=kernel,
            stride=stride,
            padding=padding,
            ceil_mode=ceil_mode,
            count_include_pad=include,
            divisor_override=divisor,
        )
    return layer, {}, {}, options


def _activation(kind: str):
    def build(raw: dict, shape, where: str):
        from convcalc.layers.elementwise import Activation

        options: dict[str, Any] = {}
        slope = None
        if kind == "leaky_relu":
            slope = number(raw.get("negative_slope", Fraction(1, 100)), f"{where}: negative_slope")
            options["negative_slope"] = slope
        if kind == "softmax":
            dim = raw.get("dim", 1)
            if isinstance(dim, bool) or not isinstance(dim, int) or dim % len(shape) != 1:
                raise InputError(
                    f"{where}: softmax runs over dim 1 (the features/channels of a batched tensor); "
                    f"got dim={dim!r} for an input of {shape_text(shape)}"
                )
            options["dim"] = 1
        return Activation(kind=kind, negative_slope=slope), {}, {}, options

    return build


def _dropout(raw: dict, shape, where: str):
    """Dropout in training mode with the mask given (PyTorch draws it; a trace needs it fixed):
    y = x·m/(1 − p), δx = δy·m/(1 − p); "mask" holds 1 (keep) or 0 (drop) per element of one sample
    (or of the whole batched input)."""
    from convcalc.layers.elementwise import Dropout

    p = number(raw.get("p", Fraction(1, 2)), f"{where}: p")
    if not 0 <= p < 1:
        raise InputError(f"{where}: p must be at least 0 and below 1 (p = 1 drops everything); got {p}")
    if "mask" not in raw:
        raise InputError(f'{where}: dropout needs "mask": which entries are kept (1) or dropped (0), the shape of '
                         f"its input ({shape_text(shape[1:])} per sample); PyTorch draws it at random")
    mask = tensor(raw["mask"], f"{where}: mask")
    values = set(np.asarray(mask, dtype=object).flat)
    if not values <= {0, 1}:
        raise InputError(f"{where}: mask entries must be 0 (drop) or 1 (keep)")
    sample = tuple(shape[1:])
    squeezed = tuple(d for d in shape if d != 1)
    if tuple(mask.shape) not in (tuple(shape), sample, squeezed):
        raise InputError(f"{where}: mask is {shape_text(mask.shape)} but its input is {shape_text(shape)}")
    full = np.asarray(mask, dtype=object).reshape(shape if mask.size == np.prod(shape) else (1,) + sample)
    full = np.array(np.broadcast_to(full, shape), dtype=object)  # exact 0/1: a mask is no decimal
    return Dropout(p=float(p)), {}, {"mask": full}, {"p": p}


def _flatten(raw: dict, shape, where: str):
    """torch's ``nn.Flatten(start_dim, end_dim)`` on the batched tensor; the layer counts dims
    over one sample's shape, so torch's d ≥ 1 is the layer's d − 1."""
    from convcalc.layers.dense import Flatten

    start = raw.get("start_dim", 1)
    end = raw.get("end_dim", -1)
    ndim = len(shape)
    for key, value in (("start_dim", start), ("end_dim", end)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{where}: {key} must be a whole number; got {value!r}")
        if not -ndim <= value < ndim:
            raise InputError(
                f"{where}: {key}={value} is out of range for an input of {shape_text(shape)} "
                f"(use {-ndim} to {ndim - 1}, counted on the batched tensor as PyTorch does)"
            )
    s, e = start % ndim, end % ndim
    if s == 0:
        raise InputError(
            f"{where}: start_dim={start} would merge the batch axis; use 1 (the default) as nn.Flatten does"
        )
    if s > e:
        raise InputError(f"{where}: start_dim={start} comes after end_dim={end}")
    return Flatten(start_dim=s - 1, end_dim=e - 1), {}, {}, {"start_dim": start, "end_dim": end}


def _linear(raw: dict, shape, where: str):
    from convcalc.layers.dense import Linear

    if "weight" not in raw:
        raise InputError(f'{where}: "weight" is missing (out_features x in_features, e.g. [[1, 2], [3, 4]])')
    w = tensor(raw["weight"], f"{where}: weight")
    given = w.shape
    if w.ndim == 1:
        w = w.reshape(1, -1)
    if w.ndim != 2:
        raise InputError(
            f"{where}: weight must be out_features x in_features (PyTorch layout); got {shape_text(given)}"
        )
    out_f, in_f = w.shape
    if len(shape) < 2:
        raise InputError(f"{where}: linear needs an input N x features; got {shape_text(shape)}")
    if shape[-1] != in_f:
        hint = " — add a flatten layer before it" if len(shape) > 2 else ""
        raise InputError(
            f"{where}: weight is {shape_text(given)} (out x in), so it takes {in_f} features, but its input "
            f"is {shape_text(shape)} ({shape[-1]} features in the last axis){hint}"
        )
    _check_declared(raw, "in_features", in_f, where, "the weight's in_features")
    _check_declared(raw, "out_features", out_f, where, "the weight's out_features")
    bias = _bias(raw.get("bias"), out_f, where)
    params = {"weight": (w, given)}
    if bias is not None:
        params["bias"] = bias
    return Linear(out_features=out_f, bias=bias is not None), params, {}, {}


def _batchnorm(raw: dict, shape, where: str):
    from convcalc.layers.norm import BatchNorm

    n, c, h, w = _need_image(shape, "batchnorm2d", where)
    _check_declared(raw, "num_features", c, where, "the input's channel count")
    if n * h * w < 2:
        raise InputError(
            f"{where}: training-mode batch norm needs more than one value per channel "
            f"(PyTorch refuses N·H·W = 1); its input is {shape_text(shape)}"
        )
    affine = flag(raw.get("affine", True), f"{where}: affine")
    eps = number(raw.get("eps", Fraction(1, 100000)), f"{where}: eps")
    momentum = number(raw.get("momentum", Fraction(1, 10)), f"{where}: momentum")
    if isinstance(eps, (int, Fraction, float)) and eps < 0:
        raise InputError(f"{where}: eps must be ≥ 0; got {eps}")
    variance = raw.get("variance", "biased")
    if variance not in ("biased", "unbiased"):
        raise InputError(f'{where}: variance must be "biased" (PyTorch, 1/M) or "unbiased" (1/(M−1)); got {variance!r}')
    if variance == "unbiased" and n * h * w < 2:
        raise InputError(f"{where}: the unbiased variance needs at least 2 values per channel")
    params: dict = {}
    if affine:
        gamma = _bias(raw.get("weight", [1] * c), c, where, "weight (γ)")
        beta = _bias(raw.get("bias", [0] * c), c, where, "bias (β)")
        params = {"weight": gamma, "bias": beta}
    elif "weight" in raw or "bias" in raw:
        raise InputError(f"{where}: affine is false, so there is no weight (γ) or bias (β) to give")
    buffers = {}
    for key, default in (("running_mean", 0), ("running_var", 1)):
        value = _bias(raw.get(key, [default] * c), c, where, key)
        buffers[key] = value[0]
    layer = _make_batchnorm(BatchNorm, affine, eps, momentum, variance)
    return layer, params, buffers, {"eps": eps, "momentum": momentum, "variance": variance, "affine": affine}


def _make_batchnorm(cls, affine, eps, momentum, variance):
    fields = getattr(cls, "__dataclass_fields__", {})
    kwargs = {"affine": affine, "eps": eps, "momentum": momentum}
    if "variance" in fields:
        kwargs["variance"] = variance
    elif variance != "biased":
        raise InputError("batchnorm2d: the unbiased variance option is not available in this version")
    return cls(**kwargs)


_KEYS = {
    "conv2d": (
        "weight",
        "bias",
        "stride",
        "padding",
        "dilation",
        "groups",
        "padding_mode",
        "in_channels",
        "out_channels",
        "kernel_size",
    ),
    "conv_transpose2d": (
        "weight",
        "bias",
        "stride",
        "padding",
        "output_padding",
        "dilation",
        "groups",
        "in_channels",
        "out_channels",
        "kernel_size",
    ),
    "maxpool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "avgpool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "relu": ("inplace",),
    "leaky_relu": ("negative_slope", "inplace"),
    "elu": ("inplace",),  # alpha 1 (PyTorch's default)
    "dropout": ("p", "mask", "inplace"),
    "sigmoid": (),
    "tanh": (),
    "softmax": ("dim",),
    "flatten": ("start_dim", "end_dim"),
    "linear": ("weight", "bias", "in_features", "out_features"),
    "batchnorm2d": (
        "weight",
        "bias",
        "eps",
        "momentum",
        "running_mean",
        "running_var",
        "num_features",
        "affine",
        "track_running_stats",
        "variance",
    ),
}

_BUILDERS: dict[str, Callable] = {
    "conv2d": lambda raw, shape, where: _conv(raw, shape, where),
    "conv_transpose2d": lambda raw, shape, where: _conv(raw, shape, where, transposed=True),
    "maxpool2d": lambda raw, shape, where: _pool(raw, shape, where, "maxpool2d"),
    "avgpool2d": lambda raw, shape, where: _pool(raw, shape, where, "avgpool2d"),
    "relu": _activation("relu"),
    "leaky_relu": _activation("leaky_relu"),
    "elu": _activation("elu"),
    "dropout": lambda raw, shape, where: _dropout(raw, shape, where),
    "sigmoid": _activation("sigmoid"),
    "tanh": _activation("tanh"),
    "softmax": _activation("softmax"),
    "flatten": _flatten,
    "linear": _linear,
    "batchnorm2d": _batchnorm,
}


# --- the loss ----------------------------------------------------------------------------------


def _generic_keys(kind: str) -> tuple[str, ...]:
    """A type without a hand-written reader takes its descriptor's options (spec keys and aliases)."""
    return tuple(key for o in _TRACE[kind].options for key in (o.key, *o.aliases))


#: how the generic reader reads each value kind of a descriptor option
_GENERIC_READERS: dict[str, Callable[[Any, str], Any]] = {
    "count": lambda v, w: whole(v, w, 1),
    "int": lambda v, w: whole(v, w),
    "float": lambda v, w: number(v, w),
    "bool": lambda v, w: flag(v, w),
    "pad": lambda v, w: parse_padding(v, w),
}


def _generic(raw: dict, shape, where: str):
    """A parameter-free layer built from its descriptor's options (pad, pixel_shuffle …)."""
    descriptor = _TRACE[raw_kind(raw, where)]
    _need_image(shape, descriptor.trace or descriptor.name, where)
    kwargs = {}
    for key, value in raw.items():
        option = descriptor.option(key)
        if option is None:
            continue
        if option.kind not in _GENERIC_READERS:
            raise InputError(f"{where}: {key} cannot be given in a backprop spec")
        kwargs[option.keyword] = _GENERIC_READERS[option.kind](value, f"{where}: {key}")
    missing = [o.key for o in descriptor.options if o.required and o.keyword not in kwargs]
    if missing:
        raise InputError(f"{where}: {descriptor.trace} needs {', '.join(missing)}")
    assert descriptor.build is not None
    return descriptor.build(**kwargs), {}, {}, {}


def raw_kind(raw: dict, where: str) -> str:
    return canonical_type(raw.get("type"), where)


def parse_loss(raw: Any, shape: tuple[int, ...], implicit: int, source: str) -> Loss:
    """The loss on an output of (internal) ``shape``; targets may be written in the output's
    display layout (``[7, 10]`` for an output 1x2) or the internal one."""
    if raw is None:
        raise InputError(
            f'{source}: "loss" is missing: e.g. {{"type": "mse_half_sum", "target": [7, 10]}}, '
            f'{{"type": "sum"}}, or {{"type": "upstream", "grad": ...}} (δ of the output given)'
        )
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict):
        raise InputError(f'{source}: "loss" must be an object like {{"type": "sum"}}; got {raw!r}')
    if "type" not in raw:
        raise InputError(f'loss: "type" is missing (one of {", ".join(LOSSES)})')
    kind_text = str(raw["type"])
    key = kind_text.strip().lower().replace("_", "").replace("-", "").replace(" ", "")
    if key not in _LOSS_ALIASES:
        close = closest([kind_text.lower()], LOSSES)
        hint = f" — did you mean {close}?" if close else ""
        raise InputError(f'loss: unknown type "{kind_text}"{hint} Valid losses: {", ".join(LOSSES)}')
    kind = _LOSS_ALIASES[key]
    allowed = {
        "mse_half_sum": ("target",),
        "mse": ("target",),
        "sse": ("target",),
        "cross_entropy": ("target", "reduction"),
        "sum": (),
        "upstream": ("grad",),
    }[kind]
    check_keys(raw, ("type", "comment") + allowed, f"loss ({kind})")
    shown = display_shape(shape, implicit)
    if kind in ("mse_half_sum", "mse", "sse"):
        if "target" not in raw:
            raise InputError(
                f'loss ({kind}): "target" is missing (a tensor shaped like the output: {shape_text(shown)})'
            )
        target = tensor(raw["target"], "loss target")
        return Loss(kind, target=_as_output(target, shape, shown, "loss target"))
    if kind == "upstream":
        if "grad" not in raw:
            raise InputError(
                f'loss (upstream): "grad" is missing: the gradient of the loss with respect to the output '
                f"(δ of the last layer's output, {shape_text(shown)})"
            )
        grad = tensor(raw["grad"], "loss grad")
        return Loss(kind, grad=_as_output(grad, shape, shown, "loss grad"))
    if kind == "sum":
        return Loss(kind)
    reduction = raw.get("reduction", "mean")
    if reduction not in ("mean", "sum"):
        raise InputError(
            f'loss (cross_entropy): reduction must be "mean" (PyTorch\'s default) or "sum"; got {reduction!r}'
        )
    if len(shape) != 2:
        raise InputError(
            f"loss (cross_entropy): needs an output N x classes (add flatten/linear first); "
            f"the output is {shape_text(shape)}"
        )
    if "target" not in raw:
        raise InputError(
            'loss (cross_entropy): "target" is missing: a class index (e.g. 2), one per sample, or one-hot rows'
        )
    return _cross_entropy_target(raw["target"], shape, shown, reduction)


_parse_loss = parse_loss


def _as_output(t: np.ndarray, shape: tuple[int, ...], shown: tuple[int, ...], what: str) -> np.ndarray:
    if t.shape == tuple(shape):
        return t
    if t.shape == tuple(shown) or (t.size == int(np.prod(shape)) and t.ndim <= 1 and len(shown) == 1):
        return t.reshape(shape)
    raise InputError(
        f"{what} is {shape_text(t.shape)} but the output is {shape_text(shown)}: "
        f"give one number per output entry ({int(np.prod(shape))} in all)"
    )


def _cross_entropy_target(raw: Any, shape, shown, reduction: str) -> Loss:
    n, classes = shape
    t = tensor(raw, "loss target")
    if t.shape == tuple(shape) or t.shape == tuple(shown):
        return Loss("cross_entropy", target=t.reshape(shape), reduction=reduction)
    if t.ndim <= 1 and t.size == n and all(isinstance(v, int) for v in t.flat):
        for v in t.flat:
            if not 0 <= v < classes:
                raise InputError(
                    f"loss target: class index {v} is out of range for {classes} classes (use 0 to {classes - 1})"
                )
        return Loss("cross_entropy", target=t.reshape(n), reduction=reduction, class_indices=True)
    raise InputError(
        f"loss target {shape_text(t.shape)}: cross_entropy takes a class index per sample ({n} in all), "
        f"or one-hot/probability rows shaped like the output ({shape_text(shown)})"
    )
