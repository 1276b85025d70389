"""The console entry point, and ``convcalc shape`` without loading typer.

typer (and the click it carries) is about half of a ``convcalc shape`` process: the command the
project is called for most, in scripts and loops. A ``shape`` call written the plain way — every
option spelled as its typer command declares it (``--k 5`` or ``--k=5``), each at most once, no
``--help`` — is read here and runs the very code the typer command runs
(:func:`convcalc.cli.shape_run.run`), with the same closing messages and exit codes
(:func:`guarded`). Anything else — another command, an option this table does not know, a value
that starts with ``-``, a repeated option — goes to the typer app, which gives it its usual
parsing, help and usage errors. tests/test_fastpath.py checks that this table is the typer
command's, option by option, and that both paths print the same bytes with the same exit code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

#: ``convcalc shape``'s options that take a value: each spelling → the typer parameter it fills.
SHAPE_VALUES = {
    "--in": "input_shape", "-i": "input_shape", "--op": "op", "--dims": "dims", "--out": "out",
    "--k": "k", "-k": "k", "--kernel": "k", "--stride": "stride", "-s": "stride", "--pad": "pad", "-p": "pad",
    "--padding": "pad", "--dilation": "dilation", "-d": "dilation", "--groups": "groups", "-g": "groups",
    "--multiplier": "multiplier", "--factor": "factor", "--output-padding": "output_padding",
    "--divisor-override": "divisor_override", "--padding-mode": "padding_mode", "--output-size": "output_size",
    "--start-dim": "start_dim", "--end-dim": "end_dim", "--batch": "batch", "-n": "batch", "--dtype": "dtype",
    "--expect": "expect", "--expect-params": "expect_params", "--format": "fmt", "-f": "fmt", "--jsonl": "jsonl",
}
#: ... and its flags.
SHAPE_FLAGS = {
    "--depthwise": "depthwise", "--ceil-mode": "ceil_mode", "--count-include-pad": "count_include_pad",
    "--no-count-include-pad": "no_count_include_pad", "--no-bias": "no_bias", "--explain": "explain",
    "-e": "explain", "--json": "json_flag", "--solve": "solve",
}


def shape_options(args: list[str]) -> dict[str, str | bool] | None:
    """The typer parameters of a plainly written ``convcalc shape`` call, else None (typer reads it)."""
    options: dict[str, str | bool] = {}
    i = 0
    while i < len(args):
        word = args[i]
        flag, eq, attached = word.partition("=")
        if word in SHAPE_FLAGS:
            name, value = SHAPE_FLAGS[word], True
        elif flag in SHAPE_VALUES and flag.startswith("--") and eq:
            name, value = SHAPE_VALUES[flag], attached
        elif word in SHAPE_VALUES and i + 1 < len(args) and not args[i + 1].startswith("-"):
            name, value = SHAPE_VALUES[word], args[i + 1]
            i += 1
        else:
            return None
        if name in options:
            return None
        options[name] = value
        i += 1
    return options


def guarded(call: Callable[[], object], other: Callable[[Exception], None] | None = None) -> None:
    """Run a command and end the process: its exit code (0 when it returns none); bad input (2)
    and a failed check (1) as one line on stderr; Ctrl-C 130; a reader gone away 0. ``other``
    may end the process for further errors (typer's usage errors); what is left is a bug in
    convcalc, said in one line (exit 3) unless CONVCALC_DEBUG is set."""
    from convcalc.cli.output import say
    from convcalc.errors import ExpectationFailed, InputError

    try:
        code = call()
        sys.exit(code if isinstance(code, int) else 0)
    except InputError as error:
        say(f"convcalc: error: {error}\n")
        sys.exit(2)
    except ExpectationFailed as error:
        say(f"convcalc: check failed: {error}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as error:
        if other is not None:
            other(error)
        if os.environ.get("CONVCALC_DEBUG"):
            raise
        say(f"convcalc: internal error: {type(error).__name__}: {error} (set CONVCALC_DEBUG=1 for details)\n")
        sys.exit(3)


def main() -> None:
    """``convcalc``: a plain ``shape`` call here, everything else through the typer app."""
    args = sys.argv[1:]
    options = shape_options(args[1:]) if args[:1] == ["shape"] and args[1:] else None
    if options is not None:
        from convcalc.cli.shape_run import run

        guarded(lambda: run(**options))  # type: ignore[arg-type]
    from convcalc.cli.app import main as full

    full()
