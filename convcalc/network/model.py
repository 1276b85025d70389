"""The network model: a tree of modules whose leaves are layer types from
``convcalc.layers`` (the one place each layer's rules live).

Containers, as in ``torch.nn``:
* :class:`Sequential` — named children applied in order;
* :class:`Residual` — ``post(body(x) + shortcut(x))``; the body's children are named in the
  block's own namespace (``layer1.0.conv1``), the shortcut under its own name (``downsample``);
* :class:`Parallel` — branches on the same input, merged by channel ``concat``, ``add`` or ``mul``;
* :class:`Gate` — squeeze-and-excitation: ``x * gate(x)``, the gate producing C×1×1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Leaf:
    """One layer: any object with ``analyze(shape, *, batch, explain, bytes_per_element)``."""

    layer: Any


@dataclass(frozen=True)
class Sequential:
    children: tuple[tuple[str, Module], ...]
    kind: str = "Sequential"


@dataclass(frozen=True)
class Residual:
    body: Sequential
    shortcut: tuple[str, Module] | None = None  # None: the identity
    post: tuple[tuple[str, Module], ...] = ()
    kind: str = "Residual"


@dataclass(frozen=True)
class Parallel:
    branches: tuple[tuple[str, Module], ...]
    merge: str = "concat"  # concat (channels), add, mul
    kind: str = "Parallel"


@dataclass(frozen=True)
class Gate:
    gate: Sequential
    kind: str = "SqueezeExcitation"


Module = Leaf | Sequential | Residual | Parallel | Gate


@dataclass(frozen=True)
class Network:
    """A named network with its default input (C, *spatial) and where its definition comes from."""

    name: str
    input: tuple[int, ...]
    body: Sequential
    source: str = ""
    description: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
