"""The rich (terminal) printer of a calculator document: grids in panels, the window of each
explained entry highlighted in reverse video (visible with NO_COLOR too)."""

from __future__ import annotations

from convcalc.compute.number_text import MINUS, number
from convcalc.render.calculator.document import Block, Equation, Heading, Line, Matrix, slices
from convcalc.render.calculator.printers import equation_text
from convcalc.render.fit import Hanging
from convcalc.render.grid_fit import number_table

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
            items.append(Hanging(prefix + block.text, style=style))
        elif isinstance(block, Matrix):
            items.append(_rich_matrix(block))
        else:
            if draw_windows and block.window is not None:
                items.append(_rich_matrix(block.window, title=f"window of {block.lhs}"))
            items.append(Hanging("  " + equation_text(block), style="bold" if draw_windows else ""))
    if equations and not draw_windows:
        items.append(Text(f"(window grids are drawn for at most {MAX_WINDOW_GRIDS} entries: "
                          "pick one with --at ROW,COL)",
                          style="dim"))
    return Group(*items)


def _rich_matrix(block: Matrix, title: str | None = None):
    """One panel per 2-d slice (side by side): right-aligned numbers, highlighted window cells;
    a grid wider than the terminal keeps its first and last columns around a "…" column and
    says which it shows (numbers are never cropped)."""
    return _FittedMatrix(block, title)


class _FittedMatrix:
    """A matrix block laid out when rich knows the width it may take."""

    def __init__(self, block: Matrix, title: str | None) -> None:
        self.block, self.title = block, title

    def __rich_console__(self, console, options):
        from rich.columns import Columns

        panels = [self._panel(caption, grid, prefix, options.max_width) for caption, grid, prefix in slices(self.block)]
        yield Columns(panels) if len(panels) > 1 else panels[0]

    def _panel(self, caption, grid, prefix, width: int):
        from rich import box
        from rich.panel import Panel

        block = self.block
        labelled = block.column_labels is not None or block.row_labels is not None  # index labels: narrower gaps
        cells = []
        for i, row in enumerate(grid):
            styled = []
            for j, value in enumerate(row):
                where = prefix + (i, j)
                style = ""
                if where in block.highlight:
                    style = "bold reverse"
                if block.winner is not None and where == block.winner:
                    style = "bold reverse underline green"
                styled.append((number(value).replace("-inf", f"{MINUS}∞"), style))
            cells.append(styled)
        table, shown = number_table(cells, width - 4, look="open", gap=1 if labelled else 2,  # 4: the panel's edges
                                    column_labels=block.column_labels, row_labels=block.row_labels)
        heading = self.title or block.label
        if caption:
            heading += f" — {caption}"
        if shown:
            heading += f" — {shown}"
        return Panel(table, title=heading, title_align="left", expand=False, box=box.ROUNDED, padding=(0, 1))
