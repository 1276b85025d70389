"""An ONNX file as a convcalc network (``convcalc arch model.onnx``), read with the ``onnx``
package only (``pip install 'convcalc[onnx]'``; no torch, no onnxruntime).

Attributes follow the ONNX operator specification (docs/Operators.md):

* ``pads`` lists every axis's begin, then every axis's end: [x1_begin, x2_begin, …, x1_end, x2_end];
* ``auto_pad`` SAME_UPPER / SAME_LOWER: o = ceil(i/s), total padding max((o − 1)s + d(k − 1) + 1 − i, 0),
  split in half with the odd one at the end (UPPER) or at the beginning (LOWER); VALID: none;
* ConvTranspose with ``output_shape``: total = s(i − 1) + output_padding + d(k − 1) + 1 − output_shape,
  SAME_UPPER puts total/2 at the beginning, otherwise total − total/2;
* pooling strides default to 1 (not to the kernel, as in PyTorch); AveragePool's
  ``count_include_pad`` defaults to 0; Clip's bounds are attributes before opset 11, inputs after;
  Split's sizes an attribute before opset 13, an input after (or ``num_outputs``, opset 18).

Weights come from the initializers; their shapes give out_channels, kernel sizes and the bias
(a convolution's W is (M, C/group, k…), ConvTranspose's (C, M/group, k…), Gemm's B (K, N) or (N, K)
with transB). Tensors computed from constants alone (Shape → Gather → Concat → Reshape …) are
folded with NumPy; an operator without a mapping keeps the output shape ONNX's own shape
inference gives it, and the network's notes say what the totals leave out.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from convcalc.engine import axis
from convcalc.errors import InputError
from convcalc.interop import onnx_rewrite
from convcalc.interop.graph import Op, descriptor_reader, structure
from convcalc.layers.attention import PositionEmbedding, TokenSelect
from convcalc.layers.tensor import Pad, Permute, Pointwise, Reshape, Slice, Unmapped
from convcalc.network import build
from convcalc.network.declared import declare
from convcalc.network.model import Leaf, Network
from convcalc.notation import format_shape

INSTALL = "reading ONNX files needs the onnx package: pip install 'convcalc[onnx]' (or pip install onnx)"


def _onnx():
    try:
        import onnx
    except ImportError:
        raise InputError(INSTALL) from None
    return onnx


@dataclass
class Node:
    """One ONNX node as a mapper sees it; shapes without the batch (C, *spatial)."""

    proto: Any
    attrs: dict
    consts: dict
    shapes: dict
    opset: int
    weights: frozenset  # the initializers and the views of them folded (an Unsqueeze of γ)

    @property
    def op(self) -> str:
        return self.proto.op_type

    def const(self, index: int):
        """The constant value of input ``index`` (None when absent or computed at run time)."""
        if index >= len(self.proto.input) or not self.proto.input[index]:
            return None
        return self.consts.get(self.proto.input[index])

    def has_input(self, index: int) -> bool:
        return index < len(self.proto.input) and bool(self.proto.input[index])

    def shape_in(self, index: int = 0) -> tuple:
        return _drop_batch(self.shapes.get(self.proto.input[index]), self.proto.input[index])

    def shape_out(self, index: int = 0) -> tuple:
        return _drop_batch(self.shapes.get(self.proto.output[index]), self.proto.output[index])

    def ints(self, key: str, default=None) -> list[int] | None:
        value = self.attrs.get(key, default)
        return None if value is None else [int(v) for v in value]

    def auto_pad(self) -> str:
        value = self.attrs.get("auto_pad", b"NOTSET")
        return (value.decode() if isinstance(value, bytes) else str(value)).upper()


class _NoShape(InputError):
    """ONNX's shape inference left a tensor a mapper needs without a shape."""

    def __init__(self, tensor: str) -> None:
        super().__init__(f"ONNX shape inference gives no shape for tensor '{tensor}'; give --in to fix the input size")
        self.tensor = tensor


def _drop_batch(shape, name: str) -> tuple:
    if shape is None:
        raise _NoShape(name)
    return tuple(shape[1:])


def _why_no_shape(ops: list, source: str, missing: _NoShape, what: str, shape: tuple) -> InputError:
    """The clearer error of convcalc's own walk up to the tensor without a shape (an input too
    small for a kernel: ONNX infers no size, the walk says which layer and why), else ``missing``."""
    from convcalc.network.walk import walk

    try:
        body = structure(ops, source, missing.tensor, what=what)
    except InputError:
        return missing
    try:
        walk(Network("prefix", shape, body))
    except InputError as error:
        return error
    return missing


@dataclass(frozen=True)
class Mapped:
    """What one node becomes: leaves (in order), a merge, or several outputs each with leaves."""

    layers: tuple = ()
    merge: str | None = None
    per_output: tuple = ()  # Split: one tuple of leaves per output
    note: str = ""


# --- padding per the spec ---------------------------------------------------------------------


def _pads(node: Node, spatial: tuple, kernel: list[int], strides: list[int], dilations: list[int]):
    """(begin, end) per spatial axis from ``pads`` or ``auto_pad``."""
    mode = node.auto_pad()
    rank = len(spatial)
    if mode == "VALID":
        return tuple((0, 0) for _ in range(rank))
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        pairs = []
        for i, k, s, d in zip(spatial, kernel, strides, dilations):
            before, after = axis.tf_same_padding(i, k, s, d)  # the extra one after: SAME_UPPER
            pairs.append((before, after) if mode == "SAME_UPPER" else (after, before))
        return tuple(pairs)
    pads = node.ints("pads") or [0] * (2 * rank)
    if len(pads) != 2 * rank:
        raise InputError(
            f"{node.op} '{node.proto.name}': pads has {len(pads)} numbers; a {rank}-d window needs {2 * rank} "
            "(every axis's begin, then every axis's end)"
        )
    return tuple((pads[a], pads[a + rank]) for a in range(rank))


def _window(node: Node, rank: int, kernel: list[int] | None = None):
    kernel = kernel or node.ints("kernel_shape")
    if kernel is None:
        raise InputError(f"{node.op} '{node.proto.name}' has no kernel_shape")
    strides = node.ints("strides") or [1] * rank
    dilations = node.ints("dilations") or [1] * rank
    return kernel, strides, dilations


# --- the operator table -------------------------------------------------------------------------


def _weighted_window(node: Node):
    """A Conv/ConvTranspose node's constant weight, input spatial size, rank, kernel, strides and
    dilations; None when the weight is computed at run time."""
    weight = node.const(1)
    if weight is None:
        return None
    rank = weight.ndim - 2
    kernel, strides, dilations = _window(node, rank, [int(k) for k in weight.shape[2:]])
    return weight, node.shape_in()[1:], rank, kernel, strides, dilations


def _conv(node: Node) -> Mapped:
    found = _weighted_window(node)
    if found is None:
        return _unmapped(node, "its weight is computed at run time")
    weight, spatial, rank, kernel, strides, dilations = found
    pads = _pads(node, spatial, kernel, strides, dilations)
    group = int(node.attrs.get("group", 1))
    layer = build.conv(
        int(weight.shape[0]),
        tuple(kernel),
        stride=tuple(strides),
        pad=pads,
        dilation=tuple(dilations),
        groups=group,
        bias=node.has_input(2),
        rank=rank,
    )
    # the weight's C/group declares the input channels: the shape debugger compares them
    return Mapped((declare(layer, "in_channels", int(weight.shape[1]) * group),))


def _conv_transpose(node: Node) -> Mapped:
    found = _weighted_window(node)
    if found is None:
        return _unmapped(node, "its weight is computed at run time")
    weight, spatial, rank, kernel, strides, dilations = found
    group = int(node.attrs.get("group", 1))
    out_padding = node.ints("output_padding") or [0] * rank
    output_shape = node.ints("output_shape")
    mode = node.auto_pad()
    if output_shape is None and mode in ("SAME_UPPER", "SAME_LOWER"):
        output_shape = [i * s for i, s in zip(spatial, strides)]
    if output_shape is not None:
        output_shape = output_shape[-rank:]
        computed = []
        for i, k, s, d, op, o in zip(spatial, kernel, strides, dilations, out_padding, output_shape):
            total = s * (i - 1) + op + (k - 1) * d + 1 - o
            if total < 0:  # the output is longer than the window reaches: the extra is output padding
                raise InputError(
                    f"ConvTranspose '{node.proto.name}': output_shape {o} needs {-total} more than "
                    "stride·(i − 1) + output_padding + d(k − 1) + 1 gives; use output_padding"
                )
            computed.append((total // 2, total - total // 2) if mode == "SAME_UPPER"
                            else (total - total // 2, total // 2))
        pads = tuple(computed)
    else:
        pads = _pads(node, spatial, kernel, strides, dilations)
    layer = build.conv_t(
        int(weight.shape[1]) * group,
        tuple(kernel),
        stride=tuple(strides),
        pad=pads,
        output_padding=tuple(out_padding),
        dilation=tuple(dilations),
        groups=group,
        bias=node.has_input(2),
        rank=rank,
    )
    return Mapped((layer,))


def _pool(node: Node) -> Mapped:
    spatial = node.shape_in()[1:]
    rank = len(spatial)
    kernel, strides, dilations = _window(node, rank)
    pads = _pads(node, spatial, kernel, strides, dilations)
    ceil = bool(node.attrs.get("ceil_mode", 0))
    if node.op == "MaxPool":
        layer = build.maxpool(
            tuple(kernel), stride=tuple(strides), pad=pads, dilation=tuple(dilations), ceil_mode=ceil, rank=rank
        )
    else:
        layer = build.avgpool(
            tuple(kernel),
            stride=tuple(strides),
            pad=pads,
            ceil_mode=ceil,
            rank=rank,
            count_include_pad=bool(node.attrs.get("count_include_pad", 0)),
        )
    return Mapped((layer,))


def _global_pool(node: Node) -> Mapped:
    rank = len(node.shape_in()) - 1
    if node.op == "GlobalAveragePool":
        return Mapped((build.global_avgpool(rank),))
    return Mapped((build.adaptive_maxpool((1,) * rank, rank),))


def _gemm(node: Node) -> Mapped:
    weight = node.const(1)
    if weight is None or node.const(0) is not None or node.attrs.get("transA", 0):
        return _unmapped(node, "only x·W (+ b) with a constant W is mapped")
    trans = bool(node.attrs.get("transB", 0))
    out_features, declared = (weight.shape[0], weight.shape[1]) if trans else (weight.shape[1], weight.shape[0])
    layer = build.linear(int(out_features), bias=node.has_input(2))
    return Mapped((declare(layer, "in_features", int(declared)),))


def _matmul(node: Node) -> Mapped:
    weight = node.const(1)
    if weight is None or weight.ndim != 2:
        return _binary(node)
    return Mapped((declare(build.linear(int(weight.shape[1]), bias=False), "in_features", int(weight.shape[0])),))


def _binary(node: Node) -> Mapped:
    """Add/Sub/Mul/Div: of two computed tensors a merge; with a constant an element-wise op."""
    kind = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "MatMul": "matmul"}[node.op]
    constants = [i for i in range(2) if node.const(i) is not None]
    if not constants:
        if kind in ("add", "sub"):
            return Mapped(merge="add", note="Sub counted as an add" if kind == "sub" else "")
        if kind in ("mul", "div"):
            return Mapped(merge="mul", note="Div counted as a multiply" if kind == "div" else "")
        return _unmapped(node, "of two computed tensors")
    index = constants[0]
    value = node.const(index)
    operand = tuple(int(d) for d in value.shape)
    data_rank = len(node.shape_in(1 - index)) + 1
    if len(operand) == data_rank:  # the constant's own batch axis (1) is dropped like the data's
        operand = operand[1:]
    learnable = node.proto.input[index] in node.weights and value.size > 1
    tokens = node.shape_in(1 - index)
    if kind == "add" and learnable and len(tokens) == 2 and operand == tuple(tokens):
        return Mapped((Leaf(PositionEmbedding(*operand)),))  # a learned (L, D) added to the tokens: ViT's
    return Mapped((Leaf(Pointwise(kind, operand, learnable)),))


def _activation(kind: str) -> Callable[[Node], Mapped]:
    return lambda node: Mapped((build.act(kind),))


def _leaky_relu(node: Node) -> Mapped:
    from convcalc.layers.elementwise import Activation

    return Mapped((Leaf(Activation("leaky_relu", float(node.attrs.get("alpha", 0.01)))),))


def _clip(node: Node) -> Mapped:
    if node.opset < 11:
        low, high = node.attrs.get("min"), node.attrs.get("max")
    else:
        low = node.const(1)
        high = node.const(2)
        low = None if low is None else float(low)
        high = None if high is None else float(high)
    if low == 0 and high == 6:
        return Mapped((build.act("relu6"),))
    if low == 0 and high is None:
        return Mapped((build.relu(),))
    return Mapped((Leaf(Pointwise("clip")),))


def _prelu(node: Node) -> Mapped:
    slope = node.const(1)
    return Mapped((build.prelu(int(slope.size) if slope is not None else 1),))


def _learned(node: Node, index: int, identity: float) -> bool:
    """Whether input ``index`` (a norm's γ or β) is a learnt weight: an initializer, or a constant
    other than the identity. An exporter writes the γ = 1, β = 0 of a norm without them (torch's
    affine=False, elementwise_affine=False; Keras's scale=False) as constants the graph computes:
    those are not parameters. An absent input is not learnt."""
    if not node.has_input(index):
        return False
    value = node.const(index)
    if value is None or node.proto.input[index] in node.weights:
        return True
    import numpy as np

    return not bool(np.all(np.asarray(value) == identity))


def _batchnorm(node: Node) -> Mapped:
    """γ and β count as parameters when learnt (:func:`_learned`)."""
    from convcalc.layers.norm import BatchNorm

    scale, shift = _learned(node, 1, 1.0), _learned(node, 2, 0.0)
    layer = Leaf(BatchNorm(affine=scale or shift, scale=scale or not shift, eps=float(node.attrs.get("epsilon", 1e-5))))
    weight = node.const(1)  # the scale's length declares the channels
    return Mapped((layer if weight is None else declare(layer, "num_features", int(weight.size)),))


def _layernorm(node: Node) -> Mapped:
    rank = len(node.shape_in()) + 1
    first = int(node.attrs.get("axis", -1)) % rank
    if first == 0:
        return _unmapped(node, "normalises over the batch too")
    from convcalc.layers.norm import LayerNorm

    eps = float(node.attrs.get("epsilon", 1e-5))
    affine = _learned(node, 1, 1.0) or _learned(node, 2, 0.0)
    return Mapped((Leaf(LayerNorm(dims=rank - first, channels_first=False, eps=eps, affine=affine)),))


def _instancenorm(node: Node) -> Mapped:
    from convcalc.layers.norm import GroupNorm

    channels = node.shape_in()[0]
    affine = _learned(node, 1, 1.0) or _learned(node, 2, 0.0)
    return Mapped(
        (Leaf(GroupNorm(groups=channels, affine=affine, eps=float(node.attrs.get("epsilon", 1e-5)))),),
        note="InstanceNormalization walked as GroupNorm with one group per channel",
    )


def _lrn(node: Node) -> Mapped:
    return Mapped(
        (
            build.lrn(
                int(node.attrs["size"]),
                float(node.attrs.get("alpha", 1e-4)),
                float(node.attrs.get("beta", 0.75)),
                float(node.attrs.get("bias", 1.0)),
            ),
        )
    )


def _softmax(node: Node) -> Mapped:
    return Mapped((build.act("softmax" if node.op == "Softmax" else "log_softmax"),))


def _concat(node: Node) -> Mapped:
    rank = len(node.shape_in()) + 1
    if int(node.attrs.get("axis", 1)) % rank != 1:
        return _unmapped(node, "concatenates along an axis other than the channels")
    return Mapped(merge="concat")


def _split(node: Node) -> Mapped:
    shape = node.shape_in()
    rank = len(shape) + 1
    dim = int(node.attrs.get("axis", 0)) % rank
    if dim == 0:
        return _unmapped(node, "splits the batch")
    sizes = node.ints("split") if node.opset < 13 else None
    if sizes is None and node.const(1) is not None:
        sizes = [int(v) for v in node.const(1)]
    if sizes is None:
        count = int(node.attrs.get("num_outputs", len(node.proto.output)))
        total = shape[dim - 1]
        step = -(-total // count)
        sizes = [min(step, total - i * step) for i in range(count)]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return Mapped(per_output=tuple((Leaf(Slice(dim - 1, start, start + size)),) for start, size in zip(starts, sizes)))


def _flatten(node: Node) -> Mapped:
    rank = len(node.shape_in()) + 1
    first = int(node.attrs.get("axis", 1)) % rank
    if first == 1:
        return Mapped((build.flatten(),))
    return _reshape(node)


def _reshape(node: Node) -> Mapped:
    shape_in, shape_out = node.shape_in(), node.shape_out()
    if len(shape_out) == 1 and len(shape_in) > 1:
        return Mapped((build.flatten(),))
    if shape_out == shape_in:
        return Mapped((build.identity(),))
    return Mapped((Leaf(Reshape(tuple(int(d) for d in shape_out))),))


def _transpose(node: Node) -> Mapped:
    rank = len(node.shape_in()) + 1
    perm = node.ints("perm") or list(reversed(range(rank)))
    if perm[0] != 0:
        return _unmapped(node, "moves the batch axis")
    return Mapped((Leaf(Permute(tuple(p - 1 for p in perm[1:]))),))


def _pad(node: Node) -> Mapped:
    rank = len(node.shape_in()) + 1
    pads = (
        node.ints("pads") if node.opset < 11 else (None if node.const(1) is None else [int(v) for v in node.const(1)])
    )
    if pads is None or len(pads) != 2 * rank or node.has_input(3):
        return _unmapped(node, "pads given at run time or on chosen axes")
    if pads[0] or pads[rank]:
        return _unmapped(node, "pads the batch")
    mode = node.attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    pairs = tuple((pads[a], pads[a + rank]) for a in range(1, rank))
    if min(pads) >= 0:
        return Mapped((Leaf(Pad(pairs, mode)),))
    # a negative amount crops (the operator spec: "removes" that many elements)
    if pairs[0] != (0, 0) or not 1 <= rank - 2 <= 3:
        return _unmapped(node, "crops the channels")
    from convcalc.layers.crop import Crop

    layers: tuple[Leaf, ...] = ()
    grow = tuple((max(b, 0), max(a, 0)) for b, a in pairs)
    if any(v for pair in grow for v in pair):
        layers += (Leaf(Pad(grow, mode)),)
    return Mapped(layers + (Leaf(Crop(rank=rank - 2, cropping=tuple((max(-b, 0), max(-a, 0)) for b, a in pairs[1:]))),))


def _resize(node: Node) -> Mapped:
    shape_in, shape_out = node.shape_in(), node.shape_out()
    if shape_in[0] != shape_out[0] or len(shape_in) != len(shape_out):
        return _unmapped(node, "changes the channels")
    factors = {o // i for i, o in zip(shape_in[1:], shape_out[1:]) if i and o % i == 0}
    if len(factors) != 1 or any(o % i for i, o in zip(shape_in[1:], shape_out[1:])):
        return _unmapped(node, "scales by a factor that is not one whole number on every axis")
    mode = node.attrs.get("mode", b"nearest")
    mode = (mode.decode() if isinstance(mode, bytes) else str(mode)).lower()
    mode = {"linear": "bilinear" if len(shape_in) == 3 else "linear", "cubic": "bicubic"}.get(mode, "nearest")
    return Mapped((build.upsample(factors.pop(), mode),))


def _reduce_mean(node: Node) -> Mapped:
    rank = len(node.shape_in()) + 1
    axes = (
        node.ints("axes") if node.opset < 18 else (None if node.const(1) is None else [int(v) for v in node.const(1)])
    )
    if axes is None or sorted(a % rank for a in axes) != list(range(2, rank)):
        return _unmapped(node, "averages over axes other than every spatial one")
    layers: tuple[Leaf, ...] = (build.global_avgpool(rank - 2),)
    if not node.attrs.get("keepdims", 1):
        layers += (build.flatten(),)
    return Mapped(layers)


def _depth_to_space(node: Node) -> Mapped:
    """DepthToSpace (C·b² x H x W → C x bH x bW, either mode: DCR and CRD differ only in the
    order of the channels) and SpaceToDepth, its inverse: PyTorch's pixel (un)shuffle."""
    from convcalc.layers.pixel_shuffle import PixelShuffle

    block = node.attrs.get("blocksize")
    if not isinstance(block, int) or block < 1 or len(node.shape_in()) != 3:
        return _unmapped(node, "not a 2-D block rearrangement")
    return Mapped((Leaf(PixelShuffle(factor=block, inverse=node.op == "SpaceToDepth")),))


def _slice(node: Node) -> Mapped:
    """Slice with constant starts/ends/axes/steps (opset ≥ 10 inputs, attributes before): one
    slice layer per axis, e.g. ResNet-20's option-A shortcut x[:, :, ::2, ::2]."""
    rank = len(node.shape_in()) + 1
    if node.opset < 10:
        starts, ends, axes, steps = node.ints("starts"), node.ints("ends"), node.ints("axes"), None
    else:
        starts, ends, axes, steps = (node.const(i) for i in (1, 2, 3, 4))
        if (node.has_input(3) and axes is None) or (node.has_input(4) and steps is None):
            return _unmapped(node, "axes or steps given at run time")
    if starts is None or ends is None:
        return _unmapped(node, "starts or ends given at run time")
    axes = list(range(len(starts))) if axes is None else [int(a) % rank for a in axes]
    steps = [1] * len(axes) if steps is None else [int(v) for v in steps]
    if 0 in axes or any(v < 1 for v in steps):
        return _unmapped(node, "slices the batch, or steps backwards")
    shape = node.shape_in()
    layers = []
    for a, start, stop, step in zip(axes, starts, ends, steps):
        start, stop = int(start), min(int(stop), 2**62)
        if (start, step) == (0, 1) and stop >= shape[a - 1]:
            continue  # the whole axis
        layers.append(Leaf(Slice(a - 1, start, stop, step)))
    return Mapped(tuple(layers) or (build.identity(),))


def _gather(node: Node) -> Mapped:
    """``x[:, i]`` of (N, L, D) tokens — ViT's class token read out — is a token select; any
    other Gather (an embedding lookup, an index along another axis) keeps its inferred shape."""
    index = node.const(1)
    if int(node.attrs.get("axis", 0)) != 1 or index is None or getattr(index, "ndim", 1) != 0 \
            or len(node.shape_in()) != 2:
        return _unmapped(node, "a Gather other than one token of (N, L, D)")
    return Mapped((Leaf(TokenSelect(int(index))),))


def _dropout(node: Node) -> Mapped:
    ratio = node.attrs.get("ratio", 0.5) if node.opset < 12 else (node.const(1) if node.const(1) is not None else 0.5)
    return Mapped((build.dropout(float(ratio)),))


def _identity(node: Node) -> Mapped:
    return Mapped((build.identity(),))


def _global_or_mean(node: Node) -> Mapped:
    return _reduce_mean(node) if node.op == "ReduceMean" else _global_pool(node)


def _dense(node: Node) -> Mapped:
    return _matmul(node) if node.op == "MatMul" else _gemm(node)


def _pointwise(node: Node) -> Mapped:
    """Add/Sub/Mul/Div/Pow read two tensors; Erf/Sqrt/Exp/Neg one."""
    if node.op in ("Add", "Sub", "Mul", "Div", "Pow"):
        return _binary(node)
    return Mapped((Leaf(Pointwise(node.op.lower())),))


def _slice_or_split(node: Node) -> Mapped:
    return _split(node) if node.op == "Split" else _slice(node)


# Which layer type an ONNX operator is comes from the layer descriptors' ``onnx`` words
# (:func:`convcalc.layers.descriptor.lookup`); what stays here is how each type reads its
# attributes, keyed by the descriptor's name. Activations without attributes need no reader.
READERS: dict[str, Callable[[Node], Mapped]] = {
    "conv": _conv,
    "conv_transpose": _conv_transpose,
    "maxpool": _pool,
    "avgpool": _pool,
    "global_avgpool": _global_or_mean,
    "global_maxpool": _global_pool,
    "linear": _dense,
    "pointwise": _pointwise,
    "leaky_relu": _leaky_relu,
    "relu6": _clip,
    "prelu": _prelu,
    "softmax": _softmax,
    "log_softmax": _softmax,
    "batchnorm": _batchnorm,
    "layernorm": _layernorm,
    "groupnorm": _instancenorm,  # InstanceNormalization: one group per channel
    "lrn": _lrn,
    "slice": _slice_or_split,
    "flatten": _flatten,
    "reshape": _reshape,
    "permute": _transpose,
    "pad_any": _pad,
    "upsample": _resize,
    "dropout": _dropout,
    "identity": _identity,
    "pixel_shuffle": _depth_to_space,
    "pixel_unshuffle": _depth_to_space,
    "token_select": _gather,
}

#: Operators that join tensors: graph structure, not a layer type.
MERGE_OPERATORS: dict[str, Callable[[Node], Mapped]] = {"Concat": _concat}


def reader(op_type: str, domain: str = "") -> Callable[[Node], Mapped] | None:
    """How a node of ``op_type`` is read: its layer descriptor's reader (an attribute-free
    activation is the activation), a merge, or None (unmapped)."""
    if domain not in ("", "ai.onnx"):
        return None
    if op_type in MERGE_OPERATORS:
        return MERGE_OPERATORS[op_type]
    return descriptor_reader("onnx", op_type, READERS, _activation)


def mapped_operators() -> frozenset[str]:
    """Every ONNX operator type the importer reads (for the conformance test and help)."""
    from convcalc.layers.descriptor import all_words

    return frozenset(op for op in all_words("onnx") if reader(op) is not None) | frozenset(MERGE_OPERATORS)


def _unmapped(node: Node, why: str = "") -> Mapped:
    return Mapped(note=f"unmapped: {why}" if why else "unmapped")


# --- constant folding ---------------------------------------------------------------------------


def _fold(node, values: list, attrs: dict, shapes: dict, opset: int):
    """The value of ``node`` from constant inputs (NumPy), or None when it is not folded here."""
    import numpy as np

    op = node.op_type
    if op == "Identity":
        return values[0]
    if op == "Cast":  # to the type named (an int shape read as float for a 1/√d scale, and back)
        from onnx import helper

        if isinstance(values[0], _Shaped):
            return values[0]
        return np.asarray(values[0]).astype(helper.tensor_dtype_to_np_dtype(int(attrs.get("to", 1))))
    if op == "Shape":  # of a constant: its own shape (start/end as the spec's opset-15 attributes)
        dims = list(getattr(values[0], "shape", ()))
        return np.array(dims[attrs.get("start", 0):attrs.get("end", len(dims))], dtype=np.int64)
    if op == "Gather":
        return np.take(values[0], values[1].astype(np.int64), axis=int(attrs.get("axis", 0)))
    if op in ("Unsqueeze", "Squeeze"):
        axes = (
            attrs.get("axes")
            if opset < 13
            else (list(values[1]) if len(values) > 1 and values[1] is not None else None)
        )
        if op == "Squeeze":
            return np.squeeze(values[0], axis=None if axes is None else tuple(int(a) for a in axes))
        if axes is None:  # Unsqueeze names its axes (an attribute before opset 13, an input from it)
            return None
        out = values[0]
        for a in sorted(int(a) % (out.ndim + len(axes)) for a in axes):
            out = np.expand_dims(out, a)
        return out
    if op == "Concat":
        return np.concatenate([np.atleast_1d(v) for v in values], axis=int(attrs.get("axis", 0)))
    if op == "Slice":
        data = values[0]
        if opset < 10:
            starts, ends, axes = attrs["starts"], attrs["ends"], attrs.get("axes")
            steps = None
        else:
            starts, ends = values[1], values[2]
            axes = values[3] if len(values) > 3 and values[3] is not None else None
            steps = values[4] if len(values) > 4 and values[4] is not None else None
        axes = list(range(len(starts))) if axes is None else [int(a) for a in axes]
        index = [slice(None)] * data.ndim
        for i, a in enumerate(axes):
            index[a] = slice(int(starts[i]), int(ends[i]), 1 if steps is None else int(steps[i]))
        return data[tuple(index)]
    if op in ("Add", "Sub", "Mul", "Div"):
        a, b = values
        if op == "Div" and np.issubdtype(a.dtype, np.integer):
            return a // b
        return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](a, b)
    if op in _elementwise():  # shape arithmetic: -1 placeholders (Equal, Where), indices (Mod, Max) …
        if op == "Mod":  # fmod=1: C's remainder (the dividend's sign); 0 (integers only): Python's
            if attrs.get("fmod", 0):
                return np.fmod(*values)
            if not all(np.issubdtype(np.asarray(v).dtype, np.integer) for v in values):
                return None
        return _elementwise()[op](*values)
    if op == "Expand":  # broadcast to a shape (its size bounded: these are shape tensors)
        target = np.broadcast_shapes(values[0].shape, tuple(int(v) for v in values[1]))
        return np.broadcast_to(values[0], target).copy() if np.prod(target) <= SMALL else None
    if op == "Range":
        return np.arange(values[0], values[1], values[2]) if abs((values[1] - values[0]) / values[2]) <= SMALL \
            else None
    if op == "Reshape":
        return values[0].reshape([int(v) for v in values[1]])
    if op == "ConstantOfShape":
        from onnx import numpy_helper

        fill = attrs.get("value")  # a one-element TensorProto (default: float 0)
        fill = np.zeros(1, dtype=np.float32) if fill is None else numpy_helper.to_array(fill).reshape(-1)
        return np.full([int(v) for v in values[0]], fill[0], dtype=fill.dtype)
    if op == "Transpose":
        perm = attrs.get("perm")
        if isinstance(values[0], _Shaped):  # a large weight read transposed (x · Wᵀ): its shape permuted
            sizes = values[0].shape
            order = list(reversed(range(len(sizes)))) if perm is None else [int(p) % len(sizes) for p in perm]
            return _Shaped([sizes[p] for p in order])
        return np.transpose(values[0], None if perm is None else [int(p) for p in perm])
    return None


@cache
def _elementwise() -> dict[str, Callable]:
    """The element-wise operators a shape computation uses, as NumPy functions."""
    import numpy as np

    return {"Equal": np.equal, "Less": np.less, "Greater": np.greater, "LessOrEqual": np.less_equal,
            "GreaterOrEqual": np.greater_equal, "Not": np.logical_not, "And": np.logical_and,
            "Or": np.logical_or, "Where": np.where, "Neg": np.negative, "Abs": np.abs, "Mod": np.mod,
            "Max": np.maximum, "Min": np.minimum, "Sign": np.sign, "Sqrt": np.sqrt, "Reciprocal": np.reciprocal,
            "Floor": np.floor, "Ceil": np.ceil}


def _constant_value(node, onnx):
    from onnx import numpy_helper

    for attr in node.attribute:
        if attr.name == "value":
            return numpy_helper.to_array(attr.t)
        value = onnx.helper.get_attribute_value(attr)
        import numpy as np

        return np.array(value)
    return None


# --- loading ------------------------------------------------------------------------------------


def read_model(path: str):
    """The parsed ModelProto, or one clear InputError."""
    if not os.path.isfile(path):  # before the package: a mistyped path is the likelier mistake
        raise InputError(f"ONNX file '{path}' does not exist")
    onnx = _onnx()
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        model = onnx.load_model_from_string(data)
    except Exception as error:  # protobuf's DecodeError and friends: the file is not (all) ONNX
        raise InputError(
            f"'{path}' is not a readable ONNX model (it may be truncated or another format): "
            f"{str(error).splitlines()[0] if str(error) else type(error).__name__}"
        ) from None
    if not model.graph.node or not model.graph.output:
        raise InputError(f"'{path}' is not an ONNX model: it has no graph (nodes and outputs)")
    _read_small_external_data(onnx, model, path)
    return model


def _read_small_external_data(onnx, model, path: str) -> None:
    """A model past protobuf's 2 GB keeps its initializers in files beside it (external data):
    the small ones (shapes, axes, pads — values the walk reads) are read in from there; the
    large ones (weights, counted by their shape alone) never are."""
    from onnx.external_data_helper import load_external_data_for_tensor, uses_external_data

    base = os.path.dirname(os.path.abspath(path))
    for init in model.graph.initializer:
        if not uses_external_data(init) or _elements(init.dims) > SMALL:
            continue
        location = next((entry.value for entry in init.external_data if entry.key == "location"), "")
        if not os.path.isfile(os.path.join(base, location)):
            raise InputError(
                f"'{path}' keeps the initializer '{init.name}' in the external data file '{location}', which is "
                f"not in its folder ({base}): keep the model's data files beside it"
            )
        try:
            load_external_data_for_tensor(init, base)
        except Exception as error:  # onnx's ValidationError for a missing file, OSError for a short one
            raise InputError(
                f"'{path}' keeps the initializer '{init.name}' in the external data file '{location}', "
                f"which cannot be read beside it ({type(error).__name__}): keep the model's data files "
                "in its folder"
            ) from None
        init.data_location = onnx.TensorProto.DEFAULT
        del init.external_data[:]


def _elements(dims) -> int:
    size = 1
    for d in dims:
        size *= int(d)
    return size


SMALL = 4096  # initializers up to this many elements are read as values (shapes, axes, slopes …)


class _Shaped:
    """A large initializer as the mappers need it: its shape (the values are never read)."""

    def __init__(self, dims) -> None:
        self.shape = tuple(int(d) for d in dims)
        self.ndim = len(self.shape)
        self.size = 1
        for d in self.shape:
            self.size *= d


class _Constants(dict):
    """Constant tensors by name: initializers read on first use (large ones by shape only)."""

    def __init__(self, initializers: dict) -> None:
        super().__init__()
        self._initializers = initializers
        self.weights = set(initializers)  # initializers and the views of them folded here (an Unsqueeze of γ)
        self.made_by: dict[str, tuple[str, tuple[str, ...]]] = {}  # a folded tensor's op and inputs
        # outputs of constant-only nodes not folded here (a MatMul of weights): their op and inputs
        self.unfolded: dict[str, tuple[str, tuple[str, ...]]] = {}

    def __contains__(self, name) -> bool:
        return dict.__contains__(self, name) or name in self._initializers

    def get(self, name, default=None):
        if name in self:
            return self[name]
        return default

    def __missing__(self, name):
        from onnx import numpy_helper

        init = self._initializers[name]
        value = numpy_helper.to_array(init) if _elements(init.dims) <= SMALL else _Shaped(init.dims)
        self[name] = value
        return value


#: Folded operators whose output is their first input's values again: a view of a weight is a weight.
_VIEWS_OF_WEIGHTS = frozenset(("Identity", "Cast", "Unsqueeze", "Squeeze", "Reshape", "Transpose", "Expand",
                               "Flatten", "Slice", "Gather"))


def _for_inference(onnx, model, source: str, shape: tuple):
    """A copy of ``model`` with the input fixed to ``shape`` and the large initializers turned
    into graph inputs of their shape (shape inference needs their shapes, not their values)."""
    fixed = onnx.ModelProto()
    fixed.ir_version = max(model.ir_version, 4)
    fixed.opset_import.extend(model.opset_import)
    graph = fixed.graph
    graph.node.extend(model.graph.node)
    graph.output.extend(model.graph.output)
    for info in model.graph.input:
        if info.name == source:
            new = graph.input.add()
            new.CopyFrom(onnx.helper.make_tensor_value_info(source, info.type.tensor_type.elem_type, list(shape)))
    for init in model.graph.initializer:
        size = 1
        for d in init.dims:
            size *= d
        if size <= SMALL:
            graph.initializer.append(init)
        else:
            graph.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    return fixed


def _dims(value_info) -> list:
    dims = []
    for d in value_info.type.tensor_type.shape.dim:
        dims.append(int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else (d.dim_param or "?"))
    return dims


def _infer(onnx, model, path: str, shape: tuple) -> dict[str, tuple | None]:
    """Every tensor's shape (with the batch) as ONNX's shape inference gives it; None when unknown."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as error:  # the model's own shapes disagree with the input
        raise InputError(
            f"ONNX shape inference fails on '{path}' with input {format_shape(shape)}: {str(error).splitlines()[0]}"
        ) from None
    shapes: dict[str, tuple | None] = {}
    for info in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        d = _dims(info)
        shapes[info.name] = tuple(d) if d and all(isinstance(x, int) for x in d) else None
    return shapes


def _fold_graph(onnx, graph, initializers: dict, shapes: dict, opset: int):
    """The tensors computed from constants alone (folded with NumPy), and the other nodes."""
    consts = _Constants(initializers)
    live = []
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        inputs = [i for i in node.input if i]
        if node.op_type == "Constant":
            consts[node.output[0]] = _constant_value(node, onnx)
            continue
        if node.op_type == "Shape" and inputs and shapes.get(inputs[0]) is not None:
            import numpy as np

            consts[node.output[0]] = np.array(shapes[inputs[0]], dtype=np.int64)
            continue
        if inputs and all(i in consts for i in inputs):
            try:
                value = _fold(node, [consts[i] if i else None for i in node.input], attrs, shapes, opset)
            except Exception:
                value = None
            if value is not None:
                consts[node.output[0]] = value
                consts.made_by[node.output[0]] = (node.op_type, tuple(inputs))
                if node.op_type in _VIEWS_OF_WEIGHTS and inputs[0] in consts.weights:
                    consts.weights.add(node.output[0])
                continue
        data = [i for i in inputs if i not in consts]
        if data:
            live.append((node, attrs, inputs, data))
        else:
            consts.unfolded.update((o, (node.op_type, tuple(inputs))) for o in node.output if o)
    return consts, live


def _with_constants(onnx, fixed, graph, consts):
    """``fixed`` with every folded (small, known) tensor an initializer and its nodes dropped."""
    import numpy as np
    from onnx import numpy_helper

    known = {name: value for name, value in consts.items()
             if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size <= SMALL}
    again = onnx.ModelProto()
    again.CopyFrom(fixed)
    del again.graph.node[:]
    again.graph.node.extend(n for n in graph.node if not (n.output and all(o in known for o in n.output if o)))
    present = {i.name for i in again.graph.initializer} | {i.name for i in again.graph.input}
    again.graph.initializer.extend(numpy_helper.from_array(value, name) for name, value in known.items()
                                   if name not in present)
    return again


def _constant_folder(onnx, graph, opset: int):
    """``fold(names)``: the values constants alone give those tensors (folded once, on first use)."""
    found: dict = {}

    def fold(names):
        if not found:
            initializers = {init.name: init for init in graph.initializer}
            shapes = {name: tuple(int(d) for d in init.dims) for name, init in initializers.items()}
            found["consts"] = _fold_graph(onnx, graph, initializers, shapes, opset)[0]
        consts = found["consts"]
        return {name: consts.get(name) for name in names}

    return fold


def load(path: str, input_shape: tuple | None = None) -> Network:
    """The network of the ONNX file at ``path``; ``input_shape`` (C, *spatial) overrides its input."""
    model = read_model(path)  # says a missing file is missing before it asks for the package
    onnx = _onnx()
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    onnx_rewrite.rewrite(onnx, model, _constant_folder(onnx, graph, opset))
    initializers = {init.name: init for init in graph.initializer}
    data_inputs = [i for i in graph.input if i.name not in initializers]
    if len(data_inputs) != 1:
        raise InputError(
            f"'{path}' has {len(data_inputs)} inputs ({', '.join(i.name for i in data_inputs)}); "
            "convcalc walks models with one input"
        )
    source = data_inputs[0]
    dims = _dims(source)
    if len(dims) < 2:
        raise InputError(f"input '{source.name}' of '{path}' has shape {dims}: convcalc walks N x C x spatial inputs")
    if input_shape is not None:
        if len(input_shape) != len(dims) - 1:
            raise InputError(
                f"--in {format_shape(input_shape)} has {len(input_shape)} numbers; the input '{source.name}' "
                f"of '{path}' takes {len(dims) - 1} (C x spatial, the batch apart)"
            )
        shape = tuple(int(d) for d in input_shape)
    else:
        if any(not isinstance(d, int) for d in dims[1:]):
            example = "x".join(str(d) if isinstance(d, int) else "224" for d in dims[1:])
            raise InputError(
                f"the input '{source.name}' of '{path}' has a dynamic shape "
                f"{'x'.join(map(str, dims))}: give --in (e.g. --in {example})"
            )
        shape = tuple(dims[1:])
    fixed = _for_inference(onnx, model, source.name, (1,) + shape)
    shapes = _infer(onnx, fixed, path, shape)
    shapes[source.name] = (1,) + shape
    consts, live = _fold_graph(onnx, graph, initializers, shapes, opset)
    for _ in range(64):
        # ONNX's inference cannot see values computed at run time (a Pad's pads built by Concat, a
        # Slice's ends from Shape → Gather): give it the folded constants and infer again
        missing = [o for node, *_ in live for o in node.output if o and shapes.get(o) is None]
        if not missing:
            break
        more = _infer(onnx, _with_constants(onnx, fixed, graph, consts), path, shape)
        gained = {name: value for name, value in more.items() if value is not None and shapes.get(name) is None}
        if not gained:
            break
        shapes.update(gained)
        consts, live = _fold_graph(onnx, graph, initializers, shapes, opset)
    ops: list[Op] = []
    unmapped: Counter = Counter()
    excluded = 0
    notes: list[str] = []
    outputs = {o.name for o in graph.output}
    live = _read(live, outputs)
    live, composites = onnx_rewrite.composites(live, consts.get, shapes, consts)
    for (node, attrs, inputs, data), (scope, name) in zip(live, _node_names([n for n, *_ in live])):
        view = Node(node, attrs, consts, shapes, opset, frozenset(consts.weights))
        mapper = reader(node.op_type, node.domain)
        if id(node) in composites:
            leaf, source_tensor = composites[id(node)]
            mapped, data = Mapped(leaf if isinstance(leaf, tuple) else (leaf,)), [source_tensor]
        else:
            if not any(o in outputs for o in node.output):  # a model may squeeze its result's batch away
                _check_batch_axis(node, name, shapes, os.path.basename(path))
            try:
                mapped = mapper(view) if mapper else _unmapped(view)
            except _NoShape as missing:
                raise _why_no_shape(ops, source.name, missing, f"'{os.path.basename(path)}'", shape) from None
        if mapped.note and not mapped.note.startswith("unmapped"):
            notes.append(f"{name}: {mapped.note}")
        if mapped.merge:
            ops.append(Op(tuple(data), node.output[0], merge=mapped.merge, scope=scope))
        elif mapped.per_output:
            for index, (output, leaves) in enumerate(zip(node.output, mapped.per_output)):
                ops.append(Op((data[0],), output, tuple((f"{name}_{index}", leaf) for leaf in leaves)))
        elif mapped.layers:
            ops.append(Op((data[0],), node.output[0], _named(name, mapped.layers, id(node) in composites)))
        else:
            weights = sum(int(consts[i].size) for i in inputs if i in initializers)
            unmapped[node.op_type] += 1
            excluded += weights
            for output in node.output:
                if not output:
                    continue
                out_shape = shapes.get(output)
                if out_shape is None:
                    raise InputError(
                        f"{node.op_type} node {name} is not mapped and ONNX shape inference gives no shape "
                        f"for its output '{output}': convcalc cannot walk past it"
                    )
                ops.append(
                    Op((data[0],), output, ((name, Leaf(Unmapped(node.op_type, tuple(out_shape[1:]), weights))),))
                )
    if unmapped:
        listed = ", ".join(f"{op} ×{n}" for op, n in sorted(unmapped.items()))
        notes.insert(
            0,
            f"not mapped (shape from ONNX shape inference; no parameters or MACs counted): {listed}"
            + (f"; their {excluded:,} weight elements are excluded from the totals" if excluded else ""),
        )
    sink = graph.output[0].name
    if len(graph.output) > 1:
        notes.append(f"the model has {len(graph.output)} outputs; the walk follows the first, '{sink}'")
    body = structure(ops, source.name, sink, what=f"'{os.path.basename(path)}'")
    producer = model.producer_name + (f" {model.producer_version}" if model.producer_version else "")
    name = os.path.splitext(os.path.basename(path))[0]
    return Network(
        name,
        shape,
        body,
        source=f"ONNX file {os.path.basename(path)}, opset {opset}"
        + (f", from {producer}" if producer.strip() else ""),
        notes=tuple(notes),
    )


def _named(name: str, leaves: tuple, composite: bool) -> tuple:
    """(name, leaf) per leaf of one node: the node's name for its layer — the first, or of a
    composite the one that is not a move of the axes around it (a channels-last window attention) —
    and ``name_type`` (numbered when repeated) for the others."""
    from convcalc.layers.tensor import Permute

    main = next((i for i, leaf in enumerate(leaves) if not isinstance(leaf.layer, Permute)), 0) if composite else 0
    seen: Counter = Counter()
    named = []
    for i, leaf in enumerate(leaves):
        if i == main:
            named.append((name, leaf))
            continue
        label = f"{name}_{leaf.layer.name}"
        seen[label] += 1
        named.append((label if seen[label] == 1 else f"{label}_{seen[label] - 1}", leaf))
    return tuple(named)


def _read(live: list, outputs: set) -> list:
    """The walked nodes without those nothing reads: once the shapes are folded, a node read only by
    ``Shape`` (torchvision's window mask slices, sized by what they cut) leads nowhere."""
    while True:
        needed = set(outputs)
        for node, *_ in live:
            needed.update(node.input)
        kept = [entry for entry in live if any(o in needed for o in entry[0].output if o)]
        if len(kept) == len(live):
            return live
        live = kept


def _check_batch_axis(node, name: str, shapes: dict, file: str) -> None:
    """Shapes are inferred with a batch of 1: a tensor whose first axis is not 1 holds something
    else there (attention heads or windows folded into the batch, a (L, N, D) sequence), which the
    walk — the batch kept apart — cannot follow; counting on would be silently wrong."""
    for output in node.output:
        found = shapes.get(output) if output else None
        if found is not None and len(found) > 1 and found[0] != 1:
            raise InputError(
                f"'{file}': {node.op_type} node {name} gives {format_shape(found)}, whose first axis is not the "
                "batch (it holds attention heads or windows folded into it, or a sequence-first layout): "
                "convcalc walks a model's layers with the batch apart and cannot follow it op by op. "
                "Self-attention exported from nn.MultiheadAttention, Swin's window attention and MaxViT's "
                "are recognised; cross-attention and attention of other forms are not yet"
            )


def _fold_prefixes(path: list[str]) -> list[str]:
    """``[layer1, layer1.0, conv1]`` → ``[layer1, 0, conv1]``: a component that repeats its
    parent's component as a prefix names the child of that parent."""
    out: list[str] = []
    for i, part in enumerate(path):
        prev = path[i - 1] if i else ""
        out.append(part[len(prev) + 1 :] if prev and part.startswith(prev + ".") else part)
    return out


def _node_names(nodes) -> list[tuple[str, str]]:
    """(scope, dotted name) per node: a torch export's ``/layer1/layer1.0/conv1/Conv`` is in scope
    ``layer1.0.conv1`` and named after it (its op appended when the scope holds several ops),
    other nodes keep their own names."""
    scoped = []
    for index, node in enumerate(nodes):
        raw = node.name or f"{node.op_type}_{index}"
        if raw.startswith("/"):
            parts = [p for p in raw.split("/") if p]
            # A Sequential's child is written "parent.index" (``downsample/downsample.0``): it
            # replaces its parent's own component rather than adding to it.
            path: list[str] = []
            for part in parts[:-1]:
                if path and part.startswith(path[-1] + "."):
                    path[-1] = part
                else:
                    path.append(part)
            scoped.append((".".join(_fold_prefixes(path)), parts[-1]))
        else:
            scoped.append(("", raw.replace(".", "_")))
    counts = Counter(scope for scope, _ in scoped if scope)
    names: list[tuple[str, str]] = []
    for scope, own in scoped:
        if not scope:
            names.append((scope, own))
        elif counts[scope] == 1:
            names.append((scope, scope))
        else:
            names.append((scope, f"{scope}.{own.lower()}"))
    return names
