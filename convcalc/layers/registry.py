"""``convcalc shape``'s ops: op names (with their aliases and rank suffixes) and the options
each type takes, read from the layer descriptors (:mod:`convcalc.layers.descriptor`).

An op is found through the generated index, so a command loads only the module of the
layer type it uses (start-up time: ``convcalc shape`` compiles what it needs)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from convcalc.engine.report import LayerReport
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.descriptor import LayerDescriptor, descriptors, lookup, normalise


@dataclass(frozen=True)
class OpSpec:
    """A layer type as ``convcalc shape`` knows it (derived from its descriptor)."""

    name: str
    build: Callable[..., Any]
    options: tuple[str, ...]  # option names (without dashes) this op accepts
    spatial: bool = True
    summary: str = ""


def _op(descriptor: LayerDescriptor) -> OpSpec:
    assert descriptor.cli is not None and descriptor.cli_build is not None
    return OpSpec(descriptor.cli, descriptor.cli_build, descriptor.cli_options, descriptor.spatial, descriptor.summary)


def ops() -> dict[str, OpSpec]:
    """Every op of ``convcalc shape``, in the order help and messages list them (loads every layer module)."""
    return {d.cli: _op(d) for d in descriptors() if d.cli is not None}


_RANK = re.compile(r"^(.*?)([123])d$")


def _find(key: str) -> LayerDescriptor | None:
    descriptor = lookup("cli", key)
    return descriptor if descriptor is not None and descriptor.cli is not None else None


@lru_cache(maxsize=256)  # a --jsonl batch names a few ops thousands of times; the answer is frozen data
def resolve_op(text: str, dims: int | None = None) -> tuple[OpSpec, int | None]:
    """``'conv-transpose3d'`` → (the conv-transpose spec, 3); aliases, ``_``/``-`` and case ignored."""
    raw = str(text).strip()
    key = normalise("cli", raw)
    rank = None
    descriptor = _find(key)
    match = _RANK.match(key)
    if descriptor is None and match and _find(match.group(1)) is not None:
        key, rank = match.group(1), int(match.group(2))
        descriptor = _find(key)
    if descriptor is None:
        network_layer = lookup("spec", raw)
        if network_layer is not None and network_layer.build is not None:  # a chain word, not an op: say where it works
            syntax = network_layer.chain_help.split("  ")[0] or network_layer.name
            raise InputError(f"'{raw}' ({network_layer.name}) is a layer of networks, not a convcalc shape op: "
                             f"write it in an inline chain or a spec file of convcalc arch, run or train, e.g. "
                             f"convcalc arch \"SHAPE | {syntax}\" (convcalc arch --help lists the chain words)")
        names = list(ops())
        import difflib  # only to suggest a name for a misspelt one

        close = difflib.get_close_matches(raw.lower(), names, n=3, cutoff=0.5)
        hint = f" — did you mean {', '.join(close)}?" if close else ""
        raise InputError(f"unknown op '{raw}'{hint} Valid ops: {', '.join(names)} (add 1d/2d/3d for the rank)")
    spec = _op(descriptor)
    if dims is not None:
        if dims not in (1, 2, 3):
            raise InputError(f"{{field}} must be 1, 2 or 3; got {dims}", field="dims", value=dims, valid="1, 2 or 3")
        if rank is not None and rank != dims:
            raise InputError(f"{{field}} {raw} is {rank}-d but {{field:dims}} says {dims}: give one of them",
                             field="op", value=raw, valid=f"the op without a rank, or the rank {dims}d")
        rank = dims
    if not spec.spatial:
        if rank is not None:
            raise InputError(f"{spec.name} has no spatial rank: drop the {rank}d / {{field:dims}}")
        return spec, None
    return spec, rank or 2


def build_layer(op: str, options: dict[str, Any], dims: int | None = None):
    """Build the layer an op name and its (already parsed) options describe.

    Options that do not apply to the op are refused, naming the ops they belong to.
    """
    spec, rank = resolve_op(op, dims)
    for key in options:
        if key not in spec.options:
            owners = [s.name for s in ops().values() if key in s.options]
            where = f" (it is for {', '.join(owners)})" if owners else ""
            raise InputError(f"--{key} does not apply to {spec.name}{where}")
    return spec.build(rank, options)


def analyze_layer(op: str, options: dict[str, Any], shape: tuple, *, dims: int | None = None,
                  batch: int | None = None, explain: bool = False, bytes_per_element: int = 4) -> LayerReport:
    """Build the layer ``op`` with ``options`` and apply it to ``shape`` as a user writes it
    (``convcalc shape --in``; :func:`convcalc.layers.base.analyze_written`)."""
    layer = build_layer(op, options, dims)
    return base.analyze_written(layer, shape, batch=batch, explain=explain, bytes_per_element=bytes_per_element)

