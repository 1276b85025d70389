"""``convcalc conv ... --animate FILE``: the animation of the numeric calculator's
convolution, with the numbers in the cells and each output entry's sum.

The frames come from the Conv layer the calculator ran (same kernel size, stride, padding,
dilation; :func:`convcalc.animation.conv.conv_frames`); the numbers and sums from the
calculator's explained entries (:class:`convcalc.calculator.entries.SumEntry`), whose input
cells must be exactly the cells each frame's window reads, in the same tap order."""

from __future__ import annotations

from convcalc.animation.conv import GeometryMismatch, conv_frames
from convcalc.animation.model import Animation
from convcalc.errors import InputError


def _factor(value) -> str:
    from convcalc.compute.number_text import number

    text = number(value)
    return f"({text})" if text.startswith("-") else text


def sum_text(entry) -> str:
    """``J[0, 1] = 3·1 + 19·2 + 10·3 + 1·4 = 75`` (bias appended when there is one)."""
    from convcalc.compute.number_text import number

    products = " + ".join(f"{_factor(t.input_value)}·{_factor(t.kernel_value)}" for t in entry.terms)
    bias = f" + {_factor(entry.bias)}" if entry.bias is not None else ""
    return f"J[{', '.join(map(str, entry.index[1:]))}] = {products}{bias} = {number(entry.value)}"


def conv_animation(result) -> Animation:
    """An :class:`Animation` of a :class:`convcalc.calculator.conv.ConvResult` computed with ``explain``."""
    from convcalc.animation.build import _settings_text
    from convcalc.layers.conv import Conv

    if result.input.shape[0] != 1 or result.kernel.shape[0] != 1:
        raise InputError("--animate draws one input channel and one output channel; this convolution has "
                         f"{result.input.shape[0]} in and {result.kernel.shape[0]} out")
    kernel = tuple(int(k) for k in result.applied_kernel.shape[2:])
    layer = Conv(rank=2, out_channels=1, kernel_size=kernel, stride=result.stride, padding=result.padding,
                 dilation=result.dilation, bias=False)
    spatial = tuple(int(v) for v in result.input.shape[1:])
    source, target, frames, pads = conv_frames(layer, spatial)
    for frame, entry in zip(frames, result.entries, strict=True):
        summed = [t.input_index[1:] for t in entry.terms]
        if entry.index[1:] != frame.index or summed != [link.cell for link in frame.links]:
            raise GeometryMismatch(f"J{list(entry.index)}: the calculator's sum reads other cells than the window")
    return Animation(
        op="conv2d", view="window", settings=_settings_text(layer, spatial, pads), source=source, target=target,
        frames=frames, notes=("true convolution: the kernel shown is rotated by 180°",) if result.flip else (),
        source_values=tuple(result.padded[0].ravel().tolist()), target_values=tuple(result.output[0].ravel().tolist()),
        kernel_values=tuple(result.applied_kernel[0, 0].ravel().tolist()),
        sums=tuple(sum_text(entry) for entry in result.entries),
    )
