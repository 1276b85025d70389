"""The ``convcalc`` command: a small root app; each command lives in its own module."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from convcalc import __version__
from convcalc.errors import ExpectationFailed, InputError

app = typer.Typer(
    name="convcalc",
    help="Convolution arithmetic and backprop calculator: shapes, parameters, MACs/FLOPs, receptive fields.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"convcalc {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Optional[bool] = typer.Option(None, "--version", "-V", callback=_version, is_eager=True,
                                           help="Show the version and exit."),
) -> None:
    """Convolution arithmetic and backprop calculator.

    Examples:

      convcalc shape --in 3x32x32 --k 5 --stride 2 --out 2

      convcalc shape --in 3xHxW --k 3 --stride 2 --pad 1 --explain
    """


from convcalc.cli import shape as _shape  # noqa: E402  (registers the command)

_shape.register(app)


def _click_error_kind(error: BaseException) -> str | None:
    """'help', 'usage' or 'other' for click's exceptions (typer may vendor its own click)."""
    names = {cls.__name__ for cls in type(error).__mro__}
    if "NoArgsIsHelpError" in names:
        return "help"
    if "UsageError" in names:
        return "usage"
    if "ClickException" in names:
        return "other"
    return None


def main() -> None:
    """Console entry point: bad input and failed checks end with one line, never a traceback."""
    try:
        code = app(standalone_mode=False, prog_name="convcalc")
        sys.exit(code if isinstance(code, int) else 0)
    except InputError as error:
        sys.stderr.write(f"convcalc: error: {error}\n")
        sys.exit(2)
    except ExpectationFailed as error:
        sys.stderr.write(f"convcalc: check failed: {error}\n")
        sys.exit(1)
    except (KeyboardInterrupt, typer.Abort):
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as error:
        kind = _click_error_kind(error)
        if kind == "help":
            error.show()
            sys.exit(error.exit_code)
        if kind == "usage":
            ctx = getattr(error, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            sys.stderr.write(f"convcalc: error: {error.format_message()}{hint}\n")
            sys.exit(2)
        if kind == "other":
            sys.stderr.write(f"convcalc: error: {error.format_message()}\n")
            sys.exit(error.exit_code)
        if os.environ.get("CONVCALC_DEBUG"):  # a bug: say so in one line unless debugging
            raise
        sys.stderr.write(f"convcalc: internal error: {type(error).__name__}: {error} (set CONVCALC_DEBUG=1 for details)\n")
        sys.exit(3)

from convcalc.cli import arch as _arch  # noqa: E402
from convcalc.cli import backprop as _backprop  # noqa: E402
from convcalc.cli import numeric as _numeric  # noqa: E402
from convcalc.cli import run as _run  # noqa: E402
from convcalc.cli import train as _train  # noqa: E402

for _command in (_arch, _backprop, _numeric, _run, _train):
    _command.register(app)
