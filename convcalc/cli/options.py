"""Command-line flags of the single-layer commands that are not request options.

The request parser itself (``parse_request``, ``LAYER_PARSERS``, ``DTYPE_BYTES``) lives in
:mod:`convcalc.requests`, below the commands, so animations and homework read a layer the
way ``convcalc shape`` does; it is re-exported here for the command modules' old import path.
"""

from __future__ import annotations

from convcalc.errors import InputError
from convcalc.requests import DTYPE_BYTES, LAYER_PARSERS, ShapeRequest, parse_request

__all__ = ["DTYPE_BYTES", "LAYER_PARSERS", "ShapeRequest", "include_pad", "parse_request"]


def include_pad(on: bool, off: bool) -> bool | None:
    """``--count-include-pad`` / ``--no-count-include-pad`` (two flags, so --help has room for
    both names): True, False, or None when neither is given; both at once are refused."""
    if on and off:
        raise InputError("--count-include-pad and --no-count-include-pad contradict each other: give one")
    return True if on else False if off else None
