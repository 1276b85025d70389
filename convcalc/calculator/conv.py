"""``convcalc conv``: a 2-d convolution of small tensors, each output entry explained.

Cross-correlation, as every framework computes it (PyTorch ``conv2d``)::

    J[co, y, x] = b[co] + Σ_ci Σ_u Σ_v  Ip[ci, s·y + d·u, s·x + d·v] · K[co, ci, u, v]

where ``Ip`` is the zero-padded input. With ``groups`` g (PyTorch's grouped convolution) the
kernel is (C_out, C_in/g, kh, kw) and output channel co reads only the input channels of its
group, g(co)·C_in/g + ci for ci < C_in/g, g(co) = ⌊co / (C_out/g)⌋. True convolution (``flip=True``) is the same sum
with the kernel rotated by 180° over its spatial axes, ``flip(K)[u, v] = K[kh−1−u, kw−1−v]``.
The values come from :class:`convcalc.layers.conv.Conv`'s forward; each output entry's sum
is the one-layer trace's (:func:`convcalc.trace.one_layer.conv`, the explainer ``convcalc
backprop`` writes its conv2d steps with), checked there against the forward.
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
from convcalc.layers.conv import Conv
from convcalc.trace import one_layer


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
                           "read only its channels "
                           f"(kernel C_out x C_in/g x kh x kw = {'x'.join(map(str, weight.shape))}, "
                           "'in' counts within the group)")
    x, weight, b = operands.with_bias(x, weight, bias, c_out)

    pads, pad_notes = settings.resolve_padding(padding, x.shape[2:], (kh, kw), stride, dilation, "conv")
    layer = Conv(rank=2, out_channels=c_out, kernel_size=(kh, kw), stride=stride, padding=pads, dilation=dilation,
                 groups=groups, bias=b is not None)
    # the shape rule: refuses a kernel larger than the padded input
    report = analyze_batched(layer, x.shape, explain=True)
    applied = windows.flip(weight, rank=2) if flip else weight
    traced = one_layer.conv(layer, x, applied, b, pads, explain=explain)
    output = traced.output[0]
    padded = windows.pad(x, pads)[0]
    entries = tuple(sum_entries(traced, applied.shape))
    notes = group_notes + list(pad_notes) + [n for n in report.notes if n not in pad_notes]
    if read.note:
        notes.insert(0, read.note)
    return ConvResult(
        input=x[0], kernel=weight, applied_kernel=applied, flip=flip, stride=tuple(stride), padding=pads,
        dilation=tuple(dilation), bias=b, padded=padded, output=output, entries=entries,
        size_steps=tuple(s for s in report.steps if s.title == "output"), notes=tuple(notes),
        warnings=tuple(report.warnings), plain_matrices=image.ndim <= 2 and kernel.ndim <= 2, groups=groups,
    )

