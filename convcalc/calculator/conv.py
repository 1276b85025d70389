"""``convcalc conv``: a 2-d convolution of small tensors, each output entry explained.

Cross-correlation, as every framework computes it (PyTorch ``conv2d``)::

    J[co, y, x] = b[co] + Σ_ci Σ_u Σ_v  Ip[ci, s·y + d·u, s·x + d·v] · K[co, ci, u, v]

where ``Ip`` is the zero-padded input. With ``groups`` g (PyTorch's grouped convolution) the
kernel is (C_out, C_in/g, kh, kw) and output channel co reads only the input channels of its
group, g(co)·C_in/g + ci for ci < C_in/g, g(co) = ⌊co / (C_out/g)⌋. True convolution (``flip=True``) is the same sum
with the kernel rotated by 180° over its spatial axes, ``flip(K)[u, v] = K[kh−1−u, kw−1−v]``.
The values come from :class:`convcalc.layers.conv.Conv`'s forward; the sums shown are
rebuilt from the window indices and checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convcalc.calculator import operands, settings
from convcalc.calculator.terms import SumEntry, Term, check, plain, total
from convcalc.compute import windows
from convcalc.engine.report import Step
from convcalc.errors import InputError
from convcalc.layers.base import analyze_batched
from convcalc.layers.conv import Conv


@dataclass(frozen=True)
class ConvResult:
    """Everything ``convcalc conv`` shows: operands, the padded input, the result, and (with
    ``explain``) one :class:`SumEntry` per output entry."""

    input: np.ndarray  # (C_in, H, W)
    kernel: np.ndarray  # (C_out, C_in, kh, kw), as given
    applied_kernel: np.ndarray  # the kernel the sum uses: flip(K) for a true convolution
    flip: bool
    stride: tuple[int, int]
    padding: settings.Pads
    dilation: tuple[int, int]
    bias: np.ndarray | None  # (C_out,)
    padded: np.ndarray  # (C_in, H + pads, W + pads)
    output: np.ndarray  # (C_out, oh, ow)
    entries: tuple[SumEntry, ...]
    size_steps: tuple[Step, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    plain_matrices: bool  # both operands were plain matrices: show them without channel axes
    groups: int = 1

    @property
    def exact(self) -> bool:
        return self.output.dtype == object


def convolve(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    stride: tuple[int, int] = (1, 1),
    padding: str | settings.Pads = ((0, 0), (0, 0)),
    dilation: tuple[int, int] = (1, 1),
    bias: str | None = None,
    flip: bool = False,
    explain: bool = False,
    groups: int = 1,
) -> ConvResult:
    """Correlate (or, with ``flip``, convolve) ``image`` with ``kernel`` via the Conv layer's forward."""
    x = operands.as_image(image)
    c_in = x.shape[1]
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 or c_in % groups:
        raise InputError(f"--groups {groups}: the groups must be a whole number ≥ 1 dividing the {c_in} input channels")
    group_notes: list[str] = []
    if groups > 1 and kernel.ndim == 3 and c_in // groups == 1:  # depthwise: one matrix per output channel
        kernel = kernel.reshape(kernel.shape[0], 1, *kernel.shape[1:])
    read = operands.as_conv_kernel(kernel, c_in // groups)
    weight = read.weight
    c_out, _, kh, kw = weight.shape
    if c_out % groups:
        raise InputError(f"--groups {groups}: the {c_out} output channels (kernel {'x'.join(map(str, weight.shape))}) "
                         f"are not a multiple of the groups")
    if groups > 1:
        group_notes.append(f"groups = {groups}: the input channels split into {groups} groups of {c_in // groups}; "
                           f"the {c_out // groups} output channel{'s' if c_out // groups != 1 else ''} of each group "
                           f"read only its channels (kernel C_out x C_in/g x kh x kw = {'x'.join(map(str, weight.shape))}, "
                           "'in' counts within the group)")
    x, weight, b = operands.with_bias(x, weight, bias, c_out)

    pads, pad_notes = settings.resolve_padding(padding, x.shape[2:], (kh, kw), stride, dilation, "conv")
    layer = Conv(rank=2, out_channels=c_out, kernel_size=(kh, kw), stride=stride, padding=pads, dilation=dilation,
                 groups=groups, bias=b is not None)
    # the shape rule: refuses a kernel larger than the padded input
    report = analyze_batched(layer, x.shape, explain=True)
    applied = windows.flip(weight, rank=2) if flip else weight
    params = {"weight": applied}
    if b is not None:
        params["bias"] = b
    output = layer.forward(x, params).output[0]
    padded = windows.pad(x, pads)[0]

    entries = tuple(sum_entries(padded, applied, b, output, stride, dilation, groups)) if explain else ()
    notes = group_notes + list(pad_notes) + [n for n in report.notes if n not in pad_notes]
    if read.note:
        notes.insert(0, read.note)
    return ConvResult(
        input=x[0], kernel=weight, applied_kernel=applied, flip=flip, stride=tuple(stride), padding=pads,
        dilation=tuple(dilation), bias=b, padded=padded, output=output, entries=entries,
        size_steps=tuple(s for s in report.steps if s.title == "output"), notes=tuple(notes),
        warnings=tuple(report.warnings), plain_matrices=image.ndim <= 2 and kernel.ndim <= 2, groups=groups,
    )


def window_rows(start: int, k: int, d: int) -> list[int]:
    """The padded-input positions a window starting at ``start`` reads: start + d·u, u < k."""
    return [start + d * u for u in range(k)]


def sum_entries(padded, kernel, bias, output, stride, dilation, groups: int = 1):
    """One SumEntry per output entry of the correlation of ``padded`` with ``kernel``
    (``J[co, y, x] = b[co] + Σ Ip[g·C_in/g + ci, s·y + d·u, s·x + d·v]·K[co, ci, u, v]``, g the group
    of co), each checked against the forward's value in ``output``."""
    c_out, c_in, kh, kw = kernel.shape  # c_in: the input channels of one group
    _, oh, ow = output.shape
    row_starts = windows.window_starts(oh, stride[0])
    col_starts = windows.window_starts(ow, stride[1])
    for co in range(c_out):
        for y, r0 in enumerate(row_starts):
            rows = window_rows(r0, kh, dilation[0])
            for x, c0 in enumerate(col_starts):
                cols = window_rows(c0, kw, dilation[1])
                first = co // (c_out // groups) * c_in
                terms = tuple(
                    Term((first + ci, r, c), plain(padded[first + ci, r, c]), (co, ci, u, v), plain(kernel[co, ci, u, v]))
                    for ci in range(c_in) for u, r in enumerate(rows) for v, c in enumerate(cols)
                )
                b = plain(bias[co]) if bias is not None else None
                value = plain(output[co, y, x])
                check("J", (co, y, x), total(terms, b), value)
                yield SumEntry((co, y, x), terms, b, value)
