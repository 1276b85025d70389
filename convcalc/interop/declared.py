"""Sizes a model declares (``nn.Linear(400, 120)``'s in_features, a conv's in_channels, a batch
norm's num_features) kept on its layers, so the walk can say where they disagree with what flows in.

:func:`declare` returns the layer as an instance of a subclass of its own type (every rule and
``isinstance`` check stays the layer's) whose ``analyze`` compares the received size with the
declared one. On a mismatch it analyses the layer on the declared size — the walk goes on as
the model's author meant it, so every later problem is found too — and records both in the
report's ``comparison["declared"]`` for the shape debugger (:mod:`convcalc.interop.debugger`).
"""

from __future__ import annotations

import dataclasses
from functools import cache

from convcalc.network.model import Leaf

# which input dimension each declaration is about: -1 the last (features), 0 the channels
AXES = {"in_features": -1, "in_channels": 0, "num_features": 0}


@cache
def _declaring(cls: type) -> type:
    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4):
        shape = tuple(shape)
        what, size = self._declared
        axis = AXES[what]
        received = shape[axis] if shape else None
        if received is None or received == size:
            return cls.analyze(self, shape, batch=batch, explain=explain, bytes_per_element=bytes_per_element)
        fixed = list(shape)
        fixed[axis] = size
        report = cls.analyze(self, tuple(fixed), batch=batch, explain=explain, bytes_per_element=bytes_per_element)
        comparison = dict(report.comparison) | {
            "declared": {"what": what, "declared": size, "received": received, "shape": shape}
        }
        return dataclasses.replace(report, input=shape, comparison=comparison)

    return type(
        cls.__name__,
        (cls,),
        {"analyze": analyze, "__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__},
    )


def declare(leaf: Leaf, what: str, size: int) -> Leaf:
    """``leaf`` whose layer declares ``what`` = ``size`` (``in_features``, ``in_channels``, ``num_features``)."""
    layer = leaf.layer
    sub = _declaring(type(layer))
    new = object.__new__(sub)
    for f in dataclasses.fields(layer):
        object.__setattr__(new, f.name, getattr(layer, f.name))
    object.__setattr__(new, "_declared", (what, int(size)))
    return Leaf(new)


def declared(layer) -> tuple[str, int] | None:
    return getattr(layer, "_declared", None)
