"""``convcalc grade``: mark a class's answers against a quiz key, name each mistake."""

from __future__ import annotations

import typer

from convcalc.cli.output import choose_format, console, echo, user_errors
from convcalc.errors import InputError

EPILOG = """[bold]Examples[/]

  convcalc grade --key key.json answers.csv

  convcalc grade --key key.json answers.jsonl --format markdown > marks.md

  convcalc grade --key key.json answers.csv --format csv > gradebook.csv

[bold]Answers[/]: CSV rows student,question,answer (e.g. alice,Q3,2x14x14) or JSONL objects
{"student": "alice", "question": "Q6b", "answer": [2, 14, 14]}. Shapes as 2x14x14 or [2, 14, 14],
numbers as 152 or 25/2, matrices as "1 0; 0 -1" or [[1, 0], [0, -1]].
[bold]Marks[/]: 1 per part; shapes and matrices earn the share of dimensions / entries right.
Exit codes: 0 marked (whatever the marks), 2 bad input (the line is named)."""


def register(app: typer.Typer) -> None:
    app.command("grade", epilog=EPILOG, no_args_is_help=True)(grade)


def grade(
    answers: str = typer.Argument(..., help="The class's answers: a CSV or JSONL file ('-' for stdin)."),
    key: str | None = typer.Option(None, "--key", help="The JSON answer key (convcalc quiz --key key.json)."),
    fmt: str | None = typer.Option(None, "--format", "-f", help="rich, text, csv (gradebook), markdown or json."),
    json_flag: bool = typer.Option(False, "--json", help="JSON, schema convcalc/grade/v1."),
) -> None:
    """Mark each answer (with partial credit), diagnose the common mistakes, and summarise the class."""
    with user_errors():
        form = choose_format(fmt, json_flag, ("rich", "text", "json", "csv", "markdown"))
        if key is None:
            raise InputError("--key is required: the JSON key written by convcalc quiz --key key.json")
        from convcalc.homework.grade import grade as mark_all
        from convcalc.homework.keyfile import read_key
        from convcalc.homework.responses import read_responses
        from convcalc.render import grade as render

        quiz = read_key(key)
        report = mark_all(quiz, read_responses(answers), "stdin" if answers == "-" else answers)
        if form == "json":
            echo(render.grade_json(report))
        elif form == "csv":
            echo(render.grade_csv(report))
        elif form == "markdown":
            echo(render.grade_markdown(report))
        elif form == "text":
            echo(render.grade_text(report))
        else:
            render.grade_rich(report, console())
