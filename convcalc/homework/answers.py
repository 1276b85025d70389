"""Reading, comparing and writing answers.

What a student may write:

- a **shape**: ``2x14x14``, ``2×14×14``, ``[2, 14, 14]``, ``(2, 14, 14)``, ``2,14,14``;
- a **number**: ``152``, ``25/2``, or a decimal;
- a **matrix**: rows split by ``;`` (or new lines), entries by spaces or commas, as
  ``convcalc conv`` reads them (``"1 0; 0 -1"``), or nested JSON lists (``[[1, 0], [0, -1]]``).

Whole numbers and ``p/q`` are exact. A decimal is right when it equals the answer exactly, or is
the answer correctly rounded to the decimals written, with at least two written (``9.33`` for
28/3 counts, ``9.3`` does not) — so a hand calculation need not be turned into a fraction, and
a guess is not rounded into a right answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

_INT = re.compile(r"^[+-]?\d+$")
_FRACTION = re.compile(r"^([+-]?\d+)\s*/\s*([+-]?\d+)$")
_DECIMAL = re.compile(r"^[+-]?(\d*)\.(\d+)$")
MIN_PLACES = 2


class Unreadable(ValueError):
    """A student's answer that cannot be read as the kind asked for (marked 0, with feedback)."""


@dataclass(frozen=True)
class Written:
    """A number as written: its exact value and, for a decimal, the places written."""

    value: Fraction
    places: int | None = None

    def __str__(self) -> str:
        return number_text(self.value) if self.places is None else f"{float(self.value):.{self.places}f}"


def read_number(raw: Any) -> Written:
    if isinstance(raw, bool) or raw is None:
        raise Unreadable(f"'{raw}' is not a number")
    if isinstance(raw, int):
        return Written(Fraction(raw))
    if isinstance(raw, float):
        text = repr(raw)
    else:
        text = str(raw).strip().replace("−", "-").replace(" ", "")
    if _INT.match(text):
        return Written(Fraction(int(text)))
    match = _FRACTION.match(text)
    if match:
        if int(match.group(2)) == 0:
            raise Unreadable(f"'{text}' divides by zero")
        return Written(Fraction(int(match.group(1)), int(match.group(2))))
    match = _DECIMAL.match(text)
    if match:
        return Written(Fraction(text), len(match.group(2)))
    raise Unreadable(f"'{text}' is not a number (write 152, 25/2 or 12.5)")


def read_shape(raw: Any) -> tuple[int, ...]:
    if isinstance(raw, list):
        items = raw
    else:
        text = str(raw).strip().strip("()[]").strip()
        items = re.split(r"\s*[x×X,*]\s*|\s+", text)  # an empty item ("8x", "2xx3") is a slip, not a dimension
    dims = []
    for item in items:
        if isinstance(item, bool) or not (isinstance(item, int) or (isinstance(item, str) and item.isdigit())):
            if item == "" and len(items) == 1:
                break
            raise Unreadable(f"'{raw}' is not a shape (write it as 2x14x14 or [2, 14, 14])")
        dims.append(int(item))
    if not dims:
        raise Unreadable("the shape is empty (write it as 2x14x14 or [2, 14, 14])")
    return tuple(dims)


def read_matrix(raw: Any) -> list[list[Written]]:
    if isinstance(raw, str) and raw.strip().startswith("["):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise Unreadable(f"'{raw}' is not a matrix (write rows as \"1 2; 3 4\" or [[1, 2], [3, 4]])") from None
    if isinstance(raw, list):
        rows = [r if isinstance(r, list) else [r] for r in raw] if raw and isinstance(raw[0], list) else [raw]
    else:
        rows = [[e for e in re.split(r"[\s,]+", r.strip()) if e] for r in re.split(r"[;\n]", str(raw)) if r.strip()]
    if not rows or not all(rows):
        raise Unreadable(f"'{raw}' is not a matrix (write rows as \"1 2; 3 4\" or [[1, 2], [3, 4]])")
    if len({len(r) for r in rows}) != 1:
        raise Unreadable(f"the rows have different lengths ({', '.join(str(len(r)) for r in rows)})")
    return [[read_number(e) for e in row] for row in rows]


def read(kind: str, raw: Any) -> Any:
    """The student's answer as the kind asked for, or :class:`Unreadable`."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise Unreadable("no answer")
    return {"shape": read_shape, "number": read_number, "matrix": read_matrix}[kind](raw)


def number_matches(written: Written, exact: Any) -> bool:
    exact = Fraction(exact)
    if written.value == exact:
        return True
    if written.places is None or written.places < MIN_PLACES:
        return False
    return abs(written.value - exact) <= Fraction(5, 10 ** (written.places + 1))


def credit(kind: str, written: Any, key: Any) -> Fraction:
    """The share of the mark (see the partial-credit rules in :mod:`convcalc.homework.grade`)."""
    if kind == "number":
        return Fraction(int(number_matches(written, key)))
    if kind == "shape":
        if len(written) != len(key):
            return Fraction(0)
        return Fraction(sum(a == b for a, b in zip(written, key)), len(key))
    rows = np.asarray(key, dtype=object)
    if (len(written), len(written[0])) != rows.shape:
        return Fraction(0)
    right = sum(number_matches(w, k) for wrow, krow in zip(written, rows) for w, k in zip(wrow, krow))
    return Fraction(right, rows.size)


def matches(kind: str, written: Any, value: Any) -> bool:
    return credit(kind, written, value) == 1


# --- writing ---------------------------------------------------------------------------------------------


def number_text(value: Any) -> str:
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def text(kind: str, value: Any) -> str:
    """An answer as a student would write it: ``2x14x14``, ``25/2``, ``1 0; 0 -1``."""
    if kind == "shape":
        return "x".join(str(v) for v in value)
    if kind == "number":
        return str(value) if isinstance(value, Written) else number_text(value)
    rows = value if isinstance(value, list) else np.asarray(value, dtype=object).tolist()
    return "; ".join(" ".join(str(v) if isinstance(v, Written) else number_text(v) for v in row) for row in rows)


def json_value(kind: str, value: Any) -> Any:
    """ints, ``"p/q"`` strings, lists."""

    def number(v):
        v = Fraction(v)
        return v.numerator if v.denominator == 1 else f"{v.numerator}/{v.denominator}"

    if kind == "shape":
        return [int(v) for v in value]
    if kind == "number":
        return number(value)
    return [[number(v) for v in row] for row in np.asarray(value, dtype=object).tolist()]
