"""``convcalc solve``: the hyper-parameters that take an input size to an output size, chain
plans over several stages, and conv stacks with a given receptive field."""

from __future__ import annotations

import typer

from convcalc.cli import complete
from convcalc.cli.output import View, choose_format, emit, user_errors
from convcalc.errors import InputError

EPILOG = """[bold]Examples[/]

  convcalc solve --in 32 --out 32 --k 5 --dilation 2

  convcalc solve --in 224 --out 112

  convcalc solve --op conv-transpose --in 14 --out 28 --k 3

  convcalc solve --op maxpool --in 55 --out 27

  convcalc solve --in 32x64 --out 16x64 --limit 5

  convcalc solve --in 3x224x224 --out 512x7x7 --stages 5

  convcalc solve --rf 99 --k 3

  convcalc solve --rf 99 --k 3 --stages 6 --max-dilation 1

[bold]Search[/]: k ≤ --max-k (11), stride ≤ --max-stride (4), dilation ≤ --max-dilation (3); padding at most
the 'same' amount (conv: d(k − 1) in total; pools: PyTorch's floor(k/2)). Fixed values (--k, --stride,
--pad, --dilation, --output-padding, --ceil-mode) are used as given. Every answer is checked by the
shape engine. Ranking: no input rows left unread, symmetric padding, no dilation, smallest kernel.
Exit codes: 0 ok, 2 bad input or no solution (the message names the nearest reachable sizes)."""

SOLVE_FORMATS = ("rich", "text", "json", "markdown")


def register(app: typer.Typer) -> None:
    app.command("solve", epilog=EPILOG, no_args_is_help=True)(solve)


def solve(
    input_shape: str | None = typer.Option(None, "--in", "-i",
        help="Input size: 224, 32x64 (per axis), 3x224x224 (C first)."),
    output_shape: str | None = typer.Option(None, "--out",
        help="Target size, in the same notation: 112, 512x7x7."),
    op: str | None = typer.Option(None, "--op", autocompletion=complete.ops,
        help="conv (default), conv-transpose, maxpool, avgpool, adaptive-avgpool, adaptive-maxpool; 1d/2d/3d."),
    dims: str | None = typer.Option(None, "--dims", help="Spatial rank 1, 2 or 3 (default 2)."),
    k: str | None = typer.Option(None, "--k", "-k", "--kernel", help="Fix the kernel size: 3 or 3x5."),
    stride: str | None = typer.Option(None, "--stride", "-s", help="Fix the stride."),
    pad: str | None = typer.Option(None, "--pad", "-p", "--padding",
        help="Fix the padding: 1, 0:1, same, valid, tf-same."),
    dilation: str | None = typer.Option(None, "--dilation", "-d", help="Fix the dilation."),
    output_padding: str | None = typer.Option(None, "--output-padding",
        help="Fix the output padding (conv-transpose)."),
    ceil_mode: bool | None = typer.Option(None, "--ceil-mode/--floor-mode",
        help="Pooling: only ceil (or only floor) mode; default both."),
    max_k: int = typer.Option(11, "--max-k", help="Largest kernel searched."),
    max_stride: int = typer.Option(4, "--max-stride", help="Largest stride searched."),
    max_dilation: int = typer.Option(3, "--max-dilation", help="Largest dilation searched."),
    stages: int | None = typer.Option(None, "--stages",
        help="A chain of N layers of the op (or, with --rf, exactly N layers)."),
    rf: int | None = typer.Option(None, "--rf", help="Conv stacks whose receptive field is exactly this."),
    depths: int = typer.Option(3, "--depths",
        help="With --rf: how many depths to search, from the shallowest (stacks of each counted)."),
    channels: str | None = typer.Option(None, "--channels", "-c",
        help="Channels for params/MACs when --in/--out have none."),
    limit: int | None = typer.Option(None, "--limit", help="Answers listed (default 10; plans 3; --json: all)."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable JSON (schema convcalc/solve/v1)."),
    fmt: str | None = typer.Option(None, "--format", "-f",
                                   autocompletion=complete.words("rich", "text", "json", "markdown"),
                                   help="rich, text, json or markdown."),
) -> None:
    """Find the kernel, stride, padding and dilation that give a size (PyTorch's rules)."""
    from convcalc.inverse.solve import Bounds

    with user_errors():
        form = choose_format(fmt, json_flag, SOLVE_FORMATS)
        if limit is not None and limit < 1:
            raise InputError(f"--limit must be at least 1; got {limit}")
        bounds = Bounds(max_k, max_stride, max_dilation)
        if rf is not None:
            _show_rf(rf, k, stride, dilation, bounds, stages, limit, form, depths)
            return
        if input_shape is None or output_shape is None:
            raise InputError("solve needs --in and --out (e.g. --in 224 --out 112), or --rf R for a receptive field")
        op_name, rank, spatial_in, spatial_out, chans = parse_sizes(op, dims, input_shape, output_shape, channels)
        fixed = parse_fixed(rank, k, stride, pad, dilation, output_padding, ceil_mode)
        if stages is not None:
            from convcalc.inverse.plan import plan_chain
            from convcalc.render import solve as render

            result = plan_chain(op_name, rank, spatial_in, spatial_out, fixed, stages, bounds, limit, chans)
            _emit(form, render.plan_dict(result), render.plan_text(result), render.plan_markdown(result))
            return
        from convcalc.inverse.solve import solve_layer
        from convcalc.render import solve as render

        shown = limit if limit is not None else (None if form == "json" else 10)
        result = solve_layer(op_name, rank, spatial_in, spatial_out, fixed, bounds, shown, chans)
        emit(View(json=lambda: render.solve_dict(result), text=lambda: render.solve_text(result),
                  markdown=lambda: render.solve_markdown(result), rich=lambda _: render.solve_rich(result)), form)


def _emit(form: str, doc, text: str, markdown: str) -> None:
    """Print a result that has no rich renderer of its own: its text, through the console."""
    def rich(_):
        from rich.text import Text

        return Text(text)

    emit(View(json=lambda: doc, markdown=lambda: markdown, text=lambda: text, rich=rich), form)


def _show_rf(rf, k, stride, dilation, bounds, stages, limit, form, depths) -> None:
    from convcalc.inverse.plan import rf_stacks
    from convcalc.inverse.solve import Fixed
    from convcalc.notation import parse_ints
    from convcalc.render import solve as render

    def one(value, what):
        if value is None:
            return None
        values = parse_ints(value, what)
        if len(values) != 1:
            raise InputError(f"{what} takes one value for a receptive-field stack (one axis); got {value}")
        return values[0]

    fixed = Fixed(k=one(k, "--k"), stride=one(stride, "--stride"), dilation=one(dilation, "--dilation"))
    result = rf_stacks(rf, fixed, bounds, stages, limit, depths)
    _emit(form, render.rf_dict(result), render.rf_text(result), render.rf_markdown(result))


def parse_sizes(op, dims, input_shape, output_shape, channels):
    """(op name with rank, rank, spatial in, spatial out, (C_in, C_out)) from the typed sizes."""
    from convcalc.layers.registry import resolve_op
    from convcalc.notation import parse_shape

    dims_value = None
    if dims is not None:
        if not str(dims).strip().isdigit():
            raise InputError(f"--dims must be 1, 2 or 3; got {dims!r}")
        dims_value = int(dims)
    spec, rank = resolve_op(op or "conv", dims_value)
    if rank is None:
        raise InputError(f"{spec.name} has no spatial size to solve for")
    shape_in, _ = parse_shape(input_shape, "--in", allow_symbols=False)
    shape_out, _ = parse_shape(output_shape, "--out", allow_symbols=False)
    c_in, spatial_in = _split(shape_in, rank, "--in")
    c_out, spatial_out = _split(shape_out, rank, "--out")
    if channels is not None:
        from convcalc.notation import parse_ints

        given = parse_ints(channels, "--channels")
        if len(given) not in (1, 2):
            raise InputError(f"--channels takes C or C_inxC_out; got {channels}")
        c_in = c_in if c_in is not None else given[0]
        c_out = c_out if c_out is not None else given[-1]
    if spec.name.endswith("pool") and c_in is not None and c_out is not None and c_in != c_out:
        raise InputError(f"{spec.name} keeps the channels: --in has {c_in}, --out has {c_out}")
    if spec.name.endswith("pool"):
        c_out = None
    return f"{spec.name}{rank}d", rank, spatial_in, spatial_out, (c_in, c_out)


def _split(shape: tuple, rank: int, what: str) -> tuple[int | None, tuple[int, ...]]:
    if len(shape) == 1 and rank > 1:
        return None, shape * rank
    if len(shape) == rank:
        return None, tuple(shape)
    if len(shape) == rank + 1:
        return shape[0], tuple(shape[1:])
    if len(shape) == rank + 2:
        return shape[1], tuple(shape[2:])
    raise InputError(f"{what} has {len(shape)} numbers; a {rank}-d layer takes 1 (square), {rank} (spatial), "
                     f"{rank + 1} (C first) or {rank + 2} (N, C first)")


def parse_fixed(rank, k, stride, pad, dilation, output_padding, ceil_mode):
    from convcalc.inverse.solve import expand_fixed
    from convcalc.notation import parse_ints, parse_padding

    pads = None
    if pad is not None:
        pads = parse_padding(pad)
        if pads == "valid":
            pads = ((0, 0),)
    return expand_fixed(
        rank,
        k=parse_ints(k, "--k (kernel size)") if k is not None else None,
        stride=parse_ints(stride, "--stride") if stride is not None else None,
        pad=pads,
        dilation=parse_ints(dilation, "--dilation") if dilation is not None else None,
        output_padding=None if output_padding is None else parse_ints(output_padding, "--output-padding", minimum=0),
        ceil_mode=ceil_mode,
    )
