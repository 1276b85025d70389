"""``convcalc shape``: one layer — output shape, parameters, MACs/FLOPs, memory, receptive
field, and the formula explained step by step."""

# No `from __future__ import annotations`: typer reads each option's annotation, and strings it
# would have to eval (one per option, on every run; start-up time, issue 18).
import typer

from convcalc.cli import complete
from convcalc.cli.shape_run import run

EPILOG = """[bold]Examples[/]

  convcalc shape --in 3x32x32 --k 5 --stride 2 --out 2

  convcalc shape --op conv-transpose --in 16x14x14 --k 3 --stride 2 --pad 1 --output-padding 1 --out 8

  convcalc shape --op maxpool --in 64x55x55 --k 3 --stride 2 --ceil-mode

  convcalc shape --op depthwise-separable --in 32x112x112 --k 3 --out 64

  convcalc shape --in 3xHxW --k 3 --stride 2 --pad 1 --explain

  convcalc shape --in 3xHxW --k K --stride S --pad P --dilation D --explain

  convcalc shape --in 1x28x28 --k 5 --out 6 --pad P --expect 1x6x28x28 --solve

  echo '{"in": "3x32x32", "k": 5, "out": 2}' | convcalc shape --jsonl -

[bold]Ops[/]: conv, conv-transpose, maxpool, avgpool, adaptive-avgpool, adaptive-maxpool, global-avgpool,
global-maxpool, depthwise-separable, linear, flatten — add 1d/2d/3d for the rank (default 2d).

[bold]Shapes[/]: 3x32x32 (C x H x W), 1x3x32x32 (N first), 32x32 (spatial only), 32 (square);
also 3,32,32 or (3, 32, 32). Symbols give formulas: 3xHxW.
[bold]Padding[/]: 1, 1x2 (per axis), 0:1x0:1 (before:after), same, valid, tf-same (TensorFlow SAME).

[bold]Conventions[/]: MACs are multiply-accumulates of the conv/linear GEMM work without bias;
FLOPs = 2 × MACs; bias adds and pooling comparisons are listed as other work.
Exit codes: 0 ok, 1 an --expect check failed, 2 bad input."""


def register(app: typer.Typer) -> None:
    app.command("shape", epilog=EPILOG)(shape)  # no arguments: say --in is missing


def shape(
    input_shape: str | None = typer.Option(None, "--in", "-i", help="Input shape, e.g. 3x32x32, 1x3x32x32, 32, 3xHxW."),
    op: str | None = typer.Option(None, "--op", autocompletion=complete.ops,
                                  help="Layer type (default conv); rank suffix 1d/2d/3d."),
    dims: str | None = typer.Option(None, "--dims", help="Spatial rank 1, 2 or 3 (default 2)."),
    out: str | None = typer.Option(None, "--out", help="Output channels (conv) or features (linear)."),
    k: str | None = typer.Option(None, "--k", "-k", "--kernel", help="Kernel size: 3 or 3x5."),
    stride: str | None = typer.Option(None, "--stride", "-s", help="Stride: 2 or 2x1 (pooling: default = kernel)."),
    pad: str | None = typer.Option(None, "--pad", "-p", "--padding",
                                   help="Padding: 1, 1x2, 0:1x0:1, same, valid, tf-same."),
    dilation: str | None = typer.Option(None, "--dilation", "-d", help="Dilation (1 = ordinary)."),
    groups: str | None = typer.Option(None, "--groups", "-g", help="Groups (must divide both channel counts)."),
    depthwise: bool = typer.Option(False, "--depthwise", help="Depthwise: groups = input channels."),
    multiplier: str | None = typer.Option(None, "--multiplier",
                                          help="Depth multiplier of the separable op: channels per input channel."),
    factor: str | None = typer.Option(None, "--factor", help="Pixel shuffle/unshuffle: the factor r."),
    output_padding: str | None = typer.Option(None, "--output-padding",
                                              help="Transposed conv: extra rows at the end (< max(stride, dilation))."),
    ceil_mode: bool = typer.Option(False, "--ceil-mode",
                                   help="Pooling: ceil instead of floor (PyTorch's last-window rule)."),
    count_include_pad: bool = typer.Option(False, "--count-include-pad",
                                           help="Avg pooling: divide by the padded window (the default)."),
    no_count_include_pad: bool = typer.Option(False, "--no-count-include-pad",
                                              help="Avg pooling: divide by the real elements only."),
    divisor_override: str | None = typer.Option(None, "--divisor-override", help="Avg pooling: fixed divisor."),
    padding_mode: str | None = typer.Option(None, "--padding-mode", help="zeros, reflect, replicate or circular."),
    output_size: str | None = typer.Option(None, "--output-size",
                                           help="Adaptive pooling output: 6x6 (an axis may be none)."),
    start_dim: str | None = typer.Option(None, "--start-dim", help="Flatten: first dim merged (default 1)."),
    end_dim: str | None = typer.Option(None, "--end-dim", help="Flatten: last dim merged (default -1)."),
    no_bias: bool = typer.Option(False, "--no-bias", help="The layer has no bias."),
    batch: str | None = typer.Option(None, "--batch", "-n", help="Batch size N (for MACs and memory)."),
    dtype: str | None = typer.Option(None, "--dtype",
                                     help="Activation dtype for memory: float32 (default), float16, "
                                          "bfloat16, int8, float64."),
    explain: bool = typer.Option(False, "--explain", "-e",
                                 help="Show the formula, the numbers substituted and each step."),
    expect: str | None = typer.Option(None, "--expect", help="Exit 1 unless the output shape is this."),
    expect_params: str | None = typer.Option(None, "--expect-params",
                                             help="Exit 1 unless the parameter count is this."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable JSON (schema convcalc/shape/v1)."),
    fmt: str | None = typer.Option(None, "--format", "-f",
                                   autocompletion=complete.words("rich", "text", "plain", "json", "csv", "markdown"),
                                   help="rich, text, plain (output shape only), json, csv, markdown."),
    jsonl: str | None = typer.Option(None, "--jsonl",
                                     help="Batch mode: one JSON object per line from FILE ('-' for stdin)."),
    solve: bool = typer.Option(False, "--solve",
                               help="Solve for the one symbol (e.g. --pad P) that gives --expect: every whole value."),
) -> None:
    """One layer: output shape, parameters, MACs/FLOPs, memory and receptive field."""
    run(**locals())  # the parameters by name: shape_run.run has the same ones


