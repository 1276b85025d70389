"""``convcalc animate``: the sliding window of one layer, drawn step by step — a GIF, a
still of every step (PNG/SVG), a self-contained HTML page, or played in the terminal.

The layer is the one ``convcalc shape`` builds from the same options (same parser, same
validation); the frames are read off that layer's own forward pass (:mod:`convcalc.animation`)."""

from __future__ import annotations

import sys

import typer

from convcalc.cli import complete
from convcalc.cli.options import include_pad
from convcalc.cli.output import console, echo, user_errors
from convcalc.errors import InputError

EPILOG = """[bold]Examples[/]

  convcalc animate --in 5x5 --k 3 --stride 2 --pad 1 -o conv.gif

  convcalc animate --op conv-transpose --in 3x3 --k 3 --stride 2 --pad 1 --output-padding 1 -o t.gif

  convcalc animate --op conv-transpose --in 3x3 --k 3 --stride 2 --view direct -o direct.png

  convcalc animate --op maxpool --in 6x6 --k 3 --stride 2 --ceil-mode -o pool.svg

  convcalc animate --in 7 --k 3 --dilation 2 --dims 1 -o dilated.png

  convcalc animate --in 5x5 --k 3 --html conv.html

  convcalc animate --in 5x5 --k 3          [dim](plays in the terminal; piped: every frame as text)[/]

[bold]Options[/]: the layer options of convcalc shape (--op, --k, --stride, --pad including full, --dilation,
--output-padding, --ceil-mode, ...). One channel is drawn: every channel slides the same window.
[bold]Files[/]: .gif (one frame per output entry), .png / .svg (every step in a grid), .html (play, pause,
step, scrub; no network). GIF, PNG and SVG need matplotlib and Pillow: pip install 'convcalc\\[plot]'.
[bold]Views[/] (transposed convolutions): scatter (default: each input entry times the kernel, added onto
the output) or direct (the equivalent stride-1 convolution over the zero-inserted, padded input).
Exit codes: 0 ok, 2 bad input (including a configuration with more frames than --max-frames)."""

STILLS = (".png", ".svg")
KINDS = (".gif", ".html", *STILLS)


def register(app: typer.Typer) -> None:
    app.command("animate", epilog=EPILOG, no_args_is_help=True)(animate)


def animate(
    input_shape: str | None = typer.Option(None, "--in", "-i", help="Input shape: 5x5, 1x5x5, 7 (with --dims 1)."),
    op: str | None = typer.Option(None, "--op", autocompletion=complete.ops,
                                  help="conv (default), conv-transpose, maxpool, avgpool, …; 1d/2d/3d."),
    dims: str | None = typer.Option(None, "--dims", help="Spatial rank 1, 2 or 3 (default 2)."),
    out: str | None = typer.Option(None, "--out", help="Output channels (checked as by shape; one is drawn)."),
    k: str | None = typer.Option(None, "--k", "-k", "--kernel", help="Kernel size: 3 or 3x5."),
    stride: str | None = typer.Option(None, "--stride", "-s", help="Stride: 2 or 2x1 (pooling: default = kernel)."),
    pad: str | None = typer.Option(None, "--pad", "-p", "--padding", help="Padding: 1, 1x2, 0:1x0:1, same, full."),
    dilation: str | None = typer.Option(None, "--dilation", "-d", help="Dilation (1 = ordinary)."),
    groups: str | None = typer.Option(None, "--groups", "-g", help="Groups (checked; the window is the same)."),
    output_padding: str | None = typer.Option(None, "--output-padding", help="Transposed conv: extra rows at the end."),
    ceil_mode: bool = typer.Option(False, "--ceil-mode", help="Pooling: ceil mode (the extra window is shown)."),
    count_include_pad: bool = typer.Option(False, "--count-include-pad",
                                           help="Avg pooling: divide by the padded window."),
    no_count_include_pad: bool = typer.Option(False, "--no-count-include-pad",
                                              help="Avg pooling: divide by the real elements."),
    divisor_override: str | None = typer.Option(None, "--divisor-override", help="Avg pooling: fixed divisor."),
    padding_mode: str | None = typer.Option(None, "--padding-mode", help="zeros, reflect, replicate or circular."),
    output_size: str | None = typer.Option(None, "--output-size", help="Adaptive pooling output: 4x4."),
    output: str | None = typer.Option(None, "--output", "-o", help="Write FILE: .gif, .png, .svg or .html."),
    html_path: str | None = typer.Option(None, "--html", help="Also (or only) write a self-contained HTML page."),
    view: str | None = typer.Option(None, "--view", help="Transposed conv: scatter (default) or direct."),
    plane: int | None = typer.Option(None, "--slice", help="3-d: the output depth slice drawn (default 0)."),
    size: int | None = typer.Option(None, "--size", help="Width in pixels (default: by the grid's size)."),
    fps: float = typer.Option(2.0, "--fps", help="Frames per second (GIF, HTML, terminal)."),
    max_frames: int = typer.Option(256, "--max-frames", help="Refuse configurations with more frames than this."),
) -> None:
    """Draw the sliding window of a conv, transposed conv or pooling layer, step by step."""
    raw = {
        "in": input_shape, "op": op, "dims": dims, "out": out, "k": k, "stride": stride, "pad": pad,
        "dilation": dilation, "groups": groups, "output-padding": output_padding, "ceil-mode": ceil_mode or None,
        "count-include-pad": True if count_include_pad else False if no_count_include_pad else None,
        "divisor-override": divisor_override, "padding-mode": padding_mode,
        "output-size": output_size,
    }
    raw = {key: value for key, value in raw.items() if value is not None}
    with user_errors():
        include_pad(count_include_pad, no_count_include_pad)  # both at once: refused
        from convcalc.animation.build import animation

        targets = output_targets(output, html_path)
        _check_numbers(size, fps, max_frames)
        anim = animation(raw, view=view, plane=plane, max_frames=max_frames)
        deliver(anim, targets, size=size, fps=fps)


def _check_numbers(size: int | None, fps: float, max_frames: int) -> None:
    if size is not None and not 64 <= size <= 4000:
        raise InputError(f"--size {size} is not a sensible width: give 64 to 4000 pixels")
    if not 0.1 <= fps <= 60:
        raise InputError(f"--fps {fps} must be between 0.1 and 60")
    if max_frames < 1:
        raise InputError("--max-frames must be at least 1")


def output_targets(output: str | None, html_path: str | None) -> list[tuple[str, str]]:
    """[(path, kind)], each path checked for its extension and writability before any drawing."""
    from convcalc.render.animation.files import check_target

    targets = []
    for path, forced in ((output, None), (html_path, ".html")):
        if path is None:
            continue
        suffix = forced or _suffix(path)
        if forced and _suffix(path) not in (".html", ".htm"):
            raise InputError(f"--html {path}: the page's name must end in .html")
        check_target(path)
        targets.append((path, suffix))
    return targets


def _suffix(path: str) -> str:
    from pathlib import Path

    suffix = Path(path).suffix.lower()
    suffix = ".html" if suffix == ".htm" else suffix
    if suffix not in KINDS:
        raise InputError(f"-o {path}: unknown kind of file '{suffix or '(none)'}'; write .gif, .png, .svg or .html")
    return suffix


def _picture(anim, kind: str, size: int | None, fps: float):
    """A function drawing ``anim`` into a given path as a GIF or a still."""
    from convcalc.render.animation import figure

    width = size or figure.default_size(anim, kind in STILLS)
    if kind == ".gif":
        return lambda temporary: figure.write_gif(anim, temporary, width, fps)
    return lambda temporary: figure.write_still(anim, temporary, width, kind[1:])


def deliver(anim, targets: list[tuple[str, str]], *, size: int | None, fps: float) -> None:
    """Write every requested file (saying where), or play / print the frames when none is."""
    from convcalc.render.animation import files

    for path, kind in targets:
        if kind == ".html":
            from convcalc.render.animation import html

            files.write_text(path, html.page(anim, fps))
        else:
            files.write_output(path, _picture(anim, kind, size, fps))
        sys.stderr.write(f"wrote {path} ({len(anim.frames)} frames)\n")
    if targets:
        return
    from convcalc.render.animation import terminal

    if sys.stdout.isatty():
        terminal.play(anim, fps, console())
    else:
        echo(terminal.plain(anim))
