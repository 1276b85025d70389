"""Counting the operations of a sympy expression as ``sympy.count_ops`` does, cheaply: a symbolic
trace picks the shorter of two forms to display by it (imported only in symbolic mode; the
course's sympy printer is :func:`convcalc.dims.format_expr`)."""

from __future__ import annotations

from functools import lru_cache

import sympy


class _Unsupported(Exception):
    """An expression outside the polynomial forms :func:`count_ops` walks itself."""


def count_ops(expr) -> int:
    """``sympy.count_ops(expr)`` (visual=False), the same number, for the polynomials a
    symbolic trace builds: sums, products and positive integer powers of symbols with integer,
    rational or float coefficients. sympy's walk negates terms and splits fractions by building
    new expressions (most of a symbolic trace's display time); this one reads the tree as it is,
    counting as sympy does — a subtraction for a negative term, a NEG when every term of a sum
    is negative or for a negative coefficient, a DIV for a rational coefficient, n − 1 MULs for
    n factors, a POW per power. Anything else (functions, negative or symbolic powers, floats in
    odd places) is left to sympy."""
    try:
        return _ops(expr)
    except _Unsupported:
        return int(sympy.count_ops(expr))


def _negative(a) -> bool:
    """sympy's ``_coeff_isneg``: the leading number is negative."""
    if a.is_Mul:
        a = a.args[0]
    return a.is_Number and _below_zero(a)


def _below_zero(number) -> bool:
    """``number.is_extended_negative`` for a rational or a float, read off its value (sympy's
    assumption system takes much longer to say so the first time)."""
    if number.is_Rational:
        return number.p < 0
    if number.is_Float:
        return float(number) < 0
    raise _Unsupported


def _split(a) -> tuple:
    """A product as (numeric coefficient or None, the other factors)."""
    if a.args[0].is_Number:
        return a.args[0], a.args[1:]
    return None, a.args



@lru_cache(maxsize=1 << 16)
def _ops(a) -> int:
    """What sympy's count_ops loop adds for node ``a`` and everything below it."""
    if a.is_Rational:
        return 0 if a is sympy.S.One else int(a.p < 0) + int(a.q != 1)
    if a.is_Mul:
        coefficient, factors = _split(a)
        return _product_ops(coefficient, factors)
    if a.is_Add:
        terms = a.args
        total = len(terms) - 1  # an ADD or a SUB between neighbours
        negatives = 0
        for term in terms:
            if _negative(term):
                negatives += 1
                total += _negated_ops(term)
            else:
                total += _ops(term)
        return total + int(negatives == len(terms))  # −x − y: one NEG more
    return _rest(a)


def _negated_ops(term) -> int:
    """_ops(−term) for a term with a negative leading number, without building −term."""
    if term.is_Number:
        return _ops(-term)
    coefficient, factors = _split(term)
    flipped = -coefficient
    if flipped is sympy.S.One:
        return _ops(factors[0]) if len(factors) == 1 else _product_ops(None, factors)
    return _product_ops(flipped, factors)


def _product_ops(coefficient, factors) -> int:
    """sympy's count for Mul(coefficient, *factors) (coefficient None: no number)."""
    total = 0
    if coefficient is not None and _below_zero(coefficient):
        total += 1  # NEG; sympy goes on with the positive product
        if coefficient is sympy.S.NegativeOne:
            if len(factors) == 1:
                _check_factor(factors[0])
                return total + _rest(factors[0])  # sympy's walk then skips the factor's own ADDs
            coefficient = None
        else:
            coefficient = -coefficient
    for factor in factors:
        _check_factor(factor)
    if coefficient is not None and coefficient.is_Rational and coefficient.q != 1:
        total += 1  # DIV; the numerator p·factors is walked next
        if coefficient.p == 1:
            return total + (_ops(factors[0]) if len(factors) == 1 else _product_ops(None, factors))
        return total + _product_ops(sympy.Integer(coefficient.p), factors)
    parts = ((coefficient,) if coefficient is not None else ()) + tuple(factors)
    return total + len(parts) - 1 + sum(_ops(p) for p in parts)


def _check_factor(factor) -> None:
    """Only factors sympy's ``fraction`` leaves whole in the numerator are walked here."""
    if factor.is_Symbol or factor.is_Add:
        return
    if factor.is_Pow and factor.exp.is_Integer and factor.exp > 0 and not factor.base.is_Number:
        return
    raise _Unsupported


def _rest(a) -> int:
    """The end of sympy's loop for a node no earlier case took: a POW per power, symbols and
    numbers nothing; a sum reached here (−1·(x + y)) only has its terms walked."""
    if a.is_Symbol or (a.is_Number and not a.args):
        return 0
    if a.is_Pow and a.exp.is_Integer and a.exp > 0 and not a.base.is_Number:
        return 1 + _ops(a.base) + _ops(a.exp)
    if a.is_Add:
        return sum(_ops(t) for t in a.args)
    raise _Unsupported
