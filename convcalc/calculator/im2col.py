"""``convcalc im2col``: a convolution as one matrix product (CS231n; spec arithmetic.md §7.2).

``X_col = im2col(Ip)`` has one row per (channel, kernel row, kernel column) — in that order,
matching ``W.reshape(C_out, −1)`` — and one column per output position (row-major). Then

    J_row = W_row · X_col (+ b),   shape (C_out, oh·ow),

and reshaping ``J_row`` to ``(C_out, oh, ow)`` gives the convolution, which must equal
:class:`convcalc.layers.conv.Conv`'s forward. The patch matrix comes from
:func:`convcalc.compute.windows.im2col`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convcalc.calculator import operands, settings
from convcalc.compute import windows
from convcalc.engine.report import Step
from convcalc.errors import InputError
from convcalc.layers.base import analyze_batched
from convcalc.layers.conv import Conv
from convcalc.trace.context import require_agreement


@dataclass(frozen=True)
class Im2colResult:
    input: np.ndarray  # (C, H, W)
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: settings.Pads
    dilation: tuple[int, int]
    padded: np.ndarray
    columns: np.ndarray  # X_col: (C·kh·kw, oh·ow)
    row_labels: tuple[tuple[int, int, int], ...]  # (channel, kernel row, kernel column) per row
    column_labels: tuple[tuple[int, int], ...]  # (output row, output column) per column
    output_size: tuple[int, int]
    weight_rows: np.ndarray | None  # W_row: (C_out, C·kh·kw)
    bias: np.ndarray | None
    product: np.ndarray | None  # W_row · X_col (+ b): (C_out, oh·ow)
    output: np.ndarray | None  # the product reshaped to (C_out, oh, ow) — equals Conv's forward
    size_steps: tuple[Step, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    plain_matrices: bool

    @property
    def exact(self) -> bool:
        return self.columns.dtype == object


def im2col(
    image: np.ndarray,
    kernel: np.ndarray | None = None,
    *,
    kernel_size: tuple[int, int] | None = None,
    stride: tuple[int, int] = (1, 1),
    padding: str | settings.Pads = ((0, 0), (0, 0)),
    dilation: tuple[int, int] = (1, 1),
    bias: str | None = None,
) -> Im2colResult:
    """The patch matrix of ``image``; with a kernel also the GEMM and its reshape."""
    x = operands.as_image(image)
    c = x.shape[1]
    weight = b = None
    note = None
    if kernel is not None:
        read = operands.as_conv_kernel(kernel, c)
        weight, note = read.weight, read.note
        if kernel_size is not None and tuple(kernel_size) != tuple(weight.shape[2:]):
            raise InputError(f"--k {'x'.join(map(str, kernel_size))} disagrees with the kernel given "
                             f"({weight.shape[2]}x{weight.shape[3]}): leave --k out or make them match")
        kernel_size = tuple(weight.shape[2:])
        x, weight, b = operands.with_bias(x, weight, bias, weight.shape[0])
    elif kernel_size is None:
        raise InputError("im2col needs the kernel size: --k 3 (or 3x2), or a KERNEL matrix")
    elif bias is not None:
        raise InputError("--bias needs a KERNEL (the bias is added to W_row · X_col)")
    kh, kw = kernel_size
    pads, pad_notes = settings.resolve_padding(padding, x.shape[2:], (kh, kw), stride, dilation, "im2col")
    c_out = weight.shape[0] if weight is not None else 1
    layer = Conv(rank=2, out_channels=c_out, kernel_size=(kh, kw), stride=stride, padding=pads, dilation=dilation,
                 bias=b is not None)
    report = analyze_batched(layer, x.shape, explain=True)
    oh, ow = (int(v) for v in report.output[2:])
    padded = windows.pad(x, pads)
    columns = windows.im2col(padded, (kh, kw), stride, dilation, (oh, ow))[0]
    padded = padded[0]
    row_labels = tuple((ch, u, v) for ch in range(c) for u in range(kh) for v in range(kw))
    column_labels = tuple((y, xx) for y in range(oh) for xx in range(ow))

    weight_rows = product = output = None
    if weight is not None:
        weight_rows = weight.reshape(c_out, -1)
        product = np.matmul(weight_rows, columns)
        if b is not None:
            product = product + b.reshape(-1, 1)
        output = product.reshape(c_out, oh, ow)
        params = {"weight": weight} | ({"bias": b} if b is not None else {})
        require_agreement(output, layer.forward(x, params).output[0], "W_row · X_col against the Conv layer's forward")
    notes = ([note] if note else []) + list(pad_notes) + [n for n in report.notes if n not in pad_notes]
    return Im2colResult(
        input=x[0], kernel_size=(kh, kw), stride=tuple(stride), padding=pads, dilation=tuple(dilation), padded=padded,
        columns=columns, row_labels=row_labels, column_labels=column_labels, output_size=(oh, ow),
        weight_rows=weight_rows, bias=b, product=product, output=output,
        size_steps=tuple(s for s in report.steps if s.title == "output"), notes=tuple(notes),
        warnings=tuple(report.warnings), plain_matrices=image.ndim <= 2 and (kernel is None or kernel.ndim <= 2),
    )
