"""Grids of numbers wider than the terminal: whole columns kept from both ends around a "…"
column, never a cropped number. Shared by the rich printers of ``convcalc conv``/``pool``/…
(:mod:`convcalc.render.calculator.terminal`) and of ``convcalc backprop``
(:mod:`convcalc.render.trace_rich`)."""

from __future__ import annotations


def kept_columns(widths: list[int], gap: int, available: int) -> tuple[list[int], bool]:
    """The columns of a grid that fit in ``available`` characters (``gap`` between columns):
    all of them, or as many as fit taken alternately from the left and the right end, with
    room for a one-character "…" column between (at least one column from each end)."""
    n = len(widths)
    if sum(widths) + gap * (n - 1) <= available:
        return list(range(n)), False
    left, right = [0], [n - 1] if n > 1 else []
    used = sum(widths[j] for j in left + right) + gap * len(left + right) + 1
    i, j = 1, n - 2
    while i <= j:
        take_left = len(left) <= len(right)
        index = i if take_left else j
        cost = widths[index] + gap
        if used + cost > available:
            break
        used += cost
        if take_left:
            left.append(i)
            i += 1
        else:
            right.insert(0, j)
            j -= 1
    return left + right, True


def with_marker(kept: list[int], elided: bool) -> list[int | None]:
    """The kept column indices with ``None`` (the "…" column) where the skipped ones were."""
    if not elided:
        return list(kept)
    out: list[int | None] = []
    for a, b in zip(kept, [*kept[1:], None]):
        out.append(a)
        if b is not None and b != a + 1:
            out.append(None)
    return out


def shown_text(kept: list[int], total: int) -> str:
    """Which columns a fitted grid shows: ``columns 0–2 and 7–9 of 10 shown``."""
    runs: list[str] = []
    start = kept[0]
    for a, b in zip(kept, [*kept[1:], None]):
        if b != a + 1:
            runs.append(f"{start}" if start == a else f"{start}–{a}")
            start = b if b is not None else start
    return f"columns {' and '.join(runs)} of {total} shown"


def number_table(cells: list[list[tuple[str, str]]], width: int, *, look: str = "boxed", gap: int = 2,
                 column_labels=None, row_labels=None, title: str | None = None):
    """Rows of (text, style) cells as a rich table at most ``width`` wide: every column when they
    fit, else whole columns from both ends around a dim "…" column (:func:`kept_columns`).

    ``look``: "boxed" (square rules, a space either side of each number: backprop's grids),
    "bare" (the same without rules: a window drawn beside its sum) or "open" (no rules, ``gap``
    spaces between columns and none at the edges: the panels of ``convcalc conv``).
    ``column_labels`` become a dim underlined header, ``row_labels`` a dim first column; a
    ``title`` says which columns it shows when some were left out. Returns the table and that
    text (``columns 0–2 and 7–9 of 10 shown``), or None when every column is drawn."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    # the table's settings, and what a column costs beside its numbers: the gap between two
    # columns and the edges of the whole table, so that the fit can be worked out beforehand
    if look == "boxed":
        settings, step, edges = {"box": box.SQUARE, "padding": (0, 1)}, 3, 4
    elif look == "bare":
        settings, step, edges = {"box": None, "padding": (0, 1)}, 2, 2
    else:
        settings, step, edges = {"box": None, "padding": (0, 0, 0, gap), "pad_edge": False, "show_edge": False}, gap, 0
    n = len(cells[0])
    widths = [max([len(row[j][0]) for row in cells] + ([len(column_labels[j])] if column_labels else []))
              for j in range(n)]
    label_width = max((len(r) for r in row_labels), default=0) + step if row_labels is not None else 0
    kept, elided = kept_columns(widths, step, width - edges - label_width)
    shown = shown_text(kept, n) if elided else None
    table = Table(show_header=column_labels is not None, header_style="dim underline",
                  title=f"{title} — {shown}" if title and shown else title,
                  title_justify="left", title_style="bold", **settings)
    if row_labels is not None:
        table.add_column("", style="dim", justify="right")
    columns = with_marker(kept, elided)
    for j in columns:
        label = "" if column_labels is None else ("…" if j is None else column_labels[j])
        table.add_column(label, justify="right", no_wrap=True)
    for i, row in enumerate(cells):
        texts = [Text("…", style="dim") if j is None else Text(row[j][0], style=row[j][1]) for j in columns]
        table.add_row(*([Text(row_labels[i])] if row_labels is not None else []), *texts)
    return table, shown
