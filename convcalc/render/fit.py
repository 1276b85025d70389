"""Tables that never show a cropped number: a rich table when its columns fit the terminal
(the first column, a name, may give way with an ellipsis down to :data:`MIN_NAME`), else one
record per row (``name``, then ``column value`` pairs wrapped between pairs)."""

from __future__ import annotations

from collections.abc import Sequence

from convcalc.render.table import column_widths

MIN_NAME = 12
GAP = 2  # rich's default cell padding: one space each side, none at the table's edges


def fits(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> bool:
    """Whether the columns fit ``width`` with the first one cut to at most :data:`MIN_NAME`."""
    widths = column_widths(headers, rows)
    return min(widths[0], MIN_NAME) + sum(widths[1:]) + GAP * (len(widths) - 1) <= width


def records(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int,
            styles: Sequence[str | None] = ()) -> list:
    """Rich Texts: per row its first cell on a line, then ``header value`` pairs wrapped at ``width``."""
    from rich.text import Text

    out = []
    for k, row in enumerate(rows):
        style = (styles[k] if k < len(styles) else None) or ""
        out.append(Text(row[0], style=style or "bold", overflow="fold"))
        lines, line = [], "  "
        for pair in (f"{h} {v}" for h, v in zip(headers[1:], row[1:])):
            if line != "  " and len(line) + 2 + len(pair) > width:
                lines.append(line)
                line = "  "
            line += ("" if line == "  " else ", ") + pair
        lines.append(line)
        out += [Text(text, style=style, overflow="fold") for text in lines]
    return out


class FittedTable:
    """A table laid out once rich knows the width: see the module's docstring."""

    def __init__(self, title: str | None, headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[str],
                 styles: Sequence[str | None] = ()) -> None:
        self.title, self.headers, self.rows, self.right, self.styles = title, headers, rows, right, styles

    def __rich_console__(self, console, options):
        from rich.table import Table
        from rich.text import Text

        if not fits(self.headers, self.rows, options.max_width):
            if self.title:
                yield Text(self.title, style="bold")
            yield from records(self.headers, self.rows, options.max_width, self.styles)
            yield Text("(too narrow for the table: one record per row)", style="dim")
            return
        table = Table(title=self.title, box=None, header_style="bold", pad_edge=False)
        for i, h in enumerate(self.headers):
            table.add_column(h, justify="right" if h in self.right else "left", no_wrap=True,
                             overflow="ellipsis" if i == 0 else "fold")
        for k, row in enumerate(self.rows):
            table.add_row(*row, style=self.styles[k] if k < len(self.styles) else None)
        yield table


class Hanging:
    """A line of text (a formula, a note) wrapped at the terminal's width with its continuation
    lines indented under it; breaks go between words, never inside a number or an index
    (``I[i+u, j+v]`` is one word)."""

    def __init__(self, text: str, style: str = "", hang: int = 4) -> None:
        self.text, self.style, self.hang = text, style, hang

    def __rich_console__(self, console, options):
        from rich.text import Text

        for line in hanging_lines(self.text, options.max_width, self.hang):
            yield Text(line, style=self.style, overflow="fold", no_wrap=False)


def hanging_lines(text: str, width: int, hang: int = 4) -> list[str]:
    """``text`` wrapped to ``width``: its own leading spaces kept, continuations ``hang`` deeper,
    the spaces between words as written."""
    if len(text) <= width:
        return [text]
    lead = text[: len(text) - len(text.lstrip(" "))]
    indent = lead + " " * hang
    lines: list[str] = []
    line = lead
    for sep, word in _words(text.lstrip(" ")):
        if line.strip() and len(line) + len(sep) + len(word) > width:
            lines.append(line)
            line, sep = indent, ""
        line += ("" if not line.strip() else sep) + word
    lines.append(line)
    return lines


def _words(text: str) -> list[tuple[str, str]]:
    """``text`` as (spaces before, word) pairs, split at spaces outside square brackets."""
    pairs, depth, sep, word = [], 0, "", ""
    for c in text:
        if c == " " and depth == 0:
            if word:
                pairs.append((sep, word))
                sep, word = "", ""
            sep += c
            continue
        depth += (c == "[") - (c == "]" and depth > 0)
        word += c
    if word:
        pairs.append((sep, word))
    return pairs
