"""``convcalc pool``: max or average pooling of small tensors, each window explained.

Max (PyTorch ``max_pool2d``): ``J[c, y, x] = max over the window``; padding counts as −∞
so it never wins; on ties the FIRST maximum in row-major order of the window wins (ATen's
strict ``>`` scan) — that entry alone receives the gradient in backward.
Average (``avg_pool2d``): ``J = Σ window / divisor`` with the divisor of ATen
AvgPoolKernel.cpp: ``divisor_override`` if given; otherwise, with ``count_include_pad``
(the default), the window clipped at the end of the right padding; without it, the real
(non-padding) entries only.
Values come from :class:`convcalc.layers.pool.MaxPool` / ``AvgPool``'s forward; each window's
explanation (its values, winner, ties, divisor) is the one-layer trace's
(:func:`convcalc.trace.one_layer.pool`, the explainer of ``convcalc backprop``'s pooling steps),
checked there against the forward; this module only lays each window over the padded input.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from convcalc.calculator import operands, settings
from convcalc.calculator.entries import PoolEntry
from convcalc.compute.number_text import plain
from convcalc.engine.report import Step
from convcalc.errors import InputError
from convcalc.layers.base import analyze_batched
from convcalc.layers.pool import AvgPool, MaxPool
from convcalc.trace import explain_pool, one_layer
from convcalc.trace.context import TraceBug


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
        raise InputError(f"--pad {padding} does not apply to pooling: "
                         "give numbers (at most half the kernel) or tf-same")
    if mode == "max":
        if divisor_override is not None:
            raise InputError("--divisor-override applies to average pooling (--mode avg)")
        layer = MaxPool(rank=2, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                        ceil_mode=ceil_mode)
    else:
        layer = AvgPool(rank=2, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                        ceil_mode=ceil_mode, count_include_pad=count_include_pad, divisor_override=divisor_override)
    report = analyze_batched(layer, x.shape, explain=True)
    pads = tuple((int(a), int(b)) for a, b in report.hyper["padding"])
    traced = one_layer.pool(layer, x, pads, explain=explain)
    output = traced.output[0]
    padded = _padded_for_display(x[0], pads, mode)
    entries = tuple(_windows(traced, x[0], padded, layer, pads, mode))
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


def _windows(traced: one_layer.OneLayer, x: np.ndarray, padded: np.ndarray, layer, pads: settings.Pads,
             mode: str) -> Iterator[PoolEntry]:
    """The one-layer trace's windows as the pool document shows them: every cell of the window
    over the padded input (padding included, ``None`` for max pooling's −∞; a window that
    ceil_mode lets hang past the padded end never reads those cells), with the value, the
    divisor and the ties of the trace's entry and the winner the layer's forward recorded
    (PyTorch's ``return_indices``, :func:`convcalc.trace.explain_pool.winner_cell`)."""
    kh, kw = layer.kernel_size
    (sh, sw), (dh, dw) = layer.stride, layer.dilation
    _, hp, wp = padded.shape
    _, h, w = x.shape
    (pt, _), (pl, _) = pads
    for index, entry in zip(traced.indices, traced.entries, strict=True):
        ch, y, xx = index
        cells = tuple(((ch, r, q), padded[ch, r, q])
                      for r in (y * sh + dh * u for u in range(kh)) if r < hp
                      for q in (xx * sw + dw * v for v in range(kw)) if q < wp)
        real = [(c, r - pt, q - pl) for (c, r, q), _ in cells if pt <= r < pt + h and pl <= q < pl + w]
        if real != [tuple(cell) for cell in entry.window]:
            raise TraceBug(f"J{list(index)}: the window shown reads other cells than the layer's window table")
        value = plain(entry.result)
        if mode == "max":
            r, q = explain_pool.winner_cell(traced.cache, (0, *index), (h, w))
            ties = sum(1 for v in entry.candidates if v == entry.result)
            yield PoolEntry(index, cells, value, winner=(ch, r + pt, q + pl), ties=ties)
        else:
            yield PoolEntry(index, cells, value, divisor=int(entry.divisor))
