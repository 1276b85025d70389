"""``convcalc conv-transpose``: a transposed convolution, shown as its equivalent direct
convolution (Dumoulin & Visin §4; spec arithmetic.md §2.3).

PyTorch ``conv_transpose2d`` (weight ``(C_in, C_out, kh, kw)``) equals a stride-1
correlation of a stretched input:

1. insert ``s − 1`` zeros between neighbouring input entries (size ``(i − 1)·s + 1``);
2. pad ``d(k − 1) − p`` at the start and ``d(k − 1) − p + output_padding`` at the end
   (a negative amount crops);
3. correlate, with dilation ``d``, using the kernel rotated by 180° and its in/out channel
   axes swapped (``K'[co, ci] = flip(K[ci, co])``).

Output size ``o = (i − 1)·s − 2p + d(k − 1) + output_padding + 1``. The result comes from
:class:`convcalc.layers.conv.ConvTranspose`'s forward; the equivalent convolution is run
through :class:`convcalc.layers.conv.Conv`'s forward and must agree entry by entry, and its
explained sums are the one-layer trace of that direct convolution
(:func:`convcalc.trace.one_layer.conv`), each checked against the transposed forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convcalc.calculator import operands, settings
from convcalc.calculator.entries import SumEntry, sum_entries
from convcalc.compute import windows
from convcalc.engine.report import Step
from convcalc.errors import InputError
from convcalc.layers.base import analyze_batched
from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.trace import one_layer


@dataclass(frozen=True)
class TransposeResult:
    input: np.ndarray  # (C_in, H, W)
    kernel: np.ndarray  # (C_in, C_out, kh, kw): PyTorch's ConvTranspose layout
    stride: tuple[int, int]
    padding: settings.Pads
    output_padding: tuple[int, int]
    dilation: tuple[int, int]
    bias: np.ndarray | None
    output: np.ndarray  # (C_out, oh, ow): the transposed convolution's forward
    stretched: np.ndarray  # (C_in, (H−1)s+1, (W−1)s+1): s − 1 zeros inserted between entries
    equivalent_padding: settings.Pads  # (before, after) per axis; negative = crop
    equivalent_input: np.ndarray  # stretched, then padded (or cropped)
    equivalent_kernel: np.ndarray  # (C_out, C_in, kh, kw): flipped, in/out swapped
    equivalent_output: np.ndarray  # Conv forward of the equivalent input: equals ``output``
    entries: tuple[SumEntry, ...]
    size_steps: tuple[Step, ...]
    notes: tuple[str, ...]
    plain_matrices: bool

    @property
    def exact(self) -> bool:
        return self.output.dtype == object


def conv_transpose(
    image: np.ndarray,
    kernel: np.ndarray,
    *,
    stride: tuple[int, int] = (1, 1),
    padding: settings.Pads = ((0, 0), (0, 0)),
    output_padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
    bias: str | None = None,
    explain: bool = False,
) -> TransposeResult:
    """Transposed convolution through the ConvTranspose layer, and its equivalent direct conv."""
    if isinstance(padding, str):
        raise InputError(f"--pad {padding}: a transposed convolution takes numbers (PyTorch's ConvTranspose has no "
                         "padding words); e.g. --pad 1 or --pad 1x0")
    x = operands.as_image(image)
    read = operands.as_transposed_kernel(kernel, x.shape[1])
    weight = read.weight
    _, c_out, kh, kw = weight.shape
    x, weight, b = operands.with_bias(x, weight, bias, c_out)

    layer = ConvTranspose(rank=2, out_channels=c_out, kernel_size=(kh, kw), stride=stride, padding=padding,
                          output_padding=output_padding, dilation=dilation, bias=b is not None)
    report = analyze_batched(layer, x.shape, explain=True)
    params = {"weight": weight} | ({"bias": b} if b is not None else {})
    forward = layer.forward(x, params).output
    output = forward[0]

    stretched = windows.insert_zeros(x, stride)
    equivalent_padding = tuple(
        (d * (k - 1) - pl, d * (k - 1) - pr + op)
        for k, d, (pl, pr), op in zip((kh, kw), dilation, layer.padding, layer.output_padding)
    )
    equivalent_input = _pad_or_crop(stretched, equivalent_padding)
    equivalent_kernel = windows.flip(np.swapaxes(weight, 0, 1), rank=2)
    direct = Conv(rank=2, out_channels=c_out, kernel_size=(kh, kw), stride=1, padding=0, dilation=dilation,
                  bias=b is not None)
    traced = one_layer.conv(direct, equivalent_input, equivalent_kernel, b, ((0, 0), (0, 0)), explain=explain,
                            expected=forward)
    equivalent_output = traced.output[0]
    entries = tuple(sum_entries(traced, equivalent_kernel.shape))
    notes = ([read.note] if read.note else []) + list(report.notes)
    return TransposeResult(
        input=x[0], kernel=weight, stride=tuple(layer.stride), padding=tuple(layer.padding),
        output_padding=tuple(layer.output_padding), dilation=tuple(layer.dilation), bias=b, output=output,
        stretched=stretched[0], equivalent_padding=equivalent_padding, equivalent_input=equivalent_input[0],
        equivalent_kernel=equivalent_kernel, equivalent_output=equivalent_output, entries=entries,
        size_steps=tuple(s for s in report.steps if s.title == "output"), notes=tuple(notes),
        plain_matrices=image.ndim <= 2 and kernel.ndim <= 2,
    )


def _pad_or_crop(x: np.ndarray, pads: settings.Pads) -> np.ndarray:
    """Pad the spatial axes where the amount is positive; crop where it is negative."""
    grow = tuple((max(a, 0), max(b, 0)) for a, b in pads)
    x = windows.pad(x, grow) if any(a or b for a, b in grow) else x
    (ct, cb), (cl, cr) = ((max(-a, 0), max(-b, 0)) for a, b in pads)
    h, w = x.shape[-2:]
    return x[..., ct:h - cb, cl:w - cr]

