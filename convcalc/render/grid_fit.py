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
