"""The numeric operation calculator: ``convcalc conv``, ``pool``, ``conv-transpose`` and
``im2col`` on small matrices typed on the command line or read from files, with each
output entry's computation on request (``--explain``).

Commands are thin: read the operands, call the engine (:mod:`convcalc.calculator`), hand
the result to a printer (:mod:`convcalc.render.calculator`). NumPy is imported inside the
commands so that ``convcalc shape`` starts fast.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import typer
from typer.core import TyperCommand

from convcalc.cli import complete
from convcalc.cli.options import include_pad
from convcalc.cli.output import View, choose_format, emit, say, user_errors
from convcalc.errors import ExpectationFailed, InputError
from convcalc.limits import MAX_WHOLE

_NEGATIVE = re.compile(r"^-[\d.]")
FORMATS = ("rich", "text", "plain", "json", "csv", "markdown", "latex")

_MATRICES = """[bold]Matrices[/]: rows split by ; and entries by spaces or commas ("1 3 2; 4 8 3"); channels split by \
| ("1 2; 3 4 | 5 6; 7 8" is 2x2x2). Whole numbers and p/q stay exact; a decimal anywhere gives floats. Or a file: \
.json (nested lists), .csv (a blank line starts the next channel), .npy or .txt; - reads standard input.

[bold]Formats[/]: rich on a terminal, text when piped, --json, --format plain (the result only, readable back as a \
matrix), csv, markdown, latex. Exit codes: 0 ok, 1 an --expect check failed, 2 bad input."""

CONV_EPILOG = """[bold]Examples[/]

  convcalc conv "12 3 19; 25 10 1; 9 7 17" "1 2; 3 4" --explain

  convcalc conv "1 3 2 4; 4 8 3 1; 2 1 4 3" "-1 0 1; -1 0 1; -1 0 1" --pad 1

  convcalc conv image.csv kernel.json --stride 2 --pad 1 --bias 1

  convcalc conv "1 2; 3 4" "1 2; 3 4" --flip --pad full    [dim](true convolution)[/]

  convcalc conv "1 2; 3 4 | 5 6; 7 8" "1 0; 0 1 | 0 1; 1 0" --json

  convcalc conv "1 2; 3 4" "1 1; 1 1" --expect "10"

  convcalc conv "1 2; 3 4 | 5 6; 7 8" "1 0; 0 1 | 2 0; 0 2" --groups 2    \
[dim](depthwise: one kernel matrix per channel)[/]

  convcalc conv "12 3 19; 25 10 1; 9 7 17" "1 2; 3 4" --animate conv.gif    [dim](the numbers in the cells, each sum)[/]

[bold]Convention[/]: cross-correlation, as every deep-learning framework computes "convolution": J\\[y,x] = b + Σ \
Ip\\[s·y + d·u, s·x + d·v]·K\\[u,v] over the padded input Ip. --flip rotates the kernel by 180° first (true \
convolution).

[bold]Kernels[/]: a matrix (one kernel); C_in matrices split by | (one output channel); on a one-channel input, \
several matrices are several output channels; C_out x C_in x kh x kw from a JSON or .npy file.

[bold]Padding[/]: 1, 1x2 (per axis), 0:1x0:1 (before:after), same, valid, full (d·(k − 1) each side), tf-same.

""" + _MATRICES

POOL_EPILOG = """[bold]Examples[/]

  convcalc pool "3 3 2 1; 0 0 1 3; 3 1 2 2; 2 0 0 2" --k 3 --stride 1 --explain

  convcalc pool "1 3 3; 3 2 0; 3 1 3" --k 2 --stride 1 --explain      [dim](ties)[/]

  convcalc pool "1 2 3 4; 5 6 7 8" --k 2 --mode avg --pad 1 --explain

[bold]Convention[/]: PyTorch's. The stride defaults to the window size. Max pooling pads with −∞ (padding never wins) \
and, on ties, the first maximum in row-major order of the window wins. Average pooling divides by the window clipped \
at the end of the right padding (count_include_pad, the default), by the real entries only (--no-count-include-pad), \
or by --divisor-override. Padding is at most half the window.

""" + _MATRICES

TRANSPOSE_EPILOG = """[bold]Examples[/]

  convcalc conv-transpose "1 2; 3 4" "1 0 1; 0 1 0; 1 0 1" --stride 2

  convcalc conv-transpose "1 2 3; 4 5 6; 7 8 9" "1 1 1; 1 1 1; 1 1 1" --stride 2 --pad 1 --explain

  convcalc conv-transpose "1 2; 3 4" "1 2; 3 4" --stride 2 --pad 1 --output-padding 1 --json

[bold]Convention[/]: PyTorch's conv_transpose2d, o = (i − 1)·s − 2p + d·(k − 1) + output_padding + 1, kernel layout \
C_in x C_out x kh x kw. The result is also shown as the equivalent direct convolution (Dumoulin & Visin): s − 1 zeros \
inserted between input entries, d(k − 1) − p padding (plus output_padding at the end), stride 1, the kernel rotated \
180°; --explain writes each output entry as a sum over that padded input.

""" + _MATRICES

IM2COL_EPILOG = """[bold]Examples[/]

  convcalc im2col "1 2 3; 4 5 6; 7 8 9" --k 2

  convcalc im2col "1 3 2 4; 4 8 3 1; 2 1 4 3" "-1 0 1; -1 0 1; -1 0 1"

  convcalc im2col "1 2; 3 4 | 5 6; 7 8" --k 2 --pad 1 --stride 2 --json

[bold]Layout[/]: X_col has one row per (channel, kernel row, kernel column) and one column per output position, \
row-major. The rows match K.reshape(C_out, −1), so a convolution is the product W_row · X_col reshaped to C_out x oh x \
ow (CS231n's im2col; PyTorch's unfold).

""" + _MATRICES


class MatrixCommand(TyperCommand):
    """A command whose arguments may be matrices starting with a minus sign ("-1 0 1; ...").

    Click would read such an argument as an unknown option. No option starts with a digit,
    so a leading space is added (the matrix reader strips it) and it stays an argument —
    unless it follows an option that takes a value (``--bias -1``), which click handles.
    """

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        takes_value = {name for p in self.params if getattr(p, "is_flag", True) is False for name in p.opts}
        protected, previous = [], None
        for arg in args:
            protected.append(f" {arg}" if _NEGATIVE.match(arg) and previous not in takes_value else arg)
            previous = arg
        return super().parse_args(ctx, protected)


def _padding(settings, pad: str | None):
    """``--pad`` as the calculator reads it (a word or per-axis pairs). A word accepted in a
    spelling PyTorch refuses (``SAME``, ``Valid``) gets a note on stderr, as ``shape`` gives."""
    from convcalc.notation import torch_spelling_note

    word = settings.padding_word(pad)
    note = torch_spelling_note(pad, word, "--pad") if isinstance(word, str) else None
    if note is not None:
        say(f"note: {note}\n")
    return word


def register(app: typer.Typer) -> None:
    for name, command, epilog in (("conv", conv, CONV_EPILOG), ("pool", pool, POOL_EPILOG),
                                  ("conv-transpose", conv_transpose, TRANSPOSE_EPILOG),
                                  ("im2col", im2col, IM2COL_EPILOG)):
        app.command(name, cls=MatrixCommand, epilog=epilog, no_args_is_help=True)(command)


_INPUT_HELP = ('The input: a matrix such as "1 3 2; 4 8 3", channels split by |, '
               "or a .json/.csv/.npy/.txt file (- = stdin).")
_KERNEL_HELP = 'The kernel: a matrix such as "-1 0 1; -1 0 1; -1 0 1", C_in matrices split by |, or a file.'
_STRIDE = "Stride: 2 or 2x1 (rows x columns)."
_DILATION = "Dilation (1 = ordinary)."
_EXPLAIN = "Show each output entry's computation (its window highlighted on a terminal)."
_AT = "Explain only this output entry: ROW,COL (or CHANNEL,ROW,COL)."
_EXPECT = "Exit 1 unless the result is this matrix (text or file)."
_JSON = "Machine-readable JSON (schema convcalc/{}/v1)."
_MAX_MEMORY = "Refuse inputs needing more memory than this (2G, 500M; default a quarter of RAM, at most 2 GiB)."
_FORMAT = "rich, text, plain (the result only), json, csv, markdown, latex."
_FORMATS = complete.words("rich", "text", "plain", "json", "csv", "markdown", "latex")
_ANIMATE = "Also draw the window step by step, numbers and sums shown: FILE .gif, .png, .svg or .html."


def conv(
    input_: str = typer.Argument(..., metavar="INPUT", help=_INPUT_HELP, show_default=False),
    kernel: str = typer.Argument(..., metavar="KERNEL", help=_KERNEL_HELP, show_default=False),
    stride: str | None = typer.Option(None, "--stride", "-s", help=_STRIDE),
    pad: str | None = typer.Option(None, "--pad", "-p", "--padding",
                                   help="Padding: 1, 1x2, 0:1x0:1, same, valid, full, tf-same."),
    dilation: str | None = typer.Option(None, "--dilation", "-d", help=_DILATION),
    bias: str | None = typer.Option(None, "--bias", "-b", help='Bias: one number, or one per output channel ("1 -2").'),
    flip: bool = typer.Option(False, "--flip", help="True convolution: rotate the kernel by 180° first (shown)."),
    groups: int = typer.Option(1, "--groups", "-g", min=1,
                               help="Grouped convolution (PyTorch's groups): the kernel is C_out x C_in/groups x kh x "
                                    "kw; groups = C_in is depthwise."),
    explain: bool = typer.Option(False, "--explain", "-e", help=_EXPLAIN),
    at: str | None = typer.Option(None, "--at", help=_AT),
    expect: str | None = typer.Option(None, "--expect", help=_EXPECT),
    json_flag: bool = typer.Option(False, "--json", help=_JSON.format("conv")),
    fmt: str | None = typer.Option(None, "--format", "-f", autocompletion=_FORMATS, help=_FORMAT),
    animate: str | None = typer.Option(None, "--animate", help=_ANIMATE),
    max_memory: str | None = typer.Option(None, "--max-memory", help=_MAX_MEMORY),
) -> None:
    """A 2-d convolution (cross-correlation, as in every framework) of a matrix with a kernel."""
    with user_errors(), overflow_refused():
        from convcalc.calculator import settings
        from convcalc.calculator.conv import convolve
        from convcalc.render import calculator as render

        form = choose_format(fmt, json_flag, FORMATS)
        where = _at(at)
        image, weights = _read_operands(input_, kernel)
        targets = _animation_targets(animate)
        _check_memory("conv", max_memory, image, weights, None, stride, dilation, pad, explain or where is not None)

        def run(explaining: bool):
            return convolve(
                image, weights, stride=settings.per_axis(stride, "--stride", 1), padding=_padding(settings, pad),
                dilation=settings.per_axis(dilation, "--dilation", 1), bias=bias, flip=flip, explain=explaining,
                groups=groups,
            )

        result = run(_explaining(explain, where, form))
        if targets:  # the drawing needs every entry's sum, whatever the text shows
            _draw(result if result.entries else run(True), targets)
        _show_and_check(form, expect, lambda: render.conv_document(result, where),
                        lambda: render.conv_json(result, where), render.result_tensor(result))


def pool(
    input_: str = typer.Argument(..., metavar="INPUT", help=_INPUT_HELP, show_default=False),
    k: str | None = typer.Option(None, "--k", "-k", "--kernel-size", help="Window size: 3 or 3x2 (required)."),
    stride: str | None = typer.Option(None, "--stride", "-s", help="Stride: 2 or 2x1 (default: the window size)."),
    pad: str | None = typer.Option(None, "--pad", "-p", "--padding",
                                   help="Padding: 1, 1x0, 0:1x0:1 (at most half the window), tf-same."),
    dilation: str | None = typer.Option(None, "--dilation", "-d", help="Dilation (max pooling only)."),
    mode: str = typer.Option("max", "--mode", "-m", help="max or avg."),
    ceil_mode: bool = typer.Option(False, "--ceil-mode",
                                   help="Ceil instead of floor for the output size (PyTorch's last-window rule)."),
    count_include_pad: bool = typer.Option(False, "--count-include-pad",
                                           help="Average pooling: divide by the padded window (the default)."),
    no_count_include_pad: bool = typer.Option(False, "--no-count-include-pad",
                                              help="Average pooling: divide by the real entries only."),
    divisor_override: int | None = typer.Option(None, "--divisor-override", min=-MAX_WHOLE, max=MAX_WHOLE,
                                                help="Average pooling: a fixed divisor."),
    explain: bool = typer.Option(False, "--explain", "-e",
                                 help="Name the winner of each window (max) or the divisor (avg)."),
    at: str | None = typer.Option(None, "--at", help=_AT),
    expect: str | None = typer.Option(None, "--expect", help=_EXPECT),
    json_flag: bool = typer.Option(False, "--json", help=_JSON.format("pool")),
    fmt: str | None = typer.Option(None, "--format", "-f", autocompletion=_FORMATS, help=_FORMAT),
    max_memory: str | None = typer.Option(None, "--max-memory", help=_MAX_MEMORY),
) -> None:
    """Max or average pooling of a matrix (PyTorch's rules: first-maximum ties, divisors, ceil mode)."""
    with user_errors(), overflow_refused():
        from convcalc.calculator import operands, settings
        from convcalc.calculator.pool import pool as run_pool
        from convcalc.render import calculator as render

        form = choose_format(fmt, json_flag, FORMATS)
        if k is None:
            raise InputError("pool needs the window size: --k 2 (or 3x2)")
        where = _at(at)
        image = operands.read_tensor(input_, "INPUT").values
        kernel_size = settings.per_axis(k, "--k (window size)", 1)
        _check_memory("pool", max_memory, image, None, kernel_size, stride, dilation, pad, explain or where is not None)
        result = run_pool(
            image, kernel_size=kernel_size, stride=settings.per_axis(stride, "--stride", 1) if stride else None,
            padding=_padding(settings, pad), dilation=settings.per_axis(dilation, "--dilation", 1),
            mode=mode.strip().lower(), ceil_mode=ceil_mode,
            count_include_pad=include_pad(count_include_pad, no_count_include_pad) is not False,
            divisor_override=divisor_override, explain=_explaining(explain, where, form),
        )
        _show_and_check(form, expect, lambda: render.pool_document(result, where),
                        lambda: render.pool_json(result, where), render.result_tensor(result))


def conv_transpose(
    input_: str = typer.Argument(..., metavar="INPUT", help=_INPUT_HELP, show_default=False),
    kernel: str = typer.Argument(..., metavar="KERNEL", help=_KERNEL_HELP + " Layout C_in x C_out x kh x kw."),
    stride: str | None = typer.Option(None, "--stride", "-s", help=_STRIDE),
    pad: str | None = typer.Option(None, "--pad", "-p", "--padding",
                                   help="Padding p (crops the output): 1, 1x0, 1:0x1:0."),
    output_padding: str | None = typer.Option(None, "--output-padding",
                                              help="Extra rows/columns at the end (< max(stride, dilation))."),
    dilation: str | None = typer.Option(None, "--dilation", "-d", help=_DILATION),
    bias: str | None = typer.Option(None, "--bias", "-b", help="Bias: one number, or one per output channel."),
    explain: bool = typer.Option(False, "--explain", "-e",
                                 help="Each output entry as a sum over the zero-inserted, padded input."),
    at: str | None = typer.Option(None, "--at", help=_AT),
    expect: str | None = typer.Option(None, "--expect", help=_EXPECT),
    json_flag: bool = typer.Option(False, "--json", help=_JSON.format("conv-transpose")),
    fmt: str | None = typer.Option(None, "--format", "-f", autocompletion=_FORMATS, help=_FORMAT),
    max_memory: str | None = typer.Option(None, "--max-memory", help=_MAX_MEMORY),
) -> None:
    """A transposed convolution, and the same result as a direct convolution of the zero-inserted, padded input."""
    with user_errors(), overflow_refused():
        from convcalc.calculator import settings
        from convcalc.calculator.transpose import conv_transpose as run_transpose
        from convcalc.render import calculator as render

        form = choose_format(fmt, json_flag, FORMATS)
        where = _at(at)
        image, weights = _read_operands(input_, kernel)
        _check_memory("conv-transpose", max_memory, image, weights, None, stride, dilation, pad,
                      explain or where is not None, transposed=True)
        result = run_transpose(
            image, weights, stride=settings.per_axis(stride, "--stride", 1), padding=_padding(settings, pad),
            output_padding=settings.per_axis(output_padding, "--output-padding", 0, minimum=0),
            dilation=settings.per_axis(dilation, "--dilation", 1), bias=bias,
            explain=_explaining(explain, where, form),
        )
        _show_and_check(form, expect, lambda: render.transpose_document(result, where),
                        lambda: render.transpose_json(result, where), render.result_tensor(result))


def im2col(
    input_: str = typer.Argument(..., metavar="INPUT", help=_INPUT_HELP, show_default=False),
    kernel: str | None = typer.Argument(None, metavar="[KERNEL]",
                                        help="Optional kernel: adds W_row · X_col and its reshape.",
                                        show_default=False),
    k: str | None = typer.Option(None, "--k", "-k", "--kernel-size",
                                 help="Kernel size: 3 or 3x2 (taken from KERNEL when given)."),
    stride: str | None = typer.Option(None, "--stride", "-s", help=_STRIDE),
    pad: str | None = typer.Option(None, "--pad", "-p", "--padding",
                                   help="Padding: 1, 1x2, 0:1x0:1, same, valid, full."),
    dilation: str | None = typer.Option(None, "--dilation", "-d", help=_DILATION),
    bias: str | None = typer.Option(None, "--bias", "-b",
                                    help="Bias added to each row of W_row · X_col (needs KERNEL)."),
    expect: str | None = typer.Option(None, "--expect",
                                      help="Exit 1 unless the result (the reshaped output with KERNEL, else X_col) is "
                                           "this."),
    json_flag: bool = typer.Option(False, "--json", help=_JSON.format("im2col")),
    fmt: str | None = typer.Option(None, "--format", "-f", autocompletion=_FORMATS, help=_FORMAT),
    max_memory: str | None = typer.Option(None, "--max-memory", help=_MAX_MEMORY),
) -> None:
    """The patch matrix X_col of im2col, and with a KERNEL the convolution as the product W_row · X_col."""
    with user_errors(), overflow_refused():
        from convcalc.calculator import settings
        from convcalc.calculator.im2col import im2col as run_im2col
        from convcalc.render import calculator as render

        form = choose_format(fmt, json_flag, FORMATS)
        image, weights = _read_operands(input_, kernel)
        _check_memory("im2col", max_memory, image, weights, settings.per_axis(k, "--k (kernel size)", 1) if k else None,
                      stride, dilation, pad, False)
        result = run_im2col(
            image, weights, kernel_size=settings.per_axis(k, "--k (kernel size)", 1) if k else None,
            stride=settings.per_axis(stride, "--stride", 1), padding=_padding(settings, pad),
            dilation=settings.per_axis(dilation, "--dilation", 1), bias=bias,
        )
        tensor = render.result_tensor(result) if result.output is not None else result.columns
        _show_and_check(form, expect, lambda: render.im2col_document(result), lambda: render.im2col_json(result),
                        tensor)


def _animation_targets(path: str | None) -> list[tuple[str, str]]:
    """``--animate FILE``: the file checked (kind, writable) before anything is computed."""
    if path is None:
        return []
    from convcalc.cli.animate import output_targets

    return output_targets(path, None)


def _draw(result, targets) -> None:
    from convcalc.animation.numbers import conv_animation
    from convcalc.cli.animate import deliver

    deliver(conv_animation(result), targets, size=None, fps=1.0)


@contextmanager
def overflow_refused():
    """Float results that overflow (±1.8e308) are refused with a message, never shown as inf
    or passed on as a NumPy RuntimeWarning (the inputs themselves are finite: checked on reading)."""
    import numpy as np

    try:
        with np.errstate(over="raise", invalid="raise"):
            yield
    except FloatingPointError:
        raise InputError("the result overflows float64 (an entry would exceed ±1.8e308): "
                         "scale the inputs down") from None


def _check_memory(command: str, max_memory: str | None, image, weights, kernel_size, stride: str | None,
                  dilation: str | None, pad: str | None, explain: bool, transposed: bool = False) -> None:
    """Refuse, before computing, operands whose padded input, windows or explanation would not fit
    ``--max-memory`` (:func:`convcalc.limits.numeric_estimate`)."""
    from convcalc import limits
    from convcalc.calculator import settings

    if kernel_size is None:
        kernel_size = tuple(weights.shape[-2:]) if weights is not None and weights.ndim >= 2 else (1, 1)
    channels_out = 1 if weights is None else (weights.shape[0] if weights.ndim == 4 else 1)
    exact = image.dtype == object and (weights is None or weights.dtype == object)
    estimate = limits.numeric_estimate(
        tuple(image.shape), tuple(kernel_size), stride=settings.per_axis(stride, "--stride", 1),
        # padding_word is quiet here: the command reads --pad again, and notes it
        dilation=settings.per_axis(dilation, "--dilation", 1), pads=settings.padding_word(pad),
        channels_out=channels_out, exact=exact, explain=explain, transposed=transposed)
    estimate.check(limits.memory_limit(max_memory), command)


def _at(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    parts = [p for p in text.replace("x", ",").replace(" ", ",").split(",") if p]
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise InputError(f"--at '{text}' is not an output entry: write ROW,COL (e.g. 0,1) or CHANNEL,ROW,COL")
    return tuple(int(p) for p in parts)


def _read_operands(input_: str, kernel: str | None):
    """The INPUT tensor and the KERNEL tensor (None when no kernel is given), as value arrays."""
    from convcalc.calculator import operands

    image = operands.read_tensor(input_, "INPUT").values
    weights = operands.read_tensor(kernel, "KERNEL").values if kernel is not None else None
    return image, weights


def _explaining(explain: bool, where: tuple[int, ...] | None, form: str) -> bool:
    """Whether the engine should record each entry's computation: asked for, and a form that shows it."""
    return (explain or where is not None) and form not in ("plain", "csv")


def _show_and_check(form: str, expect: str | None, document, data, tensor) -> None:
    """Print the result (:func:`_show`), then apply ``--expect`` to it (:func:`_check`)."""
    _show(form, document, data, tensor)
    _check(expect, tensor)


def _show(form: str, document, data, tensor) -> None:
    """Print in the chosen form; ``document`` and ``data`` build the blocks / the JSON dict on demand."""
    from convcalc.render import calculator as render

    emit(View(json=data, indented_json=render.json_text, plain=lambda: render.to_plain(tensor),
              csv=lambda: render.to_csv(tensor), markdown=lambda: render.to_markdown(document()),
              latex=lambda: render.to_latex(document()), text=lambda: render.to_text(document()),
              rich=lambda _: render.to_rich(document())), form)


def _check(expect: str | None, tensor) -> None:
    """``--expect``: the result must equal the given matrix (exactly, or to 1e-9 for floats)."""
    if expect is None:
        return
    import numpy as np

    from convcalc.calculator import operands
    from convcalc.compute.number_text import number, plain
    from convcalc.trace.context import agree

    wanted = operands.read_tensor(expect, "--expect").values
    got = tensor
    while wanted.ndim > got.ndim and wanted.shape[0] == 1:
        wanted = wanted[0]
    while got.ndim > wanted.ndim and got.shape[0] == 1:
        got = got[0]
    if wanted.shape != got.shape:
        raise ExpectationFailed(f"expected a {'x'.join(map(str, wanted.shape))} result, "
                                f"got {'x'.join(map(str, got.shape))}")
    for index in np.ndindex(got.shape):
        a, b = plain(got[index]), plain(wanted[index])
        if not agree(a, b):
            raise ExpectationFailed(f"entry [{','.join(map(str, index))}] is {number(a)}, expected {number(b)}")
