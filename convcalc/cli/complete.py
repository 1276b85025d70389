"""Completion of option values in the shell (typer's ``autocompletion=``): zoo names, ``--op``
names, ``--as`` tools, ready-made backprop specs and output formats, each read from the table
the command itself reads. A value that matches nothing completes to nothing, so the shell falls
back to file names (the scripts say ``complete -o default``).

Each function imports what it lists only when called: defining the options stays cheap."""

from __future__ import annotations

from collections.abc import Callable


def words(*choices: str) -> Callable[[str], list[str]]:
    """A completer for a fixed list of words (``--format``'s formats)."""

    def complete(incomplete: str) -> list[str]:
        return [c for c in choices if c.startswith(incomplete)]

    return complete


def networks(incomplete: str) -> list[str]:
    """Zoo names (``arch``, ``run``, ``train``); a path or a chain completes as files."""
    from convcalc import zoo

    return [name for name in zoo.names() if name.startswith(incomplete)]


def ops(incomplete: str) -> list[str]:
    """The ops of ``convcalc shape`` (and ``animate``, ``solve``)."""
    from convcalc.layers.registry import ops as shape_ops

    return [name for name in shape_ops() if name.startswith(incomplete)]


def tools(incomplete: str) -> list[str]:
    """The counters ``arch --as`` reproduces."""
    from convcalc.network.tools import TOOLS

    return [name for name in (*TOOLS, "keras") if name.startswith(incomplete)]


def examples(incomplete: str) -> list[str]:
    """The ready-made specs of ``backprop --example``."""
    from convcalc.trace.examples import EXAMPLES

    return [name for name in (*EXAMPLES, "list") if name.startswith(incomplete)]
