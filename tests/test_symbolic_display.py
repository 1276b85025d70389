"""The display's polynomial expansion is ``sympy.expand``: the same expression, so the same text."""

from __future__ import annotations

import pytest

sympy = pytest.importorskip("sympy")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from convcalc.render.trace_numbers import _expanded_polynomial  # noqa: E402

K = sympy.symbols("k_00 k_01 k_10 k_11", integer=True)
leaf = st.one_of(st.sampled_from(K),
                 st.fractions(max_denominator=7).map(lambda f: sympy.Rational(f.numerator, f.denominator)))


def _combine(children):
    return st.one_of(
        st.tuples(children, children).map(lambda ab: ab[0] + ab[1]),
        st.tuples(children, children).map(lambda ab: ab[0] * ab[1]),
        st.tuples(children, children).map(lambda ab: ab[0] - ab[1]),
        st.tuples(children, st.integers(0, 3)).map(lambda ae: ae[0] ** ae[1]),
        children.map(lambda a: -a / 10),
    )


@settings(max_examples=150, deadline=None)
@given(st.recursive(leaf, _combine, max_leaves=12))
def test_expansion_is_sympys(expr):
    assert _expanded_polynomial(expr, sympy) == sympy.expand(expr)


def test_non_polynomials_go_to_sympy():
    x = K[0]
    for expr in (sympy.Float(0.5) * (x + 1) ** 2, sympy.exp(x) * (x + 1), sympy.Max(x, 0) * 2):
        assert _expanded_polynomial(expr, sympy) == sympy.expand(expr)
