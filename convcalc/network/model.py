"""The network model: a tree of modules whose leaves are layer types from
``convcalc.layers`` (the one place each layer's rules live).

Containers, as in ``torch.nn``:
* :class:`Sequential` — named children applied in order;
* :class:`Residual` — ``post(body(x) + shortcut(x))``; the body's children are named in the
  block's own namespace (``layer1.0.conv1``), the shortcut under its own name (``downsample``);
* :class:`Parallel` — branches on the same input, merged by channel ``concat``, ``add`` or ``mul``;
* :class:`Gate` — squeeze-and-excitation: ``x * gate(x)``, the gate producing C×1×1;
* :class:`Side` — a side output (an auxiliary classifier): ``head(x)`` is computed and counted,
  ``x`` itself flows on unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: the calls a model's forward may make instead of an nn.Module (torchvision's own code does)
FUNCTIONAL_CALLS = ("F.relu", "F.avg_pool2d", "F.max_pool2d", "F.adaptive_avg_pool2d", "Tensor.mean")


@dataclass(frozen=True)
class Leaf:
    """One layer: any object with ``analyze(shape, *, batch, explain, bytes_per_element)``.

    ``functional`` says how the model's code runs it: "" as an ``nn.Module`` (the default), or the
    function its ``forward`` calls instead (one of :data:`FUNCTIONAL_CALLS`: torchvision's
    Inception ``F.relu``, DenseNet's final ``F.adaptive_avg_pool2d``, ShuffleNet's ``x.mean([2, 3])``).
    The numbers are the same; hook-based counting tools see only modules, so ``--as`` depends on it.
    """

    layer: Any
    functional: str = ""


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


@dataclass(frozen=True)
class Side:
    """A side head on the way (GoogLeNet's and Inception v3's auxiliary classifiers): its
    children are walked and counted in its own namespace (``AuxLogits.fc``); the block passes its
    input on unchanged."""

    head: Sequential
    kind: str = "Side"


Module = Leaf | Sequential | Residual | Parallel | Gate | Side


@dataclass(frozen=True)
class Network:
    """A named network with its default input (C, *spatial) and where its definition comes from."""

    name: str
    input: tuple[int, ...]
    body: Sequential
    source: str = ""
    description: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
