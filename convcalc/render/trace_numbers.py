"""How the numbers of a trace are written: exact fractions as ``1/2`` (never 0.5), floats
with 6 significant digits, symbols as simplified expressions (``2·k₀₀ + 3·k₀₁``), minus
signs as ``−``; the same values in LaTeX and in JSON (ints, ``"p/q"`` strings, floats,
expression strings). One place for every printer.
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np

from convcalc.render.values import json_number, json_tensor
from convcalc.trace.symbolic import SUBSCRIPT, Symbolic

_SYMBOL = re.compile(r"\b([A-Za-z][A-Za-z0-9]*)_([0-9,]+)\b")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


#: Expressions with more operations than this are shown as built (nested, not expanded).
EXPAND_LIMIT = 80


@lru_cache(maxsize=8192)
def _op_count(expr) -> int:
    """``sympy.count_ops``, once per expression (the display asks for it up to three times),
    by :func:`convcalc.engine.symbolic.count_ops` (the same count without sympy's rebuilding)."""
    from convcalc.engine.symbolic import count_ops

    return count_ops(expr)


@lru_cache(maxsize=8192)
def simplified(expr):
    """The form a student wants to read: a polynomial with its like terms collected when that
    stays short (``2·k₀₀ + 3·k₀₁``), else the nested form the computation built
    (``w₀₀·(k₀₀ + 2·k₀₁) + …``) — expanding a product of sums can multiply its length."""
    import sympy

    size = _op_count(expr)
    if size > EXPAND_LIMIT:
        return expr
    try:
        if expr.is_polynomial():
            expanded = _expanded_polynomial(expr, sympy)
        else:
            expanded = sympy.simplify(expr) if size < 40 else expr
    except (TypeError, ValueError, AttributeError):  # pragma: no cover - sympy edge cases
        return expr
    return expanded if _op_count(expanded) <= max(EXPAND_LIMIT, 1.5 * size) else expr


def _terms(expr, sympy) -> dict | None:
    """A polynomial with rational coefficients as {monomial: coefficient}, a monomial being a
    sorted tuple of (symbol name, symbol, power); None for anything else (floats, functions)."""
    if expr.is_Rational:
        return {(): Fraction(int(expr.p), int(expr.q))}  # Python's exact rationals: faster than sympy's
    if expr.is_Symbol:
        return {((expr.name, expr, 1),): Fraction(1)}
    if expr.is_Add:
        total: dict = {}
        for arg in expr.args:
            part = _terms(arg, sympy)
            if part is None:
                return None
            for monomial, coefficient in part.items():
                total[monomial] = total.get(monomial, 0) + coefficient
        return total
    if expr.is_Mul:
        product: dict = {(): Fraction(1)}
        for arg in expr.args:
            part = _terms(arg, sympy)
            if part is None:
                return None
            product = _times(product, part)
        return product
    if expr.is_Pow and expr.exp.is_Integer and expr.exp >= 0:
        base = _terms(expr.base, sympy)
        if base is None:
            return None
        power: dict = {(): Fraction(1)}
        for _ in range(int(expr.exp)):
            power = _times(power, base)
        return power
    return None


def _times(a: dict, b: dict) -> dict:
    out: dict = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            powers: dict = {}
            for name, symbol, exponent in ma + mb:
                entry = powers.get(name)
                powers[name] = (symbol, exponent + (entry[1] if entry else 0))
            monomial = tuple(sorted((name, symbol, e) for name, (symbol, e) in powers.items()))
            out[monomial] = out.get(monomial, 0) + ca * cb
    return out


def _expanded_polynomial(expr, sympy):
    """``sympy.expand(expr)`` of a polynomial, the same expression: its terms multiplied out and
    collected in exact rationals, then built once (sympy's expand re-canonicalises every partial
    product, which made it most of a symbolic trace's display time); other expressions (floats,
    functions) go to sympy.expand itself."""
    terms = _terms(expr, sympy)
    if terms is None:
        return sympy.expand(expr)
    return sympy.Add(*(sympy.Mul(sympy.Rational(c.numerator, c.denominator),
                                 *(symbol ** e for _, symbol, e in monomial))
                       for monomial, c in terms.items() if c != 0))


@lru_cache(maxsize=8192)
def _expr_text(expr) -> str:
    import sympy

    shown = simplified(expr)
    # ordering the terms of a long expression costs more than printing it
    text = sympy.sstr(shown, order="grlex" if _op_count(shown) <= EXPAND_LIMIT else "none")
    text = text.replace("**", "^").replace("*", "·")
    text = _SYMBOL.sub(lambda m: m.group(1) + m.group(2).translate(SUBSCRIPT), text)
    return text.replace("-", "−")


def text(value: Any) -> str:
    """A number as plain text."""
    value = _plain(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value).replace("-", "−")
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator).replace("-", "−")
        return f"{value.numerator}/{value.denominator}".replace("-", "−")
    if isinstance(value, float):
        if value == 0:
            return "0"
        if value.is_integer() and abs(value) < 1e15:
            return f"{value:.1f}".replace("-", "−")
        return f"{value:.6g}".replace("-", "−").replace("e−0", "e−").replace("e+0", "e+")
    if isinstance(value, Symbolic):
        return _expr_text(value.expr)
    if value is None:
        return "—"
    return str(value)


def factor(value: Any) -> str:
    """A number as a factor of a product: negatives, fractions and sums in parentheses."""
    t = text(value)
    if t.startswith("−") or "/" in t or " " in t:
        return f"({t})"
    return t


# --- LaTeX -------------------------------------------------------------------------------------------


def latex(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, str):
        return latex_name(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        sign = "-" if value < 0 else ""
        return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"
    if isinstance(value, float):
        t = text(value).replace("−", "-")
        if "e" in t:
            mantissa, exponent = t.split("e")
            return f"{mantissa}\\cdot 10^{{{int(exponent)}}}"
        return t
    if isinstance(value, Symbolic):
        import sympy

        return sympy.latex(simplified(value.expr))
    if value is None:
        return "\\text{---}"
    return str(value)


def latex_factor(value: Any) -> str:
    t = latex(value)
    if t.startswith("-") or " " in t.strip() or "+" in t:
        return f"\\left({t}\\right)"
    return t


_GREEK = {
    "δ": r"\delta ",
    "γ": r"\gamma ",
    "β": r"\beta ",
    "σ": r"\sigma ",
    "μ": r"\mu ",
    "Σ": r"\sum ",
    "·": r"\cdot ",
    "⊙": r"\odot ",
    "ᵀ": r"^\top ",
    "−": "-",
    "²": "^2",
    "½": r"\tfrac12 ",
    "‖": r"\|",
    "x̂": r"\hat x ",
    "\u0302": "",
    "′": "'",
    "≤": r"\le ",
    "≥": r"\ge ",
    "→": r"\to ",
    "←": r"\leftarrow ",
    "√": r"\surd ",
    "⊛": r"\circledast ", "ε": r"\varepsilon ", "∂": r"\partial ", "⌈": r"\lceil ", "⌉": r"\rceil ",
    "°": r"^\circ ",
    "₀": "_0",
    "₁": "_1",
    "₂": "_2",
    "₃": "_3",
    "₄": "_4",
    "₅": "_5",
    "₆": "_6",
    "₇": "_7",
    "₈": "_8",
    "₉": "_9",
    "ᵢ": "_i",
    "ⱼ": "_j",
    "×": r"\times ",
    "…": r"\dots ",
}
_FUNCTIONS = (
    "pad",
    "flip",
    "max",
    "softmax",
    "onehot",
    "ReLU",
    "relu",
    "maxpool",
    "avgpool",
    "flatten",
    "batchnorm",
    "tanh",
    "log",
)


def latex_name(name: str) -> str:
    """A tensor name or an index label (``δJ[0,1]``, ``pad(δJ)``) in math mode."""
    out = name
    out = re.sub(r"\[([0-9, ]+)\]", lambda m: "_{" + m.group(1).replace(" ", "") + "}", out)
    out = out.replace("zero-inserted ", r"\operatorname{ins}")
    out = re.sub(r"\(from ([^)]*)\)", lambda m: r"\text{ (from }" + m.group(1) + r"\text{)}", out)
    for f in _FUNCTIONS:
        out = re.sub(rf"\b{f}\(", rf"\\operatorname{{{f}}}(", out)
    for ch, rep in _GREEK.items():
        out = out.replace(ch, rep)
    out = re.sub(r"(?<![\\A-Za-z])([A-Za-z]+)_([A-Za-z]+)", r"\1\\_\2", out)  # h_relu (not h_{0,1})
    return out.replace("new ", r"\text{new }").strip()


def latex_text(prose: str) -> str:
    """A line of prose with formulas for a LaTeX paragraph: special characters escaped,
    the Unicode symbols turned into inline math."""
    out = []
    prose = prose.replace("x̂", "\x00").replace("✓", "(ok)").replace("✗", "(failed)").replace("—", "---")
    for ch in prose:
        if ch == "\x00":
            out.append(r"$\hat x$")
            continue
        if ch in "&%$#_{}":
            out.append("\\" + ch)
        elif ch == "\\":
            out.append(r"\textbackslash{}")
        elif ch == "~":
            out.append(r"\textasciitilde{}")
        elif ch == "^":
            out.append(r"\^{}")
        elif ch in _GREEK:
            rep = _GREEK[ch].strip()
            out.append("-" if ch == "−" else f"${rep}$")
        elif ord(ch) > 127 and ch not in "âêîôûéèàç":
            out.append(f"\\texttt{{{ch}}}" if ch.isprintable() else "")
        else:
            out.append(ch)
    text_ = "".join(out)
    return text_.replace("$$", "")


# --- JSON --------------------------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """Exact numbers as ints or "p/q" strings, floats as floats, expressions as strings."""
    if isinstance(value, np.ndarray):
        return json_tensor(value, json_value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return json_number(value, _json_other)


def _json_other(value: Any) -> str:
    if isinstance(value, Symbolic):
        import sympy

        return sympy.sstr(simplified(value.expr), order="grlex").replace("**", "^")
    return str(value)
