"""How numbers read in human output: exact ints with separators, formulas, byte sizes."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from convcalc.engine.dims import format_dim, is_symbolic


def count(value: Any) -> str:
    """``29,400``; formulas as written by sympy; ``—`` for unknown."""
    if value is None:
        return "—"
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}" if value.denominator != 1 else f"{value.numerator:,}"
    if isinstance(value, int):
        return f"{value:,}"
    return format_dim(value)


def nbytes(value: Any) -> str:
    """A byte count in binary units: ``1.5 KiB``."""
    if value is None:
        return "—"
    if is_symbolic(value):
        return f"{format_dim(value)} B"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # pragma: no cover


def jsonable(value: Any) -> Any:
    """Ints stay ints; Fractions and formulas become strings; containers recurse."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}" if value.denominator != 1 else value.numerator
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return format_dim(value)
