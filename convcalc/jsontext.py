"""Reading JSON a user wrote: a syntax error is reported with its line and column, and the
non-standard constants Python's json module accepts (NaN, Infinity) are refused where they stand.

Nesting is bounded (:data:`MAX_DEPTH` levels of arrays and objects), checked by one linear scan
before parsing: deeper JSON would exhaust Python's recursion in the parser or in the walks over
the network it describes. A number longer than Python converts (4,300 digits) is refused too.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from convcalc.errors import InputError


class _NotFinite(Exception):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _refuse_constant(name: str):
    raise _NotFinite(name)


def _finite_float(token: str) -> float:
    value = float(token)
    if math.isinf(value):  # 1e400 reads as inf: refused like Infinity
        raise _NotFinite(token)
    return value


MAX_DEPTH = 100
"""Arrays and objects nested deeper than this are refused (a 4-d tensor needs 4 levels, each
container of a network spec 2)."""

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def check_nesting(text: str, source: str, limit: int = MAX_DEPTH) -> None:
    """Refuse ``text`` if its arrays/objects nest deeper than ``limit`` (strings are skipped)."""
    if text.count("[") + text.count("{") <= limit:  # cannot be deeper: no scan needed
        return
    text = _STRING.sub('""', text) if '"' in text else text  # a bracket inside a string does not nest
    depth = 0
    for match in re.finditer(r"[\[\]{}]", text):
        char = match.group()
        depth = depth + 1 if char in "[{" else depth - 1
        if depth > limit:
            line = text.count("\n", 0, match.start()) + 1
            raise InputError(f"{source}: JSON nested more than {limit} levels deep (at line {line}); "
                             f"convcalc reads at most {limit} levels of arrays and objects")


def load_json(text: str, source: str) -> Any:
    """``json.loads(text)``, or an InputError naming ``source``, the line and the column."""
    check_nesting(text, source)
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        raise InputError(f"{source}: malformed JSON at line {error.lineno}, column "
                         f"{error.colno}: {error.msg}") from None
    except RecursionError:  # only reachable with a recursion limit below MAX_DEPTH's needs
        raise InputError(f"{source}: JSON nested too deeply") from None
    except ValueError as error:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise InputError(f"{source}: a number in the JSON is too long ({error})") from None
    except _NotFinite as error:
        line, column = _position(text, error.token)
        raise InputError(
            f"{source}: {error.token} at line {line}, column {column} is not a finite number "
            "(NaN, infinity and numbers beyond ±1.8e308 are refused)"
        ) from None


def _position(text: str, token: str) -> tuple[int, int]:
    """Line and column (1-based) of the first bare ``token`` in ``text``."""
    match = re.search(rf"(?<![A-Za-z\"]){re.escape(token)}(?![A-Za-z\"])", text)
    if not match:
        return 1, 1
    before = text[: match.start()]
    return before.count("\n") + 1, match.start() - (before.rfind("\n") + 1) + 1
