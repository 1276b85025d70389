"""Reading tensors of numbers the way a course writes them.

Whole numbers and fractions (``3``, ``"1/2"``, ``"-3/4"``) stay exact: the array has
``dtype=object`` and holds Python ints and :class:`~fractions.Fraction` values, so every
later sum is exact. If any entry is a decimal (``0.5``, ``"1e-3"``) the whole tensor is
float64. NaN, infinity, booleans, ragged rows and empty tensors are refused.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

import numpy as np

from convcalc.errors import InputError

_INT = re.compile(r"^[+-]?\d+$")
_FRACTION = re.compile(r"^([+-]?\d+)\s*/\s*(\d+)$")
_DECIMAL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def parse_number(value: Any, what: str) -> int | Fraction | float:
    """One entry: an int, a Fraction (from ``"p/q"``) or a float (from a decimal)."""
    if isinstance(value, bool) or value is None:
        raise InputError(f"{what}: {json_text(value)} is not a number (use a whole number, p/q, or a decimal)")
    if isinstance(value, (int, Fraction)):
        return _bounded(value, value, what)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise InputError(f"{what}: {value} is not a finite number (NaN and infinity are refused)")
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, str):
        text = value.strip().replace("−", "-")
        if _INT.match(text):
            return _bounded(_whole(text, value, what), value, what)
        match = _FRACTION.match(text)
        if match:
            numerator, denominator = _whole(match.group(1), value, what), _whole(match.group(2), value, what)
            if denominator == 0:
                raise InputError(f"{what}: '{value}' divides by zero")
            return _bounded(Fraction(numerator, denominator), value, what)
        if _DECIMAL.match(text):
            number = float(text)
            if not math.isfinite(number):
                raise InputError(f"{what}: '{value}' is beyond the float64 range (±1.8e308); NaN and "
                                 "infinity are refused")
            return number
        if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise InputError(f"{what}: '{value}' is not a finite number (NaN and infinity are refused)")
        raise InputError(f"{what}: '{value}' is not a number (use a whole number, p/q such as 1/2, or a decimal)")
    raise InputError(f"{what}: {json_text(value)} is not a number")


MAX_DIGITS = 300
"""Whole numbers (and the parts of p/q) longer than this are refused: every number must also
fit a float64 (±1.8e308), as results are shown and compared as floats too."""


def _whole(digits: str, value: Any, what: str) -> int:
    if len(digits.lstrip("+-")) > MAX_DIGITS:  # before int(): Python refuses > 4,300 digits anyway
        raise InputError(f"{what}: a {len(digits.lstrip('+-'))}-digit number is too large "
                         f"(numbers are limited to {MAX_DIGITS} digits, within float64's ±1.8e308)")
    return int(digits)


def _bounded(number: int | Fraction, value: Any, what: str) -> int | Fraction:
    if abs(number) >= 10 ** MAX_DIGITS:
        raise InputError(f"{what}: {str(value)[:20]}… is too large (numbers are limited to {MAX_DIGITS} digits, "
                         "within float64's ±1.8e308)")
    return number


def json_text(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return {None: "null", True: "true", False: "false"}.get(value, repr(value))


def to_array(values: Any, what: str) -> np.ndarray:
    """A nested list (or a NumPy array) as an exact object array or a float64 array."""
    if isinstance(values, np.ndarray):
        if values.dtype.kind in "iu":
            return _object(values.tolist(), values.shape)
        if values.dtype.kind == "f":
            if not np.all(np.isfinite(values)):
                raise InputError(f"{what}: contains NaN or infinity")
            return values.astype(np.float64)
        if values.dtype.kind == "b":
            raise InputError(f"{what}: booleans are not numbers")
        values = values.tolist()
    shape = _shape(values, what, ())
    if 0 in shape:
        raise InputError(f"{what}: the tensor is empty (shape {'x'.join(map(str, shape))})")
    flat = [parse_number(v, f"{what}[{', '.join(map(str, index))}]") for index, v in _entries(values, ())]
    if any(isinstance(v, float) for v in flat):
        return np.array([float(v) for v in flat], dtype=np.float64).reshape(shape)
    return _object(flat, shape)


def _object(flat_or_nested: list, shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(int(np.prod(shape)) if shape else 1, dtype=object)
    flat = list(_flatten(flat_or_nested))
    for i, v in enumerate(flat):
        out[i] = v
    return out.reshape(shape)


def _flatten(values):
    if isinstance(values, list):
        for v in values:
            yield from _flatten(v)
    else:
        yield values


def _shape(values: Any, what: str, where: tuple[int, ...]) -> tuple[int, ...]:
    if not isinstance(values, (list, tuple)):
        return ()
    shapes = [_shape(v, what, where + (i,)) for i, v in enumerate(values)]
    if shapes and any(s != shapes[0] for s in shapes):
        for i, s in enumerate(shapes):
            if s != shapes[0]:
                place = f"{what}[{', '.join(map(str, where + (i,)))}]"
                first = f"{what}[{', '.join(map(str, where + (0,)))}]"
                raise InputError(
                    f"{what} is ragged: {place} is {_text(s)} but {first} is {_text(shapes[0])}; "
                    "every row must have the same length"
                )
    return (len(values),) + (shapes[0] if shapes else ())


def _text(shape: tuple[int, ...]) -> str:
    if not shape:
        return "a single number"
    return f"{shape[0]} long" if len(shape) == 1 else "x".join(map(str, shape))


def _entries(values: Any, index: tuple[int, ...]):
    if isinstance(values, (list, tuple)):
        for i, v in enumerate(values):
            yield from _entries(v, index + (i,))
    else:
        yield index, values


def parse_matrix_text(text: str, what: str) -> np.ndarray:
    """``"1 3 2; 4 8 3"`` (rows split by ``;`` or newlines, entries by spaces or commas);
    channels of a 3-d tensor are separated by ``|``."""
    channels = list(text.split("|"))
    tensors = []
    for _c, channel in enumerate(channels):
        rows = [r for r in re.split(r"[;\n]", channel) if r.strip()]
        if not rows:
            raise InputError(f"{what}: '{text}' has an empty matrix; write rows like \"1 3 2; 4 8 3\"")
        tensors.append([[e for e in re.split(r"[\s,]+", r.strip()) if e] for r in rows])
    nested = tensors if len(tensors) > 1 else tensors[0]
    return to_array(nested, what)
