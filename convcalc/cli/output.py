"""Where output goes and in which form: rich on a terminal, plain text when piped,
no colour with NO_COLOR, one clear stderr line for errors.

Every command prints through :func:`emit`: the command hands over a :class:`View` (the
renderers its result offers, each built only when its format is chosen) and the format;
:func:`emit` owns the rest — JSON indented on a terminal and compact when piped, the rich
console (which detects pipes, width and ``NO_COLOR``), and the trailing newline.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from convcalc.errors import InputError

FORMATS = ("rich", "text", "plain", "json", "csv", "markdown")


def choose_format(fmt: str | None, json_flag: bool, allowed: tuple[str, ...] = FORMATS) -> str:
    if json_flag:
        if fmt not in (None, "json"):
            raise InputError(f"--json and --format {fmt} disagree: give one of them")
        return "json"
    if fmt is None:
        return "rich" if sys.stdout.isatty() and os.environ.get("TERM") != "dumb" else "text"
    fmt = fmt.strip().lower()
    if fmt == "md":
        fmt = "markdown"
    if fmt not in allowed:
        raise InputError(f"--format '{fmt}' is not one of {', '.join(allowed)}")
    return fmt


def console():
    from rich.console import Console

    return Console(highlight=False)


def echo(text: str) -> None:
    sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))


@dataclass(frozen=True)
class View:
    """The renderers one result offers, by format; each is called only when its format is chosen.

    ``json`` returns the document (a dict with a ``"schema"`` key); ``text``, ``plain``, ``csv``,
    ``markdown`` and ``latex`` return strings; ``rich`` takes the console and returns a renderable
    or a list of renderables printed one after the other. ``indented_json`` lays out the document
    for a terminal when the command has a layout of its own (matrix rows on one line);
    ``min_width`` widens the rich console (``arch --wide``).
    """

    json: Callable[[], Mapping[str, Any]] | None = None
    text: Callable[[], str] | None = None
    rich: Callable[[Any], Any] | None = None
    plain: Callable[[], str] | None = None
    csv: Callable[[], str] | None = None
    markdown: Callable[[], str] | None = None
    latex: Callable[[], str] | None = None
    indented_json: Callable[[Mapping[str, Any]], str] | None = None
    min_width: int | None = None

    def formats(self) -> tuple[str, ...]:
        return tuple(f for f in ("rich", "text", "plain", "json", "csv", "markdown", "latex")
                     if getattr(self, f) is not None)


def json_document(doc: Mapping[str, Any], indented: Callable[[Mapping[str, Any]], str] | None = None,
                  terminal: bool | None = None) -> str:
    """``doc`` as JSON: indented for a person at a terminal, one compact line for a pipe
    (json's C encoder only runs without indent: about 4x faster on a big network)."""
    import json  # only the JSON formats need it (start-up time of the others)

    if terminal is None:
        terminal = sys.stdout.isatty()
    if not terminal:
        return json.dumps(doc, ensure_ascii=False)
    return indented(doc) if indented is not None else json.dumps(doc, ensure_ascii=False, indent=2)


def emit(view: View, fmt: str) -> None:
    """Print ``view`` in format ``fmt`` (as :func:`choose_format` chose it).

    ``rich`` falls back on ``text`` where a view has no rich renderer of its own."""
    if fmt == "json" and view.json is not None:
        echo(json_document(view.json(), view.indented_json))
    elif fmt == "rich" and view.rich is not None:
        out = console()
        if view.min_width is not None:
            out.width = max(out.width, view.min_width)
        shown = view.rich(out)
        for item in shown if isinstance(shown, list) else [shown]:
            out.print(item)
    elif fmt == "rich" and view.text is not None:
        echo(view.text())
    elif fmt in _TEXT_FORMATS and getattr(view, fmt) is not None:
        echo(getattr(view, fmt)())
    else:
        raise InputError(f"--format {fmt} is not offered here: give one of {', '.join(view.formats())}")


_TEXT_FORMATS = ("text", "plain", "csv", "markdown", "latex")


def fail(message: str, code: int = 2) -> SystemExit:
    """Print ``convcalc: error: message`` on stderr and return the exit to raise (a plain
    SystemExit: this module is typer-free, for ``convcalc shape``'s start, issue 18)."""
    say(f"convcalc: error: {message}\n")
    return SystemExit(code)


def say(text: str) -> None:
    """A closing message on stderr; a reader that already went away (``2>&1 | head``) does
    not change the exit code."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        import contextlib

        with contextlib.suppress(OSError):  # nothing more reaches it: the flush at exit fails quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())


class user_errors:
    """Context manager for a command body: InputError → exit 2, ExpectationFailed → exit 1."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        from convcalc.errors import ExpectationFailed

        if exc_type is None:
            return False
        if issubclass(exc_type, InputError):
            raise fail(str(exc), 2)
        if issubclass(exc_type, ExpectationFailed):
            say(f"convcalc: check failed: {exc}\n")
            raise SystemExit(1)
        return False
