"""The display's operation count is ``sympy.count_ops``: the same number for every expression
(it decides which form a symbolic trace shows, so a different count would change the output)."""

from __future__ import annotations

import pytest

sympy = pytest.importorskip("sympy")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from convcalc.engine.symbolic import count_ops  # noqa: E402
from convcalc.render.trace_numbers import simplified  # noqa: E402

K = sympy.symbols("k_00 k_01 k_10 w_0", real=True)
numbers = st.one_of(
    st.integers(-5, 5).map(sympy.Integer),
    st.fractions(min_value=-4, max_value=4, max_denominator=6)
    .map(lambda f: sympy.Rational(f.numerator, f.denominator)),
    st.sampled_from([-1.0, 1.0, -0.5, 2.5, 3.0]).map(sympy.Float),
)
leaf = st.one_of(st.sampled_from(K), numbers)


def _combine(children):
    return st.one_of(
        st.tuples(children, children).map(lambda ab: ab[0] + ab[1]),
        st.tuples(children, children).map(lambda ab: ab[0] - ab[1]),
        st.tuples(children, children).map(lambda ab: ab[0] * ab[1]),
        st.tuples(children, st.integers(2, 3)).map(lambda ae: ae[0] ** ae[1]),
        children.map(lambda a: -a),
        children.map(lambda a: a / 3),
    )


@settings(max_examples=400, deadline=None)
@given(st.recursive(leaf, _combine, max_leaves=14))
def test_count_is_sympys(expr):
    assert count_ops(expr) == sympy.count_ops(expr)


@settings(max_examples=100, deadline=None)
@given(st.recursive(leaf, _combine, max_leaves=14))
def test_count_of_the_displayed_form_is_sympys(expr):
    shown = simplified(expr)
    assert count_ops(shown) == sympy.count_ops(shown)


@pytest.mark.parametrize("text, ops", [
    ("k_00", 0), ("-k_00", 1), ("2*k_00", 1), ("-2*k_00", 2), ("k_00/2", 1), ("-3*k_00/2", 3),
    ("k_00 + k_01", 1), ("k_00 - k_01", 1), ("-k_00 - k_01", 2), ("-k_00 + k_01", 1),
    ("k_00**2", 1), ("w_0*(k_00 + 2*k_01)", 3), ("-w_0*(k_00 + k_01)", 3), ("-(k_00 + k_01)*(k_01 + k_10)", 4),
])
def test_known_counts(text, ops):
    expr = sympy.sympify(text, locals={str(s): s for s in K})
    assert count_ops(expr) == sympy.count_ops(expr) == ops


def test_other_expressions_go_to_sympy():
    x = K[0]
    for expr in (sympy.exp(x) + 1, 1 / (x + 1), x ** sympy.Rational(1, 2), sympy.Max(x, 0) * 2, x ** K[1]):
        assert count_ops(expr) == sympy.count_ops(expr)
