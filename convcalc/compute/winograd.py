"""Winograd's minimal filtering F(2×2, 3×3) for the deep 3×3 stride-1 convolutions of small planes.

A 2×2 tile of outputs needs a 4×4 tile of (padded) input d and the 3×3 kernel g. With

    Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]],
    G  = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]],
    Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]],

the tile is Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A (docs/arithmetic.md §7.7): 16 multiplications per
tile and channel pair instead of 36. Over a layer the ⊙ summed over input channels is 16
matrix products, one per entry ξ of the 4×4 transformed tile: M_ξ = V_ξ @ U_ξ with V_ξ
(tiles × C_in) and U_ξ (C_in × C_out) — 2.25× fewer multiply-adds than im2col's one product.
The same sums in another order, so float results agree with im2col's to rounding (a few
units in the last place more than the direct sum: the transforms add and subtract).

The backward is the chain rule through those three linear maps: δM = A δY Aᵀ per tile,
dU_ξ = V_ξᵀ @ δM_ξ and dW = Gᵀ dU G; dX is the correlation of δY padded by 2 − p with the
flipped, channel-swapped kernel, by the same forward (docs/arithmetic.md §7.1).

Arrays are laid out (rows, columns, N, C) while transforming, so every step is an elementwise
pass over long contiguous (N, C) blocks; the passes and the 16 products are shared over
:func:`blas_threads.share_blocks`' threads by blocks of images or of ξ (each entry computed as
in one piece).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from convcalc.compute import blas_threads

#: The harmonic mean of C_in and C_out from which a 3x3 convolution takes this path. The
#: multiply-adds saved grow as C_in·C_out, the transforms' passes as C_in + C_out. Measured at
#: batch 32 on the 2-core machine of ``benchmarks/``, forward + backward in ms, against the path
#: taken before: 256→256 on 8x8 40 against 49 (im2col), on 14x14 96 against 139 (row shift);
#: 128→256 on 8x8 22 against 28; 128→128 on 12x12 27 against 30, on 16x16 46 against 47;
#: 64→128 on 16x16 32 against 26 and 64→64 on 56x56 at batch 8 60 against 37 (so not taken).
MIN_CHANNELS = 128


@dataclass(frozen=True)
class WinogradConvCache:
    """What the backward needs: the transformed input tiles V (16, tiles, C_in) and the layer's
    geometry."""

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    tiles: Any
    weight: Any
    pad: int
    has_bias: bool


def applies(x: np.ndarray, weight: np.ndarray, kernel_size, stride, dilation, pads, padding_mode: str,
            groups: int, out_spatial) -> bool:
    """A float 2-D 3×3 convolution, stride 1, no dilation, ungrouped, zero padding 0 or 1 on
    every side alike, whose channel counts have a harmonic mean of at least
    :data:`MIN_CHANNELS`, in a batch with an image per thread (the batch whose work is shared
    out)."""
    return (x.ndim == 4 and x.dtype.kind == "f" and weight.dtype == x.dtype and tuple(kernel_size) == (3, 3)
            and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1 and padding_mode == "zeros"
            and len({side for axis in pads for side in axis}) == 1 and pads[0][0] in (0, 1)
            and 2 * x.shape[1] * weight.shape[0] >= MIN_CHANNELS * (x.shape[1] + weight.shape[0])
            and min(out_spatial) >= 2
            and x.shape[0] >= blas_threads.workers())


def _by_images(task, images: int, entries: int) -> None:
    blas_threads.share_blocks(task, images, entries, images)


def _kernel_tiles(weight: np.ndarray) -> np.ndarray:
    """U = G g Gᵀ for every (C_out, C_in) kernel, as (16, C_in, C_out)."""
    g0, g1, g2 = weight[:, :, 0, :], weight[:, :, 1, :], weight[:, :, 2, :]
    out = np.empty((4, 4) + weight.shape[:2], weight.dtype)
    for a, row in enumerate((g0, (g0 + g1 + g2) * 0.5, (g0 - g1 + g2) * 0.5, g2)):
        c0, c1, c2 = row[..., 0], row[..., 1], row[..., 2]
        out[a, 0], out[a, 1], out[a, 2], out[a, 3] = c0, (c0 + c1 + c2) * 0.5, (c0 - c1 + c2) * 0.5, c2
    return np.ascontiguousarray(out.reshape(16, *weight.shape[:2]).swapaxes(1, 2))


def _kernel_gradient(tiles: np.ndarray) -> np.ndarray:
    """dW = Gᵀ dU G from dU (16, C_in, C_out), as (C_out, C_in, 3, 3)."""
    d = tiles.reshape(4, 4, *tiles.shape[1:]).swapaxes(2, 3)  # (4, 4, C_out, C_in)
    out = np.empty(d.shape[2:] + (3, 3), tiles.dtype)
    rows = (d[0] + (d[1] + d[2]) * 0.5, (d[1] - d[2]) * 0.5, (d[1] + d[2]) * 0.5 + d[3])
    for i, row in enumerate(rows):
        out[:, :, i, 0] = row[0] + (row[1] + row[2]) * 0.5
        out[:, :, i, 1] = (row[1] - row[2]) * 0.5
        out[:, :, i, 2] = (row[1] + row[2]) * 0.5 + row[3]
    return out


def _input_tiles(x: np.ndarray, pad: int, tiles_h: int, tiles_w: int) -> np.ndarray:
    """V = Bᵀ d B for every 4×4 input tile (stride 2) of X zero-padded by ``pad`` (and past its
    end as the last tiles need), as (16, tiles_h·tiles_w·N, C)."""
    n, c, h, w = x.shape
    padded = np.zeros((2 * tiles_h + 2, 2 * tiles_w + 2, n, c), x.dtype)
    out = np.empty((4, 4, tiles_h, tiles_w, n, c), x.dtype)

    def images(start: int, stop: int) -> None:
        padded[pad:pad + h, pad:pad + w, start:stop] = x[start:stop].transpose(2, 3, 0, 1)
        rows = [padded[i:i + 2 * tiles_h:2, :, start:stop] for i in range(4)]
        for r, t in enumerate((rows[0] - rows[2], rows[1] + rows[2], rows[2] - rows[1], rows[1] - rows[3])):
            cols = [t[:, j:j + 2 * tiles_w:2] for j in range(4)]
            np.subtract(cols[0], cols[2], out=out[r, 0, :, :, start:stop])
            np.add(cols[1], cols[2], out=out[r, 1, :, :, start:stop])
            np.subtract(cols[2], cols[1], out=out[r, 2, :, :, start:stop])
            np.subtract(cols[1], cols[3], out=out[r, 3, :, :, start:stop])

    _by_images(images, n, out.size)
    return out.reshape(16, -1, c)


def _products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 16 products a[ξ] @ b[ξ], shared over threads by blocks of ξ."""
    out = np.empty((a.shape[0], a.shape[1], b.shape[2]), np.result_type(a, b))

    def entries(start: int, stop: int) -> None:
        np.matmul(a[start:stop], b[start:stop], out=out[start:stop])

    blas_threads.for_product(a.shape[1], a.shape[2], b.shape[2], a.shape[0], images=blas_threads.workers())
    blas_threads.share_blocks(entries, a.shape[0], out.size, blas_threads.workers())
    return out


def _output(products: np.ndarray, n: int, out_h: int, out_w: int, bias: np.ndarray | None) -> np.ndarray:
    """Y = Aᵀ M A per tile from M (16, tiles·N, C_out), cropped to the output, as (N, C_out, o_h, o_w)."""
    tiles_h, tiles_w = (out_h + 1) // 2, (out_w + 1) // 2
    k = products.shape[2]
    m = products.reshape(4, 4, tiles_h, tiles_w, n, k)
    tiled = np.empty((tiles_h, 2, tiles_w, 2, n, k), products.dtype)
    y = np.empty((n, k, out_h, out_w), products.dtype)

    def images(start: int, stop: int) -> None:
        block = m[:, :, :, :, start:stop]
        for a, q in enumerate((block[0] + block[1] + block[2], block[1] - block[2] - block[3])):
            np.add(q[0] + q[1], q[2], out=tiled[:, a, :, 0, start:stop])
            np.subtract(q[1] - q[2], q[3], out=tiled[:, a, :, 1, start:stop])
        full = tiled[:, :, :, :, start:stop].reshape(2 * tiles_h, 2 * tiles_w, stop - start, k)
        y[start:stop] = full[:out_h, :out_w].transpose(2, 3, 0, 1)
        if bias is not None:
            y[start:stop] += bias.reshape(-1, 1, 1)

    _by_images(images, n, y.size)
    return y


def _output_gradient(grad: np.ndarray, tiles_h: int, tiles_w: int) -> np.ndarray:
    """δM = A δY Aᵀ per 2×2 tile of δY (zero past the output), as (16, tiles·N, C_out)."""
    n, k, out_h, out_w = grad.shape
    tiled = np.zeros((2 * tiles_h, 2 * tiles_w, n, k), grad.dtype)
    out = np.empty((4, 4, tiles_h, tiles_w, n, k), grad.dtype)

    def images(start: int, stop: int) -> None:
        tiled[:out_h, :out_w, start:stop] = grad[start:stop].transpose(2, 3, 0, 1)
        top, bottom = tiled[0::2, :, start:stop], tiled[1::2, :, start:stop]
        for r, t in enumerate((top, top + bottom, top - bottom, -bottom)):
            left, right = t[:, 0::2], t[:, 1::2]
            out[r, 0, :, :, start:stop] = left
            np.add(left, right, out=out[r, 1, :, :, start:stop])
            np.subtract(left, right, out=out[r, 2, :, :, start:stop])
            np.negative(right, out=out[r, 3, :, :, start:stop])

    _by_images(images, n, out.size)
    return out.reshape(16, -1, k)


def correlate(x: np.ndarray, weight: np.ndarray, pad: int, bias: np.ndarray | None = None,
              ) -> tuple[np.ndarray, np.ndarray]:
    """(Y, V): the stride-1 correlation of X zero-padded by ``pad`` with the 3×3 kernels
    (C_out, C_in, 3, 3), plus ``bias``, and the transformed input tiles V (for dW)."""
    n, _, h, w = x.shape
    out_h, out_w = h + 2 * pad - 2, w + 2 * pad - 2
    tiles = _input_tiles(x, pad, (out_h + 1) // 2, (out_w + 1) // 2)
    return _output(_products(tiles, _kernel_tiles(weight)), n, out_h, out_w, bias), tiles


def conv_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, pad: int,
                 ) -> tuple[np.ndarray, WinogradConvCache]:
    in_place = bias is not None and np.result_type(x.dtype, bias.dtype) == x.dtype
    y, tiles = correlate(x, weight, pad, bias if in_place else None)
    if bias is not None and not in_place:
        y = y + bias.reshape(-1, 1, 1)
    return y, WinogradConvCache(tuple(x.shape), y.shape, tiles, weight, pad, bias is not None)


def conv_backward(grad: np.ndarray, cache: WinogradConvCache) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(dX, {weight: dW, bias: dB}) of :func:`conv_forward`'s convolution."""
    out_h, out_w = cache.output_shape[2:]
    tiles_h, tiles_w = (out_h + 1) // 2, (out_w + 1) // 2
    delta = _output_gradient(grad, tiles_h, tiles_w)
    grads = {"weight": _kernel_gradient(_products(cache.tiles.swapaxes(1, 2), delta)).astype(cache.weight.dtype,
                                                                                               copy=False)}
    if cache.has_bias:
        grads["bias"] = grad.sum(axis=(0, 2, 3))
    flipped = np.ascontiguousarray(cache.weight[:, :, ::-1, ::-1].swapaxes(0, 1))
    grad_input, _ = correlate(grad, flipped, 2 - cache.pad)
    return grad_input, grads
