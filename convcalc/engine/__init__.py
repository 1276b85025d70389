"""Exact arithmetic shared by every layer type: per-axis rules, supports, results (the
dimensions themselves, ints or sympy expressions: :mod:`convcalc.dims`)."""
