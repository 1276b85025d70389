"""Reading a ``convcalc backprop`` spec file: JSON in, validated plain data out.

Two forms (the one used is decided by the keys):

* **sequential** — ``{"input": tensor, "layers": [...], "loss": {...}}``: a chain of PyTorch
  layer types with their parameter values (:mod:`convcalc.trace.layer_specs`);
* **graph** — ``{"inputs": {...}, "params": {...}, "nodes": [...]}``: named nodes with named
  inputs, parameters that may be shared (:mod:`convcalc.trace.graph_spec`).

Tensors are nested lists in PyTorch layout; whole numbers and ``"p/q"`` strings stay exact,
a decimal anywhere makes the whole spec float64 (:mod:`convcalc.compute.numbers`). Every
problem is an :class:`~convcalc.errors.InputError` naming the place and what would be valid.
"""

from __future__ import annotations

import difflib
import json
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from convcalc.compute.numbers import parse_number, to_array
from convcalc.errors import InputError
from convcalc.jsontext import load_json


@dataclass(frozen=True)
class Tensor:
    """A named tensor of the spec: ``values`` in the layout the layers use (batched, PyTorch),
    ``given_shape`` the layout the user wrote (results are shown and returned in it)."""

    name: str
    key: str
    values: np.ndarray
    given_shape: tuple[int, ...]

    def given(self, array: np.ndarray) -> np.ndarray:
        """``array`` (internal layout) in the user's layout."""
        return array.reshape(self.given_shape)


@dataclass(frozen=True)
class Loss:
    """The loss at the end of the trace. ``target`` and ``grad`` are in the output's internal layout."""

    kind: str
    target: np.ndarray | None = None
    grad: np.ndarray | None = None
    reduction: str = "mean"
    class_indices: bool = False


@dataclass(frozen=True)
class LayerStep:
    """One layer of the sequential form, built and checked."""

    index: int  # 1-based position in the chain
    kind: str  # canonical type: conv2d, relu, …
    name: str  # the layer's name (user's, else the type)
    output: str  # name of its output tensor (J, P, O, …)
    layer: Any  # the convcalc.layers object that computes
    params: Mapping[str, Tensor] = field(default_factory=dict)  # PyTorch names: weight, bias
    buffers: Mapping[str, np.ndarray] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)  # hyper-parameters, for display
    input_shape: tuple[int, ...] = ()
    output_shape: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()  # how the spec was read (a kernel's layout), shown with the forward step

    @property
    def label(self) -> str:
        return f"layer {self.index} ({self.name})" if self.name != self.kind else f"layer {self.index} ({self.kind})"


@dataclass(frozen=True)
class SequentialSpec:
    title: str
    input: Tensor
    layers: tuple[LayerStep, ...]
    loss: Loss
    lr: Any = None
    implicit_dims: int = 0  # leading axes (N, or N and C) added to a plain input
    description: str = ""

    @property
    def form(self) -> str:
        return "sequential"

    def tensors(self) -> dict[str, Tensor]:
        """Every tensor a gradient is computed for, by display name (input first)."""
        out = {self.input.name: self.input}
        for step in self.layers:
            for t in step.params.values():
                out[t.name] = t
        return out


def display_shape(shape: tuple[int, ...], implicit: int) -> tuple[int, ...]:
    """An activation's shape as the user thinks of it: the axes added to a plain input
    (batch 1, channel 1) are dropped again while they are still of size 1."""
    out = tuple(shape)
    for _ in range(implicit):
        if len(out) > 1 and out[0] == 1:
            out = out[1:]
    return out


# --- JSON ----------------------------------------------------------------------------------


def load_text(text: str, source: str = "spec") -> dict:
    """Parse JSON, reporting a syntax error with its line and column."""
    data = load_json(text, source)
    if not isinstance(data, dict):
        raise InputError(
            f'{source}: the spec must be a JSON object {{...}} with "layers" or "nodes"; got {type(data).__name__}'
        )
    return data


def read_source(path: str, stdin_text: str | None = None) -> tuple[str, str]:
    """The spec's text and a label for messages; ``-`` reads standard input."""
    if path == "-":
        if stdin_text is None:
            import sys

            stdin_text = sys.stdin.read()
        if not stdin_text.strip():
            raise InputError(
                "no spec on standard input (pipe one in, e.g. convcalc backprop --example course | convcalc backprop -)"
            )
        return stdin_text, "<stdin>"
    from convcalc.files import probe, read_text

    found = probe(path)  # never raises, even on a name longer than the system allows
    if found is None:
        raise InputError(
            f"spec file '{path[:80]}{'…' if len(path) > 80 else ''}' does not exist "
            "(see convcalc backprop --list-examples for ready-made specs)"
        )
    if stat.S_ISDIR(found.st_mode):
        raise InputError(f"'{path}' is a directory, not a spec file")

    return read_text(path, "spec file"), path


def parse(data: dict, source: str = "spec"):
    """A SequentialSpec or a GraphSpec from parsed JSON."""
    if "nodes" in data:
        from convcalc.trace.graph_spec import parse_graph

        return parse_graph(data, source)
    if "layers" in data:
        from convcalc.trace.layer_specs import parse_sequential

        return parse_sequential(data, source)
    close = closest(list(data), ("layers", "nodes"))
    raise InputError(
        f'{source}: a spec needs "layers" (sequential form) or "nodes" (graph form)'
        + (f' — did you mean "{close}"?' if close else ".")
        + " See convcalc backprop --example course"
    )


# --- small validators shared by both forms ----------------------------------------------------


def closest(words, valid) -> str | None:
    for word in words:
        match = difflib.get_close_matches(str(word), list(valid), n=1, cutoff=0.6)
        if match:
            return match[0]
    return None


def check_keys(obj: Mapping, allowed, where: str) -> None:
    """Refuse unknown keys, suggesting the closest valid one."""
    for key in obj:
        if key not in allowed:
            match = difflib.get_close_matches(str(key), list(allowed), n=1, cutoff=0.5)
            hint = f' — did you mean "{match[0]}"?' if match else ""
            raise InputError(f'{where}: unknown key "{key}"{hint} Valid keys: {", ".join(sorted(allowed))}')


def tensor(value: Any, what: str) -> np.ndarray:
    """A tensor (nested list or a single number) as an exact object array or float64."""
    if isinstance(value, (list, tuple)):
        return to_array(_numbers(value), what)
    if isinstance(value, dict) or value is None or isinstance(value, bool):
        raise InputError(f"{what}: expected a number or a nested list of numbers; got {json.dumps(value)}")
    return to_array([_number(value, what)], what).reshape(())


def _numbers(value: Any):
    if isinstance(value, (list, tuple)):
        return [_numbers(v) for v in value]
    return value


def _number(value: Any, what: str):
    return parse_number(value, what)


def number(value: Any, what: str) -> int | Fraction | float:
    """One scalar hyper-parameter (``0.01``, ``"1/100"``, ``3``)."""
    if isinstance(value, (list, dict)):
        raise InputError(f"{what}: expected a single number; got {json.dumps(value)}")
    return _number(value, what)


def whole(value: Any, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be a whole number ≥ {minimum}; got {json.dumps(value)}")
    if value < minimum:
        raise InputError(f"{what} must be a whole number ≥ {minimum}; got {value}")
    return value


def pair(value: Any, what: str, minimum: int = 0) -> tuple[int, int]:
    """An int or a list of two ints (per spatial axis, PyTorch style)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise InputError(f"{what} takes one number or two (one per axis: [H, W]); got {json.dumps(value)}")
        return whole(value[0], what, minimum), whole(value[1], what, minimum)
    v = whole(value, what, minimum)
    return v, v


def flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{what} takes true or false; got {json.dumps(value)}")
    return value


def any_float(arrays) -> bool:
    return any(a is not None and a.dtype != object for a in arrays)


def shape_text(shape) -> str:
    return "x".join(map(str, shape)) if len(shape) else "a single number"
