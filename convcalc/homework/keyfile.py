"""Reading a JSON answer key (``convcalc quiz --key key.json``) back for ``convcalc grade``.

Each question is solved again from its ``data`` by its topic — the mistaken variants that
diagnose the answers come from that solve — and the stored answers must be the ones the
question gives: a key edited by hand (or by an older convcalc with a different rule) is
refused rather than silently trusted.
"""

from __future__ import annotations

from typing import Any

from convcalc.errors import InputError
from convcalc.files import read_text
from convcalc.homework import answers
from convcalc.homework.model import Question, Quiz, Sheet
from convcalc.homework.topics import topic
from convcalc.jsontext import load_json

SCHEMA = "convcalc/quiz/v1"


def _need(obj: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj or not isinstance(obj[key], kind):
        raise InputError(f'{where}: "{key}" is missing or not a {kind.__name__}')
    return obj[key]


def _question(raw: Any, where: str) -> Question:
    qid = _need(raw, "id", str, where)
    where = f"{where} {qid}"
    chosen = topic(_need(raw, "topic", str, where))
    data = _need(raw, "data", dict, where)
    difficulty = raw.get("difficulty", 2)
    try:
        worked = chosen.solve(data)
    except InputError as error:
        raise InputError(f"{where}: the question's data is not valid: {error}") from None
    question = Question(qid, chosen.name, difficulty, data, worked)
    stored = _need(raw, "parts", list, where)
    computed = question.parts
    if [p.get("id") if isinstance(p, dict) else None for p in stored] != [p.id for p in computed]:
        raise InputError(
            f"{where}: the parts {', '.join(str(p.get('id')) for p in stored if isinstance(p, dict))} "
            f"are not the question's ({', '.join(p.id for p in computed)}): was the key edited?"
        )
    for raw_part, part in zip(stored, computed):
        if "answer" not in raw_part:
            raise InputError(
                f"{where}: {part.id} has no answer: give the key (convcalc quiz --key key.json), not the sheet"
            )
        if raw_part["answer"] != answers.json_value(part.kind, part.answer):
            raise InputError(
                f"{where}: {part.id}'s stored answer {raw_part['answer']!r} is not what the question gives "
                f"({answers.text(part.kind, part.answer)}): was the key edited? Write it again with convcalc quiz"
            )
    return question


def read_key(path: str) -> Quiz:
    text = read_text(path, "--key")
    if not text.lstrip().startswith("{"):
        raise InputError(f"--key {path} is not JSON: grading needs the JSON key (convcalc quiz --key key.json); "
                         "Markdown, LaTeX and text keys are for reading")
    doc = load_json(text, path)
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise InputError(
            f"{path}: not a convcalc quiz key (schema {SCHEMA}); write one with convcalc quiz --key key.json"
        )
    if doc.get("kind") != "key":
        raise InputError(f"{path}: this is the students' sheet, not the answer key (convcalc quiz --key key.json)")
    sheets = []
    for n, raw in enumerate(_need(doc, "sheets", list, path), start=1):
        where = f"{path}: sheet {n}"
        student = raw.get("student") if isinstance(raw, dict) else None
        if student is not None and not isinstance(student, str):
            raise InputError(f'{where}: "student" must be a name or null')
        questions = tuple(
            _question(q, where if student is None else f"{path}: {student}")
            for q in _need(raw, "questions", list, where)
        )
        sheets.append(Sheet(student, str(raw.get("seed", "")), questions))
    if not sheets:
        raise InputError(f"{path}: the key has no sheets")
    return Quiz(
        str(doc.get("title", "")),
        doc.get("seed", 0),
        doc.get("difficulty", 2),
        tuple(doc.get("topics", ())),
        tuple(sheets),
        str(doc.get("source", "")),
    )
