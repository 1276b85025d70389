"""How numbers read in human output: exact ints with separators, formulas, byte sizes."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from convcalc.dims import format_dim, is_symbolic


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


def json_number(value: Any, other: Callable[[Any], Any] = str) -> Any:
    """One number for JSON: ints, floats, bools and None as they are (NumPy scalars as Python
    ones), Fractions as ints when whole and ``"p/q"`` strings otherwise; anything else through
    ``other`` (a formula's text)."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):  # a NumPy scalar, without importing NumPy
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    return other(value)


def json_tensor(array: Any, number: Callable[[Any], Any] = json_number) -> Any:
    """A tensor as nested lists of ``number`` values (a 0-d array or a scalar as one value)."""
    shape = getattr(array, "shape", None)
    if shape is None:
        return number(array)
    if len(shape) == 0:
        return number(array[()])
    return [json_tensor(a, number) for a in array]


_PLAIN = frozenset({int, str, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """Ints stay ints; Fractions and formulas become strings; containers recurse."""
    kind = type(value)
    if kind in _PLAIN:  # most values of a report (a 100,000-layer walk has millions): as they are
        return value
    if isinstance(value, dict):  # plain keys and values as they are, without a call each
        return {k if type(k) is str else str(k): v if type(v) in _PLAIN else jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _PLAIN else jsonable(v) for v in value]
    return json_number(value, format_dim)
