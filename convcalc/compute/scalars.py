"""Element-wise math that serves the fast executor and the exact and symbolic traces alike.

Every function takes an array (or a single number) and keeps its kind:

* float32 / float64 arrays → the NumPy ufunc; the dtype is kept (float32 stays float32).
* ``dtype=object`` arrays, element by element:
  - a Python ``int``, ``Fraction`` or ``float`` → the ``math`` function, giving a ``float``.
    exp, log, tanh, erf … of a rational number are irrational (except at a few points),
    so they cannot stay exact; :func:`sqrt` is the one exception that checks: the square
    root of a perfect square (``9/4`` → ``3/2``) stays an exact ``Fraction``/``int``;
  - any other element (the symbolic trace's number type) → ``element.apply(name)`` when the
    element has such a method, else the sympy function of that name (sympy imported lazily).

Helpers for exact arithmetic: :func:`divide_exact` and :func:`reciprocal` (Python's ``1/2``
would be the float 0.5), :func:`power`, and :func:`constant`.

Constants follow the same rule (:func:`constant`): a hyper-parameter written as a decimal
(``negative_slope=0.01``, ``momentum=0.1``) becomes the exact ``Fraction`` it names
(1/100, 1/10) inside an exact computation and stays a Python ``float`` for float arrays
(a Python float never changes a float32 array's dtype; a NumPy float64 scalar would).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from numbers import Rational
from typing import Any

import numpy as np

from convcalc.errors import InputError


def is_real(value: Any) -> bool:
    """A plain Python/NumPy real number (not bool, not a symbolic element)."""
    return isinstance(value, (int, Fraction, float, np.integer, np.floating)) and not isinstance(value, bool)


def constant(value: float | Fraction, like: Any) -> int | float | Fraction:
    """``value`` in the arithmetic of ``like``: exact (int/Fraction) for object arrays and exact
    numbers, a Python float for float arrays and floats.

    A float becomes the Fraction of its shortest decimal form (``0.1`` → 1/10, ``1e-5`` →
    1/100000): the number the user wrote, not its binary approximation.
    """
    if _is_exact(like):
        if isinstance(value, float):
            return Fraction(repr(value))
        if isinstance(value, np.floating):
            return Fraction(repr(float(value)))
        if isinstance(value, np.integer):
            return int(value)
        return value
    return float(value)


def divide_exact(x: Any, n: int | Fraction) -> Any:
    """``x / n``: exact for object arrays (multiply by ``Fraction(1, n)``, so ``3/2`` never becomes
    1.5), ordinary division for float arrays (dtype kept)."""
    if _is_exact(x):
        return x * (Fraction(1) / Fraction(n))
    return x / float(n)


def reciprocal(x: Any) -> Any:
    """1/x element-wise, exact for ints and Fractions (Python's ``1/2`` would be the float 0.5)."""
    def one(value: Any) -> Any:
        if isinstance(value, (int, Fraction, np.integer)) and not isinstance(value, bool):
            if value == 0:
                raise InputError("division by zero")
            return Fraction(1) / Fraction(int(value) if isinstance(value, np.integer) else value)
        return 1 / value

    if isinstance(x, np.ndarray):
        return 1 / x if x.dtype.kind == "f" else _each(one, x)
    return one(x)


def _each(function: Callable[[Any], Any], x: np.ndarray) -> np.ndarray:
    """``function`` of every entry, as a new object array (integer arrays' entries as Python ints)."""
    out = np.empty(x.shape, dtype=object)
    flat_out = out.reshape(-1)
    for i, value in enumerate(x.astype(object, copy=False).reshape(-1)):
        flat_out[i] = function(value)
    return out


def _is_exact(x: Any) -> bool:
    if isinstance(x, np.ndarray):
        return x.dtype == object
    return (isinstance(x, (int, Fraction)) and not isinstance(x, bool)) or not is_real(x)


# --- the element-wise functions -------------------------------------------------------------

def _sigmoid_float(x: float) -> float:
    # Stable on both sides: exp of a non-positive number never overflows.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus_float(x: float) -> float:
    # log(1 + eˣ) = max(x, 0) + log1p(e^−|x|)
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _exp_float(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _sqrt_exact(x: Fraction | float) -> int | Fraction | float:
    """√x, exact when x is the square of a rational (the only rational square roots)."""
    if isinstance(x, Rational) and x >= 0:
        q = Fraction(x)
        top, bottom = math.isqrt(q.numerator), math.isqrt(q.denominator)
        if top * top == q.numerator and bottom * bottom == q.denominator:
            return top if bottom == 1 else Fraction(top, bottom)
    return math.sqrt(x)


def _erf_array(x: np.ndarray) -> np.ndarray:
    try:
        from scipy.special import erf
    except ImportError:  # scipy is optional: fall back to math.erf per element
        return np.vectorize(math.erf, otypes=[x.dtype])(x)
    return erf(x).astype(x.dtype, copy=False)


def _sigmoid_array(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # in (0, 1]: no overflow on either side
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _sympy(name: str) -> Callable[[Any], Any]:
    def call(value: Any) -> Any:
        import sympy

        if name == "sigmoid":
            return 1 / (1 + sympy.exp(-value))
        if name == "softplus":
            return sympy.log(1 + sympy.exp(value))
        if name == "log1p":
            return sympy.log(1 + value)
        return getattr(sympy, name)(value)

    return call


# name → (the float-array function, the function of one real number)
_FUNCTIONS: dict[str, tuple[Callable, Callable]] = {
    "exp": (np.exp, _exp_float),
    "log": (np.log, math.log),
    "log1p": (np.log1p, math.log1p),
    "sqrt": (np.sqrt, _sqrt_exact),
    "tanh": (np.tanh, math.tanh),
    "erf": (_erf_array, math.erf),
    "sigmoid": (_sigmoid_array, _sigmoid_float),
    "softplus": (lambda x: np.logaddexp(0, x), _softplus_float),
}


def _element(name: str, value: Any) -> Any:
    if is_real(value):
        real = _FUNCTIONS[name][1]
        number = value if isinstance(value, (int, Fraction)) else float(value)
        try:
            result = real(number) if name == "sqrt" else real(float(number))
        except ValueError:
            raise InputError(f"{name}({value}) is undefined (outside the function's domain)") from None
        return result
    apply = getattr(value, "apply", None)
    if callable(apply):
        return apply(name)
    return _sympy(name)(value)


def elementwise(name: str, x: Any) -> Any:
    """The element-wise function ``name`` (one of exp, log, log1p, sqrt, tanh, erf, sigmoid,
    softplus) on an array or a single number, following the module's rules."""
    if name not in _FUNCTIONS:
        raise ValueError(f"unknown element-wise function {name!r}")
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "f":
            with np.errstate(over="ignore", divide="ignore"):
                return _FUNCTIONS[name][0](x)
        return _each(lambda value: _element(name, value), x)  # integer arrays: exact elements
    return _element(name, x)


def _named(name: str, doc: str) -> Callable[[Any], Any]:
    """The element-wise function ``name`` as a function of its own (``scalars.exp(x)``)."""
    def function(x: Any) -> Any:
        return elementwise(name, x)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


exp = _named("exp", "eˣ.")
log = _named("log", "Natural logarithm.")
log1p = _named("log1p", "log(1 + x), accurate for small x.")
sqrt = _named("sqrt", "√x; exact for perfect squares of rationals (object arrays), a float otherwise.")
tanh = _named("tanh", "tanh x = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ).")
erf = _named("erf", "The error function erf x = (2/√π) ∫₀ˣ e^(−t²) dt.")
sigmoid = _named("sigmoid", "σ(x) = 1/(1 + e⁻ˣ), computed without overflow for large |x|.")
softplus = _named("softplus", "log(1 + eˣ), computed without overflow for large x.")


def power(x: Any, exponent: float | Fraction) -> Any:
    """xᵖ element-wise. Whole exponents keep exact numbers exact; other exponents of exact
    numbers give floats (x^(3/4) is irrational in general); symbolic elements use ``**``."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return x ** float(exponent)
    whole = isinstance(exponent, int) or (isinstance(exponent, (Fraction, float)) and float(exponent).is_integer())

    def one(value: Any) -> Any:
        if is_real(value):
            if whole and isinstance(value, (int, Fraction)):
                if value == 0 and int(exponent) < 0:
                    raise InputError(f"0 to the power {exponent} is undefined")
                return value ** int(exponent)
            return float(value) ** float(exponent)
        return value ** (int(exponent) if whole else exponent)

    return _each(one, x) if isinstance(x, np.ndarray) else one(x)
