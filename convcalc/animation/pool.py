"""Frames of pooling, from the window table the pooling layer's forward uses
(``forward(...).cache.windows``, a :class:`convcalc.compute.windows.WindowTable`).

Window ``t`` reads, per axis, ``positions[t, u]`` (``t·s − p_before + u·d``; an adaptive bin
``start_t + u``); ``valid`` says whether that is a real input entry. In ceil mode the last
window may hang past the padded end: those taps read nothing (drawn as OUTSIDE cells).
Checked against the forward's output on the tagged input: max pooling returns the largest
tag its window reads, average pooling their sum over the divisor.
"""

from __future__ import annotations

import numpy as np

from convcalc.animation import probe
from convcalc.animation.conv import GeometryMismatch
from convcalc.animation.model import INPUT, OUTSIDE, PAD, Frame, Grid, Index, Link
from convcalc.layers.base import analyze_batched


def pool_frames(layer, spatial: Index) -> tuple[Grid, Grid, tuple[Frame, ...], tuple]:
    """(padded input grid incl. any ceil-mode overhang, output grid, frames, layer pads)."""
    x = probe.tags(spatial)
    forward = layer.forward(x, {})
    cache = forward.cache
    table = cache.windows
    report = analyze_batched(layer, x.shape)
    pads = tuple((int(a), int(b)) for a, b in report.hyper.get("padding", [(0, 0)] * len(spatial)))
    out = tuple(int(o) for o in forward.output.shape[2:])
    shape = tuple(table.prepared_spatial()) if table.pads is not None else tuple(spatial)
    kinds = []
    for cell in np.ndindex(*shape):
        if all(a <= c < a + i for c, i, (a, _) in zip(cell, spatial, pads)):
            kinds.append(INPUT)
        elif all(c < i + a + b for c, i, (a, b) in zip(cell, spatial, pads)):
            kinds.append(PAD)
        else:
            kinds.append(OUTSIDE)
    source = Grid(shape, tuple(kinds))
    offset = tuple(a for a, _ in pads) if table.pads is not None else (0,) * len(spatial)
    frames = []
    for index in np.ndindex(*out):
        links, read = [], []
        for tap in table.taps():
            position = tuple(int(p[t, u]) for p, t, u in zip(table.positions, index, tap))
            real = all(bool(v[t, u]) for v, t, u in zip(table.valid, index, tap))
            if table.pads is None and not real:
                continue  # past the end of a short adaptive bin: not a tap of this bin
            cell = tuple(p + a for p, a in zip(position, offset))
            links.append(Link(tuple(tap), cell, position if real else None))
            if real:
                read.append(float(x[(0, 0, *position)]))
        _check(layer, forward, cache, index, read)
        frames.append(Frame(tuple(index), tuple(index), tuple(links)))
    target = Grid(out, ("output",) * int(np.prod(out)))
    return source, target, tuple(frames), pads


def _check(layer, forward, cache, index: Index, read: list[float]) -> None:
    value = float(forward.output[(0, 0, *index)])
    if getattr(cache, "indices", None) is not None:  # max pooling: the largest tag wins
        shown = max(read)
    else:
        divisor = np.broadcast_to(np.asarray(cache.divisor), forward.output.shape[2:])[index]
        shown = sum(read) / float(divisor)
    if abs(shown - value) > 1e-9 * max(1.0, abs(value)):
        raise GeometryMismatch(f"{layer.name} output {index}: the window read gives {shown}, the forward {value}")
