"""Playing an animation in the terminal: the same scenes as text, two characters per cell.

On a terminal each cell is a coloured block (rich styles; no colour with ``NO_COLOR``) and
the frames replace each other in place (rich ``Live``); piped, every frame is printed in
plain characters one after another::

    .  input   #  the window's cell   :  padding   0  inserted zero   ~  past the padded end
    o  output not yet computed   *  computed   @  the entry being computed   -  cropped
"""

from __future__ import annotations

import math

from convcalc.animation.model import Animation
from convcalc.render.animation import scene as layout

_PLAIN = {"#9cc3e6": ". ", "#ffffff": ": ", "#eef1f4": "0 ", "#f4f4f4": "- "}


def _cell_text(box: layout.Box, source: bool) -> str:
    if box.fill in (layout.CURRENT,) and not source:
        return "@ "
    if not source:
        if box.fill == layout.DONE:
            return "* "
        if box.style == "dashed":
            return "- "
        return "o "
    if box.edge == layout.OVERHANG:
        return "~ "
    if box.fill in layout.READ.values():
        return "# "
    if box.hatch:
        return "x "
    if box.style == "dotted" and box.fill == "#ffffff":
        return "~ "
    return _PLAIN.get(box.fill, ". ")


def _rows(anim: Animation, picture: layout.Scene, rich: bool):
    """Text rows of the scene: (text, style) pieces per row, source and target side by side."""
    from collections import defaultdict

    source_count = picture.source_boxes
    rows: dict = defaultdict(list)
    for n, box in enumerate(picture.boxes):
        source = n < source_count
        text = _cell_text(box, source)
        if box.text is not None:
            text = f"{box.text:>4} "
        style = f"on {box.fill}" if rich else ""
        if rich and box.text is None:
            text = "  "
        colour = f" {box.text_colour}" if rich and box.text else ""
        rows[math.floor(box.y + 1e-9)].append((box.x, text, style + colour))
    return [sorted(pieces) for _, pieces in sorted(rows.items())]


def frame_text(anim: Animation, step: int, picture: layout.Scene | None = None, rich: bool = False):
    """One frame as text (``rich``: a rich Text with background colours)."""
    from rich.text import Text

    picture = picture or layout.scene(anim, step)
    text = Text()
    text.append(layout.frame_title(anim, step) + "\n", style="bold" if rich else "")
    if anim.sums is not None:
        text.append(anim.sums[step] + "\n")
    cell_width = max((len(b.text) + 1 for b in picture.boxes if b.text is not None), default=2)
    cell_width = max(cell_width, 2) if any(b.text is not None for b in picture.boxes) else 2
    for pieces in _rows(anim, picture, rich):
        column = 0.0
        for x, piece, style in pieces:
            gap = round(x - column) if x > column else 0
            text.append(" " * gap * cell_width)
            shown = piece if len(piece) >= cell_width else piece.ljust(cell_width)
            text.append(shown[:max(cell_width, len(piece))], style=style or None)
            column = x + 1
        text.append("\n")
    return text


def plain(anim: Animation) -> str:
    """Every frame in plain characters, a blank line between frames, the legend at the end."""
    pictures = layout.scenes(anim)
    blocks = ["\n".join(line.rstrip() for line in frame_text(anim, n, p).plain.split("\n"))
              for n, p in enumerate(pictures)]
    header = f"{anim.op} · {anim.settings}" + (f" · view {anim.view}" if anim.view != "window" else "")
    footer = "\n".join([layout.legend(anim), *anim.notes])
    return header + "\n\n" + "\n".join(blocks) + "\n" + footer


def play(anim: Animation, fps: float, console) -> None:
    """Frames in place on the terminal, ``fps`` a second; Ctrl-C stops."""
    import time

    from rich.live import Live

    pictures = layout.scenes(anim)
    colour = console.color_system is not None and not console.no_color  # else the plain characters
    console.print(f"[bold]{anim.op}[/] · {anim.settings}")
    with Live(frame_text(anim, 0, pictures[0], rich=colour), console=console, auto_refresh=False) as live:
        for n, picture in enumerate(pictures):
            live.update(frame_text(anim, n, picture, rich=colour), refresh=True)
            time.sleep(1 / fps)
    console.print(layout.legend(anim))
    for note in anim.notes:
        console.print(note)
