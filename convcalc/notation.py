"""Reading and writing the notations users type: shapes, per-axis values, padding.

Shapes: ``3x32x32``, ``3,32,32``, ``3×32×32``, ``(3, 32, 32)`` or a JSON list; a dimension
may be a symbol (``3xHxW``). Per-axis hyper-parameters use the same notation (``3x5``).
Padding adds ``before:after`` per axis and the words ``same``, ``valid`` and ``tf-same``.
Results are written back in the notation the user chose.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from convcalc.dims import Dim, format_factor
from convcalc.errors import InputError

_SYMBOL = re.compile(r"^[A-Za-z](?:\d+|_[A-Za-z0-9]+)?$")
_INT = re.compile(r"^[+-]?\d+$")
_SEPARATORS = re.compile(r"\s*[x×X*,]\s*|\s+")


@dataclass(frozen=True)
class Notation:
    """How the user wrote a shape, so results can be written the same way."""

    separator: str = "x"
    brackets: str = ""  # "", "()" or "[]"

    def format(self, dims: Sequence[Dim]) -> str:
        sep = ", " if self.separator == "," and self.brackets else self.separator
        body = sep.join(format_factor(d) for d in dims)
        if self.brackets:
            if len(dims) == 1 and self.brackets == "()":
                body += ","
            return self.brackets[0] + body + self.brackets[1]
        return body


DEFAULT_NOTATION = Notation()


def format_shape(dims: Sequence[Dim], notation: Notation = DEFAULT_NOTATION) -> str:
    return notation.format(dims)


def _split(text: str, what: str, example: str = "3x32x32") -> tuple[list[str], Notation]:
    original = text
    text = text.strip()
    brackets = ""
    if len(text) >= 2 and text[0] + text[-1] in ("()", "[]"):
        brackets = text[0] + text[-1]
        text = text[1:-1].strip().rstrip(",").strip()
    if not text:
        raise InputError(f"{what} '{original}' is empty: write it like {example}")
    separator = "x"
    if "," in text:
        separator = ","
    elif "×" in text:
        separator = "×"
    parts = list(_SEPARATORS.split(text))
    if any(p == "" for p in parts):
        raise InputError(f"{what} '{original}' has an empty entry: write it like {example}")
    return parts, Notation(separator if separator != "×" else "×", brackets)


def parse_shape(value: Any, what: str = "shape", allow_symbols: bool = True) -> tuple[tuple[Dim, ...], Notation]:
    """Parse a tensor shape; every dimension a positive int (or a symbol).

    >>> parse_shape("3x32x32")[0]
    (3, 32, 32)
    """
    if isinstance(value, bool):
        raise InputError(f"{what} {value!r} is not a shape: write it like 3x32x32")
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, (list, tuple)):
        parts = [str(v) if not isinstance(v, bool) else "?" for v in value]
        if not parts:
            raise InputError(f"{what} [] is empty: write it like 3x32x32")
        notation = Notation("x", "")
        original = "[" + ", ".join(parts) + "]"
    elif isinstance(value, str):
        parts, notation = _split(value, what)
        original = value
    else:
        raise InputError(f"{what} {value!r} is not a shape: write it like 3x32x32")
    dims: list[Dim] = []
    for part in parts:
        if _INT.match(part):
            n = _whole(part, what)
            if n <= 0:
                raise InputError(
                    f"{what} '{original}' has the dimension {n}: sizes must be positive whole numbers "
                    "(e.g. 3x32x32)"
                )
            dims.append(n)
        elif allow_symbols and _SYMBOL.match(part):
            from convcalc.dims import symbol

            dims.append(symbol(part))
        else:
            hint = "positive whole numbers"
            if allow_symbols:
                hint += " or one-letter symbols such as H, W, H_in"
            raise InputError(f"{what} '{original}' has the entry '{part}': dimensions are {hint} (e.g. 3x32x32)")
    return tuple(dims), notation


def parse_ints(value: Any, what: str, minimum: int = 1) -> tuple[int, ...]:
    """Per-axis whole numbers (``3``, ``3x5``, ``[3, 5]``), each at least ``minimum``."""
    if isinstance(value, bool):
        raise InputError(f"{what} {value!r} is not a number: write e.g. 3 or 3x5")
    if isinstance(value, int):
        items: list[Any] = [value]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, str):
        items, _ = _split(value, what, "3 or 3x5")
    else:
        raise InputError(f"{what} {value!r} is not a number: write e.g. 3 or 3x5")
    if not items:
        raise InputError(f"{what} is empty: write e.g. 3 or 3x5")
    result = []
    for item in items:
        if isinstance(item, bool) or not (isinstance(item, int) or (isinstance(item, str) and _INT.match(item))):
            raise InputError(f"{what} '{_show(value)}' has the entry '{item}': use whole numbers, e.g. 3 or 3x5")
        n = _whole(item, what)
        if n < minimum:
            raise InputError(f"{what} must be at least {minimum}; got {n}")
        result.append(n)
    return tuple(result)


def torch_spelling_note(value: Any, word: str, what: str) -> str | None:
    """A note when a padding word or mode was accepted in a spelling PyTorch refuses (``SAME``,
    ``Same``, ``valid `` with a space, ``Zeros``): PyTorch takes only the exact lower-case names."""
    words = ("same", "valid", "zeros", "reflect", "replicate", "circular")
    if isinstance(value, str) and word in words and value != word:
        return f"{what} '{value}' read as '{word}'; PyTorch requires '{word}' exactly (it refuses '{value}')"
    return None


def parse_padding(value: Any, what: str = "--pad", strict: bool = False) -> str | tuple[tuple[int, int], ...]:
    """Padding: a word (same, valid, tf-same) or per-axis ``p`` / ``before:after`` pairs.

    The words are read case-insensitively on the command line; with ``strict`` (spec files, which
    use PyTorch's names) ``same``/``valid`` must be spelled as PyTorch spells them."""
    if isinstance(value, str):
        word = value.strip().lower().replace("_", "-")
        if word in ("tfsame", "tf-same", "keras-same"):
            return "tf-same"
        if word in ("same", "valid"):
            if strict and value != word:
                raise InputError(f"{what} '{value}': PyTorch requires '{word}' exactly (lower case, no spaces)")
            return word
        if not value.strip():
            raise InputError(f"{what} is empty: use e.g. 1, 1x2, 0:1x0:1, same, valid or tf-same")
        items: list[Any] = _SEPARATORS.split(value.strip().strip("()[]"))
    elif isinstance(value, bool):
        raise InputError(f"{what} {value!r} is not a padding: use e.g. 1, 1x2, 0:1x0:1, same, valid or tf-same")
    elif isinstance(value, int):
        items = [value]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise InputError(f"{what} {value!r} is not a padding: use e.g. 1, 1x2, 0:1x0:1, same, valid or tf-same")
    pads = []
    for item in items:
        pads.append(_parse_pad_item(item, value, what))
    if not pads:
        raise InputError(f"{what} is empty: use e.g. 1, 1x2, 0:1x0:1, same, valid or tf-same")
    return tuple(pads)


def _parse_pad_item(item: Any, whole: Any, what: str) -> tuple[int, int]:
    pair: list[Any]
    if isinstance(item, int) and not isinstance(item, bool):
        pair = [item, item]
    elif isinstance(item, (list, tuple)) and len(item) == 2:
        pair = list(item)
    elif isinstance(item, str) and ":" in item:
        pair = item.split(":")
        if len(pair) != 2:
            pair = []
    elif isinstance(item, str):
        pair = [item, item]
    else:
        pair = []
    values: list[int] = []
    for p in pair:
        if isinstance(p, bool) or not (isinstance(p, int) or (isinstance(p, str) and _INT.match(p.strip()))):
            values = []  # not a number: refused below, as an empty entry is
            break
        values.append(_whole(p, what))
    if not values or len(values) != 2:
        raise InputError(
            f"{what} '{_show(whole)}' has the entry '{_show(item)}': use whole numbers per axis, "
            "'before:after' for asymmetric padding (0:1x0:1), or same, valid, tf-same"
        )
    if min(values) < 0:
        raise InputError(f"{what} '{_show(whole)}': padding cannot be negative (PyTorch: negative padding "
                         "is not supported)")
    return values[0], values[1]


def _whole(item: int | str, what: str) -> int:
    """A whole number from an int or its digits, at most 2**63 − 1 (:mod:`convcalc.limits`)."""
    from convcalc.limits import check_digits, check_whole

    if isinstance(item, str):
        check_digits(item, what)
        item = int(item)
    return check_whole(item, what)


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def expand(values: tuple, rank: int, what: str, field: str | None = None) -> tuple:
    """Broadcast one value to every spatial axis, or check there is one per axis.

    With ``field`` (a layer's keyword) the error names it as data (``what`` is then unused)."""
    if len(values) == 1:
        return values * rank
    if len(values) != rank:
        raise InputError(
            f"{'{field}' if field else what} has {len(values)} values for a {rank}-d layer: "
            f"give 1 value or {rank} (one per spatial axis)", field=field, value=values,
            valid=f"1 or {rank} values")
    return tuple(values)
