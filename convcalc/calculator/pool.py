"""``convcalc pool``: max or average pooling of small tensors, each window explained.

Max (PyTorch ``max_pool2d``): ``J[c, y, x] = max over the window``; padding counts as −∞
so it never wins; on ties the FIRST maximum in row-major order of the window wins (ATen's
strict ``>`` scan) — that entry alone receives the gradient in backward.
Average (``avg_pool2d``): ``J = Σ window / divisor`` with the divisor of ATen
AvgPoolKernel.cpp: ``divisor_override`` if given; otherwise, with ``count_include_pad``
(the default), the window clipped at the end of the right padding; without it, the real
(non-padding) entries only.
Values come from :class:`convcalc.layers.pool.MaxPool` / ``AvgPool``'s forward; the
explanation is rebuilt from the window indices and checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from convcalc.calculator import operands, settings
from convcalc.calculator.terms import ExplanationMismatch, Index, Number, check, plain
from convcalc.compute import windows
from convcalc.engine import axis
from convcalc.engine.report import Step
from convcalc.errors import InputError
from convcalc.layers.base import analyze_batched
from convcalc.layers.pool import AvgPool, MaxPool


@dataclass(frozen=True)
class PoolEntry:
    """One window: the cells it reads (padded coordinates; ``None`` marks padding), the winner
    (max) or the divisor (average), and the forward's value."""

    index: Index  # (channel, row, column) of the output
    cells: tuple[tuple[Index, Number | None], ...]  # ((channel, row, column) in the padded input, value)
    value: Number
    winner: Index | None = None  # max: padded coordinates of the entry that won
    ties: int = 0  # max: how many entries equal the maximum (1 = no tie)
    divisor: int | None = None  # average


@dataclass(frozen=True)
class PoolResult:
    input: np.ndarray  # (C, H, W)
    mode: str  # "max" or "avg"
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: settings.Pads
    dilation: tuple[int, int]
    ceil_mode: bool
    count_include_pad: bool
    divisor_override: int | None
    padded: np.ndarray  # object array; None where max pooling pads with −∞
    output: np.ndarray  # (C, oh, ow)
    entries: tuple[PoolEntry, ...]
    size_steps: tuple[Step, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    plain_matrices: bool

    @property
    def exact(self) -> bool:
        return self.output.dtype == object

    @property
    def tie_count(self) -> int:
        return sum(1 for e in self.entries if e.ties > 1)


def pool(
    image: np.ndarray,
    *,
    kernel_size: tuple[int, int],
    stride: tuple[int, int] | None = None,
    padding: str | settings.Pads = ((0, 0), (0, 0)),
    dilation: tuple[int, int] = (1, 1),
    mode: str = "max",
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    explain: bool = False,
) -> PoolResult:
    """Pool ``image`` (a matrix or C x H x W) through the pooling layer's forward."""
    x = operands.as_image(image)
    stride = tuple(stride) if stride is not None else tuple(kernel_size)
    if mode not in ("max", "avg"):
        raise InputError(f"--mode '{mode}' is not a pooling mode: use max or avg")
    if padding == "full" or padding == "same":
        raise InputError(f"--pad {padding} does not apply to pooling: give numbers (at most half the kernel) or tf-same")
    if mode == "max":
        if divisor_override is not None:
            raise InputError("--divisor-override applies to average pooling (--mode avg)")
        layer = MaxPool(rank=2, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    else:
        layer = AvgPool(rank=2, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                        ceil_mode=ceil_mode, count_include_pad=count_include_pad, divisor_override=divisor_override)
    report = analyze_batched(layer, x.shape, explain=True)
    pads = tuple((int(a), int(b)) for a, b in report.hyper["padding"])
    forward = layer.forward(x, {})
    output = forward.output[0]
    padded = _padded_for_display(x[0], pads, mode)
    winners = forward.cache.indices[0] if mode == "max" else None
    entries = tuple(_entries(x[0], padded, output, layer, pads, mode, winners)) if explain else ()
    return PoolResult(
        input=x[0], mode=mode, kernel_size=tuple(layer.kernel_size), stride=tuple(layer.stride), padding=pads,
        dilation=tuple(layer.dilation), ceil_mode=ceil_mode, count_include_pad=count_include_pad,
        divisor_override=divisor_override, padded=padded, output=output, entries=entries,
        size_steps=tuple(s for s in report.steps if s.title.startswith("output") or s.title == "last window"),
        notes=tuple(report.notes), warnings=tuple(report.warnings), plain_matrices=image.ndim <= 2,
    )


def _padded_for_display(x: np.ndarray, pads: settings.Pads, mode: str) -> np.ndarray:
    """The input inside its padding: zeros (average) or ``None`` standing for −∞ (max)."""
    c, h, w = x.shape
    (pt, pb), (pl, pr) = pads
    filler = None if mode == "max" else 0
    padded = np.empty((c, h + pt + pb, w + pl + pr), dtype=object)
    padded[...] = filler
    padded[:, pt:pt + h, pl:pl + w] = np.vectorize(plain, otypes=[object])(x) if x.size else x
    return padded


def _entries(x, padded, output, layer, pads, mode, winners):
    """Each window's cells and value; for max pooling the winner is the one the layer's forward
    recorded (PyTorch's ``return_indices``, which its backward routes the gradient to) — the
    same source the backprop trace names (:func:`convcalc.trace.explain_pool.winner_cell`)."""
    c, oh, ow = output.shape
    kh, kw = layer.kernel_size
    (sh, sw), (dh, dw) = layer.stride, layer.dilation
    _, hp, wp = padded.shape
    divisors = None
    if mode == "avg":
        h, w = x.shape[1:]
        rows = axis.avgpool_divisor_sizes(h, kh, sh, pads[0][0], pads[0][1], oh)
        cols = axis.avgpool_divisor_sizes(w, kw, sw, pads[1][0], pads[1][1], ow)
        index = 0 if layer.count_include_pad else 1
        divisors = [[r[index] * q[index] for q in cols] for r in rows]
    row_starts = windows.window_starts(oh, sh)
    col_starts = windows.window_starts(ow, sw)
    for ch in range(c):
        for y, r0 in enumerate(row_starts):
            for xx, c0 in enumerate(col_starts):
                # ceil_mode may let the last window hang past the padded end: those cells are never read
                cells = tuple(((ch, r, q), padded[ch, r, q])
                              for r in (r0 + dh * u for u in range(kh)) if r < hp
                              for q in (c0 + dw * v for v in range(kw)) if q < wp)
                value = plain(output[ch, y, xx])
                if mode == "max":
                    r, q = divmod(int(winners[ch, y, xx]), x.shape[2])
                    yield _max_entry((ch, y, xx), cells, value, (ch, r + pads[0][0], q + pads[1][0]))
                else:
                    divisor = layer.divisor_override if layer.divisor_override is not None else divisors[y][xx]
                    yield _avg_entry((ch, y, xx), cells, value, divisor)


def _max_entry(index, cells, value, winner: Index) -> PoolEntry:
    best = dict(cells)[winner]
    ties = sum(1 for _, v in cells if v is not None and v == best)
    check("J", index, best, value)
    if any(v is not None and v > best for _, v in cells):
        raise ExplanationMismatch(f"J{list(index)}: the entry the forward recorded is not its window's maximum")
    return PoolEntry(index, cells, value, winner=winner, ties=ties)


def _avg_entry(index, cells, value, divisor) -> PoolEntry:
    summed: Number = 0
    for _, v in cells:
        summed = summed + v
    shown = summed * Fraction(1, divisor) if not isinstance(summed, float) else summed / divisor
    check("J", index, shown, value)
    return PoolEntry(index, cells, value, divisor=divisor)
