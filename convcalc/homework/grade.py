"""Marking a class's answers against a key, naming each mistake, and the class summary.

Partial credit (every part is worth 1 mark):

- a **number** scores 1 when it is right (exact, or a decimal correctly rounded to at least two
  places), else 0;
- a **shape** scores the share of its dimensions that are right, when it has the right number
  of dimensions (``2x15x15`` for ``2x14x14``: 1/3), else 0;
- a **matrix** scores the share of its entries that are right, when it has the right size, else 0;
- an unreadable or missing answer scores 0.

A diagnosed mistake does not change the mark; it is named in the feedback.

Diagnosis: an answer that is not fully right is recomputed under each mistaken variant of its
question (:mod:`convcalc.homework.mistakes`). A variant that gives the correct answer for this
question is never used (a correct answer is never flagged). When several wrong rules give the
student's number, all of them are named, in the catalogue's priority order.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from convcalc.errors import InputError
from convcalc.homework import answers
from convcalc.homework.mistakes import MISTAKES, PRIORITY
from convcalc.homework.model import Part, Question, Quiz
from convcalc.homework.responses import Response


@dataclass(frozen=True)
class Mark:
    """One part of one student's sheet, marked."""

    part: str
    question: str
    topic: str
    kind: str
    prompt: str
    written: str | None  # the answer as written (None: no answer)
    expected: str
    credit: Fraction
    mistakes: tuple[str, ...] = ()
    problem: str = ""  # why the answer could not be read
    working: str = ""
    detail: str = ""  # e.g. "3 of 4 entries right; δI[1,2] is 3, not 5"

    @property
    def right(self) -> bool:
        return self.credit == 1


@dataclass(frozen=True)
class StudentResult:
    student: str
    marks: tuple[Mark, ...]

    @property
    def score(self) -> Fraction:
        return sum((m.credit for m in self.marks), Fraction(0))

    @property
    def out_of(self) -> int:
        return len(self.marks)

    @property
    def answered(self) -> int:
        return sum(1 for m in self.marks if m.written is not None)


@dataclass(frozen=True)
class PartSummary:
    part: str
    topic: str
    answered: int
    right: int
    mean: Fraction
    mistakes: tuple[tuple[str, int], ...]  # (mistake, how many students), most frequent first


@dataclass(frozen=True)
class GradeReport:
    title: str
    students: tuple[StudentResult, ...]
    parts: tuple[PartSummary, ...]

    @property
    def mean(self) -> Fraction:
        if not self.students:
            return Fraction(0)
        return sum((s.score for s in self.students), Fraction(0)) / len(self.students)


# --- one answer ----------------------------------------------------------------------------------------


def same(kind: str, a: Any, b: Any) -> bool:
    """Two exact answers are equal (shapes, numbers, matrices)."""
    if kind == "matrix":
        a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
        return a.shape == b.shape and bool(np.all(a == b))
    if kind == "shape":
        return tuple(a) == tuple(b)
    return Fraction(a) == Fraction(b)


def applicable_variants(part: Part, variants) -> list[tuple[str, Any]]:
    """The mistaken variants of a part that give a wrong answer for this question."""
    return [(name, value) for name, value in variants if not same(part.kind, value, part.answer)]


def diagnose(part: Part, written: Any, variants) -> tuple[str, ...]:
    """Every mistake whose variant gives exactly the student's answer, in priority order."""
    found = {name for name, value in applicable_variants(part, variants) if answers.matches(part.kind, written, value)}
    return tuple(sorted(found, key=PRIORITY.__getitem__))


def _matrix_detail(part: Part, written) -> str:
    key = np.asarray(part.answer, dtype=object)
    if (len(written), len(written[0])) != key.shape:
        return f"the answer is {key.shape[0]}x{key.shape[1]}; yours is {len(written)}x{len(written[0])}"
    wrong = [
        (i, j)
        for i in range(key.shape[0])
        for j in range(key.shape[1])
        if not answers.number_matches(written[i][j], key[i, j])
    ]
    i, j = wrong[0]
    return (
        f"{key.size - len(wrong)} of {key.size} entries right; {part.prompt}[{i},{j}] is "
        f"{answers.number_text(key[i, j])}, not {written[i][j]}"
    )


def _shape_detail(part: Part, written) -> str:
    if len(written) != len(part.answer):
        return f"the answer has {len(part.answer)} dimensions; yours has {len(written)}"
    return f"{sum(a == b for a, b in zip(written, part.answer))} of {len(part.answer)} dimensions right"


def mark(part: Part, question: Question, suffix: str, raw: Any, answered: bool) -> Mark:
    base: dict[str, Any] = {
        "part": part.id, "question": question.id, "topic": question.topic, "kind": part.kind, "prompt": part.prompt,
        "expected": answers.text(part.kind, part.answer), "working": part.working,
    }
    if not answered:
        return Mark(written=None, credit=Fraction(0), **base)
    try:
        written = answers.read(part.kind, raw)
    except answers.Unreadable as error:
        shown = raw if isinstance(raw, str) else str(raw)
        return Mark(written=shown, credit=Fraction(0), problem=str(error), **base)
    credit = answers.credit(part.kind, written, part.answer)
    shown = answers.text(part.kind, written)
    if credit == 1:
        return Mark(written=shown, credit=credit, **base)
    detail = {"matrix": _matrix_detail, "shape": _shape_detail}.get(part.kind, lambda p, w: "")(part, written)
    found = diagnose(part, written, question.worked.variants.get(suffix, ()))
    return Mark(written=shown, credit=credit, mistakes=found, detail=detail, **base)


# --- a class -----------------------------------------------------------------------------------------


def normalise_id(text: str) -> str:
    """``q3a``, ``3a``, ``Q3A`` → ``Q3a``."""
    body = text.strip()
    if body[:1] in ("q", "Q"):
        body = body[1:]
    digits = "".join(ch for ch in body if ch.isdigit())
    rest = body[len(digits) :]
    if not digits or body[: len(digits)] != digits:
        return text.strip()
    return f"Q{int(digits)}{rest.lower()}"


def _parts(question: Question) -> list[tuple[str, Part]]:
    return [(worked.id, part) for worked, part in zip(question.worked.parts, question.parts)]


def grade(quiz: Quiz, responses: list[Response], source: str = "answers") -> GradeReport:
    """Mark every student's answers; students of a roster key with no answers score 0."""
    by_student = {sheet.student: sheet for sheet in quiz.sheets}
    shared = quiz.sheets[0] if len(quiz.sheets) == 1 and quiz.sheets[0].student is None else None
    given: dict[tuple[str, str], Response] = {}
    order: list[str] = [s.student for s in quiz.sheets if s.student is not None]
    for r in responses:
        sheet = shared or by_student.get(r.student)
        if sheet is None:
            raise InputError(
                f"{source} line {r.line}: '{r.student}' is not on the key's roster "
                f"({len(order)} students; the key has one sheet per student)"
            )
        pid = normalise_id(r.question)
        ids = {p.id for q in sheet.questions for p in q.parts}
        if pid not in ids:
            parts_of = [p.id for q in sheet.questions if q.id == pid for p in q.parts]
            if parts_of:
                raise InputError(
                    f"{source} line {r.line}: {pid} has parts {parts_of[0]}–{parts_of[-1]}: answer each part"
                )
            last = sheet.questions[-1].parts[-1].id
            raise InputError(f"{source} line {r.line}: unknown question '{r.question}' (the key has Q1–{last})")
        if (r.student, pid) in given:
            raise InputError(
                f"{source} line {r.line}: a second answer from {r.student} for {pid} "
                f"(the first is on line {given[(r.student, pid)].line})"
            )
        given[(r.student, pid)] = r
        if r.student not in order:
            order.append(r.student)
    results = []
    for student in order:
        sheet = shared or by_student[student]
        marks = []
        for question in sheet.questions:
            for suffix, part in _parts(question):
                response = given.get((student, part.id))
                marks.append(mark(part, question, suffix, response.answer if response else None, response is not None))
        results.append(StudentResult(student, tuple(marks)))
    return GradeReport(quiz.title, tuple(results), summarise(results))


def summarise(results: list[StudentResult]) -> tuple[PartSummary, ...]:
    if not results:
        return ()
    summaries = []
    for index, first in enumerate(results[0].marks):
        column = [r.marks[index] for r in results if index < len(r.marks)]
        counts: dict[str, int] = {}
        for m in column:
            for name in m.mistakes:
                counts[name] = counts.get(name, 0) + 1
        ranked = tuple(sorted(counts.items(), key=lambda item: (-item[1], PRIORITY[item[0]])))
        summaries.append(
            PartSummary(
                first.part,
                first.topic,
                sum(1 for m in column if m.written is not None),
                sum(1 for m in column if m.right),
                sum((m.credit for m in column), Fraction(0)) / len(column),
                ranked,
            )
        )
    return tuple(summaries)


def feedback(m: Mark) -> str:
    """One line for the student: what they wrote, what went wrong, the right working."""
    if m.written is None:
        return f"{m.part}: no answer — the answer is {m.expected}"
    if m.problem:
        return f"{m.part}: could not read '{m.written}': {m.problem} — the answer is {m.expected}"
    if m.right:
        return f"{m.part}: {m.written} ✓"
    why = [MISTAKES[name].says for name in m.mistakes]
    said = why[0] if len(why) == 1 else "either " + "; or ".join(why) if why else "not right"
    working = f": {m.working}" if m.working else ""
    detail = f" ({m.detail})" if m.detail and m.kind == "matrix" else ""
    answer = f" — the answer is {m.expected}" if m.kind != "matrix" else ""
    return f"{m.part}: {m.written} — {said}{working}{answer}{detail}"
