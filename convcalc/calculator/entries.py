"""The explained entries as the numeric commands print them: views of the one-layer trace
(:mod:`convcalc.trace.one_layer`), never a second computation.

The trace's :class:`~convcalc.trace.model.Entry` holds the numbers (each product, the bias, the
window's values, the divisor) and was checked against the layer's forward when it was written.
A view adds only what the numeric documents and ``--json`` index by: the output index, the kernel
index of each product, and for pooling the whole window over the padded input (padding cells
included, ``None`` standing for max pooling's −∞) with the winner in padded coordinates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from convcalc.compute.number_text import plain
from convcalc.trace.one_layer import OneLayer

Number = Any  # int, fractions.Fraction or float
Index = tuple[int, ...]


@dataclass(frozen=True)
class Term:
    """``input_value · kernel_value``: one product of a sum (indices into the shown tensors)."""

    input_index: Index  # (channel, row, column) in the padded (or stretched) input
    input_value: Number
    kernel_index: Index  # (out channel, in channel, row, column) of the kernel as applied
    kernel_value: Number


@dataclass(frozen=True)
class SumEntry:
    """``J[index] = Σ terms (+ bias) = value`` (a convolution output entry)."""

    index: Index  # (out channel, row, column)
    terms: tuple[Term, ...]
    bias: Number | None
    value: Number


def sum_entries(one: OneLayer, kernel_shape: tuple[int, ...]) -> Iterator[SumEntry]:
    """The trace's sums (products in (in channel, kernel row, kernel column) order) with the
    kernel index of each product: ``(co, ci, u, v)`` for a kernel ``(C_out, C_in/g, kh, kw)``."""
    taps = list(np.ndindex(*kernel_shape[1:]))  # (ci, u, v), the order of the trace's products
    for index, entry in zip(one.indices, one.entries, strict=True):
        terms = tuple(
            Term(tuple(cell), plain(x), (index[0], *tap), plain(w))
            for tap, cell, (x, w) in zip(taps, entry.window, entry.terms, strict=True)
        )
        yield SumEntry(tuple(index), terms, plain(entry.addends[0]) if entry.addends else None, plain(entry.result))


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
