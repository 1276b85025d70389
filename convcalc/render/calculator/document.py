"""The calculator's results as documents: lists of blocks — headings, lines, matrices (with a
window's cells highlighted) and equations (one output entry as a sum of products, a max or
an average) — that every human printer draws (sympy-style: one tree, many printers)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from convcalc.compute.number_text import number, signed


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Line:
    text: str
    kind: str = "text"  # text, note, warning


@dataclass(frozen=True)
class Matrix:
    """A tensor to draw: 2-d, 3-d (channels) or 4-d (out, in) — every 2-d slice a grid."""

    label: str
    tensor: np.ndarray
    highlight: frozenset = frozenset()  # full indices of cells to highlight (a window)
    winner: tuple | None = None  # full index of the cell that won (max pooling)
    row_labels: Sequence[str] | None = None
    column_labels: Sequence[str] | None = None
    channel_name: str = "channel"


@dataclass(frozen=True)
class Equation:
    """``lhs = rhs`` where rhs is a sum of products (+ bias), a max, or an average.

    ``kind``: "sum" (``operands`` are (a, b) pairs), "max" or "avg" (``operands`` are values).
    """

    lhs: str
    kind: str
    operands: tuple
    value: Any
    bias: Any = None
    divisor: Any = None
    remark: str = ""
    window: Matrix | None = None  # drawn (highlighted) on a terminal before the equation
    channels: int = 1  # a sum's products come channel by channel: shown as one bracket each

    def product_groups(self) -> list[tuple]:
        size = len(self.operands) // self.channels
        return [self.operands[i * size:(i + 1) * size] for i in range(self.channels)]


Block = Heading | Line | Matrix | Equation


def shape_text(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape))


def entry_name(name: str, index: Sequence[int], plain: bool) -> str:
    shown = index[1:] if plain else index
    return f"{name}[{','.join(map(str, shown))}]"


def squeeze(tensor: np.ndarray, plain: bool) -> np.ndarray:
    """(1, H, W) → (H, W) and (1, 1, kh, kw) → (kh, kw) when the user gave plain matrices."""
    while plain and tensor.ndim > 2 and tensor.shape[0] == 1:
        tensor = tensor[0]
    return tensor


def squeeze_index(index: tuple, tensor: np.ndarray, plain: bool) -> tuple:
    drop = 0
    while plain and tensor.ndim - drop > 2 and tensor.shape[drop] == 1:
        drop += 1
    return index[drop:]


def _matrix(label: str, tensor: np.ndarray, plain: bool, suffix: str = "", **extra) -> Matrix:
    return Matrix(f"{label} ({shape_text(squeeze(tensor, plain).shape)}){suffix}", squeeze(tensor, plain), **extra)


def _settings_line(stride, padding, dilation, extra: str = "") -> Line:
    from convcalc.calculator.settings import axis_text, pads_text

    text = f"stride {axis_text(stride)}, padding {pads_text(padding)}, dilation {axis_text(dilation)}"
    return Line(text + extra)


def _size_lines(steps) -> list[Block]:
    """The layer's output-size rule with the numbers substituted, one line per axis (or both)."""
    lines: list[Block] = []
    for step in steps:
        where = f" {step.axis}" if step.axis else ""
        substituted = step.substituted.split(" = ")[0]
        result = step.result.split(" = ")[-1]
        body = " = ".join(p for p in (step.formula, substituted, result) if p)
        title = "output size" if step.title == "output" else step.title
        lines.append(Line(f"{title}{where}: {body}"))
    return lines


def _remarks(notes: Iterable[str], warnings: Iterable[str] = ()) -> list[Block]:
    return [Line(w, "warning") for w in warnings] + [Line(n, "note") for n in notes]


def select_entries(entries, at: tuple[int, ...] | None, plain: bool):
    """The entries ``--at`` picks: ROW,COL (in every channel) or CHANNEL,ROW,COL."""
    if at is None:
        return entries
    chosen = [e for e in entries if (e.index[1:] if len(at) == 2 else e.index) == tuple(at)]
    if not chosen:
        from convcalc.errors import InputError

        first, last = (entry_name("J", e.index, plain) for e in (entries[0], entries[-1]))
        raise InputError(f"--at {','.join(map(str, at))} is not an output entry: they run from {first} to {last}")
    return chosen


# --------------------------------------------------------------------------- documents

def conv_document(result, at: tuple[int, ...] | None = None) -> list[Block]:
    """``convcalc conv``: operands, settings, output size, result and each entry's sum."""
    plain = result.plain_matrices
    name = "true convolution J = I ∗ flip(K)" if result.flip else "cross-correlation J = I ⋆ K (as PyTorch's conv2d)"
    blocks: list[Block] = [Heading(name)]
    blocks.append(_matrix("I, input", result.input, plain))
    blocks.append(_matrix("K, kernel", result.kernel, plain, channel_name="kernel"))
    if result.flip:
        blocks.append(_matrix("flip(K), rotated 180°", result.applied_kernel, plain, channel_name="kernel"))
    if result.bias is not None:
        blocks.append(Line("bias b = " + ", ".join(signed(v) for v in result.bias)))
    blocks.append(_settings_line(result.stride, result.padding, result.dilation))
    if any(a or b for a, b in result.padding):
        blocks.append(_matrix("Ip, padded input", result.padded, plain))
    blocks += _size_lines(result.size_steps)
    blocks.append(_matrix("J, output", result.output, plain))
    blocks += _sum_equations(result.entries, result.padded, plain, at)
    blocks += _remarks(result.notes, result.warnings)
    return blocks


def _sum_equations(entries, padded, plain: bool, at) -> list[Block]:
    blocks: list[Block] = []
    chosen = select_entries(entries, at, plain) if entries else []
    if chosen:
        blocks.append(Heading("each output entry: the window of the (padded) input times the kernel, summed"))
    for entry in chosen:
        window = Matrix("window", squeeze(padded, plain),
                        highlight=frozenset(squeeze_index(t.input_index, padded, plain) for t in entry.terms))
        blocks.append(Equation(entry_name("J", entry.index, plain), "sum",
                               tuple((t.input_value, t.kernel_value) for t in entry.terms), entry.value,
                               bias=entry.bias, window=window, channels=padded.shape[0]))
    return blocks


def pool_document(result, at: tuple[int, ...] | None = None) -> list[Block]:
    plain = result.plain_matrices
    if result.mode == "max":
        title = "max pooling J = maxpool(I) (as PyTorch's max_pool2d)"
    else:
        title = "average pooling J = avgpool(I) (as PyTorch's avg_pool2d)"
    blocks: list[Block] = [Heading(title), _matrix("I, input", result.input, plain)]
    from convcalc.calculator.settings import axis_text

    extra = f"; kernel {axis_text(result.kernel_size)}" + (", ceil_mode" if result.ceil_mode else "")
    if result.mode == "avg":
        if result.divisor_override is not None:
            extra += f", divisor_override {result.divisor_override}"
        else:
            extra += ", count_include_pad" if result.count_include_pad else ", padding not counted in the divisor"
    blocks.append(_settings_line(result.stride, result.padding, result.dilation, extra))
    if any(a or b for a, b in result.padding):
        fill = "−∞: it never wins" if result.mode == "max" else "0"
        blocks.append(_matrix("Ip, padded input", result.padded, plain, suffix=f", padding {fill}"))
    blocks += _size_lines(result.size_steps)
    blocks.append(_matrix("J, output", result.output, plain))
    chosen = select_entries(result.entries, at, plain) if result.entries else []
    if result.divisor_override is not None:
        divisor_rule = "(divisor_override)"
    elif result.count_include_pad:
        divisor_rule = "(divisor: the window, padding included)" if any(a or b for a, b in result.padding) else ""
    else:
        divisor_rule = "(divisor: the real entries)"
    if chosen:
        blocks.append(Heading("each window" + (": the first maximum in row-major order wins (PyTorch)"
                                               if result.mode == "max" else "")))
    for entry in chosen:
        values = tuple(v for _, v in entry.cells)
        cells = frozenset(squeeze_index(w, result.padded, plain) for w, _ in entry.cells)
        if result.mode == "max":
            r, c = entry.winner[1] - result.padding[0][0], entry.winner[2] - result.padding[1][0]
            where = entry_name("I", (entry.winner[0], r, c), plain)
            remark = f"at {where}"
            if entry.ties > 1:
                remark += f" (tie: {entry.ties} entries equal {number(entry.value)}; the first one wins)"
            window = Matrix("window", squeeze(result.padded, plain), highlight=cells,
                            winner=squeeze_index(entry.winner, result.padded, plain))
            blocks.append(Equation(entry_name("J", entry.index, plain), "max", values, entry.value, remark=remark,
                                   window=window))
        else:
            window = Matrix("window", squeeze(result.padded, plain), highlight=cells)
            blocks.append(Equation(entry_name("J", entry.index, plain), "avg", values, entry.value,
                                   divisor=entry.divisor, remark=divisor_rule, window=window))
    if result.mode == "max" and result.entries and result.tie_count:
        blocks.append(Line(f"{result.tie_count} window(s) had a tie: "
                           "PyTorch takes the first maximum in row-major order "
                           "(backward routes the gradient to that entry only)", "note"))
    blocks += _remarks(result.notes, result.warnings)
    return blocks


def transpose_document(result, at: tuple[int, ...] | None = None) -> list[Block]:
    plain = result.plain_matrices
    blocks: list[Block] = [Heading("transposed convolution J = conv_transpose(I, K) (as PyTorch's conv_transpose2d)")]
    blocks.append(_matrix("I, input", result.input, plain))
    blocks.append(_matrix("K, kernel (C_in x C_out layout)" if not plain else "K, kernel", result.kernel, plain,
                          channel_name="kernel"))
    if result.bias is not None:
        blocks.append(Line("bias b = " + ", ".join(signed(v) for v in result.bias)))
    from convcalc.calculator.settings import axis_text

    op = result.output_padding
    extra = f", output_padding {axis_text(op)}" if any(op) else ""
    blocks.append(_settings_line(result.stride, result.padding, result.dilation, extra))
    blocks += _size_lines(result.size_steps)
    blocks.append(_matrix("J, output", result.output, plain))
    blocks.append(Heading("the same result as a direct convolution (Dumoulin & Visin): stride 1 over the "
                          "zero-inserted, padded input with the flipped kernel"))
    zeros = [s - 1 for s in result.stride]
    blocks.append(Line(f"1. insert s − 1 = {axis_text(zeros)} zero(s) between neighbouring input entries"))
    blocks.append(_matrix("zero-inserted input", result.stretched, plain))
    pad_words = []
    for axis_name, (before, after) in zip(("rows", "columns"), result.equivalent_padding):
        pad_words.append(f"{axis_name}: {_amount(before)} before, {_amount(after)} after")
    blocks.append(Line(f"2. pad d(k − 1) − p before and d(k − 1) − p + output_padding after — {'; '.join(pad_words)}"))
    blocks.append(_matrix("zero-inserted, padded input", result.equivalent_input, plain))
    hp, wp = result.equivalent_input.shape[1:]
    oh, ow = result.output.shape[1:]
    blocks.append(Line(f"3. correlate with the kernel rotated 180° (in/out channels swapped), stride 1: "
                       f"{hp}x{wp} → {oh}x{ow}"))
    blocks.append(_matrix("flip(K)", result.equivalent_kernel, plain, channel_name="kernel"))
    blocks.append(Line("the direct convolution gives the same J entry for entry (checked)"))
    blocks += _sum_equations(result.entries, result.equivalent_input, plain, at)
    blocks += _remarks(result.notes)
    return blocks


def _amount(n: int) -> str:
    return f"crop {-n}" if n < 0 else str(n)


def im2col_document(result) -> list[Block]:
    plain = result.plain_matrices
    c = result.input.shape[0]
    blocks: list[Block] = [Heading("im2col: every window of the (padded) input becomes one column of X_col")]
    blocks.append(_matrix("I, input", result.input, plain))
    from convcalc.calculator.settings import axis_text

    blocks.append(_settings_line(result.stride, result.padding, result.dilation,
                                 f"; kernel {axis_text(result.kernel_size)}"))
    if any(a or b for a, b in result.padding):
        blocks.append(_matrix("Ip, padded input", result.padded, plain))
    blocks += _size_lines(result.size_steps)
    rows = [(f"{u},{v}" if c == 1 else f"{ch},{u},{v}") for ch, u, v in result.row_labels]
    cols = [f"{y},{x}" for y, x in result.column_labels]
    order = "kernel row, kernel column" if c == 1 else "channel, kernel row, kernel column"
    blocks.append(Line(f"X_col rows: ({order}); columns: output positions (row, column), row-major"))
    blocks.append(Matrix(f"X_col ({shape_text(result.columns.shape)})", result.columns, row_labels=rows,
                         column_labels=cols))
    if result.weight_rows is not None:
        blocks.append(Matrix(f"W_row, K reshaped ({shape_text(result.weight_rows.shape)})", result.weight_rows,
                             column_labels=rows))
        if result.bias is not None:
            blocks.append(Line("bias b = " + ", ".join(signed(v) for v in result.bias) + " (added to each row)"))
        label = "W_row · X_col + b" if result.bias is not None else "W_row · X_col"
        blocks.append(Matrix(f"{label} ({shape_text(result.product.shape)})", result.product, column_labels=cols))
        blocks.append(_matrix("J, the product reshaped", result.output, plain))
        blocks.append(Line("equals the convolution computed directly (checked)"))
    blocks += _remarks(result.notes, result.warnings)
    return blocks


def slices(m: Matrix):
    """(caption, 2-d array, index prefix) for each grid of a tensor."""
    t = m.tensor
    if t.ndim == 1:
        yield "", t.reshape(1, -1), ()
    elif t.ndim == 2:
        yield "", t, ()
    elif t.ndim == 3:
        for c in range(t.shape[0]):
            yield f"{m.channel_name} {c}", t[c], (c,)
    else:
        for o in range(t.shape[0]):
            for i in range(t.shape[1]):
                yield f"out {o}, in {i}", t[o, i], (o, i)
