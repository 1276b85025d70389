"""Where output goes and in which form: rich on a terminal, plain text when piped,
no colour with NO_COLOR, one clear stderr line for errors."""

from __future__ import annotations

import os
import sys

import typer

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


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``convcalc: error: message`` on stderr and return the exit to raise."""
    say(f"convcalc: error: {message}\n")
    return typer.Exit(code)


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
            raise typer.Exit(1)
        return False
