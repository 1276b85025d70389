"""Dimensions that are either exact Python ints or sympy expressions.

Shapes and counts are computed with Python ints (never floats for a floor). When the user
writes a symbol (``--in 3xHxW``) the same formulas run on sympy expressions; sympy is
imported only then, so the plain numeric path stays fast. The bottom of the package (shape
notation) reads and writes these, so this module imports nothing of convcalc.
"""

from __future__ import annotations

import functools
from typing import Any

Dim = int | Any  # an int, or a sympy expression in symbolic mode


def is_symbolic(value: object) -> bool:
    return not isinstance(value, int)


def symbol(name: str) -> Any:
    """A positive integer sympy symbol (dimensions are sizes)."""
    import sympy

    return sympy.Symbol(name, integer=True, positive=True)


def floor_div(a: Dim, b: Dim) -> Dim:
    """floor(a / b), exactly: Python's ``//`` for ints, ``sympy.floor`` otherwise."""
    if isinstance(a, int) and isinstance(b, int):
        return a // b
    import sympy

    return sympy.floor(sympy.sympify(a) / b)


def ceil_div(a: Dim, b: Dim) -> Dim:
    """ceil(a / b), exactly."""
    if isinstance(a, int) and isinstance(b, int):
        return -((-a) // b)
    import sympy

    return sympy.ceiling(sympy.sympify(a) / b)


def mod(a: Dim, b: Dim) -> Dim:
    if isinstance(a, int) and isinstance(b, int):
        return a % b
    import sympy

    return sympy.Mod(a, b)


def product(values) -> Dim:
    result: Dim = 1
    for v in values:
        result = result * v
    return result


def as_int(value: Dim) -> int | None:
    """The value as an int when it is (or simplifies to) a number, else None."""
    if isinstance(value, int):
        return value
    if getattr(value, "is_Integer", False):
        return int(value)
    return None


def simplify(value: Dim) -> Dim:
    """Ints stay ints; sympy results that became numbers turn back into ints."""
    if isinstance(value, int):
        return value
    n = as_int(value)
    return n if n is not None else value


def format_dim(value: Dim) -> str:
    """A dimension as text: ``14`` or ``floor((H - 1)/2) + 1``."""
    if isinstance(value, int):
        return str(value)
    return format_expr(value)


@functools.cache
def _course_printer() -> Any:
    """sympy's printer, writing ``floor((H - 1)/2) + 1`` rather than ``floor(H/2 - 1/2) + 1``."""
    import sympy
    from sympy.printing.str import StrPrinter

    class CoursePrinter(StrPrinter):
        def _print_floor(self, expr):
            return f"floor({self._print(sympy.together(expr.args[0]))})"

        def _print_ceiling(self, expr):
            return f"ceil({self._print(sympy.together(expr.args[0]))})"

    return CoursePrinter()


def format_expr(expr: Any) -> str:
    """A sympy expression printed the way a course writes it (sympy is imported only here)."""
    return _course_printer().doprint(expr)


def format_factor(value: Dim) -> str:
    """A dimension written as a factor or shape entry: compound formulas get parentheses."""
    text = format_dim(value)
    if isinstance(value, int) or text.replace("_", "").isalnum():
        return text
    return f"({text})"
