"""``convcalc quiz``: exercise sheets with answer keys, numbers drawn from a seed."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import typer

from convcalc import files
from convcalc.cli.output import echo, user_errors
from convcalc.errors import InputError

EPILOG = """[bold]Examples[/]

  convcalc quiz --topics shape,params,macs,rf --n 10 --seed 7 -o sheet.md --key key.md

  convcalc quiz --topics conv-numeric,pool-backprop,conv-backprop --n 4 --seed 3 --format latex \
-o hw3.tex --key hw3-key.tex

  convcalc quiz --from examples/quiz/midterm.json -o midterm.md --key midterm-key.json

  convcalc quiz --n 10 --seed 7 --students roster.csv --json --key key.json

  convcalc quiz --list-topics

[bold]Formats[/]: each file's format follows its suffix (.md, .tex, .json, .txt), else --format
(markdown, latex, json, text). The sheet and the key are written together or not at all.
Grade with: convcalc grade --key key.json answers.csv (the key must be JSON for grading).
Same seed, same sheet: byte for byte. Exit codes: 0 ok, 2 bad input."""

FORMATS = ("text", "markdown", "latex", "json")
_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".json": "json", ".txt": "text"}


def register(app: typer.Typer) -> None:
    app.command("quiz", epilog=EPILOG)(quiz)


def _format(fmt: str | None, json_flag: bool) -> str | None:
    if json_flag:
        if fmt not in (None, "json"):
            raise InputError(f"--json and --format {fmt} disagree: give one of them")
        return "json"
    if fmt is None:
        return None
    fmt = {"md": "markdown", "tex": "latex", "plain": "text", "txt": "text"}.get(
        fmt.strip().lower(), fmt.strip().lower()
    )
    if fmt not in FORMATS:
        raise InputError(f"--format '{fmt}' is not one of {', '.join(FORMATS)}")
    return fmt


def _file_format(path: str, fmt: str | None) -> str:
    return _SUFFIXES.get(Path(path).suffix.lower()) or fmt or "markdown"


def _render(quiz, form: str, key: bool) -> str:
    if form == "json":
        from convcalc.render.quiz_json import quiz_json

        return quiz_json(quiz, key)
    if form == "latex":
        from convcalc.render.quiz_latex import quiz_latex

        return quiz_latex(quiz, key)
    from convcalc.render.quiz import quiz_markdown, quiz_text

    return quiz_markdown(quiz, key) if form == "markdown" else quiz_text(quiz, key)


def _seed(value: str | None, default: int) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"\d{1,18}", value.strip()):
        raise InputError(f"--seed takes a whole number ≥ 0; got {value!r}")
    return int(value)


def _count(value: str | None) -> int | None:
    if value is None:
        return None
    if not re.fullmatch(r"\d{1,4}", value.strip()):
        raise InputError(f"--n takes a whole number of questions; got {value!r}")
    return int(value)


def quiz(
    topics: str | None = typer.Option(
        None, "--topics", help="Comma-separated topics (default: all; see --list-topics)."
    ),
    n: str | None = typer.Option(
        None, "--n", help="Number of questions (topics cycle in order; default one per topic)."
    ),
    seed: str | None = typer.Option(None, "--seed", help="Seed of the numbers (default 0, or the template's)."),
    difficulty: str | None = typer.Option(
        None, "--difficulty", help="1, 2 or 3 (easy, medium, hard; default 2)."
    ),
    students: str | None = typer.Option(
        None, "--students", help="Roster file: one variant per student (CSV, first column)."
    ),
    template: str | None = typer.Option(
        None, "--from", help="Instructor template (JSON; see examples/quiz/midterm.json)."
    ),
    output: str | None = typer.Option(
        None, "--output", "-o", help="Write the sheet to FILE (default: standard output)."
    ),
    key: str | None = typer.Option(None, "--key", help="Write the answer key with worked solutions to FILE."),
    fmt: str | None = typer.Option(None, "--format", "-f", help="text, markdown, latex or json (files: by suffix)."),
    json_flag: bool = typer.Option(False, "--json", help="JSON, schema convcalc/quiz/v1."),
    title: str | None = typer.Option(None, "--title", help="The sheet's title."),
    list_topics: bool = typer.Option(False, "--list-topics", help="List the topics and exit."),
) -> None:
    """Exercise sheets with answer keys: shapes, parameters, MACs, receptive fields, numeric
    convolution and pooling, backprop, batch norm — each answer with its worked solution."""
    with user_errors():
        from convcalc.homework import generate
        from convcalc.homework.topics import topics as all_topics

        if list_topics:
            table = all_topics()
            width = max(len(name) for name in table)
            echo("\n".join(f"{name:<{width}}  {t.summary}" for name, t in table.items()))
            return
        form = _format(fmt, json_flag)
        # the destinations are checked before any work; the files are written after it, together
        targets = [(path, option, is_key)
                   for path, option, is_key in ((output, "--output", False), (key, "--key", True))
                   if path is not None]
        real = [files.check_destination(path, option, "key.json" if is_key else "sheet.md")
                for path, option, is_key in targets]
        if len(set(real)) < len(real):
            raise InputError("--output and --key name the same file: the key would overwrite the sheet")
        settings: dict = {}
        if template is not None:
            if topics is not None or n is not None:
                raise InputError("--from takes its questions from the template: drop --topics and --n")
            from convcalc.homework.templates import load_template

            slots, settings = load_template(template)
            if difficulty is not None:
                raise InputError("--difficulty does not apply with --from: the template sets each question's")
            level = settings["difficulty"]
        else:
            level = generate.parse_difficulty(difficulty) if difficulty is not None else 2
            names = [t.strip() for t in topics.split(",") if t.strip()] if topics is not None else []
            if topics is not None and not names:
                raise InputError("--topics is empty: give e.g. shape,params (see --list-topics)")
            slots = generate.plan(names, _count(n), level)
        roster = None
        if students is not None:
            from convcalc.homework.templates import read_roster

            roster = read_roster(students)
        made = generate.make_quiz(
            slots,
            _seed(seed, settings.get("seed", 0)),
            level,
            roster,
            title or settings.get("title", ""),
            template or "",
        )
        written = [(path, _render(made, _file_format(path, form), is_key).encode("utf-8"), option)
                   for path, option, is_key in targets]
        if output is None:
            text = _render(made, form or "text", False)
        files.write_together(written)
        if output is None:
            sys.stdout.write(text)
        if key is None and output is not None:
            sys.stderr.write("note: no --key given: the answer key was not written\n")
