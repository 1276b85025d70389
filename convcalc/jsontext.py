"""Reading JSON a user wrote: a syntax error is reported with its line and column, and the
non-standard constants Python's json module accepts (NaN, Infinity) are refused where they stand."""

from __future__ import annotations

import json
import re
from typing import Any

from convcalc.errors import InputError


class _NotFinite(Exception):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _refuse_constant(name: str):
    raise _NotFinite(name)


def load_json(text: str, source: str) -> Any:
    """``json.loads(text)``, or an InputError naming ``source``, the line and the column."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise InputError(f"{source}: malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}") from None
    except _NotFinite as error:
        line, column = _position(text, error.token)
        raise InputError(
            f"{source}: {error.token} at line {line}, column {column} is not a finite number "
            "(NaN and infinity are refused)"
        ) from None


def _position(text: str, token: str) -> tuple[int, int]:
    """Line and column (1-based) of the first bare ``token`` in ``text``."""
    match = re.search(rf"(?<![A-Za-z\"]){re.escape(token)}(?![A-Za-z\"])", text)
    if not match:
        return 1, 1
    before = text[: match.start()]
    return before.count("\n") + 1, match.start() - (before.rfind("\n") + 1) + 1
