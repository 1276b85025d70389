"""``convcalc quiz``: sheets and keys as plain text lines and Markdown (they never compute).

The worked solution of a key entry is printed from the engine's own explanation data: a
layer's ``--explain`` steps (as ``convcalc shape`` prints them), a network walk's rows (as
``convcalc arch`` prints them) and backprop-trace steps (as ``convcalc backprop`` prints them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcalc.homework import answers
from convcalc.homework.model import Given, Question, Quiz, Sheet, Solution
from convcalc.notation import format_shape
from convcalc.render.layer import _step_lines
from convcalc.render.network import rf_parts, short_type
from convcalc.render.trace import _md, grid_lines, step_lines

HOW_TO_ANSWER = (
    "Answer format: shapes as CxHxW (2x14x14), fractions as p/q (25/2), matrices row by row "
    "(1 0; 0 -1). PyTorch's conventions throughout; indices start at 0."
)
NETWORK_COLUMNS = ("#", "layer", "output", "params", "RF", "jump")


def is_matrix(given: Given) -> bool:
    return isinstance(given.value, np.ndarray)


def network_rows(report) -> list[tuple[str, ...]]:
    """One row per layer of a walk: number, type, output, parameters, receptive field, jump."""
    rows: list[tuple[str, ...]] = []
    layers = [row for row in report.leaves() if row.report is not None]
    for n, row in enumerate(layers, start=1):
        size, jump, _ = rf_parts(row.rf)
        rows.append((str(n), short_type(row.type), format_shape(row.output), f"{row.params.total:,}", size, jump))
    return rows


def solution_lines(solution: Solution, width: int = 96) -> list[str]:
    """The worked solution as plain text lines (also the JSON key's ``solution``)."""
    lines = list(solution.lines)
    if solution.layer_steps:
        from convcalc.engine.report import LayerReport

        shell = LayerReport(op="", input=(), output=(), params=None, macs=None, steps=solution.layer_steps)
        for title, body in _step_lines(shell):
            lines.append(title)
            lines += [f"    {line}" for line in body]
    if solution.network is not None:
        rows = [NETWORK_COLUMNS, *network_rows(solution.network)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(NETWORK_COLUMNS))]
        for r in rows:
            lines.append(
                "  ".join(
                    cell.ljust(w) if i in (1,) else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths))
                ).rstrip()
            )
    for step in solution.trace_steps:
        if lines:
            lines.append("")
        lines += step_lines(step, width)
    if solution.command:
        lines += ["", f"check: {solution.command}"]
    return [line.rstrip() for line in lines]


def answer_text(part) -> str:
    return answers.text(part.kind, part.answer)


def _sheet_title(quiz: Quiz, sheet: Sheet, key: bool) -> str:
    title = quiz.title + (" — answer key" if key else "")
    return title


# --- plain text ------------------------------------------------------------------------------------------


def _given_lines(given: Given) -> list[str]:
    if is_matrix(given):
        block = grid_lines(given.value)
        pad = " " * (len(given.name) + 3)
        middle = len(block) // 2
        return [(f"{given.name} = " if i == middle else pad) + line for i, line in enumerate(block)]
    return [f"{given.name}:"] + [f"  {line}" for line in given.value]


def question_text(question: Question, key: bool) -> list[str]:
    lines = [f"{question.id} ({question.topic}, difficulty {question.difficulty})", question.worked.prompt]
    for given in question.worked.givens:
        lines += [""] + _given_lines(given)
    lines.append("")
    for part in question.parts:
        lines.append(f"  {part.id}  {part.prompt}: " + (answer_text(part) if key else "________"))
    if key:
        lines += ["", "  worked solution:"] + [
            f"    {line}" if line else "" for line in solution_lines(question.worked.solution)
        ]
    return lines


def quiz_text(quiz: Quiz, key: bool = False) -> str:
    out: list[str] = []
    for sheet in quiz.sheets:
        if out:
            out += ["", "=" * 72, ""]
        out.append(_sheet_title(quiz, sheet, key))
        if sheet.student is not None:
            out.append(f"student: {sheet.student}")
        out += [HOW_TO_ANSWER, ""]
        for question in sheet.questions:
            out += question_text(question, key) + [""]
    return "\n".join(line.rstrip() for line in out).rstrip() + "\n"


# --- Markdown --------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    return _md(str(value)) if str(value) else " "


def markdown_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _matrix_table(given: Given) -> list[str]:
    values = np.asarray(given.value, dtype=object)
    if values.ndim == 1:
        values = values.reshape(1, -1)
    headers = (given.name, *(str(j) for j in range(values.shape[1])))
    rows = [(f"**{i}**", *(answers.number_text(v) for v in row)) for i, row in enumerate(values)]
    lines = [
        "| " + " | ".join([_md(headers[0])] + list(headers[1:])) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _given_markdown(given: Given) -> list[str]:
    if is_matrix(given):
        return _matrix_table(given) + [""]
    return [f"{_md(line.split('. ', 1)[0])}. `{line.split('. ', 1)[1]}`" for line in given.value] + [""]


def question_markdown(question: Question, key: bool) -> list[str]:
    lines = [f"## {question.id} · {question.topic}", "", _md(question.worked.prompt), ""]
    for given in question.worked.givens:
        lines += _given_markdown(given)
    rows = [(part.id, part.prompt, f"`{answer_text(part)}`" if key else "") for part in question.parts]
    table = markdown_table(("part", "asks", "answer"), [(r[0], r[1], "") for r in rows])
    if key:  # answers are code spans: no escaping inside
        table = table[:2] + [f"| {_md(r[0])} | {_md(r[1])} | {r[2]} |" for r in rows]
    lines += table + [""]
    if key:
        solution = question.worked.solution
        lines += ["**Worked solution**", ""]
        if solution.network is not None:
            lines += markdown_table(NETWORK_COLUMNS, network_rows(solution.network)) + [""]
            solution = Solution(solution.lines, solution.layer_steps, None, solution.trace_steps, solution.command)
        lines += ["```text", *solution_lines(solution), "```", ""]
    return lines


def quiz_markdown(quiz: Quiz, key: bool = False) -> str:
    out: list[str] = []
    for sheet in quiz.sheets:
        if out:
            out += ["---", ""]
        out += [f"# {_md(_sheet_title(quiz, sheet, key))}", ""]
        if sheet.student is not None:
            out += [f"**Student:** {_md(sheet.student)}", ""]
        out += [f"*{_md(HOW_TO_ANSWER)}*", ""]
        for question in sheet.questions:
            out += question_markdown(question, key)
    return "\n".join(out).rstrip() + "\n"
