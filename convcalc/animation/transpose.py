"""Frames of a transposed convolution, from :class:`convcalc.layers.conv.ConvTranspose`'s
forward (col2im: ``Yfull[s·t + d·u] += W[u]·X[t]``, then ``Y = Yfull`` cropped by
``p_before`` at the start and ``p_after − output_padding`` at the end).

Scatter view (default): one frame per input entry ``t``; its links are the output cells
``W[u]·X[t]`` lands on. Probed twice: the layer with padding 0 and output padding 0 gives
the uncropped buffer Yfull (where every product lands, cropped border included), the layer
itself says which of those cells survive as output entries; both must agree
(output entry = Yfull cell − p_before).

Direct view (``--view direct``, 1-D and 2-D): the equivalent stride-1 convolution over the
zero-inserted, padded input (Dumoulin & Visin §4), built by the numeric calculator
(:func:`convcalc.calculator.transpose.conv_transpose`, which checks it against the layer's
forward); its windows are probed on the equivalent input, and every tap is checked against
the transposed layer's own forward at the flipped tap.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from convcalc.animation import probe
from convcalc.animation.conv import GeometryMismatch, single_channel
from convcalc.animation.model import CROPPED, INPUT, OUTPUT, PAD, ZERO, Frame, Grid, Index, Link
from convcalc.errors import InputError
from convcalc.layers.base import analyze_batched


def _gathered(layer, spatial: Index, kernel: Index) -> tuple[dict, Index]:
    """tap → (*o) tags: which input entry each output entry receives at each tap."""
    report = analyze_batched(layer, (1, 1, *spatial))
    return probe.reads(layer, spatial, kernel), tuple(int(o) for o in report.output[2:])


def scatter_frames(layer, spatial: Index) -> tuple[Grid, Grid, tuple[Frame, ...], tuple]:
    """(input grid, output grid with its cropped border, frames in row-major input order, pads)."""
    layer = single_channel(layer)
    kernel = tuple(layer.kernel_size)
    pads = tuple((int(a), int(b)) for a, b in layer.padding)
    received, out = _gathered(layer, spatial, kernel)
    full_layer = dataclasses.replace(layer, padding=0, output_padding=(0,) * layer.rank)
    full_received, full = _gathered(full_layer, spatial, kernel)
    # the drawn output: Yfull, and past its end the rows output_padding adds (no product lands there)
    shape = tuple(max(f, a + o) for f, o, (a, _) in zip(full, out, pads))
    kinds = tuple(OUTPUT if all(a <= c < a + o for c, o, (a, _) in zip(cell, out, pads)) else CROPPED
                  for cell in np.ndindex(*shape))
    target = Grid(shape, kinds)
    writes: dict[Index, list[Link]] = {tuple(t): [] for t in np.ndindex(*spatial)}
    for tap in probe.taps(kernel):
        for cell in np.ndindex(*full):
            entry = probe.untag(full_received[tap][cell], spatial)
            if entry is None:
                continue
            inside = target.kind(cell) == OUTPUT
            output = tuple(c - a for c, (a, _) in zip(cell, pads)) if inside else None
            if output is not None and probe.untag(received[tap][output], spatial) != entry:
                raise GeometryMismatch(f"input {entry} tap {tap}: Yfull cell {cell} is not the layer's output {output}")
            writes[entry].append(Link(tap, tuple(cell), output))
    for tap in probe.taps(kernel):  # every product the layer keeps was found in Yfull
        for output in np.ndindex(*out):
            entry = probe.untag(received[tap][output], spatial)
            cell = tuple(o + a for o, (a, _) in zip(output, pads))
            if entry is not None and Link(tap, cell, tuple(output)) not in writes[entry]:
                raise GeometryMismatch(f"output {output} tap {tap} receives input {entry} outside Yfull")
    frames = tuple(Frame(t, t, tuple(sorted(links, key=lambda link: link.tap))) for t, links in writes.items())
    source = Grid(tuple(spatial), (INPUT,) * int(np.prod(spatial)))
    return source, target, frames, pads


def direct_frames(layer, spatial: Index) -> tuple[Grid, Grid, tuple[Frame, ...], tuple]:
    """(equivalent input grid, output grid, frames in row-major output order, equivalent pads)."""
    from convcalc.calculator.transpose import conv_transpose
    from convcalc.layers.conv import Conv

    if layer.rank == 3:
        raise InputError("--view direct draws 1-d and 2-d transposed convolutions; drop --view for the scatter view")
    layer = single_channel(layer)
    kernel = tuple(layer.kernel_size)
    lift = (lambda v: (1, *v)) if layer.rank == 1 else tuple  # 1-d as a 1-row 2-d layer
    spatial2 = tuple(spatial) if layer.rank == 2 else (1, *spatial)
    pads2 = tuple(layer.padding) if layer.rank == 2 else ((0, 0), *layer.padding)
    ids = probe.tags(spatial2)[0, 0]
    extra = (0, *layer.output_padding) if layer.rank == 1 else tuple(layer.output_padding)
    result = conv_transpose(ids, np.ones(lift(kernel)), stride=lift(layer.stride), padding=pads2,
                            output_padding=extra, dilation=lift(layer.dilation))
    equivalent = result.equivalent_input[0]
    drop = (lambda v: tuple(v)[1:]) if layer.rank == 1 else tuple
    eq_pads = drop(result.equivalent_padding)
    eq_shape = drop(equivalent.shape)
    values = equivalent.reshape(eq_shape)
    kinds = []
    for cell in np.ndindex(*eq_shape):
        if values[cell] != 0:
            kinds.append(INPUT)
        elif all(a <= c <= a + (i - 1) * s for c, (a, _), i, s in zip(cell, eq_pads, spatial, layer.stride)):
            kinds.append(ZERO)
        else:
            kinds.append(PAD)
    source = Grid(eq_shape, tuple(kinds))
    direct = Conv(rank=layer.rank, out_channels=1, kernel_size=kernel, stride=1, padding=0, dilation=layer.dilation,
                  bias=False)
    cells = probe.reads(direct, eq_shape, kernel)
    received, out = _gathered(layer, spatial, kernel)
    frames = []
    for index in np.ndindex(*out):
        links = []
        for tap in probe.taps(kernel):
            cell = probe.untag(cells[tap][index], eq_shape)
            entry = probe.untag(values[cell], spatial)
            flipped = tuple(k - 1 - u for k, u in zip(kernel, tap))
            if probe.untag(received[flipped][index], spatial) != entry:
                raise GeometryMismatch(f"output {index} tap {tap}: the direct view reads {entry}, the transposed "
                                       f"forward adds input {probe.untag(received[flipped][index], spatial)}")
            links.append(Link(tap, cell, entry))
        frames.append(Frame(tuple(index), tuple(index), tuple(links)))
    target = Grid(out, (OUTPUT,) * int(np.prod(out)))
    return source, target, tuple(frames), eq_pads

