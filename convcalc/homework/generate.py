"""Building a quiz: which question goes where, the seeded numbers, one sheet per student.

Reproducibility: every question draws its numbers from its own ``random.Random`` seeded with
the text ``"<seed>#<n>"`` (``"<seed>/<student>#<n>"`` with a roster) — Python seeds a
``Random`` from a string through SHA-512, so the same seed gives the same sheet on every
machine and every run, and one student's variant does not depend on who else is on the roster.

A drawn question the engine refuses (a kernel larger than the input, an answer too large for
a hand calculation) is drawn again, up to :data:`MAX_DRAWS` times: every question printed is
one the engine solved.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from convcalc.errors import InputError
from convcalc.homework.model import Question, Quiz, Sheet
from convcalc.homework.topics import topic, topics

MAX_DRAWS = 200
MAX_QUESTIONS = 100
MAX_STUDENTS = 2000
MAX_SHEET_QUESTIONS = 10_000  # students × questions: each is drawn and solved (a few ms), so a run stays under a minute
DIFFICULTIES = {"1": 1, "2": 2, "3": 3, "easy": 1, "medium": 2, "hard": 3}


def parse_difficulty(value: Any) -> int:
    text = str(value).strip().lower()
    if text not in DIFFICULTIES:
        raise InputError(f"difficulty must be 1, 2 or 3 (easy, medium, hard); got {value!r}")
    return DIFFICULTIES[text]


@dataclass(frozen=True)
class Slot:
    """One question of the sheet before its numbers are drawn: a topic at a difficulty, and
    (from an instructor template) the question's own data with ``{name}`` placeholders."""

    topic: str
    difficulty: int
    template: dict[str, Any] | None = None
    variables: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    where: str = ""  # "template question 3", for messages


def _make(slot: Slot, rng: random.Random, qid: str) -> Question:
    from convcalc.homework.templates import fill

    chosen = topic(slot.topic)
    last: InputError | None = None
    tries = MAX_DRAWS if slot.template is None or slot.variables else 1
    for _ in range(tries):
        if slot.template is None:
            data = chosen.draw(rng, slot.difficulty)
        else:
            data = fill(
                slot.template, {name: rng.choice(values) for name, values in slot.variables.items()}, slot.where
            )
        try:
            return Question(qid, chosen.name, slot.difficulty, data, chosen.solve(data))
        except InputError as error:
            last = error
    where = slot.where or f"{qid} ({chosen.name})"
    if slot.template is None:  # pragma: no cover - the generators draw valid questions
        raise InputError(f"{where}: no valid question in {tries} draws: {last}")
    if tries == 1:
        raise InputError(f"{where}: {last}")
    raise InputError(f"{where}: none of {tries} draws of its vars gives a valid question; the last one: {last}")


def make_sheet(slots: list[Slot], seed_text: str, student: str | None) -> Sheet:
    questions = tuple(
        _make(slot, random.Random(f"{seed_text}#{index}"), f"Q{index}") for index, slot in enumerate(slots, start=1)
    )
    return Sheet(student, seed_text, questions)


def seed_text(seed: int, student: str | None) -> str:
    return str(seed) if student is None else f"{seed}/{student}"


def plan(topic_names: list[str], n: int | None, difficulty: int) -> list[Slot]:
    """The topics cycled in the order given until there are ``n`` questions (default one each)."""
    names = [topic(name).name for name in topic_names] if topic_names else list(topics())
    count = len(names) if n is None else n
    if not 1 <= count <= MAX_QUESTIONS:
        raise InputError(f"--n must be between 1 and {MAX_QUESTIONS}; got {count}")
    return [Slot(names[i % len(names)], difficulty) for i in range(count)]


def make_quiz(
    slots: list[Slot], seed: int, difficulty: int, students: list[str] | None = None, title: str = "", source: str = ""
) -> Quiz:
    """One sheet for everybody, or one variant per student of ``students``."""
    if students is not None and len(students) > MAX_STUDENTS:
        raise InputError(f"the roster has {len(students)} students; at most {MAX_STUDENTS}")
    if students and len(students) * len(slots) > MAX_SHEET_QUESTIONS:
        raise InputError(f"{len(students)} students × {len(slots)} questions is {len(students) * len(slots)} "
                         f"questions to draw and solve; at most {MAX_SHEET_QUESTIONS} (fewer students or questions)")
    who = students if students else [None]
    sheets = tuple(make_sheet(slots, seed_text(seed, s), s) for s in who)
    names = tuple(dict.fromkeys(slot.topic for slot in slots))
    return Quiz(title or f"convcalc quiz (seed {seed})", seed, difficulty, names, sheets, source)
