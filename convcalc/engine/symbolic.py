"""Printing sympy results the way a course writes them (imported only in symbolic mode)."""

from __future__ import annotations

import sympy
from sympy.printing.str import StrPrinter


class _CoursePrinter(StrPrinter):
    """``floor((H - 1)/2) + 1`` rather than sympy's ``floor(H/2 - 1/2) + 1``."""

    def _print_floor(self, expr):
        return f"floor({self._print(sympy.together(expr.args[0]))})"

    def _print_ceiling(self, expr):
        return f"ceil({self._print(sympy.together(expr.args[0]))})"


_PRINTER = _CoursePrinter()


def format_expr(expr) -> str:
    return _PRINTER.doprint(expr)
