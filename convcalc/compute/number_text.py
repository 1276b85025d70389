"""How numbers read in the numeric commands' output (``convcalc conv``, ``pool``,
``conv-transpose``, ``im2col``) and in their animations: ints as written, Fractions as ``p/q``,
floats with 6 significant digits for people and in full (shortest round trip) for machines;
in expressions negative factors go in parentheses with a real minus sign (``1·(−1)``).

It sits below every printer so that the printed documents (:mod:`convcalc.render.calculator`)
and the animation frames (:mod:`convcalc.animation.numbers`) write a number the same way.
(``convcalc backprop`` writes numbers its own way, :mod:`convcalc.render.trace_numbers`:
``−3`` with a real minus, ``2.0`` for a whole float.)"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

MINUS = "−"


def number(value: Any) -> str:
    """A matrix cell: ``-3``, ``1/2``, ``0.333333``; ``None`` (max-pool padding) is ``-inf``."""
    if value is None:
        return "-inf"
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    if isinstance(value, (float, np.floating)):
        text = f"{float(value):.6g}"
        return "0" if text == "-0" else text
    return str(value.item() if isinstance(value, np.generic) else value)


def exact_text(value: Any) -> str:
    """A number for machines (plain, CSV): exact ints and p/q, floats in full."""
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return str(int(value)) if value.is_integer() and abs(value) < 2 ** 53 else repr(value)
    return number(value)


def term(value: Any) -> str:
    """A factor inside an expression: negatives in parentheses with a real minus sign."""
    text = number(value).replace("-inf", f"{MINUS}∞")
    if text.startswith("-"):
        return f"({MINUS}{text[1:]})"
    return text


def signed(value: Any) -> str:
    """A number standing alone in an expression: a real minus sign, no parentheses."""
    text = number(value)
    return MINUS + text[1:] if text.startswith("-") else text


def plain(value: Any) -> Any:
    """A NumPy scalar as a Python number (object arrays already hold Python numbers)."""
    if isinstance(value, np.generic):
        return value.item()
    return value
