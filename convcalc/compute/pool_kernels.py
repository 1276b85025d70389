"""The kernels behind the pooling layers of :mod:`convcalc.layers.pool`: max and average
pooling over regular windows and adaptive bins, and what each backward needs.

A pooling window is scanned tap by tap (row-major, as PyTorch's CPU kernels scan it): each
tap is one strided view (regular windows) or one gather (adaptive bins) covering every
window at once, so the loops run over the Πk taps, never over output positions. Padding and
the unused tail of short adaptive bins are masked, never filled with −∞, so exact (Fraction)
and symbolic entries go through the same code as floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from convcalc.compute import blas_threads
from convcalc.compute.windows import WindowTable, divide, outer, pad_with, zeros
from convcalc.engine.axis import avgpool_divisor_sizes


@dataclass(frozen=True)
class MaxPoolCache:
    """What max pooling's backward needs, and what a trace shows: the winner of each window.

    ``indices[n, c, *t]`` is the flat index into the input's spatial plane (PyTorch's
    ``return_indices``) of the entry that won window t: the FIRST maximum in row-major order
    (PyTorch CPU's strict ``>`` scan; a NaN always wins). A float forward finds the maxima
    alone and the winners are found when first asked for (a backward, a trace), from the
    same prepared input; :meth:`tie_counts` says how many real entries shared the maximum.
    """

    input_shape: tuple[int, ...]
    output: Any
    windows: WindowTable
    prepared: Any  # the array the taps read (the padded input: 0 or −∞ in the padding, which is masked)
    known_indices: Any = field(default=None, repr=False)  # the winners, when the forward found them

    @cached_property
    def indices(self) -> np.ndarray:
        if self.known_indices is not None:
            return self.known_indices
        taps = self.winning_taps
        if taps is None:
            return _scan(self.prepared, self.windows)[1]
        table = np.stack([np.broadcast_to(self.windows.tap_index(tap), self.windows.out_spatial).ravel()
                          for tap in self.windows.taps()])
        flat = taps.reshape(-1, table.shape[1])
        return table[flat, np.arange(table.shape[1])].reshape(taps.shape)

    @cached_property
    def winning_taps(self) -> np.ndarray | None:
        """(N, C, *o) the number (row-major) of the tap that won each window, for a float
        pooling of regular windows the fast scan can settle (see :func:`_needs_scan`); None
        otherwise (the winners are then only :attr:`indices`)."""
        if (self.known_indices is not None or self.windows.pads is None
                or _needs_scan(self.output, self.windows)):
            return None
        return _float_winners(self.prepared, self.windows)

    def tie_counts(self) -> np.ndarray:
        """(N, C, *o) number of real entries equal to the window's maximum (> 1: a tie,
        resolved in favour of the first in row-major order)."""
        counts = np.zeros(self.indices.shape, dtype=np.int64)
        for tap in self.windows.taps():
            equal = np.asarray(self.windows.gather(self.prepared, tap) == self.output, dtype=bool)
            mask = self.windows.mask(tap)
            counts += equal if mask is None else equal & mask
        return counts


@dataclass(frozen=True)
class AvgPoolCache:
    """What average pooling's backward needs: the windows and each window's divisor
    (an int, or an integer array over the output positions)."""

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    windows: WindowTable
    divisor: Any


def _scan(prepared: np.ndarray, windows: WindowTable) -> tuple[np.ndarray, np.ndarray]:
    """(maxima, winners) by ATen's scan: best ← first tap; for each later tap, take it where (it
    is real) and (no real entry seen yet, or value > best, or value is NaN); the winner's input
    index moves only where the tap is taken (index += take·(tap − index)). Any dtype."""
    taps = list(windows.taps())
    masks = [windows.mask(tap) for tap in taps]
    any_masked = any(m is not None for m in masks)
    has_nan = prepared.dtype.kind == "f" and bool(np.isnan(prepared).any())
    best = indices = seen = None
    for tap, mask in zip(taps, masks):
        values = windows.gather(prepared, tap)
        where = windows.tap_index(tap)
        if best is None:
            best = np.array(values, copy=True)
            indices = np.broadcast_to(where, values.shape).copy()
            if any_masked:
                seen = np.ones(values.shape, dtype=bool) if mask is None else np.broadcast_to(mask, values.shape).copy()
            continue
        take = np.asarray(values > best, dtype=bool)
        if has_nan:
            take |= np.isnan(values)
        if seen is not None:
            take |= ~seen
            if mask is not None:
                take &= mask
                seen |= mask
            else:
                seen[...] = True
        indices += take * (where - indices)
        if seen is None and prepared.dtype.kind == "f":
            np.maximum(best, values, out=best)  # same value as the scan (NaN wins), without a branch per entry
        else:
            best = np.where(take, values, best)
    assert best is not None and indices is not None  # every window has at least one tap
    return best, indices


def _needs_scan(output: np.ndarray, windows: WindowTable) -> bool:
    """Whether a float pooling's winners need the full scan: a NaN (the last NaN wins), or a
    window whose maximum is −∞ next to padding (its winner is the first real −∞, which the
    −∞ of the padding would shadow)."""
    if np.isnan(output).any():
        return True
    masked = any(windows.mask(tap) is not None for tap in windows.taps())
    return masked and bool(np.isneginf(output).any())


def _float_winners(prepared: np.ndarray, windows: WindowTable) -> np.ndarray:
    """The winning tap of each window of a float pooling without NaNs (see :func:`_needs_scan`):
    the first tap, in row-major order, whose entry is greater than every earlier one — the
    scan's rule — as a small tap number."""
    taps = list(windows.taps())
    winner = np.empty(prepared.shape[:2] + windows.out_spatial, dtype=np.int16 if len(taps) < 1 << 15 else np.int64)

    def images(start: int, stop: int) -> None:
        block = prepared[start:stop]
        best = np.array(windows.gather(block, taps[0]), copy=True)
        won = winner[start:stop]
        won[...] = 0
        for number, tap in enumerate(taps[1:], start=1):
            values = windows.gather(block, tap)
            take = values > best
            won += take * (winner.dtype.type(number) - won)  # arithmetic beats putmask/copyto 3x here
            np.maximum(best, values, out=best)

    images_in_batch = prepared.shape[0]
    blas_threads.share_blocks(images, images_in_batch, prepared.size, images_in_batch)
    return winner


def max_pool_forward(x: np.ndarray, windows: WindowTable) -> tuple[np.ndarray, MaxPoolCache]:
    """y[t] = max over the real entries of window t; the first maximum in row-major order wins.

    Exact (object) arrays run ATen's scan (:func:`_scan`), which finds the winners with the
    maxima. Float arrays of regular windows pad with −∞ and take the elementwise maximum of
    the taps' strided views: −∞ never exceeds a real entry and every window holds one, and a
    NaN propagates as the scan's does, so the values are the scan's; the winners wait for
    :attr:`MaxPoolCache.indices` (an inference run never asks for them).
    """
    if x.dtype.kind != "f" or windows.pads is None:
        prepared = windows.prepare(x)
        best, indices = _scan(prepared, windows)
        return best, MaxPoolCache(tuple(x.shape), best, windows, prepared, indices)
    prepared = pad_with(x, windows.pads, -np.inf)
    best = np.empty(x.shape[:2] + windows.out_spatial, x.dtype)

    def images(start: int, stop: int) -> None:
        block, out = prepared[start:stop], best[start:stop]
        taps = windows.taps()
        np.copyto(out, windows.gather(block, next(taps)))
        for tap in taps:
            np.maximum(out, windows.gather(block, tap), out=out)

    blas_threads.share_blocks(images, x.shape[0], prepared.size, x.shape[0])  # each image's maxima as alone
    return best, MaxPoolCache(tuple(x.shape), best, windows, prepared)


def max_pool_backward(grad: np.ndarray, cache: MaxPoolCache) -> np.ndarray:
    """dX[argmax of window t] += dY[t]; windows that share an entry add up (docs/arithmetic.md §7.3).

    With the winning taps known (:attr:`MaxPoolCache.winning_taps`) the winners' positions in
    the padded plane are the window's first entry plus the winning tap's offset (two small
    tables), and the same indexed add runs there, in the same order; the padding is cropped.
    """
    winning = cache.winning_taps
    if winning is not None and winning.shape == grad.shape:
        windows = cache.windows
        assert windows.stride is not None and windows.dilation is not None  # regular windows
        n, c = cache.input_shape[:2]
        spatial = windows.prepared_spatial()
        steps = [int(np.prod(spatial[a + 1:])) for a in range(len(spatial))]  # row-major strides of the plane
        taps = np.array([sum(u * d * st for u, d, st in zip(tap, windows.dilation, steps)) for tap in windows.taps()])
        starts = outer(np.add, [np.arange(o) * s * st for o, s, st in zip(windows.out_spatial, windows.stride, steps)])
        plane = int(np.prod(spatial))
        grad_prepared = zeros((n, c * plane), grad.dtype)

        def images(start: int, stop: int) -> None:  # the images' planes are disjoint: each adds alone
            flat = taps[winning[start:stop].reshape((stop - start) * c, -1)] + starts.reshape(1, -1)
            flat += np.arange(0, (stop - start) * c * plane, plane)[:, None]
            np.add.at(grad_prepared[start:stop].reshape(-1), flat.ravel(), grad[start:stop].ravel())

        blas_threads.share_blocks(images, n, grad_prepared.size, n)
        return windows.finish(grad_prepared.reshape((n, c, *spatial)))
    n, c = cache.input_shape[:2]
    plane = int(np.prod(cache.input_shape[2:]))
    grad_input = zeros((n * c * plane,), grad.dtype)
    flat = cache.indices.reshape(n * c, -1) + np.arange(0, n * c * plane, plane)[:, None]
    np.add.at(grad_input, flat.ravel(), grad.ravel())
    return grad_input.reshape(cache.input_shape)


def avg_pool_forward(x: np.ndarray, windows: WindowTable, divisor: Any) -> tuple[np.ndarray, AvgPoolCache]:
    """y[t] = (Σ of window t's entries) / divisor[t]; padding adds 0 (docs/arithmetic.md §3.4)."""
    prepared = windows.prepare(x)
    total = None
    for tap in windows.taps():
        values = windows.gather(prepared, tap)
        mask = windows.mask(tap)
        if mask is not None and windows.pads is None:  # the clamped tail of a short adaptive bin
            values = np.where(mask, values, 0)
        if total is None:
            total = np.array(values, copy=True)
        else:
            total += values
    assert total is not None  # every window has at least one tap
    return divide(total, divisor), AvgPoolCache(tuple(x.shape), total.shape, windows, divisor)


def avg_pool_backward(grad: np.ndarray, cache: AvgPoolCache) -> np.ndarray:
    """dX[j] += dY[t] / divisor[t] for every window t containing j; padding's share is dropped."""
    share = divide(grad, cache.divisor)
    windows = cache.windows
    grad_prepared = zeros(cache.input_shape[:2] + windows.prepared_spatial(), share.dtype)
    for tap in windows.taps():
        mask = windows.mask(tap)
        values = np.where(mask, share, 0) if mask is not None and windows.pads is None else share
        windows.scatter_add(grad_prepared, tap, values)
    return windows.finish(grad_prepared)


def uniform(divisor: np.ndarray) -> int | np.ndarray:
    """An all-equal divisor array as one int (exact traces then show a single 1/d)."""
    first = int(divisor.flat[0])
    return first if (divisor == first).all() else divisor


def avg_pool_divisor(in_spatial: Sequence[int], out_spatial: Sequence[int], kernel_size: Sequence[int],
                     stride: Sequence[int], pads: Sequence[tuple[int, int]], count_include_pad: bool,
                     divisor_override: int | None) -> int | np.ndarray:
    """Each window's divisor (ATen AvgPoolKernel.cpp): divisor_override if given, else the Π over
    axes of the window clipped at the end of the right padding (count_include_pad), else of its
    real entries. One int when every window shares it."""
    if divisor_override is not None:
        return divisor_override
    which = 0 if count_include_pad else 1
    per_axis = [np.array([sizes[which] for sizes in avgpool_divisor_sizes(i, k, s, pl, pr, o)], dtype=np.int64)
                for i, k, s, (pl, pr), o in zip(in_spatial, kernel_size, stride, pads, out_spatial)]
    return uniform(outer(np.multiply, per_axis))
