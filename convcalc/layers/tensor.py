"""Layers that only move or rearrange data, met in imported models (ONNX, torch.fx, Keras):
reshape, permute, explicit padding, slicing, an element-wise op with a constant operand, and
an operator convcalc does not map (its shape taken from the source's own shape inference).

Shapes are the walk's: (C, *spatial), the batch kept apart.

Reshape:  the target shape (its element count must equal the input's); no parameters, no arithmetic.
Permute:  output[i] = input[perm[i]].
Pad:      o = p_before + i + p_after per axis; receptive field: kernel 1, stride 1, pad p_before.
Slice:    along one axis, o = |range(start, stop, step)| (Python slicing of the index range);
          receptive field on a spatial axis: kernel 1, stride ``step``, pad −start. It runs:
          forward y = x[…, start:stop:step, …], backward δx = δy at the kept indices, 0 elsewhere.
Pointwise: y = f(x, constant): the shape broadcasts; the constant's elements are parameters
          when they are learnable (an initializer / a weight), one op per output element.
Unmapped: the output shape given; no parameters or MACs counted (the totals say so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.dims import product
from convcalc.engine.report import AxisRF, LayerReport, ParamCount
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.descriptor import LayerDescriptor, register_hook
from convcalc.notation import format_shape

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward


def _report(op: str, shape, out, batch, bytes_per_element, **fields) -> LayerReport:
    fields.setdefault("params", ParamCount())
    return LayerReport(
        op=op,
        input=tuple(shape),
        output=tuple(out),
        macs=0,
        batch=batch or 1,
        bytes_per_element=bytes_per_element,
        **fields,
    )


@dataclass(frozen=True)
class Reshape(base.NoParameters):
    """``x.reshape(N, *target)``: the same elements in the ``target`` shape (batch kept)."""

    target: tuple[int, ...]

    name = "reshape"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        target = tuple(self.target)
        if product(target) != product(tuple(shape)):
            raise InputError(
                f"reshape to {format_shape(target)} needs {product(target)} elements; "
                f"{format_shape(tuple(shape))} has {product(tuple(shape))}"
            )
        return _report("reshape", shape, target, batch, bytes_per_element, hyper={"shape": list(target)})


@dataclass(frozen=True)
class Permute(base.NoParameters):
    """``x.permute(0, *(p + 1 for p in perm))``: output axis i is input axis ``perm[i]``."""

    perm: tuple[int, ...]

    name = "permute"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if sorted(self.perm) != list(range(len(shape))):
            raise InputError(
                f"permutation {list(self.perm)} does not fit the {len(shape)}-d input {format_shape(shape)}"
            )
        out = tuple(shape[p] for p in self.perm)
        rank = len(shape)
        # the channels moved to the end or back to the front, the spatial axes kept in order
        # (channels-last (H, W, C) and back): every output unit reads one input unit of the same place
        moves_channels = rank > 1 and tuple(self.perm) in (tuple(range(1, rank)) + (0,),
                                                          (rank - 1,) + tuple(range(rank - 1)))
        rf = tuple(AxisRF(1, 1, 0) for _ in range(rank - 1)) if moves_channels else None
        return _report("permute", shape, out, batch, bytes_per_element, rf=rf, hyper={"perm": list(self.perm)})


@dataclass(frozen=True)
class Pad(base.NoParameters):
    """Explicit padding: ``pads`` (before, after) for every axis of (C, *spatial); ``mode``
    constant, reflect, edge or wrap (values only; the shape rule is the same)."""

    pads: tuple[tuple[int, int], ...]
    mode: str = "constant"

    name = "pad"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if len(self.pads) != len(shape):
            raise InputError(
                f"pad gives {len(self.pads)} axes of padding for the {len(shape)} axes of {format_shape(shape)}"
            )
        out = tuple(before + i + after for i, (before, after) in zip(shape, self.pads))
        if any(o < 1 for o in out):
            raise InputError(f"pad {list(self.pads)} leaves nothing of {format_shape(shape)}")
        rf = tuple(AxisRF(1, 1, before) for before, _ in self.pads[1:])
        return _report(
            "pad",
            shape,
            out,
            batch,
            bytes_per_element,
            rf=rf,
            hyper={"pads": [list(p) for p in self.pads], "mode": self.mode},
        )


@dataclass(frozen=True)
class Slice(base.NoParameters):
    """``x[..., start:stop:step, ...]`` along ``axis`` (0 the channels, 1… the spatial axes)."""

    axis: int
    start: int
    stop: int
    step: int = 1

    name = "slice"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if not 0 <= self.axis < len(shape):
            raise InputError(f"slice along axis {self.axis} of the {len(shape)}-d input {format_shape(shape)}")
        size = len(range(*slice(self.start, self.stop, self.step).indices(shape[self.axis])))
        if size < 1:
            raise InputError(
                f"slice {self.start}:{self.stop}:{self.step} of axis {self.axis} ({shape[self.axis]}) is empty"
            )
        out = shape[: self.axis] + (size,) + shape[self.axis + 1 :]
        first = slice(self.start, self.stop, self.step).indices(shape[self.axis])[0]
        rf = tuple(
            AxisRF(1, self.step, -first) if a + 1 == self.axis else AxisRF(1, 1, 0) for a in range(len(shape) - 1)
        )
        return _report(
            "slice",
            shape,
            out,
            batch,
            bytes_per_element,
            rf=rf,
            hyper={"axis": self.axis, "start": self.start, "stop": self.stop, "step": self.step},
        )

    def _index(self) -> tuple[slice, ...]:
        """The kept indices of a batched (N, C, …) array: ``axis`` counts from the channels."""
        return (slice(None),) * (self.axis + 1) + (slice(self.start, self.stop, self.step),)

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = x[…, start:stop:step, …] along the axis."""
        from convcalc.compute import Forward
        from convcalc.compute.params import as_array

        x = as_array(x, "slice input")
        if x.ndim < 2:
            raise InputError(f"slice needs a batched (N, C, …) input; got {x.ndim}-d")
        self.analyze(x.shape[1:])
        return Forward(x[self._index()].copy(), x.shape)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """δx = δy at the kept indices, 0 elsewhere."""
        import numpy as np

        from convcalc.compute import Backward
        from convcalc.compute.params import check_grad_shape

        shape = cache
        dy = check_grad_shape(grad_output, (shape[0],) + self.analyze(shape[1:]).output, self.name)
        dx = np.zeros(shape, dtype=dy.dtype)  # object: Python int zeros
        dx[self._index()] = dy
        return Backward(dx)


@dataclass(frozen=True)
class Pointwise(base.NoParameters):
    """``y = f(x, c)`` element-wise with a constant ``c`` of shape ``operand`` (batch dim dropped);
    ``learnable``: c's elements are parameters (a weight, an ONNX initializer)."""

    kind: str
    operand: tuple[int, ...] = ()
    learnable: bool = False

    @property
    def name(self) -> str:
        return self.kind

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        out = _broadcast(shape, tuple(self.operand), self.kind)
        n = batch or 1
        params = ParamCount(
            product(self.operand) if self.learnable and self.operand else (1 if self.learnable else 0), 0
        )
        rf = None if out != shape else tuple(AxisRF(1, 1, 0) for _ in shape[1:])
        return _report(
            self.kind,
            shape,
            out,
            batch,
            bytes_per_element,
            params=params,
            rf=rf,
            other_ops=((f"{self.kind} ops", n * product(out)),),
        )


def _broadcast(shape: tuple, operand: tuple, what: str) -> tuple:
    """NumPy broadcasting of ``shape`` with ``operand`` (aligned at the end)."""
    n = max(len(shape), len(operand))
    a = (1,) * (n - len(shape)) + shape
    b = (1,) * (n - len(operand)) + operand
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            raise InputError(
                f"{what}: the constant of shape {format_shape(operand)} does not broadcast with {format_shape(shape)}"
            )
        out.append(max(x, y))
    return tuple(out)


@dataclass(frozen=True)
class Unmapped(base.NoParameters):
    """An operator convcalc has no rule for: the output shape the source's shape inference gives;
    no parameters or MACs counted (``weights`` elements are listed as excluded)."""

    op: str
    output: tuple[int, ...]
    weights: int = 0

    @property
    def name(self) -> str:
        return f"{self.op}?"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        note = f"{self.op} is not mapped: its output shape is the source's, its work and parameters are not counted"
        return _report(
            f"{self.op}?",
            shape,
            self.output,
            batch,
            bytes_per_element,
            notes=(note,),
            hyper={"op": self.op, "excluded_weights": self.weights},
        )


# --- descriptors (met in imported models; spec files and chains do not name them) ---------------

DESCRIPTORS = (
    LayerDescriptor("reshape", "the same elements in another shape", ("Reshape",), onnx=("Reshape", "Squeeze",
                    "Unsqueeze"), keras=("Reshape",)),
    LayerDescriptor("permute", "the axes in another order", ("Permute",), onnx=("Transpose",)),
    LayerDescriptor("pad_any", "padding along any axis (ONNX Pad)", ("Pad",), onnx=("Pad",),
                    keras=("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")),
    LayerDescriptor("slice", "a slice along one axis", ("Slice",), onnx=("Slice", "Split")),
    LayerDescriptor("pointwise", "an element-wise op with a constant operand", ("Pointwise",),
                    onnx=("Add", "Sub", "Mul", "Div", "Pow", "Erf", "Sqrt", "Exp", "Neg")),
    LayerDescriptor("unmapped", "an operator convcalc does not map (shape from the source)", ("Unmapped",)),
)


# --- the torch.nn layer (``--verify torch``): torch is imported by the caller, handed in as ``nn``


@register_hook("torch", Slice)
def _torch_slice(layer: Slice, nn: Any, shape: tuple = ()) -> Any:
    index = layer._index()

    class Slice(nn.Module):
        def forward(self, x):
            return x[index]

    return Slice()
