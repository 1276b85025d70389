"""Checking what a layer's forward and backward are handed: the input, the parameter (and
buffer) tensors named by ``parameter_shapes`` / ``buffer_shapes``, and the upstream gradient.

One wording for every layer type: each message names the layer, the tensor, the shape it
has and the shape it needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from convcalc.errors import InputError


def shape_text(shape: Sequence[int]) -> str:
    """``2x3x3x3``; ``() (a single number)`` for a 0-d shape."""
    return "x".join(str(v) for v in shape) if len(shape) else "() (a single number)"


def conv_weight(values: np.ndarray, in_channels: int, transposed: bool = False) -> tuple[np.ndarray | None, str | None]:
    """A kernel as typed, read as PyTorch's 4-d weight — the one rule of every front end
    (``convcalc conv`` / ``conv-transpose`` and backprop specs alike):

    * ``kh x kw`` (or a row): one kernel, ``1 x 1 x kh x kw``;
    * ``C x kh x kw`` with ``C`` the input's channels: one filter over them — Conv weight
      ``1 x C x kh x kw``, ConvTranspose weight ``C x 1 x kh x kw`` (C_in x C_out layout);
    * ``C x kh x kw`` on a one-channel input (``C > 1``): ``C`` kernels, one per output channel
      — Conv ``C x 1 x kh x kw``, ConvTranspose ``1 x C x kh x kw`` — and a note saying so;
    * 4-d: as given.

    Returns ``(weight, note)``; ``(None, None)`` where no reading applies (``C x kh x kw`` on
    an input with another number of channels, or more than 4 dimensions): the caller refuses
    it in its own words, as it refuses a 4-d weight whose channels disagree with the input.
    """
    if values.ndim == 1:
        values = values.reshape(1, -1)
    if values.ndim == 2:
        return values.reshape(1, 1, *values.shape), None
    if values.ndim == 4:
        return values, None
    if values.ndim != 3:
        return None, None
    c = values.shape[0]
    if c == in_channels:
        return (values.reshape(c, 1, *values.shape[1:]) if transposed else values.reshape(1, *values.shape)), None
    if in_channels != 1:
        return None, None
    weight = values.reshape(1, *values.shape) if transposed else values.reshape(c, 1, *values.shape[1:])
    layout = ", PyTorch's C_in x C_out layout" if transposed else ""
    return weight, (f"the input has one channel, so the {c} kernel matrices are read as {c} output channels "
                    f"(weight {'x'.join(map(str, weight.shape))}{layout})")


def as_array(values: Any, what: str) -> np.ndarray:
    """An input or parameter as an array the kernels accept.

    float arrays keep their dtype (float32 stays float32); integer arrays become
    ``dtype=object`` arrays of Python ints (exact, never wrapped at 64 bits); object arrays
    are used as they are; anything else (booleans, strings) is refused.
    """
    array = np.asarray(values)
    if array.dtype.kind == "f" or array.dtype == object:
        return array
    if array.dtype.kind in "iu":
        return array.astype(object)  # numpy ints become Python ints
    raise InputError(f"{what}: expected numbers (float32, float64, or exact ints/fractions); got dtype {array.dtype}")


def require(
    layer: str,
    params: Mapping[str, Any] | None,
    shapes: Mapping[str, tuple[int, ...]],
    *,
    also: Iterable[str] = (),
) -> dict[str, np.ndarray]:
    """The arrays named in ``shapes`` (a layer's ``parameter_shapes``), each present and of its shape.

    A name that is neither in ``shapes`` nor in ``also`` (names the layer reads elsewhere,
    e.g. batch norm's buffers) is refused: a misspelt parameter never goes unnoticed.
    """
    params = params or {}
    known = set(shapes) | set(also)
    unknown = sorted(name for name in params if name not in known)
    if unknown:
        raise InputError(
            f"{layer}: unknown parameter {', '.join(map(repr, unknown))}; "
            f"its parameters are: {', '.join(shapes) or 'none'}"
        )
    found = {}
    for name, shape in shapes.items():
        if params.get(name) is None:
            raise InputError(f"{layer}: parameter '{name}' is missing; it should have shape {shape_text(shape)}")
        array = as_array(params[name], f"{layer} {name}")
        if array.shape != tuple(shape):
            raise InputError(
                f"{layer}: parameter '{name}' has shape {shape_text(array.shape)} "
                f"but this input needs {shape_text(shape)}"
            )
        found[name] = array
    return found


def check_batched_shape(shape: Sequence[int], rank: int, layer: str) -> tuple[int, ...]:
    """The batched ``(N, C, *spatial)`` shape of an array a windowed layer runs on, checked."""
    from convcalc.engine.axis import axis_names

    shape = tuple(int(v) for v in shape)
    if len(shape) != rank + 2:
        raise InputError(
            f"{layer} runs on a batched input N x C x {'x'.join(axis_names(rank))} ({rank + 2} axes); "
            f"got shape {shape_text(shape)}"
        )
    if min(shape) < 1:
        raise InputError(f"{layer}: every axis of the input must be at least 1; got shape {shape_text(shape)}")
    return shape


def check_grad_shape(grad_output: Any, shape: Sequence[int], layer: str) -> np.ndarray:
    """The upstream gradient as an array of the output's shape."""
    grad = as_array(grad_output, f"{layer} upstream gradient")
    if grad.shape != tuple(shape):
        raise InputError(
            f"{layer}: the upstream gradient has shape {shape_text(grad.shape)}; "
            f"expected the output's shape {shape_text(shape)}"
        )
    return grad
