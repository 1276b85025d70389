"""The quiz topics: each draws a question's numbers and solves it through the engine.

A topic is two functions:

    draw(rng, difficulty) -> data     the question's numbers (JSON-able), from a seeded random.Random
    solve(data) -> Worked             the prompt, the parts with their answers (computed by the
                                      engine's public functions), the worked solution, and the
                                      mistaken variants of each answer (convcalc.homework.mistakes)

``solve`` raises :class:`~convcalc.errors.InputError` when the engine refuses the question;
the generator then draws again, so every question printed is one the engine accepts.
Difficulty: 1 easy, 2 medium, 3 hard.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from convcalc.homework.model import Worked


@dataclass(frozen=True)
class Topic:
    name: str
    summary: str
    draw: Callable[[random.Random, int], dict[str, Any]]
    solve: Callable[[dict[str, Any]], Worked]


def _topics() -> dict[str, Topic]:
    from convcalc.homework.topics import layer, matrices, stack

    found = [*layer.TOPICS, *stack.TOPICS, *matrices.TOPICS]
    return {t.name: t for t in found}


def topics() -> dict[str, Topic]:
    """Every topic by name, in the order the sheets list them."""
    return _topics()


def topic(name: str) -> Topic:
    from convcalc.errors import InputError

    table = _topics()
    key = name.strip().lower().replace("_", "-")
    if key not in table:
        import difflib

        close = difflib.get_close_matches(key, list(table), n=2, cutoff=0.5)
        hint = f" — did you mean {' or '.join(close)}?" if close else ""
        raise InputError(f"unknown topic '{name}'{hint}; the topics are {', '.join(table)}")
    return table[key]
