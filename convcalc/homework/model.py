"""What a quiz is, as plain frozen data: sheets of questions, each with its parts, answers
and worked solution. The generators build it, the renderers in :mod:`convcalc.render`
print it, ``convcalc grade`` reads it back from the JSON key.

Answer kinds: ``shape`` (a tuple of ints, C x H x W), ``number`` (an int or a Fraction),
``matrix`` (a 2-d numpy object array of ints and Fractions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("shape", "number", "matrix")


@dataclass(frozen=True)
class Given:
    """Something the question shows: a matrix (numpy object array) or a line of text."""

    name: str
    value: Any


@dataclass(frozen=True)
class Part:
    """One answer the student writes. ``working`` is the right computation in one line, for
    the feedback ("⌊(32 − 5)/2⌋ + 1 = 14")."""

    id: str
    prompt: str
    kind: str
    answer: Any
    working: str = ""


@dataclass(frozen=True)
class Solution:
    """The worked solution, from the engine's own explanations: a layer's ``--explain`` steps
    (:class:`convcalc.engine.report.Step`), a network walk (:class:`convcalc.network.walk.NetworkReport`)
    and/or backprop-trace steps (:class:`convcalc.trace.model.Step`), plus sentences."""

    lines: tuple[str, ...] = ()
    layer_steps: tuple[Any, ...] = ()
    network: Any = None
    trace_steps: tuple[Any, ...] = ()
    command: str = ""  # the convcalc command that shows the same working


@dataclass(frozen=True)
class Worked:
    """What a topic's ``solve`` returns for one question's data."""

    prompt: str
    givens: tuple[Given, ...]
    parts: tuple[Part, ...]  # ids are suffixes here: "" for a single part, "a", "b", …
    solution: Solution
    # the mistaken variants: part suffix → ((mistake name, wrong answer), …)
    variants: Mapping[str, tuple[tuple[str, Any], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Question:
    id: str  # "Q3"
    topic: str
    difficulty: int
    data: Mapping[str, Any]  # JSON-able; solving it again gives the same question
    worked: Worked

    @property
    def parts(self) -> tuple[Part, ...]:
        return tuple(Part(f"{self.id}{p.id}", p.prompt, p.kind, p.answer, p.working) for p in self.worked.parts)


@dataclass(frozen=True)
class Sheet:
    """One student's variant (``student`` None: the one sheet for everybody)."""

    student: str | None
    seed: str
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Quiz:
    title: str
    seed: int
    difficulty: int
    topics: tuple[str, ...]
    sheets: tuple[Sheet, ...]
    source: str = ""  # the instructor template, when there was one
