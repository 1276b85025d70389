"""The kernels behind :class:`convcalc.layers.conv.Conv` and ``ConvTranspose``: im2col + one
matmul per group (docs/arithmetic.md §7.2), and what each backward needs (CS231n ``cache``).

Large stride-1 2-D convolutions of float arrays (the executor's common case) take a second
form of the same sums, the row-shift path: the input is unfolded along the width only
(k_w copies instead of k_h·k_w) and each kernel row multiplies a shifted view of it; the
input gradient is the stride-1 correlation of the padded δY with the flipped kernel
(δI = pad(δJ) ∗ flip(K)), computed the same way. Results agree with im2col to rounding.

The layer classes hold the forward/backward methods (with their formulas) and resolve the
geometry from the shape rule; these functions do the array work, on float arrays (BLAS) and
on exact ``dtype=object`` arrays alike. Geometry per spatial axis: kernel ``k``, stride
``s``, dilation ``d``, padding ``(p_before, p_after)``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from convcalc.compute import blas_threads, windows, winograd

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


@dataclass(frozen=True)
class RowShiftConvCache:
    """What :func:`conv_backward` needs after a row-shift forward (see :func:`row_shift_applies`):
    ``unfolded`` is the column-unfolded padded input, (N, C_in·k_w, P_h·o_w)."""

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    unfolded: Any
    weight: Any
    pads: Pads
    has_bias: bool


#: The row-shift path multiplies (k_h·C_out × C_in·k_w) @ (C_in·k_w × P_h·o_w) once per image;
#: below these sizes (output plane, C_in·k_w) BLAS runs those slower than im2col's one large
#: matmul costs in copies (measured on the 2-core AVX-512 machine of ``benchmarks/``: forward +
#: backward at batch 32, 3x3, pad 1, 128→128 on 16x16 48 ms against im2col's 76, 64→64 on 10x10
#: 9.0 against 12.7, 128→256 on 8x8 35 against 29, 512→512 on 7x7 129 against 83).
ROW_SHIFT_MIN_POSITIONS = 100  # 10x10
ROW_SHIFT_MIN_DEPTH = 48
#: Fewer images than this take im2col; None: one image per thread of :func:`blas_threads.workers`.
ROW_SHIFT_MIN_IMAGES: int | None = None


def row_shift_applies(x: np.ndarray, kernel_size: Sequence[int], stride: Sequence[int], groups: int,
                      out_spatial: Sequence[int]) -> bool:
    """Whether a convolution takes the row-shift path: a 2-D, stride-1, ungrouped convolution of
    a float array with a large enough output plane and C_in·k_w. Exact (object) arrays, strides,
    groups, other ranks and small layers use im2col, and so does a batch of fewer images than
    :func:`blas_threads.workers` (the row-shift path shares images over the threads; one image's
    product is too short and wide for BLAS's own threads, which run im2col's single matmul
    about twice as fast: ResNet-18's 3x3 convs at batch 1). Both paths compute the same sums
    (in a different order, so float results agree to rounding)."""
    return (x.ndim == 4 and x.dtype.kind == "f" and groups == 1 and tuple(stride) == (1, 1)
            and x.shape[0] >= (blas_threads.workers() if ROW_SHIFT_MIN_IMAGES is None else ROW_SHIFT_MIN_IMAGES)
            and out_spatial[0] * out_spatial[1] >= ROW_SHIFT_MIN_POSITIONS
            and x.shape[1] * kernel_size[1] >= ROW_SHIFT_MIN_DEPTH)


def unfold_columns(x: np.ndarray, kernel_w: int, dilation_w: int, pads: Pads, out_w: int,
                   out: np.ndarray | None = None) -> np.ndarray:
    """U[n, (c, v), (r, ox)] = Xp[n, c, r, ox + d_w·v] for every padded row r: im2col along the
    width only (k_w copies of the input instead of k_h·k_w), with zero padding ``pads``.

    A kernel row u then reads the rows r = oy + d_h·u, i.e. the columns u·d_h·o_w … of U,
    which is a plain strided matrix: no copy per kernel row. A negative padding crops.
    Written into ``out`` (shape (N, C·k_w, P_h·o_w)) when given.
    """
    n, c, h, w = x.shape
    (top, bottom), (left, _) = pads
    rows = h + top + bottom
    if out is None:
        out = np.empty((n, c * kernel_w, rows * out_w), x.dtype)
    grid = out.reshape(n, c, kernel_w, rows, out_w)
    r0 = max(top, 0)
    r1 = max(min(top + h, rows), r0)  # padded rows [r0, r1) hold input rows [r0 − top, r1 − top)
    grid[:, :, :, :r0] = 0
    grid[:, :, :, r1:] = 0
    for v in range(kernel_w):
        shift = v * dilation_w - left  # output column ox reads input column ox + shift
        a = min(max(0, -shift), out_w)
        b = max(min(out_w, w - shift), a)
        grid[:, :, v, r0:r1, :a] = 0
        grid[:, :, v, r0:r1, b:] = 0
        if b > a:
            grid[:, :, v, r0:r1, a:b] = x[:, :, r0 - top:r1 - top, a + shift:b + shift]
    return out


def _row_windows(unfolded: np.ndarray, u: int, dilation_h: int, out_h: int, out_w: int) -> np.ndarray:
    """The (N, C_in·k_w, o_h·o_w) matrix kernel row u multiplies: rows d_h·u … of U."""
    start = u * dilation_h * out_w
    return unfolded[:, :, start:start + out_h * out_w]


def row_shift_correlate(x: np.ndarray, weight: np.ndarray, pads: Pads, dilation: Sequence[int],
                        out_spatial: Sequence[int], unfolded: np.ndarray | None = None,
                        bias: np.ndarray | None = None) -> np.ndarray:
    """The stride-1 correlation of zero-padded X with W, (N, C_out, o_h·o_w), image by image:
    U = :func:`unfold_columns` of the image (into ``unfolded[n]`` when given, for the weight
    gradient; else a scratch buffer), P = [W_0; W_1; …] @ U with the kernel rows W_u =
    W[:, :, u, :] stacked (one taller matmul runs faster on BLAS than k_h short ones), and
    Y = Σ_u P_u shifted by u·d_h rows. Working per image keeps U and P in cache; the images
    are shared over :func:`blas_threads.parallel`'s threads (each image's sums are the same
    whichever thread computes them). A ``bias`` (C_out,) is added to each image's sum there,
    last, as :func:`add_bias` would add it afterwards."""
    n = x.shape[0]
    c_out, _, kernel_h, kernel_w = weight.shape
    out_h, out_w = out_spatial
    positions = out_h * out_w
    frame = (out_h + dilation[0] * (kernel_h - 1)) * out_w
    stacked = np.ascontiguousarray(weight.transpose(2, 0, 1, 3)).reshape(kernel_h * c_out, -1)
    y = np.empty((n, c_out, positions), x.dtype)
    shift = dilation[0] * out_w  # one kernel row further down = this many columns of U
    column = None if bias is None else bias.reshape(-1, 1)
    local = threading.local()  # each thread's scratch U and P

    def image(i: int) -> None:
        if unfolded is None:
            scratch = getattr(local, "scratch", None)
            if scratch is None:
                scratch = local.scratch = np.empty((1, stacked.shape[1], frame), x.dtype)
            into = scratch
        else:
            into = unfolded[i:i + 1]
        columns = unfold_columns(x[i:i + 1], kernel_w, dilation[1], pads, out_w, out=into)[0]
        if kernel_h == 1:
            np.matmul(stacked, columns, out=y[i])
        else:
            products = getattr(local, "products", None)
            if products is None:
                products = local.products = np.empty((kernel_h * c_out, frame), x.dtype)
            np.matmul(stacked, columns, out=products)
            np.add(products[:c_out, :positions], products[c_out:2 * c_out, shift:shift + positions], out=y[i])
            for u in range(2, kernel_h):
                y[i] += products[u * c_out:(u + 1) * c_out, u * shift:u * shift + positions]
        if column is not None:
            y[i] += column

    blas_threads.parallel(image, n, n * stacked.shape[0] * stacked.shape[1] * frame)
    return y


def _row_shift_forward(x, weight, bias, *, kernel_size, dilation, pads, padding_mode, out_spatial):
    """Y = Σ_u W_u @ shift_u(U) with U = :func:`unfold_columns` of X (kept for the backward);
    non-zero padding modes pad first and unfold without padding."""
    if padding_mode != "zeros":
        x, pads = windows.pad(x, pads, padding_mode), ((0, 0), (0, 0))
    n, c_in, h, _ = x.shape
    out_h, out_w = out_spatial
    unfolded = np.empty((n, c_in * kernel_size[1], (h + pads[0][0] + pads[0][1]) * out_w), x.dtype)
    in_place = bias is not None and np.result_type(x.dtype, bias.dtype) == x.dtype  # as add_bias decides
    y = row_shift_correlate(x, weight, pads, dilation, out_spatial, unfolded,
                            bias if in_place else None).reshape(n, -1, out_h, out_w)
    if bias is not None and not in_place:  # a wider bias dtype: the sum is promoted, as add_bias does
        y = add_bias(y, bias, 2)
    return y, unfolded


def _row_shift_backward(grad, cache: RowShiftConvCache, *, kernel_size, dilation, padding_mode):
    """dW[:, :, u, :] = Σ_n dY[n] @ shift_u(U[n])ᵀ; dB = Σ dY; dX = the stride-1 correlation of
    dY padded by d(k − 1) − p with the flipped, channel-swapped kernel (docs/arithmetic.md §7.1: δI = pad(δJ) ∗
    flip(K)), computed with the same row shifts; non-zero padding modes take the full frame and
    send the padding's gradient home."""
    n, c_out, out_h, out_w = grad.shape
    weight = cache.weight
    kernel_h, kernel_w = kernel_size
    rows = grad.reshape(n, c_out, out_h * out_w)
    depth = cache.unfolded.shape[1]
    # per image and kernel row, (U_u @ dYᵀ)ᵀ: the orientation OpenBLAS runs fastest (see
    # grouped_contract); the images are shared over threads, then summed in image order
    partial = np.empty((kernel_h, n, depth, c_out), weight.dtype)

    def image(i: int) -> None:
        for u in range(kernel_h):
            window = _row_windows(cache.unfolded[i:i + 1], u, dilation[0], out_h, out_w)[0]
            np.matmul(window, rows[i].T, out=partial[u, i])

    blas_threads.parallel(image, n, n * kernel_h * depth * c_out * out_h * out_w)
    grad_weight = np.empty(weight.shape, weight.dtype)
    for u in range(kernel_h):
        grad_weight[:, :, u, :] = partial[u].sum(axis=0).T.reshape(c_out, weight.shape[1], kernel_w)
    grads = {"weight": grad_weight}
    if cache.has_bias:
        grads["bias"] = rows.sum(axis=(0, 2))
    reach = tuple(d * (k - 1) for k, d in zip(kernel_size, dilation))
    if padding_mode == "zeros":
        grad_pads = tuple((r - a, r - b) for r, (a, b) in zip(reach, cache.pads))
    else:
        grad_pads = tuple((r, r) for r in reach)
    flipped = weight[:, :, ::-1, ::-1].swapaxes(0, 1)
    frame = tuple(o + a + b - r for o, (a, b), r in zip((out_h, out_w), grad_pads, reach))
    grad_input = row_shift_correlate(grad, flipped, grad_pads, dilation, frame).reshape(n, -1, *frame)
    if padding_mode != "zeros":
        grad_input = windows.pad_backward(grad_input, cache.pads, padding_mode)
    return grad_input, grads


AnyConvCache = ConvCache | RowShiftConvCache | winograd.WinogradConvCache


def conv_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, *, kernel_size: Sequence[int],
                 stride: Sequence[int], dilation: Sequence[int], pads: Pads, padding_mode: str, groups: int,
                 out_spatial: Sequence[int]) -> tuple[np.ndarray, AnyConvCache]:
    """Y = b + W_row @ im2col(pad(X)), one matmul per group; ``out_spatial`` from the shape rule.
    Deep 3x3 stride-1 convolutions of float batches take Winograd's F(2×2, 3×3)
    (:func:`winograd.applies`, docs/arithmetic.md §7.7), other stride-1 2-D convolutions of
    float arrays the row-shift path (:func:`row_shift_applies`)."""
    if winograd.applies(x, weight, kernel_size, stride, dilation, pads, padding_mode, groups, out_spatial):
        return winograd.conv_forward(x, weight, bias, pads[0][0])
    if row_shift_applies(x, kernel_size, stride, groups, out_spatial):
        y, unfolded = _row_shift_forward(x, weight, bias, kernel_size=kernel_size, dilation=dilation, pads=pads,
                                         padding_mode=padding_mode, out_spatial=out_spatial)
        return y, RowShiftConvCache(tuple(x.shape), y.shape, unfolded, weight, tuple(pads), bias is not None)
    c_out = weight.shape[0]
    padded = windows.pad(x, pads, padding_mode)
    columns = windows.im2col(padded, kernel_size, stride, dilation, out_spatial, layout="gemm", images=x.shape[0])
    y = windows.batch_major(windows.grouped_matmul(weight.reshape(c_out, -1), columns, groups, images=x.shape[0]),
                            out_spatial)
    if bias is not None:
        y = add_bias(y, bias, len(kernel_size))
    return y, ConvCache(tuple(x.shape), y.shape, padded, columns, weight, pads, groups, bias is not None)


def conv_backward(grad: np.ndarray, cache: AnyConvCache, *, kernel_size: Sequence[int],
                  stride: Sequence[int], dilation: Sequence[int],
                  padding_mode: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(dX, {weight: dW, bias: dB}): dW = dY_row @ colsᵀ, dB = Σ dY, dX = the padding's
    gradient of col2im(W_rowᵀ @ dY_row) (pad_backward sends copied entries' gradients home)."""
    if isinstance(cache, RowShiftConvCache):
        return _row_shift_backward(grad, cache, kernel_size=kernel_size, dilation=dilation, padding_mode=padding_mode)
    if isinstance(cache, winograd.WinogradConvCache):
        return winograd.conv_backward(grad, cache)
    c_out = cache.output_shape[1]
    grad_rows = windows.channel_major(grad)
    images = cache.input_shape[0]
    grads = {"weight": windows.grouped_contract(grad_rows, cache.columns, cache.groups,
                                                images=images).reshape(cache.weight.shape)}
    if cache.has_bias:
        grads["bias"] = grad_rows.sum(axis=1)
    if _correlation_applies(grad, cache, kernel_size, stride, dilation, padding_mode):
        return _correlated_input_gradient(grad, cache, kernel_size, dilation), grads
    grad_columns = windows.grouped_matmul(cache.weight.reshape(c_out, -1), grad_rows, cache.groups, transpose_a=True,
                                          images=images)
    grad_padded = windows.col2im(grad_columns, cache.padded.shape, kernel_size, stride, dilation,
                                 cache.output_shape[2:], layout="gemm")
    return windows.pad_backward(grad_padded, cache.pads, padding_mode), grads


#: Input channels from which a stride-1 convolution's dX is computed by correlation (half as
#: many when C_out ≤ C_in): at batch 32, 3x3 on 8x8, 128→256 22 ms against col2im's 29,
#: 256→128 21 against 35, and on 28x28 64→64 at batch 8 12.6 against 16.2; with few input
#: channels the im2col of δY (C_out·Πk rows) outweighs the fold of C_in·Πk rows: 3→32 on 32x32
#: 18.7 against 4.8, 64→128 on 8x8 13.5 against 9.8.
CORRELATE_MIN_CHANNELS = 128


def _correlation_applies(grad: np.ndarray, cache: ConvCache, kernel_size: Sequence[int], stride: Sequence[int],
                         dilation: Sequence[int], padding_mode: str) -> bool:
    """Whether dX is taken by :func:`_correlated_input_gradient`: a float, ungrouped, stride-1,
    zero-padded convolution padded no further than the kernel reaches, with enough channels
    (:data:`CORRELATE_MIN_CHANNELS`)."""
    c_in, c_out = cache.input_shape[1], cache.output_shape[1]
    return (grad.dtype.kind == "f" and cache.groups == 1 and all(s == 1 for s in stride)
            and padding_mode == "zeros"
            and all(a <= d * (k - 1) and b <= d * (k - 1) for k, d, (a, b) in zip(kernel_size, dilation, cache.pads))
            and (c_in >= CORRELATE_MIN_CHANNELS or (c_in >= CORRELATE_MIN_CHANNELS // 2 and c_out <= c_in)))


def _correlated_input_gradient(grad: np.ndarray, cache: ConvCache, kernel_size: Sequence[int],
                               dilation: Sequence[int]) -> np.ndarray:
    """dX of a stride-1, ungrouped, zero-padded convolution as the stride-1 correlation of δY
    padded by d(k − 1) − p with the flipped, channel-swapped kernel (docs/arithmetic.md §7.1:
    δI = pad(δJ) ∗ flip(K)), by im2col and one matmul — the same sums as col2im(W_rowᵀ @ δY_row)
    in another order, but one product with the long C_out·Πk inner axis instead of a short one
    whose (C_in·Πk × N·Πo) result is then folded (the whole backward of 256→256 3x3 on
    32x256x8x8: 36–40 ms against 47–56, measured)."""
    rank = len(kernel_size)
    flipped = windows.flip(cache.weight, rank).swapaxes(0, 1)  # (C_in, C_out, *k)
    in_spatial = cache.input_shape[2:]
    grad_pads = tuple((d * (k - 1) - a, d * (k - 1) - b) for k, d, (a, b) in zip(kernel_size, dilation, cache.pads))
    columns = windows.im2col(windows.pad(grad, grad_pads), kernel_size, (1,) * rank, dilation, in_spatial,
                             layout="gemm", images=grad.shape[0])
    rows = np.ascontiguousarray(flipped).reshape(flipped.shape[0], -1)
    return windows.batch_major(windows.grouped_matmul(rows, columns, 1, images=cache.input_shape[0]), in_spatial)


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
    columns = windows.grouped_matmul(weight.reshape(c_in, -1), input_columns, groups, transpose_a=True, images=n)
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
    images = cache.input_shape[0]
    grad_input = windows.batch_major(windows.grouped_matmul(cache.weight.reshape(c_in, -1), columns, cache.groups,
                                                            images=images), in_spatial)
    grads = {"weight": windows.grouped_contract(cache.input_columns, columns, cache.groups,
                                                images=images).reshape(cache.weight.shape)}
    if cache.has_bias:
        grads["bias"] = grad.sum(axis=(0, *range(2, grad.ndim)))
    return grad_input, grads
