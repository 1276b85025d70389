"""The trace on a terminal (rich): matrices as grids side by side, padding and inserted
zeros dimmed, ReLU zeros and pool winners marked, and beside each entry's sum the source
matrix with the cells of its window highlighted. Rich decides width and colour (NO_COLOR).
"""

from __future__ import annotations

import numpy as np

from convcalc.render.fit import Hanging
from convcalc.render.grid_fit import number_table
from convcalc.render.trace import GRID_CELL, PHASES, entry_line
from convcalc.render.trace_numbers import text
from convcalc.trace.model import Matrix, Step, Trace

WINDOW_GRIDS = 4  # entries per step drawn beside their window; the rest as text lines


def grid(values, structural=None, marked=None, window=(), title: str | None = None, boxed: bool = True):
    """A matrix as a rich grid: padding and inserted zeros dimmed, marked entries in yellow, the
    cells of ``window`` in reverse video. Laid out when rich knows the width it may take: a grid
    wider than that keeps whole columns from both ends around a "…" column and says which it
    shows (:mod:`convcalc.render.grid_fit`, as ``convcalc conv`` draws its grids)."""
    a = np.asarray(values, dtype=object)
    if a.ndim == 0:
        a = a.reshape(1, 1)
    elif a.ndim == 1:
        a = a.reshape(1, -1)
    s = None if structural is None else np.asarray(structural).reshape(a.shape)
    mk = None if marked is None else np.asarray(marked).reshape(a.shape)
    hot = {tuple(c[-2:]) if len(c) >= 2 else (0, c[-1]) for c in window}
    cells = []
    for i in range(a.shape[0]):
        row = []
        for j in range(a.shape[1]):
            style = ""
            if s is not None and s[i, j]:
                style = "dim"
            if mk is not None and mk[i, j]:
                style = "bold yellow"
            if (i, j) in hot:
                style = "bold reverse"
            row.append((text(a[i, j]), style))
        cells.append(row)
    return _Grid(cells, title, boxed)


class _Grid:
    """Rows of (text, style) cells, drawn as a table that fits the width rich offers."""

    def __init__(self, cells: list[list[tuple[str, str]]], title: str | None, boxed: bool) -> None:
        self.cells, self.title, self.boxed = cells, title, boxed

    def _table(self, width: int):
        return number_table(self.cells, width, look="boxed" if self.boxed else "bare", title=self.title)[0]

    def __rich_console__(self, console, options):
        yield self._table(options.max_width)

    def __rich_measure__(self, console, options):
        from rich.measure import Measurement

        return Measurement.get(console, options, self._table(options.max_width))


def _matrix_grids(m: Matrix) -> list:
    from rich.console import Group
    from rich.text import Text

    a = np.asarray(m.values, dtype=object)
    if a.ndim and any(len(text(v)) > GRID_CELL for v in a.flat):  # expressions: one line per entry
        from convcalc.render.trace import matrix_blocks

        return [Text("\n".join(matrix_blocks(m)[0]))]
    parts = []
    if a.ndim <= 2:
        slices = [(m.name, a, m.structural, m.marked)]
    else:
        slices = [
            (
                f"{m.name}[{','.join(map(str, i))}]",
                a[i],
                None if m.structural is None else np.asarray(m.structural)[i],
                None if m.marked is None else np.asarray(m.marked)[i],
            )
            for i in np.ndindex(*a.shape[:-2])
        ]
    for name, values, structural, marked in slices:
        items = [grid(values, structural, marked, title=name)]
        if m.caption:
            items.append(Text(m.caption, style="dim italic"))
        if marked is not None and np.asarray(marked).any() and m.marked_meaning:
            items.append(Text(f"marked: {m.marked_meaning}", style="yellow"))
        parts.append(Group(*items))
    return parts


def _window_slice(source: Matrix, window):
    """The 2-d slice of ``source`` the window lies in, and the window's cells in it."""
    a = np.asarray(source.values, dtype=object)
    if a.ndim <= 2 or not window:
        return a, source.structural, window
    lead = tuple(window[0][:-2])
    s = None if source.structural is None else np.asarray(source.structural)[lead]
    return a[lead], s, tuple(c for c in window if tuple(c[:-2]) == lead)


def render_step(step: Step) -> list:
    from rich.columns import Columns
    from rich.table import Table
    from rich.text import Text

    out: list = [Text(step.heading, style="bold")]
    for rule in step.rules:
        out.append(Hanging("  " + rule, style="cyan"))
    grids = [g for m in step.matrices for g in _matrix_grids(m)]
    if grids:
        out.append(Columns(grids, padding=(0, 3)))
    sources = {m.name: m for m in step.matrices}
    drawn = 0
    for entry in step.entries:
        line = entry_line(entry)
        if entry.source in sources and entry.window and drawn < WINDOW_GRIDS:
            values, structural, cells = _window_slice(sources[entry.source], entry.window)
            row = Table.grid(padding=(0, 2))
            row.add_column()
            row.add_column(vertical="middle")
            row.add_row(grid(values, structural, window=cells, boxed=False), Text(line))
            out.append(row)
            drawn += 1
        else:
            out.append(Hanging("  " + line))
    if step.entries_hidden:
        out.append(Text(f"  … {step.entries_hidden} more entries (use --max-entries to show more)", style="dim"))
    for note in step.notes:
        out.append(Hanging("  note: " + note, style="yellow", hang=8))
    return out


def trace_renderables(trace: Trace) -> list:
    """The trace as the list of renderables a console prints one after the other."""
    from rich.rule import Rule
    from rich.text import Text

    out: list = [Text(f"convcalc backprop — {trace.title}", style="bold")]
    if trace.description:
        out.append(trace.description)
    out += [Text(note, style="dim") for note in trace.notes]
    phase = None
    for step in trace.steps:
        if step.phase != phase:
            phase = step.phase
            out.append(Rule(PHASES[phase]))
        out += render_step(step)
        out.append(Text(""))
    out.append(Rule("CHECKS"))
    for check in trace.checks:
        mark = Text("✓ " if check.ok else "✗ ", style="bold green" if check.ok else "bold red")
        out.append(mark + Text(f"{check.name}: {check.summary}"))
        out += [Hanging("  " + detail, style="dim") for detail in check.details]
    return out
