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
from dataclasses import dataclass
from typing import Any

import numpy as np

from convcalc.compute.windows import WindowTable, divide, outer, zeros
from convcalc.engine.axis import avgpool_divisor_sizes


@dataclass(frozen=True)
class MaxPoolCache:
    """What max pooling's backward needs, and what a trace shows: the winner of each window.

    ``indices[n, c, *t]`` is the flat index into the input's spatial plane (PyTorch's
    ``return_indices``) of the entry that won window t: the FIRST maximum in row-major order
    (PyTorch CPU's strict ``>`` scan; a NaN always wins). :meth:`tie_counts` says how many
    real entries shared the maximum.
    """

    input_shape: tuple[int, ...]
    output: Any
    windows: WindowTable
    prepared: Any  # the array the taps read (the zero-padded input; its padding is masked)
    indices: Any

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


def max_pool_forward(x: np.ndarray, windows: WindowTable) -> tuple[np.ndarray, MaxPoolCache]:
    """y[t] = max over the real entries of window t; the first maximum in row-major order wins.

    Scan: best ← first tap; for each later tap, take it where (it is real) and (no real entry
    seen yet, or value > best, or value is NaN) — ATen's ``(val > maxval) || isnan(val)``.
    The winner's input index moves only where the tap is taken (index += take·(tap − index)).
    """
    prepared = windows.prepare(x)
    taps = list(windows.taps())
    masks = [windows.mask(tap) for tap in taps]
    any_masked = any(m is not None for m in masks)
    has_nan = x.dtype.kind == "f" and bool(np.isnan(x).any())
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
        if seen is None and x.dtype.kind == "f":
            np.maximum(best, values, out=best)  # same value as the scan (NaN wins), without a branch per entry
        else:
            best = np.where(take, values, best)
    assert best is not None  # every window has at least one tap
    return best, MaxPoolCache(tuple(x.shape), best, windows, prepared, indices)


def max_pool_backward(grad: np.ndarray, cache: MaxPoolCache) -> np.ndarray:
    """dX[argmax of window t] += dY[t]; windows that share an entry add up (docs/arithmetic.md §7.3)."""
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
