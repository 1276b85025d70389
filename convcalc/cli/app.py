"""The ``convcalc`` command: a small root app; each command lives in its own module."""

# No `from __future__ import annotations` (as in cli/shape.py): typer would eval the root
# callback's annotations as strings on every run.
import gc

# Loading typer and a command creates ~100,000 objects and no garbage: the cyclic collector
# would scan them a dozen times for nothing (~4 % of `convcalc shape`). It is paused while
# this module loads, and again while a command's module loads, and turned back on (with what
# was loaded frozen, so later collections skip it) before the command runs.
_COLLECTING = gc.isenabled()
gc.disable()

import re  # noqa: E402
import sys  # noqa: E402
import types  # noqa: E402
from typing import Any  # noqa: E402


class _DeferredModule(types.ModuleType):
    """A module whose code runs on the first name looked up in it (a module's ``__getattr__`` is
    consulted only for names it does not have yet; ``__spec__``, ``__name__`` are there from the
    start, so another ``import`` of it does not load it — unlike ``importlib.util.LazyLoader``
    on Python 3.11)."""

    def __getattr__(self, name: str):
        self.__class__ = types.ModuleType
        self.__spec__.loader.exec_module(self)
        return getattr(self, name)


_UNUSED_AT_START = ("subprocess", "shellingham", "bz2", "lzma", "tokenize")


def _defer_unused_modules(names: tuple[str, ...] = _UNUSED_AT_START) -> None:
    """typer imports these for what one ``convcalc shape`` never does (installing shell completion,
    opening a browser; shutil's archive formats; tokenize: inspect and linecache read source
    files only to print a traceback), a few ms of a 100 ms start: each is loaded on its first
    use instead. A module already imported stays as it is."""
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

# Every command is imported on first use: ``convcalc shape`` does not load arch, nor ``arch --list`` shape.
LAZY_COMMANDS = {"shape": "shape", "animate": "animate", "arch": "arch", "backprop": "backprop", "conv": "numeric",
                 "pool": "numeric", "conv-transpose": "numeric", "im2col": "numeric", "run": "run", "solve": "solve",
                 "train": "train", "quiz": "quiz", "grade": "grade"}


class _LazyCommands(TyperGroup):
    """The root group: each command is registered when first named."""

    def list_commands(self, ctx) -> list[str]:
        return [*super().list_commands(ctx), *(name for name in LAZY_COMMANDS if name not in self.commands)]

    def get_command(self, ctx, name: str):
        if name not in self.commands and name in LAZY_COMMANDS:
            import importlib

            holder = typer.Typer(rich_markup_mode="rich")
            collecting = gc.isenabled()  # a command's modules are no garbage either (see above)
            gc.disable()
            try:
                importlib.import_module(f"convcalc.cli.{LAZY_COMMANDS[name]}").register(holder)
            finally:
                if collecting:
                    gc.freeze()
                    gc.enable()
            for command_name, command in typer.main.get_group(holder).commands.items():
                self.add_command(tidy(command), command_name)
        found = super().get_command(ctx, name)
        return tidy(found) if found is not None else None


_MAX_WHOLE = 2**63 - 1  # convcalc.limits.MAX_WHOLE (not imported here: start-up time)


def tidy(command):
    """A loaded command as --help shows it: prose in the epilog reflowed (:func:`reflow_epilog`),
    whole-number ranges in short (:func:`tidy_ranges`)."""
    if not getattr(command, "_reflowed", False) and command.epilog:  # an epilog may be written when read
        command.epilog = reflow_epilog(command.epilog)
        command._reflowed = True
    return tidy_ranges(command)


_ITEM = re.compile(r"^(\[bold\]|[-•] |[A-Z][\w ,'()/.-]{0,40}:\s|Exit codes|Examples)")


def reflow_epilog(text: str) -> str:
    """Hand-wrapped prose lines of an epilog joined into one line per item, so rich wraps them
    evenly at any width (it keeps every line break it is given); indented lines (examples,
    tables) and lines that start an item (``Files:``, ``[bold]Checks[/]:``, ``- ``) stay."""
    out: list[str] = []
    for line in text.split("\n"):
        previous = out[-1] if out else ""
        continues = (line and not line.startswith(" ") and previous and not previous.startswith(" ")
                     and not _ITEM.match(line))
        comment = _COMMENT.match(line) if len(_MARKUP.sub("", line)) > 78 else None
        if continues:
            out[-1] = previous.rstrip() + " " + line.strip()
        elif comment:  # a long example: its comment goes on the next line, indented under it
            indent = len(line) - len(line.lstrip())
            out += [comment.group(1).rstrip(), " " * (indent + 4) + comment.group(2)]
        else:
            out.append(line)
    return "\n".join(out)


_COMMENT = re.compile(r"^(\s+\S.*?)\s{3,}((?:\[dim\])?\(.*)$")
_MARKUP = re.compile(r"\[/?[a-z ]*\]")


def tidy_ranges(command):
    """Whole-number options bounded only by :data:`convcalc.limits.MAX_WHOLE` show as
    ``<integer>`` in --help, without ``[1<=x<=9223372036854775807]`` (which crowds the option
    names out of an 80-column help), and say ``1<=x<2**63`` when a value is out of range; the
    bounds checked are the same."""
    for param in command.params:
        kind = param.type
        if type(kind).__name__ == "IntRange" and kind.max == _MAX_WHOLE and kind.min is not None and not kind.clamp:
            param.type = _whole_number(kind)
    return command


def _whole_number(kind):
    """An integer type with ``kind``'s bounds (an IntRange up to 2**63 − 1) that is not shown as a range."""
    integer: Any = next(cls for cls in type(kind).__mro__ if cls.__name__ == "IntParamType")  # typer's click or click
    low, low_open = kind.min, kind.min_open

    class WholeNumber(integer):
        name = "integer"

        def convert(self, value, param, ctx):
            number = super().convert(value, param, ctx)
            if number < low or (low_open and number == low) or number > _MAX_WHOLE:
                bounds = "|x|<2**63" if low <= -_MAX_WHOLE else f"{low}{'<' if low_open else '<='}x<2**63"
                self.fail(f"{number if abs(number) < 10**30 else 'a ' + str(len(str(abs(number)))) + '-digit number'}"
                          f" is not in the range {bounds}.", param, ctx)
            return number

    return WholeNumber()


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
        "Each command's --help has more. Exit codes: 0 ok, 1 an --expect check failed, 2 bad input "
        "(3 is a bug in convcalc: please report it)."
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


if _COLLECTING:  # as the importer had it
    gc.freeze()
    gc.enable()


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
    """The typer app: bad input and failed checks end with one line, never a traceback
    (:func:`convcalc.cli.fastpath.guarded`, which also ends a plain ``shape`` call)."""
    from convcalc.cli.fastpath import guarded

    guarded(lambda: app(standalone_mode=False, prog_name="convcalc"), _click_error)


def _click_error(error: Exception) -> None:
    """End the process for click's own exceptions (help shown, usage errors, typer's Abort)."""
    from convcalc.cli.output import say

    if isinstance(error, typer.Abort):
        sys.exit(130)
    kind = _click_error_kind(error)
    if kind == "help":
        error.show()  # type: ignore[attr-defined]
        sys.exit(error.exit_code)  # type: ignore[attr-defined]
    if kind == "usage":
        ctx = getattr(error, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        say(f"convcalc: error: {error.format_message()}{hint}\n")  # type: ignore[attr-defined]
        sys.exit(2)
    if kind == "other":
        say(f"convcalc: error: {error.format_message()}\n")  # type: ignore[attr-defined]
        sys.exit(error.exit_code)  # type: ignore[attr-defined]
