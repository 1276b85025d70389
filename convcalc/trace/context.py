"""What every explainer needs while it writes a step: how a tensor is shown (the layout the
user wrote it in), how an entry is named (``J[0,1]``), how many entries to write out, and
the check that a derivation shown on the board agrees with the layer's own numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from convcalc.trace.model import Entry
from convcalc.trace.spec import Tensor, display_shape
from convcalc.trace.symbolic import Symbolic


class TraceBug(AssertionError):
    """A derivation written on the board disagrees with the layer's forward/backward: a bug
    in convcalc, never a display choice."""


@dataclass(frozen=True)
class Context:
    implicit: int  # leading unit axes added to the user's input (0, 1 or 2)
    max_entries: int  # per-entry explanations written per tensor
    mode: str  # exact | float | symbolic

    # -- activations (and anything shaped like them: padded inputs, pad(δJ) …) -------------
    def shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return display_shape(tuple(shape), self.implicit)

    def show(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array).reshape(self.shape(np.shape(array)))

    def label(self, name: str, index: tuple[int, ...], shape: tuple[int, ...]) -> str:
        shown = self.shape(shape)
        return f"{name}[{','.join(map(str, index[len(index) - len(shown) :]))}]" if shown else name

    def cell(self, index: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(index[len(index) - len(self.shape(shape)) :])

    # -- parameters: the user's layout --------------------------------------------------------
    @staticmethod
    def show_param(tensor: Tensor, array: np.ndarray) -> np.ndarray:
        return np.asarray(array).reshape(tensor.given_shape)

    @staticmethod
    def param_cell(tensor: Tensor, index: tuple[int, ...]) -> tuple[int, ...]:
        internal = tensor.values.shape
        if not tensor.given_shape:
            return ()
        if tuple(internal) == tuple(tensor.given_shape):  # written in the layers' layout: nothing to map
            return tuple(int(i) for i in index)
        flat = int(np.ravel_multi_index(index, internal)) if internal else 0
        return tuple(int(i) for i in np.unravel_index(flat, tensor.given_shape))

    def param_label(self, name: str, tensor: Tensor, index: tuple[int, ...]) -> str:
        cell = self.param_cell(tensor, index)
        return f"{name}[{','.join(map(str, cell))}]" if cell else name

    def limit(self, count: int) -> int:
        return count if self.max_entries < 0 else min(count, self.max_entries)


def agree(a: Any, b: Any) -> bool:
    """Equal as exact numbers, as expressions (symbolic), or within float64 rounding.

    Symbolic results are compared at the spec's values and at their random probe point
    (see :mod:`convcalc.trace.symbolic`); only when a probe is unknown does sympy expand.
    """
    if isinstance(a, Symbolic) or isinstance(b, Symbolic):
        if not _close(_value(a), _value(b)):
            return False
        pa = a.probe if isinstance(a, Symbolic) else a
        pb = b.probe if isinstance(b, Symbolic) else b
        if pa is not None and pb is not None:
            return _close(pa, pb)
        import sympy

        ea = a.expr if isinstance(a, Symbolic) else sympy.sympify(a)
        eb = b.expr if isinstance(b, Symbolic) else sympy.sympify(b)
        return sympy.expand(ea - eb) == 0
    return _close(a, b)


def _value(x: Any) -> Any:
    return x.value if isinstance(x, Symbolic) else x


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, (float, np.floating)) or isinstance(b, (float, np.floating)):
        fa, fb = float(a), float(b)
        return abs(fa - fb) <= 1e-9 * max(1.0, abs(fa), abs(fb))
    if isinstance(a, (int, Fraction, np.integer)) and isinstance(b, (int, Fraction, np.integer)):
        return a == b
    return bool(a == b)


def require_agreement(shown: np.ndarray, computed: np.ndarray, what: str) -> None:
    """Raise :class:`TraceBug` unless every entry of the derivation equals the layer's result."""
    shown = np.asarray(shown)
    computed = np.asarray(computed)
    if shown.shape != computed.shape:
        raise TraceBug(f"{what}: the derivation shown has shape {shown.shape} but the layer computed {computed.shape}")
    for index in np.ndindex(*shown.shape):
        if not agree(shown[index], computed[index]):
            raise TraceBug(
                f"{what}: entry {list(index)} is {shown[index]!r} on the board but the layer computed "
                f"{computed[index]!r}"
            )


def total(values) -> Any:
    """Σ of the given numbers, starting from exact 0 (so ints stay ints)."""
    out: Any = 0
    for v in values:
        out = out + v
    return out


class ExplainedSums:
    """The entries of a layer result explained as Σ left·right (+ addends), in index order.

    :meth:`add` recomputes one entry's sum from its terms and keeps it for the board while
    fewer than ``ctx.limit`` are kept (:attr:`explaining` tells whether labels are worth
    building); :meth:`check` requires every recomputed entry to equal ``expected``, the layer's
    own result, and returns the kept entries. ``target(index)`` names an entry; ``source``
    is the matrix whose ``cells`` an entry reads.
    """

    def __init__(self, ctx: Context, expected: np.ndarray, what: str, target: Callable[[tuple], str],
                 source: str = "") -> None:
        self.expected, self.what, self.target, self.source = expected, what, target, source
        self.shown = np.empty(expected.shape, dtype=object)
        self.entries: list[Entry] = []
        self.budget = ctx.limit(expected.size)

    @property
    def explaining(self) -> bool:
        return len(self.entries) < self.budget

    @property
    def hidden(self) -> int:
        return self.expected.size - len(self.entries)

    def add(self, index: tuple, terms, cells=(), labels=(), addends=()) -> None:
        self.shown[index] = total([p * q for p, q in terms] + list(addends))
        if self.explaining:
            self.entries.append(Entry(self.target(index), "sum", self.expected[index], terms=tuple(terms),
                                      addends=tuple(addends), source=self.source, window=tuple(cells),
                                      labels=tuple(labels)))

    def check(self) -> list[Entry]:
        require_agreement(self.shown, self.expected, self.what)
        return list(self.entries)
