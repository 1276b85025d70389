"""Symbolic hyper-parameters for ``convcalc shape``: ``--k K --stride S --pad P --dilation D
--output-padding A`` (any of them, per axis) give the output size as a formula, with what
each symbol stands for and the conditions under which PyTorch accepts the layer.

The formulas are the size rules of :mod:`convcalc.engine.axis` run on sympy symbols (sympy is
imported only here, so only then). ``solve_free_symbol`` finds every whole value of the one
free symbol that gives the expected shape: each value is substituted and the numeric layer is
built and checked by the shape engine, so the answers are exactly what ``shape`` accepts.
Search ranges are the natural finite ones: a kernel, dilation or stride no larger than the
padded input, a padding or input size no larger than what overshoots the target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from convcalc.dims import format_dim
from convcalc.engine import axis
from convcalc.errors import InputError

HYPER_KEYS = ("k", "stride", "pad", "dilation", "output-padding")
ROLES = {"k": "kernel size", "stride": "stride", "pad": "padding on each side", "dilation": "dilation",
         "output-padding": "output padding (extra rows at the end)"}
_SYMBOL = re.compile(r"^[A-Za-z](?:\d+|_[A-Za-z0-9]+)?$")
_PARTS = re.compile(r"\s*[x×X*,]\s*")
_FAMILIES = ("conv", "conv-transpose", "maxpool", "avgpool")
MAX_TRIES = 20_000


@dataclass(frozen=True)
class AxisFormula:
    """The output size along one axis: the general rule and this layer's formula."""

    axis: str
    rule: str
    formula: Any  # a sympy expression (or an int when nothing on this axis is symbolic)


@dataclass(frozen=True)
class SymbolicLayer:
    """A layer with symbols in its hyper-parameters (and maybe its input)."""

    op: str
    family: str
    rank: int
    input: tuple
    output: tuple
    hyper: dict  # option name → per-axis values (ints or symbols)
    formulas: tuple[AxisFormula, ...]
    symbols: tuple[tuple[str, str], ...]  # (symbol, what it stands for)
    conditions: tuple[str, ...]  # inequalities, as text


@dataclass(frozen=True)
class FreeSymbolSolution:
    symbol: str
    role: str
    values: tuple[int, ...]
    tried: tuple[int, int]  # the range searched, inclusive
    target: tuple
    note: str = ""


def has_symbol(value: Any) -> bool:
    """Whether an option value as typed names a symbol (``K``, ``3xK``); padding words are not symbols."""
    if not isinstance(value, str):
        return False
    text = value.strip().strip("()[]")
    if text.lower().replace("_", "-") in ("same", "valid", "tf-same", "tfsame", "keras-same"):
        return False
    return any(_SYMBOL.match(part.strip()) for part in _parts(text) if part.strip())


def _parts(text: str) -> list[str]:
    """Per-axis entries of ``3xK``; a lone symbol is one entry even when it is x or X."""
    text = text.strip().strip("()[]")
    return [text] if _SYMBOL.match(text) else _PARTS.split(text)


def _symbol(name: str, key: str):
    import sympy

    if key in ("pad", "output-padding"):
        return sympy.Symbol(name, integer=True, nonnegative=True)
    return sympy.Symbol(name, integer=True, positive=True)


def parse_hyper(value: Any, key: str, rank: int) -> tuple:
    """Per-axis whole numbers or symbols: ``K``, ``3xK``, ``5``."""
    from convcalc.notation import expand

    if isinstance(value, bool):
        raise InputError(f"--{key} {value!r} is not a number or a symbol")
    items = [value] if isinstance(value, int) else list(value) if isinstance(value, (list, tuple)) else \
        _parts(str(value))
    parsed = []
    minimum = 0 if key in ("pad", "output-padding") else 1
    for item in items:
        text = str(item).strip()
        if re.fullmatch(r"[+-]?\d+", text):
            n = int(text)
            if n < minimum:
                raise InputError(f"--{key} must be at least {minimum}; got {n}")
            parsed.append(n)
        elif _SYMBOL.match(text):
            parsed.append(_symbol(text, key))
        else:
            what = "whole numbers ≥ 0 or symbols (P)" if key == "pad" else "whole numbers or symbols such as K"
            raise InputError(f"--{key} '{value}' has the entry '{text}': use {what}; before:after padding and the "
                             "words same/valid/tf-same need numeric hyper-parameters")
    return expand(tuple(parsed), rank, f"--{key}")


def symbolic_layer(op: str, rank: int, shape: tuple, raw: dict[str, Any], options: dict[str, Any]) -> SymbolicLayer:
    """The layer ``op`` on ``shape`` with hyper-parameters ``raw`` (values as typed, some symbolic).

    ``options`` holds the other, already parsed layer options (out, ceil-mode, …).
    """
    from convcalc.layers import base
    from convcalc.layers.registry import resolve_op

    spec, _ = resolve_op(op)
    family = spec.name
    if family not in _FAMILIES:
        raise InputError(f"symbolic hyper-parameters work with {', '.join(_FAMILIES)}; not with {family}")
    for key in raw:
        if key not in spec.options:
            raise InputError(f"--{key} does not apply to {family}")
    hyper = {key: parse_hyper(value, key, rank) for key, value in raw.items()}
    if "k" not in hyper:
        raise InputError(f"{family} needs --k (e.g. --k 3 or --k K)")
    if family != "conv-transpose" and "output-padding" in hyper:
        raise InputError(f"--output-padding does not apply to {family}")
    if family == "avgpool" and "dilation" in hyper:
        raise InputError("avgpool has no dilation in PyTorch (only max pooling does)")
    pooling = family.endswith("pool")
    k = hyper["k"]
    s = hyper.get("stride", k if pooling else (1,) * rank)
    p = hyper.get("pad", (0,) * rank)
    d = hyper.get("dilation", (1,) * rank)
    a = hyper.get("output-padding", (0,) * rank)
    ceil = bool(options.get("ceil-mode", False))
    n, c, spatial = base.split_feature_map(shape, rank, f"{family}{rank}d")
    names = base.axis_names(rank)
    out, formulas, conditions = [], [], []
    for j, name in enumerate(names):
        i, kj, sj, pj, dj, aj = spatial[j], k[j], s[j], p[j], d[j], a[j]
        k_eff = axis.effective_kernel(kj, dj)
        if family == "conv-transpose":
            o = axis.transposed_output_size(i, kj, sj, pj, pj, dj, aj)
            rule = "o = (i − 1)·s − 2p + d(k − 1) + output_padding + 1"
            conditions.append(_relation(aj, "<", _max(sj, dj), f"output padding < max(stride, dilation) along {name}"))
            conditions.append(_relation(o, "≥", 1, f"a non-empty output along {name}"))
        else:
            o = axis.pool_output_size(i, kj, sj, pj, pj, dj, ceil)[0] if pooling else \
                axis.conv_output_size(i, kj, sj, pj, pj, dj)
            rule = ("o = ceil((i + 2p − d(k − 1) − 1)/s) + 1, minus 1 if the last window starts in the padding"
                    if ceil else "o = floor((i + 2p − d(k − 1) − 1)/s) + 1")
            conditions.append(_relation(i + 2 * pj, "≥", k_eff, f"the window fits the padded input along {name}"))
            if pooling:
                conditions.append(_relation(pj, "≤", _floor_half(kj), f"PyTorch's pool padding limit along {name}"))
                if not isinstance(dj, int) or dj > 1:
                    # not one inequality: a dilated window can step over the input rows into padding alone
                    conditions.append(f"every window reads an input row along {name} (a dilated window over "
                                      "padding alone is refused)")
        out.append(_simplify(o))
        formulas.append(AxisFormula(name, rule, out[-1]))
    c_out = options.get("out", c) if family.startswith("conv") else c
    output = base.join_feature_map(n, c_out if c is not None else None, out)
    symbols = _meanings(spatial, names, raw, hyper)
    kept = tuple(dict.fromkeys(text for text in conditions if text))
    return SymbolicLayer(op=f"{family}{rank}d", family=family, rank=rank, input=tuple(shape), output=tuple(output),
                         hyper=hyper, formulas=tuple(formulas), symbols=symbols,
                         conditions=_whole_number_condition(hyper) + kept)


def _max(a, b):
    if isinstance(a, int) and isinstance(b, int):
        return max(a, b)
    import sympy

    return sympy.Max(a, b)


def _floor_half(k):
    if isinstance(k, int):
        return k // 2
    import sympy

    return sympy.floor(k / 2)


def _simplify(value):
    from convcalc.dims import simplify

    return simplify(value)


def _relation(lhs, sign: str, rhs, why: str) -> str:
    """The inequality as text, '' when it always holds; a refusal when it never can."""
    import sympy

    op = {"≥": sympy.Ge, "≤": sympy.Le, "<": sympy.Lt}[sign]
    relation = op(lhs, rhs)
    if relation is sympy.true:
        return ""
    if relation is sympy.false:
        raise InputError(f"{format_dim(lhs)} {sign} {format_dim(rhs)} fails: {why} is required")
    return f"{format_dim(lhs)} {sign} {format_dim(rhs)}  ({why})"


def _whole_number_condition(hyper: dict) -> tuple[str, ...]:
    parts = []
    for key, values in hyper.items():
        for v in dict.fromkeys(values):
            if not isinstance(v, int):
                parts.append(f"{v} ≥ {0 if key in ('pad', 'output-padding') else 1}")
    return (", ".join(parts) + "  (whole numbers)",) if parts else ()


def _meanings(spatial, names, raw, hyper) -> tuple[tuple[str, str], ...]:
    meanings: dict[str, list[str]] = {}
    for name, i in zip(names, spatial):
        for sym in getattr(i, "free_symbols", ()):
            meanings.setdefault(str(sym), []).append(f"input size along {name}")
    for key, values in hyper.items():
        for name, v in zip(names, values):
            if not isinstance(v, int):
                meanings.setdefault(str(v), []).append(f"{ROLES[key]} along {name} (--{key})")
    return tuple((sym, _merge_axes(roles)) for sym, roles in meanings.items())


def _merge_axes(roles: list[str]) -> str:
    """'kernel size along H (--k)', 'kernel size along W (--k)' → 'kernel size along H, W (--k)'."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for role in roles:
        match = re.match(r"^(.*) along (\w+)( \(.*\))?$", role)
        what, axis_name, tail = match.group(1), match.group(2), match.group(3) or ""
        grouped.setdefault((what, tail), []).append(axis_name)
    return "; ".join(f"{what} along {', '.join(dict.fromkeys(axes))}{tail}" for (what, tail), axes in grouped.items())


def free_symbols(layer: SymbolicLayer) -> list:
    found: dict[str, Any] = {}
    for dim in layer.input:
        for sym in getattr(dim, "free_symbols", ()):
            found[str(sym)] = sym
    for values in layer.hyper.values():
        for v in values:
            for sym in getattr(v, "free_symbols", ()):
                found[str(sym)] = sym
    return list(found.values())


def solve_free_symbol(layer: SymbolicLayer, target: tuple, raw: dict[str, Any], options: dict[str, Any],
                      shape_text: tuple) -> FreeSymbolSolution:
    """Every whole value of the layer's one free symbol that gives the ``target`` shape.

    Each value is substituted into the typed options and the numeric layer is analysed by
    the shape engine; the values kept are those whose output matches ``target``.
    """
    from convcalc.engine.evaluate import shape_matches
    from convcalc.layers.registry import analyze_layer
    from convcalc.notation import parse_ints, parse_padding

    symbols = free_symbols(layer)
    if len(symbols) != 1:
        names = ", ".join(sorted(map(str, symbols))) or "none"
        raise InputError(f"--solve needs exactly one symbol to solve for; this layer has {names}")
    sym = symbols[0]
    role = _role(layer, sym, raw)
    low, high = _search_range(layer, sym, role, target)
    if high - low + 1 > MAX_TRIES:
        raise InputError(f"--solve would try {high - low + 1:,} values of {sym} (more than {MAX_TRIES:,}): "
                         "the target is too large to search")
    values = []
    for value in range(low, high + 1):
        numeric = {key: _substitute(text, sym, value) for key, text in raw.items()}
        try:
            layer_options = dict(options)
            for key, text in numeric.items():
                layer_options[key] = parse_padding(text) if key == "pad" else \
                    parse_ints(text, f"--{key}", minimum=0 if key == "output-padding" else 1)
            shape = tuple(value if str(x) == str(sym) else x for x in shape_text)
            report = analyze_layer(layer.op, layer_options, shape, dims=layer.rank)
        except InputError:
            continue
        if shape_matches(target, report) or (len(target) == len(report.output) + 1 and target[0] == 1
                                              and shape_matches(target[1:], report)):  # an implied batch of 1
            values.append(value)
    note = ""
    if role == "stride" and values and values[-1] == high and all(x == 1 for x in target[-layer.rank:]):
        note = f"every stride ≥ {high} gives size 1 as well"
    elif values and values[-1] == high and not any(sym in getattr(f.formula, "free_symbols", ())
                                                   for f in layer.formulas):
        # e.g. the dilation of a 1-tap kernel, or a transposed conv's stride on an input of 1
        note = f"the output does not depend on {sym} here: every {sym} ≥ {high} that PyTorch accepts gives it as well"
    return FreeSymbolSolution(str(sym), role, tuple(values), (low, high), tuple(target), note)


def _role(layer: SymbolicLayer, sym, raw) -> str:
    for key, values in layer.hyper.items():
        if any(sym in getattr(v, "free_symbols", ()) for v in values):
            return key
    return "input"


def _search_range(layer: SymbolicLayer, sym, role: str, target: tuple) -> tuple[int, int]:
    """A finite range holding every solution (the output is monotone in each hyper-parameter)."""
    sizes = [x for x in target if isinstance(x, int)]
    big = max(sizes + [1])
    numbers = [x for x in layer.input if isinstance(x, int)]
    largest_in = max(numbers + [1])
    pads = [v for v in layer.hyper.get("pad", (0,)) if isinstance(v, int)]
    padded = largest_in + 2 * max(pads + [0])
    kernels = [v for v in layer.hyper.get("k", (1,)) if isinstance(v, int)]
    dil = [v for v in layer.hyper.get("dilation", (1,)) if isinstance(v, int)]
    strides = [v for v in layer.hyper.get("stride", (1,)) if isinstance(v, int)]
    k_eff = axis.effective_kernel(max(kernels + [1]), max(dil + [1]))
    if role in ("k", "dilation", "stride"):
        if layer.family == "conv-transpose":
            return 1, max(big, 1)
        return 1, max(padded, 1)
    if role == "output-padding":
        return 0, max(strides + dil + [1]) - 1
    if role == "pad":
        return 0, big * max(strides + [1]) + k_eff
    # an input size
    if layer.family == "conv-transpose":
        return 1, big
    return 1, big * max(strides + kernels + [1]) + k_eff + 2 * max(pads + [0])


def _substitute(text: Any, sym, value: int) -> Any:
    if not isinstance(text, str):
        return text
    return "x".join(str(value) if part.strip() == str(sym) else part.strip()
                    for part in _parts(text))
