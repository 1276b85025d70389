"""Painting scenes with matplotlib: one scene per GIF frame (matplotlib's Pillow writer),
or every scene in a grid for a PNG/SVG still. matplotlib (and Pillow) are the optional
extra ``convcalc[plot]``, imported only here."""

from __future__ import annotations

import math
from pathlib import Path

from convcalc.animation.model import Animation
from convcalc.errors import InputError
from convcalc.render.animation import scene as layout
from convcalc.render.animation.scene import INK, Scene

DPI = 100
MARGIN = 0.4  # cells around a scene
MISSING = "drawing pictures needs matplotlib and Pillow: pip install 'convcalc[plot]'"


def matplotlib_figure():
    """matplotlib's Figure class on the Agg canvas (no display), or one clear message."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import PIL  # noqa: F401  (the GIF writer and PNG stills need it)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise InputError(f"{MISSING} ({error.name} is missing)") from None
    return Figure, FigureCanvasAgg


def _paint(ax, picture: Scene, ox: float, oy: float, cell_points: float) -> None:
    from matplotlib.patches import Rectangle

    text_size = max(4.0, cell_points * 0.42)
    for box in picture.boxes:
        ax.add_patch(Rectangle((ox + box.x + 0.04, oy + box.y + 0.04), 0.92, 0.92, facecolor=box.fill,
                               edgecolor=box.edge, linestyle=box.style, hatch=box.hatch,
                               linewidth=box.width * max(0.5, cell_points / 40)))
        if box.text is not None:
            size = text_size * (0.75 if len(box.text) > 3 else 1.0)
            ax.text(ox + box.x + 0.5, oy + box.y + 0.47, box.text, ha="center", va="center", fontsize=size,
                    color=box.text_colour)
        if box.small is not None:
            ax.text(ox + box.x + 0.9, oy + box.y + 0.9, box.small, ha="right", va="bottom", fontsize=text_size * 0.55,
                    color="#ffd166" if box.text_colour == "#ffffff" else INK)
    width_points = picture.width * cell_points
    for caption in picture.captions:
        if not caption.text:
            continue
        fit = width_points / max(1, 0.62 * len(caption.text))
        size = min(cell_points * 0.5 * caption.size, fit)
        ax.text(ox + caption.x, oy + caption.y, caption.text, ha=caption.align, va="center", fontsize=size, color=INK)


def _axes(fig, width: float, height: float):
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-MARGIN, width + MARGIN)
    ax.set_ylim(height + MARGIN, -MARGIN)
    ax.set_axis_off()
    return ax


def default_size(anim: Animation, still: bool) -> int:
    """Width in pixels: 480 for an animation frame; for a still about 20 pixels a cell
    (between 400 and 2000), so that every panel stays legible."""
    if not still:
        return 480
    place = layout.layout(anim)
    return max(400, min(2000, round(20 * _columns(anim, place) * (place.width + 1.0))))


def _columns(anim: Animation, place) -> int:
    count = len(anim.frames)
    if anim.rank == 1:
        return 1  # 1-d: a column of strips, read top to bottom
    return max(1, min(count, math.ceil(math.sqrt(count * place.height / place.width * 1.4))))


def write_gif(anim: Animation, path: Path, size: int, fps: float) -> None:
    """One GIF frame per forward step, ``fps`` frames a second, ``size`` pixels wide."""
    Figure, Canvas = matplotlib_figure()
    from matplotlib.animation import PillowWriter

    pictures = layout.scenes(anim)
    first = pictures[0]
    scale = size / (first.width + 2 * MARGIN)  # pixels per cell
    fig = Figure(figsize=(size / DPI, scale * (first.height + 2 * MARGIN) / DPI), dpi=DPI)
    Canvas(fig)
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, str(path), DPI):
        for picture in pictures:
            fig.clear()
            ax = _axes(fig, first.width, first.height)
            _paint(ax, picture, 0.0, 0.0, scale * 72 / DPI)
            writer.grab_frame()


def write_still(anim: Animation, path: Path, size: int, fmt: str) -> None:
    """Every step in a grid of panels, with the layer's settings on top and a legend below."""
    Figure, Canvas = matplotlib_figure()
    import matplotlib

    place = layout.layout(anim)
    pictures = layout.scenes(anim)
    columns = _columns(anim, place)
    rows = math.ceil(len(pictures) / columns)
    panel_w, panel_h = place.width + 1.0, place.height + 0.4
    head, foot = 1.4, 1.0 + 0.6 * len(anim.notes)
    width, height = columns * panel_w - 1.0, head + rows * panel_h + foot
    scale = size / (width + 2 * MARGIN)
    cell_points = scale * 72 / DPI
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "convcalc", "hatch.linewidth": 0.6}):
        fig = Figure(figsize=(size / DPI, scale * (height + 2 * MARGIN) / DPI), dpi=DPI)
        Canvas(fig)
        ax = _axes(fig, width, height)
        title = f"{anim.op} · {anim.settings}" + (f" · view {anim.view}" if anim.view != "window" else "")
        title_size = min(cell_points * 0.8, width * cell_points / max(1, 0.6 * len(title)))
        ax.text(0, 0.5, title, ha="left", va="center", fontsize=title_size, color=INK, fontweight="bold")
        for n, picture in enumerate(pictures):
            r, c = divmod(n, columns)
            _paint(ax, picture, c * panel_w, head + r * panel_h - layout.TITLE_ROWS + 1.0, cell_points)
        lines = [layout.legend(anim), *anim.notes]
        for n, line in enumerate(lines):
            fit = width * cell_points / max(1, 0.6 * len(line))
            ax.text(0, head + rows * panel_h + 0.3 + 0.6 * n, line, ha="left", va="center",
                    fontsize=max(4.0, min(cell_points * 0.45, fit)), color=INK)
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(str(path), format=fmt, dpi=DPI, metadata=metadata, facecolor="white")
