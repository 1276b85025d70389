"""The plain-text table every text printer uses: columns two spaces apart, each as wide as its
widest cell, numbers right-aligned, a rule of dashes under the header, no trailing spaces."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def column_widths(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """The width of each column: its widest cell, header included."""
    return [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]


def middle_truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with an ellipsis a third of the way in, so that both
    ends stay readable (``features.denseblock…conv2``)."""
    if len(text) <= width:
        return text
    keep = width - 1
    head = keep // 3
    return text[:head] + "…" + text[len(text) - (keep - head):]


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Collection[str] = (),
                width: int | None = None, rule: bool = True) -> list[str]:
    """The lines of a plain-text table; columns named in ``right`` are right-aligned.

    With ``width``, a table wider than that lets its first column give way (middle-truncated,
    down to 12 characters); ``rule=False`` leaves out the dashes under the header."""
    widths = column_widths(headers, rows)
    total = sum(widths) + 2 * (len(widths) - 1)
    if width is not None and total > width:
        widths[0] = max(12, widths[0] - (total - width))
        rows = [[middle_truncate(r[0], widths[0]), *r[1:]] for r in rows]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if h in right else v.ljust(w) for v, w, h in zip(values, widths, headers)).rstrip()

    return [line(headers)] + (["  ".join("-" * w for w in widths)] if rule else []) + [line(r) for r in rows]
