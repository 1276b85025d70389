"""One output entry of a windowed operation as plain data: the input entries it reads, the
kernel entries they meet, and the value — plus the check that the shown arithmetic equals
the layer's forward value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

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


def total(terms: tuple[Term, ...], bias: Number | None) -> Number:
    """Σ input·kernel (+ bias), in the operands' own arithmetic (exact stays exact)."""
    result: Number = 0
    for term in terms:
        result = result + term.input_value * term.kernel_value
    if bias is not None:
        result = result + bias
    return result


def agrees(shown: Number, forward: Number) -> bool:
    """Exact equality for exact numbers; a tight tolerance for floats (summation order)."""
    if isinstance(shown, float) or isinstance(forward, (float, np.floating)):
        a, b = float(shown), float(forward)
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return shown == forward


class ExplanationMismatch(AssertionError):
    """The arithmetic shown for an entry does not give the forward's value: a bug, never input."""


def check(what: str, index: Index, shown: Number, forward: Number) -> None:
    if not agrees(shown, forward):
        raise ExplanationMismatch(f"{what}{list(index)}: the shown sum gives {shown} but the layer's forward gives {forward}")


def plain(value: Any) -> Number:
    """A NumPy scalar as a Python number (object arrays already hold Python numbers)."""
    if isinstance(value, np.generic):
        return value.item()
    return value
