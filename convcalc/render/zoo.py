"""``convcalc arch --list`` and ``--search``: the zoo's networks as plain text and CSV, grouped by
family (kept apart from the network renderers so that listing imports nothing heavy)."""

from __future__ import annotations


def zoo_list_text(groups, width: int = 80) -> str:
    """Each family's title, then one line per network (name and source), its summary wrapped
    beneath: fits ``width`` columns. ``groups``: (title, entries) pairs, or a plain list of entries."""
    import textwrap

    if groups and not isinstance(groups[0], tuple):
        groups = [("", list(groups))]
    name_width = max((len(e.name) for _, members in groups for e in members), default=4)
    lines = []
    for title, members in groups:
        if title:
            if lines:
                lines.append("")
            lines.extend(textwrap.wrap(f"{title}:", width))
        lines.extend(_zoo_lines(members, name_width, width))
    return "\n".join(lines)


def _zoo_lines(entries, name_width: int, width: int) -> list[str]:
    import textwrap

    lines = []
    for e in entries:
        head = textwrap.wrap(f"{e.name:<{name_width}}  {e.source}", width, subsequent_indent=" " * (name_width + 2))
        lines.extend(head)
        lines.extend(textwrap.wrap(e.summary, width, initial_indent=" " * (name_width + 4),
                                   subsequent_indent=" " * (name_width + 4)))
    return lines


def zoo_list_csv(entries) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "source", "summary"])
    writer.writerows([e.name, e.source, e.summary] for e in entries)
    return buffer.getvalue().rstrip("\n")
