"""A trace is data: steps with their rules, matrices and per-entry computations.

The engine (:mod:`convcalc.trace.run`, :mod:`convcalc.trace.graph_run`) builds a
:class:`Trace`; the printers in :mod:`convcalc.render` (rich, plain text, Markdown, LaTeX,
JSON) only read it. Numbers inside are the engine's own: Python ints and Fractions (exact),
floats, or :class:`~convcalc.trace.symbolic.Symbolic` values. Every index is written in the
layout the user wrote the tensor in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Matrix:
    """A tensor shown in a step. ``structural`` marks entries that are padding or inserted
    zeros (shown dimmed); ``marked`` marks entries to emphasise (a ReLU zero, a pool winner)."""

    name: str
    values: np.ndarray
    structural: np.ndarray | None = None
    marked: np.ndarray | None = None
    caption: str = ""
    marked_meaning: str = ""  # what the marks say ("window winners"); shown where marks can be drawn


@dataclass(frozen=True)
class Entry:
    """How one entry was computed.

    form ``sum``: target = Σ left·right (+ addends) = result
    form ``max``: target = max(candidates) = result, won by ``winner``
    form ``mean``: target = (Σ candidates)/divisor = result
    form ``value``: target = text = result (a formula written out by the engine)
    ``source`` and ``window`` name the matrix and the cells the entry reads (highlighted).
    ``labels`` name what the numbers are: a (left, right) pair per term of a sum, one label
    per candidate otherwise — printers use them where a number is too long to write out
    (symbolic traces: ``δK[0,0] = 1·δJ[0,0] + 2·δJ[0,1] + …``).
    """

    target: str
    form: str
    result: Any
    terms: tuple[tuple[Any, Any], ...] = ()
    addends: tuple[Any, ...] = ()
    candidates: tuple[Any, ...] = ()
    divisor: Any = None
    winner: str = ""
    text: str = ""
    source: str = ""
    window: tuple[tuple[int, ...], ...] = ()
    note: str = ""
    labels: tuple = ()


@dataclass(frozen=True)
class Step:
    """One step of the board: a layer's forward, the loss, a layer's backward, an update."""

    phase: str  # forward | loss | backward | update
    heading: str
    rules: tuple[str, ...] = ()
    matrices: tuple[Matrix, ...] = ()
    entries: tuple[Entry, ...] = ()
    notes: tuple[str, ...] = ()
    layer: int | None = None
    entries_hidden: int = 0  # entries not shown (size limit)


@dataclass(frozen=True)
class Check:
    """A self-check at the end of the trace (finite differences, torch)."""

    name: str
    ok: bool
    summary: str
    details: tuple[str, ...] = ()
    #: (tensor, entries checked, entries in all) for each tensor checked on a sample only
    sampled: tuple[tuple[str, int, int], ...] = ()
    seed: int | None = None  # of the generator that drew the samples


@dataclass(frozen=True)
class Trace:
    title: str
    form: str  # sequential | graph
    mode: str  # exact | float | symbolic
    steps: tuple[Step, ...]
    loss: Any
    results: Mapping[str, Any]  # the numbers behind --json (arrays in the user's layouts)
    checks: tuple[Check, ...] = ()
    notes: tuple[str, ...] = ()
    description: str = ""
    symbols: tuple[str, ...] = ()  # tensors made symbolic
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)
