"""Frames of a convolution, from :class:`convcalc.layers.conv.Conv`'s forward.

Two probes (see :mod:`convcalc.animation.probe`):

1. the layer itself on the tagged input: which input entry each tap of each output reads
   (or padding);
2. the same layer with padding 0 on a tagged grid of the padded size (the pads the layer's
   shape rule resolved): which padded cell each tap reads, padding cells included.

With zero padding both must agree (padded cell = input entry + p_before) — checked, so a
frame never shows a cell the forward does not read. With reflect/replicate/circular
padding a padding cell holds a copy of the input entry probe 1 names.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from convcalc.animation import probe
from convcalc.animation.model import INPUT, PAD, Frame, Grid, Index, Link
from convcalc.layers.base import analyze_batched


class GeometryMismatch(AssertionError):
    """Two probes of the same forward disagree: a bug, never bad input."""


def single_channel(layer):
    """The same window geometry with one input and one output channel and no bias."""
    return dataclasses.replace(layer, out_channels=1, groups=1, depthwise=False, bias=False)


def padded_grid(spatial: Index, pads) -> Grid:
    """The input inside its padding: INPUT cells in [p_before, p_before + i), PAD elsewhere."""
    shape = tuple(i + a + b for i, (a, b) in zip(spatial, pads))
    kinds = []
    for cell in np.ndindex(*shape):
        inside = all(a <= c < a + i for c, i, (a, _) in zip(cell, spatial, pads))
        kinds.append(INPUT if inside else PAD)
    return Grid(shape, tuple(kinds))


def conv_frames(layer, spatial: Index) -> tuple[Grid, Grid, tuple[Frame, ...], tuple]:
    """(source grid, target grid, frames in row-major output order, pads) of a Conv layer."""
    conv = single_channel(layer)
    report = analyze_batched(conv, (1, 1, *spatial))
    pads = tuple((int(a), int(b)) for a, b in report.hyper["padding"])
    out = tuple(int(o) for o in report.output[2:])
    kernel = tuple(conv.kernel_size)
    entries = probe.reads(conv, spatial, kernel)
    source = padded_grid(spatial, pads)
    flat = dataclasses.replace(conv, padding=0, padding_mode="zeros")
    cells = probe.reads(flat, source.shape, kernel)
    zeros_mode = conv.padding_mode == "zeros"
    frames = []
    for index in np.ndindex(*out):
        links = []
        for tap in probe.taps(kernel):
            entry = probe.untag(entries[tap][index], spatial)
            cell = probe.untag(cells[tap][index], source.shape)
            inside = source.kind(cell) == INPUT
            expected = tuple(c - a for c, (a, _) in zip(cell, pads)) if inside else None
            if (zeros_mode or inside) and entry != expected:
                raise GeometryMismatch(f"output {index} tap {tap}: the layer reads {entry}, its padded grid {cell}")
            links.append(Link(tap, cell, entry))
        frames.append(Frame(tuple(index), tuple(index), tuple(links)))
    target = Grid(out, ("output",) * int(np.prod(out)))
    return source, target, tuple(frames), pads
