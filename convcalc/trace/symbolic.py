"""The number type of ``--symbolic`` traces: a sympy expression carried together with its
exact value at the spec's numbers.

``Symbolic(expr, value, probe)``: arithmetic combines all three parts (``expr`` with sympy,
``value`` with Python ints/Fractions, or floats when the spec gave decimals); comparisons look
only at ``value``. ``probe`` is the same computation at a random rational point (each symbol
gets its own random value): two results are the same expression when they agree at the
spec's values and at the probe (Schwartz–Zippel), which checks a derivation without asking
sympy to expand anything. So the very same layer kernels run unchanged on symbolic tensors, and every
data-dependent choice — which entry wins a max-pool window, which ReLU inputs are > 0 — is
decided at the given numbers (the trace says so). A result whose expression has become a
plain number is returned as that plain number, so symbolic and exact entries mix freely.

Transcendental functions go through :meth:`Symbolic.apply` (``convcalc.compute.scalars``
calls it for element types it does not know): the expression gets the sympy function, the
value the float from :mod:`math` (an irrational value cannot stay exact).

sympy is imported only when a symbolic trace is asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

SUBSCRIPT = str.maketrans("0123456789,", "₀₁₂₃₄₅₆₇₈₉‚")


def _sympy():
    import sympy

    return sympy


def _as_expr(value: Any):
    """A plain number as a sympy number (ints and Fractions exact)."""
    sp = _sympy()
    if isinstance(value, bool):
        return sp.Integer(int(value))
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    if isinstance(value, (float, np.floating)):
        return sp.Float(float(value))
    if isinstance(value, np.integer):
        return sp.Integer(int(value))
    raise TypeError(f"not a number: {value!r}")


def _plain(value: Any) -> bool:
    return isinstance(value, (int, Fraction, float, np.integer, np.floating))


def _exact_div(a: Any, b: Any) -> Any:
    if isinstance(a, (int, Fraction)) and isinstance(b, (int, Fraction)) and not isinstance(b, bool):
        return Fraction(a) / b if not isinstance(a, Fraction) else a / b
    return a / b


def _normal(value: Any) -> Any:
    """Fractions with denominator 1 become ints (what the exact kernels produce too)."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    return value


class Symbolic:
    """A sympy expression with its value at the spec's numbers (see the module docstring)."""

    __slots__ = ("expr", "probe", "value")

    def __init__(self, expr: Any, value: Any, probe: Any = None) -> None:
        self.expr = expr
        self.value = _normal(value)
        self.probe = self.value if probe is None else probe

    # -- construction -------------------------------------------------------------------
    @classmethod
    def make(cls, expr: Any, value: Any, probe: Any = None) -> Symbolic | int | Fraction | float:
        """The result of an operation: a plain number when no symbol is left in it."""
        if expr.is_Number:
            return _normal(value)
        return cls(expr, value, probe)

    @staticmethod
    def split(x: Any) -> tuple[Any, Any]:
        if isinstance(x, Symbolic):
            return x.expr, x.value
        if _plain(x):
            return _as_expr(x), x
        return NotImplemented, NotImplemented

    # -- arithmetic ---------------------------------------------------------------------
    def _binary(self, other: Any, op: Callable, swap: bool = False):
        if isinstance(other, Symbolic):
            oe, ov, op_ = other.expr, other.value, other.probe
        elif _plain(other):
            oe, ov = None, (int(other) if isinstance(other, (bool, np.integer)) else other)
            op_ = ov
        else:
            return NotImplemented
        return op(self, oe, ov, op_, swap)

    @staticmethod
    def _add(s, oe, ov, op_, swap):
        if oe is None:
            if ov == 0:
                return s
            oe = _as_expr(ov)
        return Symbolic.make(s.expr + oe, s.value + ov, _probe(lambda a, b: a + b, s.probe, op_))

    @staticmethod
    def _sub(s, oe, ov, op_, swap):
        if oe is None:
            if ov == 0:
                return s if not swap else -s
            oe = _as_expr(ov)
        if swap:
            return Symbolic.make(oe - s.expr, ov - s.value, _probe(lambda a, b: b - a, s.probe, op_))
        return Symbolic.make(s.expr - oe, s.value - ov, _probe(lambda a, b: a - b, s.probe, op_))

    @staticmethod
    def _mul(s, oe, ov, op_, swap):
        if oe is None:
            if ov == 0:
                return 0 if not isinstance(ov, float) else 0.0
            if ov == 1:
                return s
            oe = _as_expr(ov)
        return Symbolic.make(s.expr * oe, s.value * ov, _probe(lambda a, b: a * b, s.probe, op_))

    @staticmethod
    def _div(s, oe, ov, op_, swap):
        if oe is None:
            if swap and ov == 0:
                return 0 if not isinstance(ov, float) else 0.0
            if not swap and ov == 1:
                return s
            oe = _as_expr(ov)
        if swap:
            return Symbolic.make(
                oe / s.expr, _exact_div(ov, s.value), _probe(lambda a, b: _exact_div(b, a), s.probe, op_)
            )
        return Symbolic.make(s.expr / oe, _exact_div(s.value, ov), _probe(_exact_div, s.probe, op_))

    def __add__(self, other):
        return self._binary(other, Symbolic._add)

    __radd__ = __add__

    def __sub__(self, other):
        return self._binary(other, Symbolic._sub)

    def __rsub__(self, other):
        return self._binary(other, Symbolic._sub, swap=True)

    def __mul__(self, other):
        return self._binary(other, Symbolic._mul)

    __rmul__ = __mul__

    def __truediv__(self, other):
        return self._binary(other, Symbolic._div)

    def __rtruediv__(self, other):
        return self._binary(other, Symbolic._div, swap=True)

    def __neg__(self):
        return Symbolic(-self.expr, -self.value, None if self.probe is None else -self.probe)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        if isinstance(exponent, Symbolic):
            return Symbolic.make(
                self.expr**exponent.expr,
                float(self.value) ** float(exponent.value),
                _probe(lambda a, b: float(a) ** float(b), self.probe, exponent.probe),
            )
        if isinstance(exponent, (int, np.integer)) and not isinstance(exponent, bool):
            exponent = int(exponent)
            if exponent == 0:
                return 1
            if exponent == 1:
                return self

            def power(v):
                return Fraction(v) ** exponent if isinstance(v, (int, Fraction)) else v**exponent

            return Symbolic.make(self.expr**exponent, power(self.value), _probe(lambda a, b: power(a), self.probe, 0))
        if isinstance(exponent, Fraction) and exponent == Fraction(1, 2):
            return self.apply("sqrt")
        if _plain(exponent):
            return Symbolic.make(
                self.expr ** _as_expr(exponent),
                float(self.value) ** float(exponent),
                _probe(lambda a, b: float(a) ** float(exponent), self.probe, 0),
            )
        return NotImplemented

    def __rpow__(self, base):
        if _plain(base):
            return Symbolic.make(
                _as_expr(base) ** self.expr,
                float(base) ** float(self.value),
                _probe(lambda a, b: float(base) ** float(a), self.probe, 0),
            )
        return NotImplemented

    def __abs__(self):
        # |x| is decided at the given value, like every other data-dependent choice.
        return self if self.value >= 0 else -self

    # -- comparisons: by value ------------------------------------------------------------
    def _value_of(self, other):
        return other.value if isinstance(other, Symbolic) else other

    def __lt__(self, other):
        return self.value < self._value_of(other)

    def __le__(self, other):
        return self.value <= self._value_of(other)

    def __gt__(self, other):
        return self.value > self._value_of(other)

    def __ge__(self, other):
        return self.value >= self._value_of(other)

    def __eq__(self, other):
        if isinstance(other, Symbolic) or _plain(other):
            return self.value == self._value_of(other)
        return NotImplemented

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(self.value)

    def __bool__(self) -> bool:
        return bool(self.value != 0)

    def __float__(self) -> float:
        return float(self.value)

    # -- functions ------------------------------------------------------------------------
    def apply(self, name: str) -> Symbolic | float:
        """``name(x)`` for exp, log, sqrt, tanh, sigmoid, erf, …: sympy on the expression, math on the value."""
        sym_fn, num_fn = _function(name)
        return Symbolic.make(
            sym_fn(self.expr), num_fn(float(self.value)), _probe(lambda a, b: num_fn(float(a)), self.probe, 0)
        )

    def exp(self):
        return self.apply("exp")

    def log(self):
        return self.apply("log")

    def sqrt(self):
        return self.apply("sqrt")

    def tanh(self):
        return self.apply("tanh")

    def __repr__(self) -> str:
        return f"Symbolic({self.expr}, {self.value})"

    def __str__(self) -> str:
        return str(self.expr)


def _probe(fn: Callable, a: Any, b: Any) -> Any:
    """The probe of a result; None (unknown) once a probe fails (0 divisor, overflow, domain)."""
    if a is None or b is None:
        return None
    try:
        return fn(a, b)
    except (ZeroDivisionError, OverflowError, ValueError):
        return None


def probe_value(name: str) -> int:
    """A symbol's random probe value, fixed by its name (reproducible). A polynomial of degree
    d that is not zero vanishes at such a point with probability at most d/2·10⁶."""
    import random

    rng = random.Random(f"convcalc-probe-{name}")
    return rng.choice((-1, 1)) * rng.randint(1, 1_000_000)


def _function(name: str) -> tuple[Callable, Callable]:
    sp = _sympy()
    table = {
        "exp": (sp.exp, math.exp),
        "log": (sp.log, math.log),
        "sqrt": (sp.sqrt, math.sqrt),
        "tanh": (sp.tanh, math.tanh),
        "sigmoid": (lambda e: 1 / (1 + sp.exp(-e)), lambda v: 1 / (1 + math.exp(-v))),
        "erf": (sp.erf, math.erf),
        "log1p": (lambda e: sp.log(1 + e), math.log1p),
        "expm1": (lambda e: sp.exp(e) - 1, math.expm1),
        "softplus": (lambda e: sp.log(1 + sp.exp(e)), lambda v: math.log1p(math.exp(v))),
        "abs": (sp.Abs, abs),
        "sin": (sp.sin, math.sin),
        "cos": (sp.cos, math.cos),
    }
    if name in table:
        return table[name]
    sym = getattr(sp, name, None)
    num = getattr(math, name, None)
    if sym is None or num is None:
        raise ValueError(f"no symbolic form for the function '{name}'")
    return sym, num


def symbol_names(base: str, shape: tuple[int, ...]) -> np.ndarray:
    """Symbol names for a tensor's entries: ``k_00``, ``k_01`` … (lower-cased tensor name,
    the entry's index as a subscript; a comma between indices once any axis reaches 10)."""
    stem = _stem(base)
    wide = any(n > 10 for n in shape)
    names = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        sub = ",".join(map(str, index)) if wide else "".join(map(str, index))
        names[index] = f"{stem}_{sub}" if index else stem
    return names


def _stem(base: str) -> str:
    letters = "".join(ch for ch in base if ch.isalnum()) or "x"
    return letters[0].lower() + letters[1:] if letters[:1].isalpha() else "x" + letters


def symbolic_tensor(base: str, values: np.ndarray, display_shape: tuple[int, ...]) -> np.ndarray:
    """Replace every entry of ``values`` by a symbol (named after ``base`` and the entry's
    index in ``display_shape``, the layout the user wrote) carrying the entry's value."""
    sp = _sympy()
    names = symbol_names(base, display_shape).reshape(values.shape)
    out = np.empty(values.shape, dtype=object)
    for index in np.ndindex(*values.shape):
        v = values[index]
        real = {"real": True}
        out[index] = Symbolic(
            sp.Symbol(names[index], **real), v.item() if isinstance(v, np.generic) else v, probe_value(names[index])
        )
    return out


def values_of(array: np.ndarray) -> np.ndarray:
    """The numbers behind a (possibly symbolic) tensor."""
    if array.dtype != object:
        return array
    out = np.empty(array.shape, dtype=object)
    for index, v in np.ndenumerate(array):
        out[index] = v.value if isinstance(v, Symbolic) else v
    if any(isinstance(v, float) for v in out.flat):
        return out.astype(np.float64)
    return out


def subscript(name: str) -> str:
    """``k_00`` → ``k₀₀`` for text output."""
    if "_" not in name:
        return name
    stem, _, sub = name.partition("_")
    return stem + sub.translate(SUBSCRIPT)
