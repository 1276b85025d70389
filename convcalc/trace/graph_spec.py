"""The graph spec form: named inputs, named (possibly shared) parameters and named nodes.

    {"inputs": {"X": [[1, 2], [3, 4]]},
     "params": {"W": [[1, -1], [2, 0]]},
     "nodes": [{"name": "Z1", "op": "matmul", "inputs": ["X", "W"]},
               {"name": "Z2", "op": "relu", "inputs": ["Z1"]},
               {"name": "Y", "op": "matmul", "inputs": ["Z2", "W"]},
               {"name": "L", "op": "half_sum_squares", "inputs": ["Y", "X"]}]}

The last node (or ``"output"``) is the result. With a ``"loss"`` (the losses of the
sequential form) the loss is taken of it; without, it must be a single number — the loss.
Tensors keep exactly the shape written (no batch axis is added).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from convcalc.errors import InputError
from convcalc.trace.graph_ops import OPS
from convcalc.trace.spec import Loss, Tensor, check_keys, closest, number, shape_text, tensor

TOP_KEYS = ("inputs", "params", "nodes", "output", "loss", "lr", "title", "description", "$schema", "comment")
NODE_KEYS = ("name", "op", "inputs", "comment")


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]
    shape: tuple[int, ...]


@dataclass(frozen=True)
class GraphSpec:
    title: str
    inputs: Mapping[str, Tensor]
    params: Mapping[str, Tensor]
    nodes: tuple[Node, ...]
    output: str
    loss: Loss | None
    lr: Any = None
    description: str = ""

    @property
    def form(self) -> str:
        return "graph"

    def tensors(self) -> dict[str, Tensor]:
        return {**self.inputs, **self.params}

    def uses(self, name: str) -> list[tuple[Node, int]]:
        """Every (node, input position) that reads ``name``: a shared parameter has several."""
        return [(node, i) for node in self.nodes for i, arg in enumerate(node.inputs) if arg == name]


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or any(ch in value for ch in "[](),.;: "):
        raise InputError(f'{where}: a name must be a short word such as "W" or "Z1"; got {value!r}')
    return value.strip()


def parse_graph(data: dict, source: str) -> GraphSpec:
    check_keys(data, TOP_KEYS, source)
    tensors: dict[str, Tensor] = {}
    groups: dict[str, dict[str, Tensor]] = {"inputs": {}, "params": {}}
    for group in ("inputs", "params"):
        raw = data.get(group, {})
        if not isinstance(raw, dict):
            raise InputError(f'{source}: "{group}" maps names to tensors, e.g. {{"X": [[1, 2], [3, 4]]}}')
        for key, value in raw.items():
            name = _name(key, f"{group}")
            if name in tensors:
                raise InputError(f'{source}: "{name}" is defined twice (in inputs and params); names must be unique')
            t = tensor(value, f"{group}.{name}")
            tensors[name] = groups[group][name] = Tensor(name, f"{group}.{name}", t, t.shape)
    if not groups["params"] and not groups["inputs"]:
        raise InputError(f'{source}: the graph form needs "inputs" and/or "params" (named tensors)')
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise InputError(
            f'{source}: "nodes" must be a non-empty list like [{{"name": "Y", "op": "matmul", "inputs": ["X", "W"]}}]'
        )
    shapes = {name: t.values.shape for name, t in tensors.items()}
    nodes: list[Node] = []
    for i, raw in enumerate(raw_nodes, 1):
        where = f"node {i}"
        if not isinstance(raw, dict):
            raise InputError(f'{where}: must be an object with "name", "op" and "inputs"; got {raw!r}')
        check_keys(raw, NODE_KEYS, where)
        for key in ("name", "op", "inputs"):
            if key not in raw:
                raise InputError(f'{where}: "{key}" is missing (a node has a name, an op and a list of inputs)')
        name = _name(raw["name"], f"{where} name")
        where = f"node {name}"
        if name in shapes:
            raise InputError(f'{where}: the name "{name}" is already used; every node needs its own name')
        op = _op(raw["op"], where)
        args = raw["inputs"]
        if isinstance(args, str):
            args = [args]
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise InputError(f'{where}: "inputs" is a list of names, e.g. ["X", "W"]')
        low, high = OPS[op].arity
        if not low <= len(args) <= high:
            count = str(low) if low == high else f"{low} or {high}"
            raise InputError(f"{where}: {op} takes {count} input{'s' if high > 1 else ''}; got {len(args)}")
        for arg in args:
            if arg not in shapes:
                close = closest([arg], list(shapes))
                hint = f' — did you mean "{close}"?' if close else ""
                raise InputError(
                    f'{where}: input "{arg}" is not defined before this node{hint} (known: {", ".join(shapes)})'
                )
        try:
            shape = tuple(OPS[op].shape([shapes[a] for a in args]))
        except InputError as error:
            raise InputError(
                f"{where} ({op} of {', '.join(f'{a} {shape_text(shapes[a])}' for a in args)}): {error}"
            ) from None
        shapes[name] = shape
        nodes.append(Node(name, op, tuple(args), shape))
    output = data.get("output", nodes[-1].name)
    if output not in {n.name for n in nodes}:
        close = closest([str(output)], [n.name for n in nodes])
        raise InputError(
            f'{source}: "output" names node "{output}", which does not exist'
            + (f' — did you mean "{close}"?' if close else "")
        )
    out_shape = shapes[output]
    loss = None
    if data.get("loss") is not None:
        from convcalc.trace.layer_specs import parse_loss

        loss = parse_loss(data["loss"], out_shape, 0, source)
    elif out_shape != ():
        raise InputError(
            f'{source}: the output node "{output}" is {shape_text(out_shape)}, not a single number: '
            'end the graph with a sum / half_sum_squares node, or add a "loss"'
        )
    lr = number(data["lr"], "lr") if data.get("lr") is not None else None
    spec = GraphSpec(
        title=str(
            data.get("title") or "graph: " + "; ".join(f"{n.name} = {n.op}({', '.join(n.inputs)})" for n in nodes)
        ),
        inputs=groups["inputs"],
        params=groups["params"],
        nodes=tuple(nodes),
        output=output,
        loss=loss,
        lr=lr,
        description=str(data.get("description", "")),
    )
    return _unify(spec)


def _op(value: Any, where: str) -> str:
    key = str(value).strip().lower().replace("-", "_")
    key = {
        "matmult": "matmul",
        "mm": "matmul",
        "dot": "matmul",
        "plus": "add",
        "minus": "sub",
        "subtract": "sub",
        "multiply": "mul",
        "times": "mul",
        "hadamard": "mul",
        "halfsumsquares": "half_sum_squares",
        "half_sse": "half_sum_squares",
        "l2": "half_sum_squares",
    }.get(key, key)
    if key not in OPS:
        close = closest([str(value).lower()], list(OPS))
        hint = f" — did you mean {close}?" if close else ""
        raise InputError(f'{where}: unknown op "{value}"{hint} Valid ops: {", ".join(OPS)}')
    return key


def _unify(spec: GraphSpec) -> GraphSpec:
    """A decimal anywhere makes every tensor float64."""
    from dataclasses import replace

    arrays = [t.values for t in spec.tensors().values()]
    if spec.loss is not None:
        arrays += [a for a in (spec.loss.target, spec.loss.grad) if a is not None and not spec.loss.class_indices]
    if not any(a.dtype != object for a in arrays):
        return spec

    def f(group):
        return {k: replace(t, values=t.values.astype(np.float64)) for k, t in group.items()}

    loss = spec.loss
    if loss is not None:
        loss = replace(
            loss,
            target=loss.target if loss.target is None or loss.class_indices else loss.target.astype(np.float64),
            grad=None if loss.grad is None else loss.grad.astype(np.float64),
        )
    return replace(spec, inputs=f(spec.inputs), params=f(spec.params), loss=loss)
