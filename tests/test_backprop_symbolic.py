"""The symbolic number type: sympy expression + exact value + random probe, and symbolic
traces whose results evaluate to the numeric trace's numbers."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import sympy

from convcalc.compute import scalars
from convcalc.trace.context import agree
from convcalc.trace.examples import get, to_json
from convcalc.trace.run import Options, run
from convcalc.trace.spec import parse
from convcalc.trace.symbolic import Symbolic, subscript, symbol_names, symbolic_tensor


@pytest.fixture
def k():
    return symbolic_tensor("K", np.array([[2, -1], [Fraction(1, 2), 0]], dtype=object), (2, 2))


def test_symbols_are_named_after_the_tensor(k):
    assert str(k[0, 1].expr) == "k_01"
    assert subscript("k_01") == "k₀₁"
    assert symbol_names("W", (2, 12))[1, 11] == "w_1,11"


def test_arithmetic_carries_expression_value_and_probe(k):
    y = k[0, 0] * 3 + k[0, 1] * k[1, 0] - 1
    assert isinstance(y, Symbolic)
    k00, k01, k10 = (sympy.Symbol(n, real=True) for n in ("k_00", "k_01", "k_10"))
    assert sympy.expand(y.expr - (3 * k00 + k01 * k10 - 1)) == 0
    assert y.value == 2 * 3 + (-1) * Fraction(1, 2) - 1
    assert y.probe == k[0, 0].probe * 3 + k[0, 1].probe * k[1, 0].probe - 1


def test_constants_collapse_to_plain_numbers(k):
    assert k[0, 0] * 0 == 0 and not isinstance(k[0, 0] * 0, Symbolic)
    assert (k[0, 0] - k[0, 0]) == 0 and not isinstance(k[0, 0] - k[0, 0], Symbolic)
    assert k[0, 0] * 1 is k[0, 0]


def test_division_keeps_values_exact(k):
    half = k[0, 0] / 4
    assert half.value == Fraction(1, 2)
    assert (3 / k[0, 0]).value == Fraction(3, 2)


def test_comparisons_use_the_value(k):
    assert k[0, 0] > 0 and k[0, 1] < 0 and not (k[1, 1] > 0) and k[1, 1] == 0
    assert max([k[0, 1], k[1, 0], k[0, 0]]) is k[0, 0]
    mask = k > 0
    assert mask.dtype == bool and mask.tolist() == [[True, False], [True, False]]


def test_apply_for_scalars_module(k):
    e = scalars.exp(np.array([k[0, 0]], dtype=object))[0]
    assert isinstance(e, Symbolic) and e.expr == sympy.exp(sympy.Symbol("k_00", real=True))
    assert e.value == pytest.approx(np.exp(2.0))
    s = scalars.sigmoid(np.array([k[1, 0]], dtype=object))[0]
    assert s.value == pytest.approx(1 / (1 + np.exp(-0.5)))


def test_agree_detects_different_expressions(k):
    a = (k[0, 0] + k[0, 1]) * (k[0, 0] - k[0, 1])
    b = k[0, 0] * k[0, 0] - k[0, 1] * k[0, 1]
    assert agree(a, b)
    c = k[0, 0] * k[0, 0] - k[0, 1] * k[0, 1] + (k[1, 1] * k[0, 0])  # same value (k11 = 0), other expression
    assert c.value == b.value and not agree(b, c)


@pytest.mark.parametrize(
    "name", ["course", "course-5x5", "given-delta", "strided", "shared-weights", "mlp", "classifier"]
)
def test_symbolic_trace_evaluates_to_the_numeric_trace(name):
    spec = parse(json.loads(to_json(get(name).spec)), name)
    numeric = run(spec, Options(finite_differences=False))
    symbolic = run(spec, Options(symbolic=(), finite_differences=False))
    assert symbolic.mode == "symbolic"
    tensors = spec.tensors()

    def values_at_spec(x):
        if isinstance(x, Symbolic):
            return x.value
        return x

    grads_n = numeric.results["grads"]
    grads_s = symbolic.results["grads"]
    pairs = list(grads_n.items()) if isinstance(grads_n, dict) else [(i, g) for i, g in enumerate(grads_n)]
    for key, g in pairs:
        if g is None:
            continue
        s = grads_s[key]
        for part in g if isinstance(g, dict) else {"": g}:
            a = np.asarray(g[part] if isinstance(g, dict) else g, dtype=object)
            b = np.asarray(s[part] if isinstance(s, dict) else s, dtype=object)
            if a.dtype == object and a.size and a.flat[0] is None:
                continue
            for x, y in zip(a.flat, b.flat):
                assert agree(values_at_spec(y), x)
    assert tensors  # the spec has tensors to make symbolic
