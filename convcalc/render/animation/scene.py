"""Every frame of an animation laid out as coloured boxes and captions — pure data that the
matplotlib painter, the HTML page and the tests share.

Visual language after Dumoulin & Visin's conv_arithmetic figures: the input in blue, its
padding drawn apart (white, dashed), inserted zeros dotted, the window's cells dark, the
output in cyan with the entry being computed dark. Cells the forward never reads (the rows
a floor drops) are hatched; in ceil mode the part of a window past the padded end is
outlined in red (those cells are not read). Coordinates: one unit per cell, y downwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.animation.model import CROPPED, INPUT, OUTSIDE, PAD, ZERO, Animation, Grid, Index

INK = "#1b2a3a"
COLOURS = {  # kind → (fill, edge, line style)
    INPUT: ("#9cc3e6", "#3d6d99", "solid"),
    PAD: ("#ffffff", "#97a6b4", "dashed"),
    ZERO: ("#eef1f4", "#97a6b4", "dotted"),
    OUTSIDE: ("#ffffff", "#d0d0d0", "dotted"),
    "output": ("#ffffff", "#3aa6a6", "solid"),
    CROPPED: ("#f4f4f4", "#b5b5b5", "dashed"),
}
READ = {INPUT: "#1f4e79", PAD: "#7b8794", ZERO: "#7b8794"}  # a window cell, by kind of the cell it covers
OVERHANG = "#c0392b"  # ceil mode: window taps past the padded end
DONE = "#a8e0df"  # output entries already computed
CURRENT = "#127a80"  # the output entry this frame computes
UNREAD_HATCH = "////"
GAP = 1.5  # cells between the input and the output
TITLE_ROWS = 1.6  # height of the caption band above the grids


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    fill: str
    edge: str
    style: str = "solid"  # solid, dashed, dotted
    width: float = 1.0  # line width (points at the default size)
    hatch: str | None = None
    text: str | None = None
    text_colour: str = INK
    small: str | None = None  # a second, smaller label in the corner (a kernel weight)


@dataclass(frozen=True)
class Caption:
    x: float
    y: float
    text: str
    size: float = 1.0  # relative to the default caption size
    align: str = "left"


@dataclass(frozen=True)
class Scene:
    width: float
    height: float
    boxes: tuple[Box, ...]  # the source grid's cells first, then the target's
    captions: tuple[Caption, ...]
    source_boxes: int = 0  # how many of ``boxes`` draw the source grid


@dataclass(frozen=True)
class _Layout:
    """Where each drawn cell of each grid goes: cell → (x, y) of its top-left corner."""

    source: dict
    target: dict
    width: float
    height: float
    labels: tuple[Caption, ...]


def _planes(anim: Animation) -> tuple[range | None, range | None]:
    """3-d: the source depth planes the frames touch, and the target plane; None below 3-d."""
    if anim.rank != 3:
        return None, None
    if anim.scatter:
        zs = [f.cell[0] for f in anim.frames]
        ts = [link.cell[0] for f in anim.frames for link in f.links]
    else:
        zs = [link.cell[0] for f in anim.frames for link in f.links]
        ts = [f.cell[0] for f in anim.frames]
    return range(min(zs), max(zs) + 1), range(min(ts), max(ts) + 1)


def _place(grid: Grid, planes: range | None, x0: float, y0: float) -> tuple[dict, float, float]:
    """Top-left corners of the cells of ``grid`` (3-d: the given planes side by side)."""
    shape = grid.shape
    where = {}
    if len(shape) == 1:
        for (i,) in ((i,) for i in range(shape[0])):
            where[(i,)] = (x0 + i, y0)
        return where, float(shape[0]), 1.0
    if len(shape) == 2:
        for r in range(shape[0]):
            for c in range(shape[1]):
                where[(r, c)] = (x0 + c, y0 + r)
        return where, float(shape[1]), float(shape[0])
    h, w = shape[1], shape[2]
    for n, z in enumerate(planes):
        for r in range(h):
            for c in range(w):
                where[(z, r, c)] = (x0 + n * (w + 0.6) + c, y0 + r)
    count = len(planes)
    return where, count * w + (count - 1) * 0.6, float(h)


def layout(anim: Animation) -> _Layout:
    source_planes, target_planes = _planes(anim)
    top = TITLE_ROWS
    if anim.rank == 1:  # a strip above a strip, both starting at the left edge
        s_where, sw, _ = _place(anim.source, None, 0.0, top)
        t_offset = max(0.0, (sw - anim.target.shape[0]) / 2)
        t_where, tw, _ = _place(anim.target, None, t_offset, top + 1 + GAP / 2)
        width, height = max(sw, tw + t_offset), top + 2 + GAP / 2 + 0.3
        labels = (Caption(-0.2, top + 0.5, "", 0.8, "right"),)
        return _Layout(s_where, t_where, width, height, labels)
    s_where, sw, sh = _place(anim.source, source_planes, 0.0, top)
    t_planes = target_planes
    t_h = anim.target.shape[-2]
    t_where, tw, th = _place(anim.target, t_planes, sw + GAP, top + max(0.0, (sh - t_h) / 2))
    labels: list[Caption] = []
    if source_planes is not None:
        w = anim.source.shape[2]
        for n, z in enumerate(source_planes):
            labels.append(Caption(n * (w + 0.6) + w / 2, top + sh + 0.35, f"z = {z}", 0.7, "center"))
        labels.append(Caption(sw + GAP + tw / 2, top + max(0.0, (sh - t_h) / 2) + th + 0.35,
                              f"z = {t_planes.start}", 0.7, "center"))
    height = top + max(sh, th) + (0.8 if source_planes is not None else 0.3)
    return _Layout(s_where, t_where, sw + GAP + tw, height, tuple(labels))


def _number(value) -> str:
    from convcalc.render.calculator import number

    return number(value)


def _flat(grid: Grid, cell: Index) -> int:
    flat = 0
    for i, n in zip(cell, grid.shape):
        flat = flat * n + i
    return flat


def unread_cells(anim: Animation) -> set:
    """Input cells no frame reads (window views): the rows and columns a floor drops."""
    if anim.scatter:
        return set()
    read = {link.cell for f in anim.frames for link in f.links}
    if anim.rank == 3:  # only the planes the shown slice reads can be judged
        planes = {c[0] for c in read}
        return {c for c in _cells(anim.source) if anim.source.kind(c) == INPUT and c[0] in planes and c not in read}
    return {c for c in _cells(anim.source) if anim.source.kind(c) == INPUT and c not in read}


def _cells(grid: Grid):
    import itertools

    return itertools.product(*(range(n) for n in grid.shape))


def frame_title(anim: Animation, step: int) -> str:
    frame = anim.frames[step]
    where = ", ".join(map(str, frame.index))
    if anim.scatter:
        return f"step {step + 1} of {len(anim.frames)}: input ({where}) × kernel → output"
    return f"step {step + 1} of {len(anim.frames)}: output ({where})"


def scene(anim: Animation, step: int, place: _Layout | None = None, unread: set | None = None,
          header: bool = True) -> Scene:
    """The picture of frame ``step`` (0-based): both grids, the window, what is done so far."""
    place = place or layout(anim)
    unread = unread_cells(anim) if unread is None else unread
    frame = anim.frames[step]
    done = {f.cell for f in anim.frames[:step]}
    boxes: list[Box] = []
    if anim.scatter:
        source_hot = {frame.cell: None}
        target_hot = {link.cell: link for link in frame.links}
        done_target = {link.cell for f in anim.frames[:step] for link in f.links}
    else:
        source_hot = {link.cell: link for link in frame.links}
        target_hot = {frame.cell: None}
        done_target = done
    kernel_at = _kernel_text(anim)
    for cell, (x, y) in place.source.items():
        kind = anim.source.kind(cell)
        fill, edge, style = COLOURS[kind]
        hatch = UNREAD_HATCH if cell in unread else None
        text = _number(anim.source_values[_flat(anim.source, cell)]) if anim.source_values is not None else None
        small = None
        colour = INK
        width = 1.0
        if cell in source_hot:
            link = source_hot[cell]
            if kind == OUTSIDE:
                fill, edge, style, hatch = "#fdecea", OVERHANG, "dashed", None
            else:
                fill, edge, style, colour, width = READ.get(kind, READ[INPUT]), INK, "solid", "#ffffff", 2.0
            if link is not None and kernel_at is not None:
                small = kernel_at(link.tap)
        elif anim.scatter and cell in done:
            fill = "#c9dcef"
        boxes.append(Box(x, y, fill, edge, style, width, hatch, text, colour, small))
    for cell, (x, y) in place.target.items():
        kind = anim.target.kind(cell)
        fill, edge, style = COLOURS[kind]
        text = None
        colour = INK
        width = 1.0
        small = None
        if cell in target_hot:
            fill, colour, width = CURRENT, "#ffffff", 2.0
            link = target_hot[cell]
            if link is not None and kernel_at is not None:
                small = kernel_at(link.tap)
        elif cell in done_target:
            fill = DONE if kind != CROPPED else "#dcdcdc"
        if anim.target_values is not None and kind != CROPPED and (cell in done_target or cell in target_hot):
            text = _number(anim.target_values[_flat(anim.target, cell)])
        boxes.append(Box(x, y, fill, edge, style, width, None, text, colour, small))
    captions = list(place.labels)
    if header:
        captions.append(Caption(0.0, 0.55, frame_title(anim, step), 0.9))
    if anim.sums is not None:
        captions.append(Caption(0.0, 1.25, anim.sums[step], 0.75))
    return Scene(place.width, place.height, tuple(boxes), tuple(captions), len(place.source))


def _kernel_text(anim: Animation):
    if anim.kernel_values is None:
        return None
    import itertools

    shape = kernel_shape(anim)
    taps = list(itertools.product(*(range(k) for k in shape)))
    index = {tap: n for n, tap in enumerate(taps)}
    return lambda tap: "×" + _number(anim.kernel_values[index[tap]])


def kernel_shape(anim: Animation) -> Index:
    taps = [link.tap for f in anim.frames for link in f.links]
    return tuple(1 + max(t[a] for t in taps) for a in range(len(taps[0])))


def scenes(anim: Animation, header: bool = True) -> list[Scene]:
    place = layout(anim)
    unread = unread_cells(anim)
    return [scene(anim, step, place, unread, header) for step in range(len(anim.frames))]


def legend(anim: Animation) -> str:
    """One line saying what the marks mean (only the marks this animation uses)."""
    kinds = set(anim.source.kinds) | set(anim.target.kinds)
    parts = ["blue: input", "dark: the window's cells"]
    if PAD in kinds:
        parts.append("dashed: padding")
    if ZERO in kinds:
        parts.append("dotted grey: inserted zeros")
    if OUTSIDE in kinds:
        parts.append("red: window past the padded end (not read)")
    if CROPPED in kinds:
        parts.append("grey dashed: cropped")
    if unread_cells(anim):
        parts.append("hatched: never read")
    parts.append("cyan: output")
    return "; ".join(parts)
