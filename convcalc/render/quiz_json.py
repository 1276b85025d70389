"""``convcalc quiz --json``: schema ``convcalc/quiz/v1``.

A sheet (``"kind": "sheet"``) carries each question's prompt, givens, parts and ``data`` (the
numbers that make the question: solving them again gives it back). A key (``"kind": "key"``)
adds each part's ``answer`` and ``working`` and each question's ``solution`` (text lines) and
``command``; ``convcalc grade --key`` reads it. Exact numbers are ints or ``"p/q"`` strings.
"""

from __future__ import annotations

import json
from typing import Any

from convcalc.homework import answers
from convcalc.homework.model import Question, Quiz
from convcalc.render.quiz import is_matrix, solution_lines

SCHEMA = "convcalc/quiz/v1"


def _given(given) -> dict[str, Any]:
    if is_matrix(given):
        return {"name": given.name, "matrix": answers.json_value("matrix", given.value)}
    return {"name": given.name, "lines": list(given.value)}


def question_dict(question: Question, key: bool) -> dict[str, Any]:
    parts = []
    for part in question.parts:
        entry: dict[str, Any] = {"id": part.id, "prompt": part.prompt, "kind": part.kind}
        if key:
            entry["answer"] = answers.json_value(part.kind, part.answer)
            if part.working:
                entry["working"] = part.working
        parts.append(entry)
    doc: dict[str, Any] = {
        "id": question.id,
        "topic": question.topic,
        "difficulty": question.difficulty,
        "prompt": question.worked.prompt,
        "given": [_given(g) for g in question.worked.givens],
        "parts": parts,
        "data": question.data,
    }
    if key:
        doc["solution"] = solution_lines(question.worked.solution)
        if question.worked.solution.command:
            doc["command"] = question.worked.solution.command
    return doc


def quiz_dict(quiz: Quiz, key: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": "key" if key else "sheet",
        "title": quiz.title,
        "seed": quiz.seed,
        "difficulty": quiz.difficulty,
        "topics": list(quiz.topics),
    }
    if quiz.source:
        doc["source"] = quiz.source
    doc["sheets"] = [
        {"student": sheet.student, "seed": sheet.seed, "questions": [question_dict(q, key) for q in sheet.questions]}
        for sheet in quiz.sheets
    ]
    return doc


def quiz_json(quiz: Quiz, key: bool = False) -> str:
    return json.dumps(quiz_dict(quiz, key), ensure_ascii=False, indent=2) + "\n"
