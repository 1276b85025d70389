"""The rich (terminal) printer of a calculator document: grids in panels, the window of each
explained entry highlighted in reverse video (visible with NO_COLOR too)."""

from __future__ import annotations

from convcalc.render.calculator.document import Block, Equation, Heading, Line, Matrix, slices
from convcalc.render.calculator.numbers import MINUS, number
from convcalc.render.calculator.printers import equation_text

MAX_WINDOW_GRIDS = 16  # beyond this many explained entries, only the equations are drawn

def to_rich(blocks: list[Block]):
    """A rich renderable: grids as tables, the window's cells highlighted (reverse video, so
    they still stand out with NO_COLOR), the max-pool winner underlined as well."""
    from rich.console import Group
    from rich.text import Text

    items: list = []
    equations = [b for b in blocks if isinstance(b, Equation)]
    draw_windows = len(equations) <= MAX_WINDOW_GRIDS
    for block in blocks:
        if isinstance(block, Heading):
            items.append(Text(("\n" if items else "") + block.text, style="bold"))
        elif isinstance(block, Line):
            style = {"note": "dim", "warning": "yellow"}.get(block.kind, "")
            prefix = {"note": "note: ", "warning": "warning: "}.get(block.kind, "")
            items.append(Text(prefix + block.text, style=style))
        elif isinstance(block, Matrix):
            items.append(_rich_matrix(block))
        else:
            if draw_windows and block.window is not None:
                items.append(_rich_matrix(block.window, title=f"window of {block.lhs}"))
            items.append(Text("  " + equation_text(block), style="bold" if draw_windows else ""))
    if equations and not draw_windows:
        items.append(Text(f"(window grids are drawn for at most {MAX_WINDOW_GRIDS} entries: pick one with --at ROW,COL)",
                          style="dim"))
    return Group(*items)


def _rich_matrix(block: Matrix, title: str | None = None):
    """One panel per 2-d slice (side by side): right-aligned numbers, highlighted window cells."""
    from rich import box
    from rich.columns import Columns
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    labelled = block.column_labels is not None or block.row_labels is not None  # index labels: narrower gaps
    panels = []
    for caption, grid, prefix in slices(block):
        table = Table(show_header=block.column_labels is not None, box=None, padding=(0, 0, 0, 2 if not labelled else 1),
                      pad_edge=False, show_edge=False, header_style="dim underline")
        if block.row_labels is not None:
            table.add_column("", style="dim", justify="right")
        for j in range(grid.shape[1]):
            table.add_column(block.column_labels[j] if block.column_labels is not None else "", justify="right")
        for i, row in enumerate(grid):
            cells = []
            for j, v in enumerate(row):
                where = prefix + (i, j)
                style = ""
                if where in block.highlight:
                    style = "bold reverse"
                if block.winner is not None and where == block.winner:
                    style = "bold reverse underline green"
                cells.append(Text(number(v).replace("-inf", f"{MINUS}∞"), style=style))
            label = [Text(block.row_labels[i])] if block.row_labels is not None else []
            table.add_row(*label, *cells)
        heading = title or block.label
        panels.append(Panel(table, title=heading + (f" — {caption}" if caption else ""), title_align="left",
                            expand=False, box=box.ROUNDED, padding=(0, 1)))
    return Columns(panels) if len(panels) > 1 else panels[0]
