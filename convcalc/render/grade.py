"""``convcalc grade``: per-student feedback and the class summary as plain text, rich, CSV,
Markdown and JSON (schema ``convcalc/grade/v1``). Marks are exact; they are shown with two
decimals."""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from typing import Any

from convcalc.homework.grade import GradeReport, StudentResult, feedback
from convcalc.homework.mistakes import MISTAKES
from convcalc.render.quiz import markdown_table
from convcalc.render.trace import _md

SCHEMA = "convcalc/grade/v1"
SUMMARY_COLUMNS = ("part", "topic", "answered", "right", "mean", "mistakes seen")
STUDENT_COLUMNS = ("student", "score", "out of", "%", "answered", "mistakes")


def marks_text(value: Fraction) -> str:
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return text or "0"


def percent(result: StudentResult) -> str:
    return f"{round(100 * float(result.score) / result.out_of)}" if result.out_of else "0"


def _mistake_counts(mistakes) -> str:
    return ", ".join(f"{MISTAKES[name].title} ×{count}" for name, count in mistakes) or "—"


def _student_mistakes(result: StudentResult) -> str:
    names = [name for m in result.marks for name in m.mistakes]
    counts = {name: names.count(name) for name in dict.fromkeys(names)}
    return ", ".join(f"{MISTAKES[n].title}" + (f" ×{c}" if c > 1 else "") for n, c in counts.items()) or "—"


def summary_rows(report: GradeReport) -> list[tuple[str, ...]]:
    return [
        (p.part, p.topic, str(p.answered), str(p.right), marks_text(p.mean), _mistake_counts(p.mistakes))
        for p in report.parts
    ]


def student_rows(report: GradeReport) -> list[tuple[str, ...]]:
    return [
        (s.student, marks_text(s.score), str(s.out_of), percent(s), str(s.answered), _student_mistakes(s))
        for s in report.students
    ]


def _heading(result: StudentResult) -> str:
    return f"{result.student}: {marks_text(result.score)}/{result.out_of} ({percent(result)}%)"


def _plain_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    table = [headers, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def grade_text(report: GradeReport) -> str:
    lines = []
    for result in report.students:
        lines.append(_heading(result))
        lines += [f"  {feedback(m)}" for m in result.marks]
        lines.append("")
    lines += ["class summary", ""] + _plain_table(SUMMARY_COLUMNS, summary_rows(report)) + [""]
    lines += _plain_table(STUDENT_COLUMNS, student_rows(report))
    lines += ["", f"class mean: {marks_text(report.mean)}/{report.students[0].out_of if report.students else 0}"]
    return "\n".join(lines) + "\n"


def grade_rich(report: GradeReport, console) -> None:
    from rich.markup import escape
    from rich.table import Table

    for result in report.students:
        console.print(f"[bold]{escape(_heading(result))}[/]")
        for m in result.marks:
            style = "green" if m.right else "yellow" if m.credit else "red"
            console.print(f"  [{style}]{escape(feedback(m))}[/]")
        console.print()
    for title, columns, rows in (
        ("class summary", SUMMARY_COLUMNS, summary_rows(report)),
        ("students", STUDENT_COLUMNS, student_rows(report)),
    ):
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(
                column, justify="right" if column in ("answered", "right", "mean", "score", "out of", "%") else "left"
            )
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        console.print(table)


def grade_csv(report: GradeReport) -> str:
    """A gradebook: one row per student, the total and each part's mark."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    parts = [p.part for p in report.parts]
    writer.writerow(["student", "score", "out_of", "percent", *parts, "mistakes"])
    for s in report.students:
        writer.writerow(
            [
                s.student,
                marks_text(s.score),
                s.out_of,
                percent(s),
                *(marks_text(m.credit) for m in s.marks),
                "; ".join(f"{m.part}: {', '.join(m.mistakes)}" for m in s.marks if m.mistakes),
            ]
        )
    return buffer.getvalue()


def grade_markdown(report: GradeReport) -> str:
    lines = [f"# Marks — {_md(report.title)}" if report.title else "# Marks", ""]
    for result in report.students:
        lines += [f"## {_md(_heading(result))}", ""]
        lines += [f"- {_md(feedback(m))}" for m in result.marks] + [""]
    lines += ["## Class summary", ""] + markdown_table(SUMMARY_COLUMNS, summary_rows(report)) + [""]
    lines += markdown_table(STUDENT_COLUMNS, student_rows(report))
    return "\n".join(lines) + "\n"


def _number(value: Fraction) -> Any:
    return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def grade_dict(report: GradeReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "title": report.title,
        "students": [
            {
                "student": s.student,
                "score": _number(s.score),
                "out_of": s.out_of,
                "marks": [
                    {
                        "part": m.part,
                        "topic": m.topic,
                        "answer": m.written,
                        "expected": m.expected,
                        "credit": _number(m.credit),
                        "mistakes": list(m.mistakes),
                        "feedback": feedback(m),
                    }
                    for m in s.marks
                ],
            }
            for s in report.students
        ],
        "parts": [
            {
                "part": p.part,
                "topic": p.topic,
                "answered": p.answered,
                "right": p.right,
                "mean": _number(p.mean),
                "mistakes": dict(p.mistakes),
            }
            for p in report.parts
        ],
        "mean": _number(report.mean),
    }


def grade_json(report: GradeReport) -> str:
    return json.dumps(grade_dict(report), ensure_ascii=False, indent=2) + "\n"
