"""The kernels behind :class:`convcalc.layers.conv.Conv` and ``ConvTranspose``: im2col + one
matmul per group (spec §7.2), and what each backward needs (CS231n ``cache``).

The layer classes hold the forward/backward methods (with their formulas) and resolve the
geometry from the shape rule; these functions do the array work, on float arrays (BLAS) and
on exact ``dtype=object`` arrays alike. Geometry per spatial axis: kernel ``k``, stride
``s``, dilation ``d``, padding ``(p_before, p_after)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from convcalc.compute import windows

Pads = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ConvCache:
    """What a convolution's backward needs (CS231n ``cache``).

    ``padded`` is Xp (the input after padding with ``padding_mode``); ``columns`` is
    im2col(Xp) in the ``"gemm"`` layout, (C_in·Πk, N·Πo), rows ordered as
    ``weight.reshape(C_out, −1)``; ``weight`` is the kernel used.
    """

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    padded: Any
    columns: Any
    weight: Any
    pads: Pads
    groups: int
    has_bias: bool


@dataclass(frozen=True)
class ConvTransposeCache:
    """What a transposed convolution's backward needs: the input in the ``"gemm"`` layout
    (C_in, N·Πi), the weight, and the size of the uncropped output buffer."""

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_columns: Any
    weight: Any
    pads: Pads
    full_spatial: tuple[int, ...]
    groups: int
    has_bias: bool


def add_bias(y: np.ndarray, bias: np.ndarray, rank: int) -> np.ndarray:
    """y[n, c, …] + b[c], in place when the dtype allows (the output is a fresh array)."""
    column = bias.reshape((-1,) + (1,) * rank)
    if np.result_type(y, column) != y.dtype:
        return y + column
    y += column
    return y


def conv_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, *, kernel_size: Sequence[int],
                 stride: Sequence[int], dilation: Sequence[int], pads: Pads, padding_mode: str, groups: int,
                 out_spatial: Sequence[int]) -> tuple[np.ndarray, ConvCache]:
    """Y = b + W_row @ im2col(pad(X)), one matmul per group; ``out_spatial`` from the shape rule."""
    c_out = weight.shape[0]
    padded = windows.pad(x, pads, padding_mode)
    columns = windows.im2col(padded, kernel_size, stride, dilation, out_spatial, layout="gemm")
    y = windows.batch_major(windows.grouped_matmul(weight.reshape(c_out, -1), columns, groups), out_spatial)
    if bias is not None:
        y = add_bias(y, bias, len(kernel_size))
    return y, ConvCache(tuple(x.shape), y.shape, padded, columns, weight, pads, groups, bias is not None)


def conv_backward(grad: np.ndarray, cache: ConvCache, *, kernel_size: Sequence[int], stride: Sequence[int],
                  dilation: Sequence[int], padding_mode: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(dX, {weight: dW, bias: dB}): dW = dY_row @ colsᵀ, dB = Σ dY, dX = the padding's
    gradient of col2im(W_rowᵀ @ dY_row) (pad_backward sends copied entries' gradients home)."""
    c_out = cache.output_shape[1]
    grad_rows = windows.channel_major(grad)
    grads = {"weight": windows.grouped_contract(grad_rows, cache.columns, cache.groups).reshape(cache.weight.shape)}
    if cache.has_bias:
        grads["bias"] = grad_rows.sum(axis=1)
    grad_columns = windows.grouped_matmul(cache.weight.reshape(c_out, -1), grad_rows, cache.groups, transpose_a=True)
    grad_padded = windows.col2im(grad_columns, cache.padded.shape, kernel_size, stride, dilation,
                                 cache.output_shape[2:], layout="gemm")
    return windows.pad_backward(grad_padded, cache.pads, padding_mode), grads


def full_spatial(in_spatial: Sequence[int], out_spatial: Sequence[int], kernel_size: Sequence[int],
                 stride: Sequence[int], dilation: Sequence[int], pads: Pads) -> tuple[int, ...]:
    """A transposed conv's uncropped buffer: (i − 1)s + d(k − 1) + 1 entries per axis, or more
    when output_padding reaches past it (those entries no input touches: they are 0 + bias)."""
    return tuple(max((i - 1) * s + d * (k - 1) + 1, pl + o)
                 for i, o, k, s, d, (pl, _) in zip(in_spatial, out_spatial, kernel_size, stride, dilation, pads))


def _crop(pads: Pads, full: Sequence[int], out_spatial: Sequence[int]) -> Pads:
    """What to cut from the full buffer: p_before at the start, the rest at the end."""
    return tuple((pl, f - pl - o) for (pl, _), f, o in zip(pads, full, out_spatial))


def conv_transpose_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, *, kernel_size: Sequence[int],
                           stride: Sequence[int], dilation: Sequence[int], pads: Pads, groups: int,
                           out_spatial: Sequence[int]) -> tuple[np.ndarray, ConvTransposeCache]:
    """Yfull = col2im(W_rowᵀ @ X_row) per group, cropped to ``out_spatial``, + b."""
    n, c_in, *in_spatial = x.shape
    c_out = weight.shape[1] * groups
    full = full_spatial(in_spatial, out_spatial, kernel_size, stride, dilation, pads)
    input_columns = windows.channel_major(x)
    columns = windows.grouped_matmul(weight.reshape(c_in, -1), input_columns, groups, transpose_a=True)
    y_full = windows.col2im(columns, (n, c_out, *full), kernel_size, stride, dilation, in_spatial, layout="gemm")
    y = np.ascontiguousarray(windows.crop(y_full, _crop(pads, full, out_spatial)))
    if bias is not None:
        y = add_bias(y, bias, len(kernel_size))
    return y, ConvTransposeCache(tuple(x.shape), y.shape, input_columns, weight, tuple(pads), full, groups,
                                 bias is not None)


def conv_transpose_backward(grad: np.ndarray, cache: ConvTransposeCache, *, kernel_size: Sequence[int],
                            stride: Sequence[int], dilation: Sequence[int]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(dX, {weight: dW, bias: dB}) through the direct conv of dY: cols = im2col(pad(dY)),
    dX = W_row @ cols, dW = X_row @ colsᵀ per group, dB = Σ dY."""
    _, c_in, *in_spatial = cache.input_shape
    pads = _crop(cache.pads, cache.full_spatial, cache.output_shape[2:])
    columns = windows.im2col(windows.pad(grad, pads), kernel_size, stride, dilation, in_spatial, layout="gemm")
    grad_input = windows.batch_major(windows.grouped_matmul(cache.weight.reshape(c_in, -1), columns, cache.groups),
                                     in_spatial)
    grads = {"weight": windows.grouped_contract(cache.input_columns, columns, cache.groups).reshape(cache.weight.shape)}
    if cache.has_bias:
        grads["bias"] = grad.sum(axis=(0, *range(2, grad.ndim)))
    return grad_input, grads
