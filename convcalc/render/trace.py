"""Printers of a backprop trace (:class:`convcalc.trace.model.Trace`): plain text (also the
body of the Markdown form) and Markdown. Rich, LaTeX and JSON live beside this module in
``trace_rich``, ``trace_latex`` and ``trace_json``. None of them computes anything.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from convcalc.render.trace_numbers import factor, text
from convcalc.trace.model import Entry, Matrix, Step, Trace

PHASES = {"forward": "FORWARD PASS", "loss": "LOSS", "backward": "BACKWARD PASS", "update": "UPDATE"}
MAX_TERMS = 40  # terms of one sum written out before "…"
LONG = 14  # a number longer than this is written by its name (symbolic traces)
GRID_CELL = 24  # wider cells: a matrix is written as a list of entries


# --- matrices ------------------------------------------------------------------------------------


def grid_lines(values: np.ndarray) -> list[str]:
    """A vector or matrix with bracket columns (⎡ ⎢ ⎣), entries right-aligned."""
    a = np.asarray(values, dtype=object)
    if a.ndim == 0:
        return [text(a[()])]
    if a.ndim == 1:
        a = a.reshape(1, -1)
    cells = [[text(v) for v in row] for row in a]
    widths = [max(len(row[j]) for row in cells) for j in range(a.shape[1])]
    rows = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    if len(rows) == 1:
        return [f"[{rows[0]}]"]
    out = []
    for i, row in enumerate(rows):
        left, right = ("⎡", "⎤") if i == 0 else ("⎣", "⎦") if i == len(rows) - 1 else ("⎢", "⎥")
        out.append(f"{left}{row}{right}")
    return out


def _slices(matrix: Matrix) -> Iterable[tuple[str, np.ndarray]]:
    a = np.asarray(matrix.values, dtype=object)
    if a.ndim <= 2:
        yield matrix.name, a
        return
    for index in np.ndindex(*a.shape[:-2]):
        yield f"{matrix.name}[{','.join(map(str, index))}]", a[index]


def matrix_blocks(matrix: Matrix) -> list[list[str]]:
    """``name = grid`` blocks (one per 2-d slice), the name beside the middle row; a matrix of
    long entries (expressions) as one ``name[i,j] = …`` line per entry."""
    a = np.asarray(matrix.values, dtype=object)
    if a.ndim and any(len(text(v)) > GRID_CELL for v in a.flat):
        name = f"({matrix.name})" if " " in matrix.name else matrix.name
        lines = [f"{name}[{','.join(map(str, i))}] = {text(a[i])}" for i in np.ndindex(*a.shape)]
        return [lines + ([f"({matrix.caption})"] if matrix.caption else [])]
    blocks = []
    for name, values in _slices(matrix):
        lines = grid_lines(values)
        label = f"{name} = "
        middle = (len(lines) - 1) // 2
        block = [(label if i == middle else " " * len(label)) + line for i, line in enumerate(lines)]
        if matrix.caption:
            block.append(f"({matrix.caption})")
        blocks.append(block)
    return blocks


def side_by_side(blocks: list[list[str]], width: int, gap: int = 4) -> list[str]:
    """Lay blocks out left to right, wrapping to a new band when the width is used up."""
    out: list[str] = []
    band: list[list[str]] = []
    used = 0
    for block in blocks:
        w = max(len(line) for line in block)
        if band and (used + gap + w > width or w > width):
            out += _join(band, gap)
            out.append("")
            band, used = [], 0
        band.append(block)
        used += (gap if used else 0) + w
    if band:
        out += _join(band, gap)
    return out


def _join(band: list[list[str]], gap: int) -> list[str]:
    height = max(len(b) for b in band)
    widths = [max(len(line) for line in b) for b in band]
    lines = []
    for i in range(height):
        parts = []
        for b, w in zip(band, widths):
            top = (height - len(b)) // 2 if len(b) < height and not any(line.startswith("(") for line in b) else 0
            j = i - top
            parts.append((b[j] if 0 <= j < len(b) else "").ljust(w))
        lines.append((" " * gap).join(parts).rstrip())
    return lines


# --- entries -------------------------------------------------------------------------------------


def _terms_text(terms, labels=()) -> str:
    """``a·b + c·d + …``; a side (left factors or right factors) holding a long number
    (an expression) is written by name on every term, as the course writes δK = Σ I·δJ."""
    shown_terms = terms[:MAX_TERMS]
    labels = tuple(labels[:MAX_TERMS]) if labels else ((None, None),) * len(shown_terms)
    by_name = [any(lab[side] and len(factor(t[side])) > LONG for t, lab in zip(shown_terms, labels)) for side in (0, 1)]
    parts = []
    for term, lab in zip(shown_terms, labels):
        sides = []
        for side in (0, 1):
            sides.append(lab[side] if by_name[side] and lab[side] else factor(term[side]))
        parts.append("·".join(sides))
    more = f" + … ({len(terms) - MAX_TERMS} more terms)" if len(terms) > MAX_TERMS else ""
    return " + ".join(parts) + more


def _sum_text(parts: list[str]) -> str:
    joined = " + ".join(p for p in parts if p)
    return joined.replace("+ −", "− ") if joined else "0"


def _long(values) -> bool:
    return any(len(text(v)) > LONG for v in values)


def entry_line(entry: Entry) -> str:
    """``J[0,0] = 1·1 + 3·0 + … = 6`` and the other forms of :class:`Entry`."""
    result = text(entry.result)
    labels = entry.labels
    named = labels and _long(entry.candidates)
    if entry.form == "sum":
        parts = [_terms_text(entry.terms, labels)] if entry.terms else []
        parts += [text(a) for a in entry.addends]
        body = _sum_text(parts) if parts else "0"
        line = (
            f"{entry.target} = {body} = {result}"
            if len(entry.terms) + len(entry.addends) > 1
            else f"{entry.target} = {body}" + (f" = {result}" if body != result else "")
        )
    elif entry.form == "max":
        if named:
            values = ", ".join(text(getattr(v, "value", v)) for v in entry.candidates)
            line = (
                f"{entry.target} = max({', '.join(labels)}) = {entry.winner}   (at the spec's numbers: "
                f"max({values})) = {result}"
            )
        else:
            line = f"{entry.target} = max({', '.join(text(v) for v in entry.candidates)}) = {result}   ← {entry.winner}"
    elif entry.form == "mean":
        body = _sum_text(list(labels) if named else [text(v) for v in entry.candidates])
        line = f"{entry.target} = ({body})/{entry.divisor} = {result}"
    elif entry.form == "squares":
        body = (
            " + ".join(f"{lbl}²" for lbl in labels) if named else " + ".join(f"{factor(v)}²" for v in entry.candidates)
        )
        scale = entry.divisor
        prefix = "" if scale in (1, None) else ("½·" if text(scale) == "1/2" else f"{factor(scale)}·")
        line = f"{entry.target} = {prefix}({body}) = {result}" if prefix else f"{entry.target} = {body} = {result}"
    elif entry.form == "neglog":
        logs = " + ".join(
            (f"log {factor(p)}" if text(w) == "1" else f"{factor(w)}·log {factor(p)}") for w, p in entry.terms
        )
        n = entry.divisor
        line = f"{entry.target} = −({logs})" + (f"/{n}" if n not in (1, None) else "") + f" = {result}"
    else:  # value
        values = (
            ""
            if _long(entry.candidates)
            else (_sum_text([text(v) for v in entry.candidates]) if entry.candidates else "")
        )
        if labels and not entry.text:
            values = " + ".join(labels) if named else values
        line = (
            f"{entry.target} = {entry.text}" + (f" = {values}" if values and values != result else "") + f" = {result}"
        )
    if entry.note:
        line += f"   ({entry.note})"
    return line


# --- steps -----------------------------------------------------------------------------------------


def step_lines(step: Step, width: int = 100) -> list[str]:
    lines = [step.heading]
    lines += [f"  {rule}" for rule in step.rules]
    blocks = [b for m in step.matrices for b in matrix_blocks(m)]
    if blocks:
        lines.append("")
        lines += ["  " + line if line else "" for line in side_by_side(blocks, width - 2)]
    if step.entries:
        lines.append("")
        lines += [f"  {entry_line(e)}" for e in step.entries]
    if step.entries_hidden:
        lines.append(f"  … {step.entries_hidden} more entries (use --max-entries to show more)")
    if step.notes:
        lines.append("")
        lines += [f"  note: {note}" for note in step.notes]
    return lines


def text_trace(trace: Trace, width: int = 100) -> str:
    lines = [f"convcalc backprop — {trace.title}"]
    if trace.description:
        lines.append(trace.description)
    lines += trace.notes
    phase = None
    for step in trace.steps:
        if step.phase != phase:
            phase = step.phase
            lines += ["", PHASES[phase], "─" * len(PHASES[phase])]
        lines.append("")
        lines += step_lines(step, width)
    lines += ["", "CHECKS", "──────"]
    for check in trace.checks:
        lines.append(f"{check.name}: {check.summary}")
        lines += [f"  {d}" for d in check.details]
    if not trace.checks:
        lines.append("(none)")
    return "\n".join(line.rstrip() for line in lines) + "\n"


# --- Markdown -----------------------------------------------------------------------------------------


def _md(prose: str) -> str:
    """Escape what Markdown would read as emphasis or markup."""
    out = prose
    for ch in "\\`*_[]<>|":
        out = out.replace(ch, "\\" + ch)
    return out


def markdown_trace(trace: Trace) -> str:
    lines = [f"# convcalc backprop — {_md(trace.title)}", ""]
    if trace.description:
        lines += [_md(trace.description), ""]
    lines += [f"*{_md(note)}*" for note in trace.notes] + [""]
    phase = None
    for step in trace.steps:
        if step.phase != phase:
            phase = step.phase
            lines += [f"## {PHASES[phase].capitalize()}", ""]
        lines += [f"### {_md(step.heading)}", ""]
        if step.rules:
            lines += [f"- {_md(rule)}" for rule in step.rules] + [""]
        body = []
        blocks = [b for m in step.matrices for b in matrix_blocks(m)]
        if blocks:
            body += side_by_side(blocks, 96)
        if step.entries:
            if body:
                body.append("")
            body += [entry_line(e) for e in step.entries]
        if step.entries_hidden:
            body.append(f"… {step.entries_hidden} more entries (use --max-entries to show more)")
        if body:
            lines += ["```text", *body, "```", ""]
        if step.notes:
            lines += [f"> {_md(note)}" for note in step.notes] + [""]
    lines += ["## Checks", ""]
    for check in trace.checks:
        lines.append(f"- **{_md(check.name)}**: {_md(check.summary)}")
        lines += [f"  - {_md(d)}" for d in check.details]
    return "\n".join(lines).rstrip() + "\n"
