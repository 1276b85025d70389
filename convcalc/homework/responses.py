"""Reading a class's answer file for ``convcalc grade``: CSV or JSONL, one answer a row.

CSV: three columns ``student, question, answer`` (a header row with those names is skipped;
quote an answer that holds commas, or write matrices with spaces: ``"1 0; 0 -1"``).
JSONL: one object a line, ``{"student": "alice", "question": "Q3", "answer": "2x14x14"}``;
the answer may also be a JSON number or list (``[2, 14, 14]``, ``[[1, 0], [0, -1]]``).
The format follows the file's suffix (``.csv``; ``.jsonl``/``.ndjson``), else its first character.
Blank lines and lines starting with ``#`` are skipped. A malformed line is an error naming it.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from typing import Any

from convcalc.errors import InputError
from convcalc.files import read_text

MAX_ROWS = 200_000
_HEADER = ("student", "question", "answer")


@dataclass(frozen=True)
class Response:
    line: int
    student: str
    question: str
    answer: Any


def _text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    return read_text(path, "answers")


def _csv(text: str, path: str) -> list[Response]:
    rows: list[Response] = []
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if not rows and tuple(c.strip().lower() for c in row) == _HEADER:
            continue
        if len(row) != 3:
            raise InputError(
                f"{path} line {line}: expected 3 columns (student, question, answer); got {len(row)} "
                '(quote an answer with commas, or write matrices as "1 0; 0 -1")'
            )
        student, question, answer = (c.strip() for c in row)
        if not student or not question:
            raise InputError(f"{path} line {line}: the student and the question must not be empty")
        rows.append(Response(line, student, question, answer))
    return rows


def _jsonl(text: str, path: str) -> list[Response]:
    rows = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            obj = json.loads(raw, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        except (json.JSONDecodeError, ValueError) as error:
            raise InputError(f"{path} line {line}: not a JSON object ({error})") from None
        if not isinstance(obj, dict):
            raise InputError(f'{path} line {line}: expected an object {{"student", "question", "answer"}}')
        unknown = [k for k in obj if k not in _HEADER]
        missing = [k for k in _HEADER if k not in obj]
        if unknown or missing:
            what = f"unknown key '{unknown[0]}'" if unknown else f'"{missing[0]}" is missing'
            raise InputError(f"{path} line {line}: {what} (each line has student, question and answer)")
        student, question = obj["student"], obj["question"]
        if isinstance(student, bool) or not isinstance(student, (str, int)) or not str(student).strip():
            raise InputError(f'{path} line {line}: "student" must be a name or id')
        if not isinstance(question, (str, int)) or isinstance(question, bool):
            raise InputError(f'{path} line {line}: "question" must be an id such as "Q3" or "Q6b"')
        rows.append(Response(line, str(student).strip(), str(question).strip(), obj["answer"]))
    return rows


def read_responses(path: str) -> list[Response]:
    text = _text(path)
    lower = path.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        rows = _jsonl(text, path)
    elif lower.endswith(".csv"):
        rows = _csv(text, path)
    else:
        rows = _jsonl(text, path) if text.lstrip().startswith("{") else _csv(text, path)
    if not rows:
        raise InputError(f"{path}: no answers (CSV rows student,question,answer or JSONL objects)")
    if len(rows) > MAX_ROWS:
        raise InputError(f"{path}: {len(rows)} answers; at most {MAX_ROWS}")
    return rows
