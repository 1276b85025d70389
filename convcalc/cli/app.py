"""The ``convcalc`` command: a small root app; each command lives in its own module."""

from __future__ import annotations

import os
import sys
import types


class _DeferredModule(types.ModuleType):
    """A module whose code runs on the first name looked up in it (a module's ``__getattr__`` is
    consulted only for names it does not have yet; ``__spec__``, ``__name__`` are there from the
    start, so another ``import`` of it does not load it — unlike ``importlib.util.LazyLoader``
    on Python 3.11)."""

    def __getattr__(self, name: str):
        self.__class__ = types.ModuleType
        self.__spec__.loader.exec_module(self)
        return getattr(self, name)


def _defer_unused_modules(names: tuple[str, ...] = ("subprocess", "shellingham", "bz2", "lzma")) -> None:
    """typer imports these for what one ``convcalc shape`` never does (installing shell completion,
    opening a browser; shutil's archive formats), a few ms of a 100 ms start: each is loaded on
    its first use instead. A module already imported stays as it is."""
    import importlib.util

    needs = {"bz2": "_bz2", "lzma": "_lzma"}  # the C parts: without them the import must fail now, as usual
    for name in names:
        if name in sys.modules or (name in needs and importlib.util.find_spec(needs[name]) is None):
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            continue
        module = importlib.util.module_from_spec(spec)
        module.__class__ = _DeferredModule
        sys.modules[name] = module


_defer_unused_modules()

import typer  # noqa: E402  (after the deferral above)
from typer.core import TyperGroup  # noqa: E402

from convcalc import __version__  # noqa: E402
from convcalc.errors import ExpectationFailed, InputError  # noqa: E402

# Commands other than ``shape`` are imported on first use, so ``convcalc shape`` starts fast.
LAZY_COMMANDS = {"animate": "animate", "arch": "arch", "backprop": "backprop", "conv": "numeric", "pool": "numeric",
                 "conv-transpose": "numeric", "im2col": "numeric", "run": "run", "solve": "solve", "train": "train",
                 "quiz": "quiz", "grade": "grade"}


class _LazyCommands(TyperGroup):
    """The root group: ``shape`` is registered up front, the other commands when first named."""

    def list_commands(self, ctx) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in LAZY_COMMANDS if name not in self.commands)]

    def get_command(self, ctx, name: str):
        if name not in self.commands and name in LAZY_COMMANDS:
            import importlib

            holder = typer.Typer(rich_markup_mode="rich")
            importlib.import_module(f"convcalc.cli.{LAZY_COMMANDS[name]}").register(holder)
            for command_name, command in typer.main.get_group(holder).commands.items():
                self.add_command(command, command_name)
        return super().get_command(ctx, name)


app = typer.Typer(
    cls=_LazyCommands,
    name="convcalc",
    help="Convolution arithmetic and backprop calculator: shapes, parameters, MACs/FLOPs, receptive fields.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    epilog=(
        "[bold]Examples[/]\n\n"
        "  convcalc shape --in 3x32x32 --k 5 --stride 2 --out 2 --explain\n\n"
        "  convcalc solve --in 224 --out 112\n\n"
        "  convcalc arch resnet50 --in 3x160x160 --depth 1\n\n"
        "  convcalc backprop --example course | convcalc backprop -\n\n"
        "  convcalc conv \"1 3 2; 4 8 3; 2 1 4\" \"1 0; 0 -1\" --explain\n\n"
        "  convcalc train lenet5 --data synthetic:bars --steps 80\n\n"
        "  convcalc quiz --topics shape,params --n 4 --seed 7 -o sheet.md --key key.json\n\n"
        "Each command's --help has more. Exit codes: 0 ok, 1 an --expect check failed, 2 bad input."
    ),
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"convcalc {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool | None = typer.Option(None, "--version", "-V", callback=_version, is_eager=True,
                                           help="Show the version and exit."),
) -> None:
    """Convolution arithmetic and backprop calculator."""


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


