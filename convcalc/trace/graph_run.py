"""Running a graph spec, micrograd style: every node's forward in order, then the backward
pass in reverse order, each node sending its local gradient to its inputs. A tensor used by
several nodes (a shared parameter, or ``mul(d, d)``) collects one contribution per use; the
trace shows each contribution and their sum, as the course does for δW = Z2ᵀ·δY + Xᵀ·δZ1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from convcalc.trace.context import Context, require_agreement, total
from convcalc.trace.explain_loss import evaluate, loss_step
from convcalc.trace.graph_ops import OPS, formula, rule
from convcalc.trace.graph_spec import GraphSpec
from convcalc.trace.model import Check, Entry, Matrix, Step, Trace
from convcalc.trace.run import make_trace
from convcalc.trace.symbolic import symbolic_tensor


@dataclass(frozen=True)
class GraphPass:
    values: dict  # every tensor and node by name
    loss: Any
    grads: dict  # name → total gradient
    contributions: dict  # name → [(node name, input position, array)]
    grad_output: np.ndarray


def _one(like: np.ndarray) -> np.ndarray:
    out = np.empty((), dtype=object if like.dtype == object else np.float64)
    out[()] = 1 if like.dtype == object else 1.0
    return out


def graph_pass(spec: GraphSpec, values: dict[str, np.ndarray]) -> GraphPass:
    values = dict(values)
    for node in spec.nodes:
        values[node.name] = np.asarray(OPS[node.op].forward(*(values[a] for a in node.inputs)))
    out = values[spec.output]
    if spec.loss is not None:
        loss, grad = evaluate(spec.loss, out)
    else:
        loss, grad = out[()], _one(out)
    contributions: dict[str, list] = {spec.output: [(None, 0, grad)]}
    grads: dict[str, np.ndarray] = {}
    for node in reversed(spec.nodes):
        parts = contributions.get(node.name)
        if not parts:
            continue  # nothing downstream of this node reaches the loss
        grads[node.name] = _sum_parts(parts)
        local = OPS[node.op].backward(grads[node.name], [values[a] for a in node.inputs], values[node.name])
        for position, (arg, g) in enumerate(zip(node.inputs, local)):
            contributions.setdefault(arg, []).append((node.name, position, np.asarray(g)))
    for name in spec.tensors():
        parts = contributions.get(name)
        grads[name] = _sum_parts(parts) if parts else _zeros(values[name])
    return GraphPass(values, loss, grads, contributions, grad)


def _sum_parts(parts) -> np.ndarray:
    result = parts[0][2]
    for _, _, g in parts[1:]:
        result = result + g
    return np.asarray(result)


def _zeros(like: np.ndarray) -> np.ndarray:
    return np.zeros(like.shape, dtype=object) if like.dtype == object else np.zeros(like.shape)


def run_graph(spec: GraphSpec, options) -> Trace:
    from convcalc.trace.selection import choose

    chosen = choose(spec, options.symbolic)
    values = {}
    for name, t in spec.tensors().items():
        values[name] = symbolic_tensor(name, t.values, t.given_shape) if name in chosen else t.values
    run_ = graph_pass(spec, values)
    any_float = any(t.values.dtype != object for t in spec.tensors().values())
    mode = "symbolic" if chosen else ("float" if any_float else "exact")
    ctx = Context(0, options.max_entries, mode)
    steps: list[Step] = []
    inputs = [Matrix(n, values[n]) for n in spec.inputs] + [
        Matrix(n, values[n], caption="parameter") for n in spec.params
    ]
    steps.append(Step("forward", "inputs and parameters", (), tuple(inputs)))
    for node in spec.nodes:
        steps.append(_forward_step(ctx, spec, node, run_.values))
    if spec.loss is not None:
        steps.append(loss_step(ctx, spec.loss, spec.output, run_.values[spec.output], run_.loss, run_.grad_output))
    else:
        steps.append(
            Step(
                "loss",
                f"the loss is the node {spec.output}",
                (f"δ{spec.output} = ∂{spec.output}/∂{spec.output} = 1: the backward pass starts here",),
                (Matrix(f"δ{spec.output}", run_.grad_output),),
            )
        )
    for node in reversed(spec.nodes):
        if node.name in run_.grads:
            steps.append(_backward_step(ctx, spec, node, run_))
    steps.append(_totals_step(spec, run_))
    lr = options.lr if options.lr is not None else spec.lr
    updated = None
    if lr is not None:
        from convcalc.compute.scalars import constant

        updated = {n: values[n] - run_.grads[n] * constant(lr, values[n]) for n in spec.params}
        lr_text = lr if not hasattr(lr, "denominator") or lr.denominator == 1 else f"{lr.numerator}/{lr.denominator}"
        steps.append(
            Step(
                "update",
                f"gradient-descent update (lr = {lr_text})",
                tuple(f"{n} ← {n} − lr·δ{n}" for n in spec.params),
                tuple(Matrix(f"new {n}", updated[n]) for n in spec.params),
            )
        )
    results = {
        "inputs": {n: values[n] for n in spec.inputs},
        "params": {n: values[n] for n in spec.params},
        "activations": {node.name: run_.values[node.name] for node in spec.nodes},
        "loss": run_.loss,
        "grads": {n: run_.grads[n] for n in spec.params},
        "grad_input": {n: run_.grads[n] for n in spec.inputs},
        "grad_activations": {node.name: run_.grads[node.name] for node in spec.nodes if node.name in run_.grads},
        "contributions": {
            n: [{"via": via, "value": g} for via, _, g in run_.contributions.get(n, [])] for n in spec.params
        },
        "nodes": [{"name": n.name, "op": n.op, "inputs": list(n.inputs)} for n in spec.nodes],
    }
    if updated is not None:
        results["updated"] = updated
    notes = []
    if mode == "exact":
        notes.append("exact arithmetic: whole numbers and fractions stay exact (1/2, not 0.5)")
    elif mode == "symbolic":
        notes.append(f"symbolic: {', '.join(chosen)} written as symbols; ReLU masks are decided at the spec's values")
    else:
        notes.append("floating point (the spec has decimals): float64 throughout")
    shared = [n for n in spec.tensors() if len(spec.uses(n)) > 1]
    if shared:
        notes.append(
            f"{', '.join(shared)} {'is' if len(shared) == 1 else 'are'} used by more than one node: "
            "the gradient is the sum of one contribution per use"
        )
    checks: list[Check] = []
    if options.finite_differences:
        checks.append(graph_finite_differences(spec, run_))
    if options.verify_torch:
        from convcalc.trace.torch_check import torch_check_graph

        checks.append(torch_check_graph(spec, run_))
    return make_trace(spec, "graph", mode, steps, run_, results, notes, chosen, checks)


def _forward_step(ctx: Context, spec: GraphSpec, node, values) -> Step:
    op = OPS[node.op]
    args = [values[a] for a in node.inputs]
    y = values[node.name]
    entries: list[Entry] = []
    notes: list[str] = []
    hidden = 0
    if node.op == "matmul":
        entries, hidden = _matmul_entries(ctx, node.name, node.inputs, args[0], args[1], y)
    elif node.op == "relu":
        a = args[0]
        zeros = [i for i in np.ndindex(*a.shape) if not (a[i] > 0) and not (a[i] < 0)]
        if zeros:
            notes.append(
                f"{', '.join(ctx.label(node.inputs[0], z, a.shape) for z in zeros)} = 0: ReLU(0) = 0 and "
                "ReLU′(0) = 0 in the backward pass"
            )
    elif node.op == "half_sum_squares":
        d = args[0] - args[1] if len(args) == 2 else args[0]
        entries = [Entry(node.name, "squares", y[()], candidates=tuple(np.asarray(d).flat), divisor=_half(d))]
    elif node.op == "sum":
        entries = [Entry(node.name, "value", y[()], candidates=tuple(args[0].flat), text=f"Σ {node.inputs[0]}")]
    matrices = () if (y.ndim == 0 and entries) else (Matrix(node.name, y),)
    return Step(
        "forward",
        formula(op, node.name, node.inputs),
        (),
        matrices,
        tuple(entries),
        tuple(notes),
        entries_hidden=hidden,
    )


def _half(like):
    from fractions import Fraction

    from convcalc.compute.scalars import constant

    return constant(Fraction(1, 2), np.asarray(like))


def _matmul_entries(ctx: Context, out: str, names, a: np.ndarray, b: np.ndarray, y: np.ndarray):
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    y2 = np.asarray(y).reshape(a2.shape[0], b2.shape[1])
    entries = []
    shown = np.empty(y2.shape, dtype=object)
    budget = ctx.limit(y2.size)
    la = _labeller(ctx, names[0], a.shape, a2.shape)
    lb = _labeller(ctx, names[1], b.shape, b2.shape)
    for i, j in np.ndindex(*y2.shape):
        terms = tuple((a2[i, k], b2[k, j]) for k in range(a2.shape[1]))
        shown[i, j] = total(p * q for p, q in terms)
        index = tuple(int(v) for v in np.unravel_index(i * y2.shape[1] + j, y.shape)) if y.shape else ()
        if len(entries) < budget:
            entries.append(
                Entry(
                    ctx.label(out, index, y.shape),
                    "sum",
                    y[index],
                    terms=terms,
                    labels=tuple((la(i, k), lb(k, j)) for k in range(a2.shape[1])),
                )
            )
    require_agreement(shown.reshape(y.shape), y, f"node {out}")
    return entries, y2.size - len(entries)


def _labeller(ctx: Context, name: str, shape, shape2):
    """Labels of a tensor seen as the matrix ``shape2`` (a vector as one row or column)."""

    def label(i: int, j: int) -> str:
        flat = i * shape2[1] + j
        index = tuple(int(v) for v in np.unravel_index(flat, shape)) if shape else ()
        return ctx.label(name, index, shape)

    return label


def _backward_step(ctx: Context, spec: GraphSpec, node, run_: GraphPass) -> Step:
    op = OPS[node.op]
    dy = run_.grads[node.name]
    parts = run_.contributions.get(node.name, [])
    rules: list[str] = []
    matrices: list[Matrix] = []
    entries: list[Entry] = []
    notes: list[str] = []
    if len(parts) > 1:
        rules.append(
            f"δ{node.name} = "
            + " + ".join(f"(from {via})" for via, _, _ in parts)
            + f": {node.name} feeds {len(parts)} uses"
        )
    matrices.append(Matrix(f"δ{node.name}", dy))
    args = [run_.values[a] for a in node.inputs]
    for position, arg in enumerate(node.inputs):
        part = next(g for via, pos, g in run_.contributions[arg] if via == node.name and pos == position)
        rules.append(rule(op, position, node.name, node.inputs))
        shared = len(run_.contributions[arg]) > 1
        label = f"δ{arg}" + (f" (from {node.name})" if shared else "")
        matrices.append(Matrix(label, part))
        if node.op == "matmul":
            entries += _matmul_grad_entries(ctx, node, position, args, dy, part, label)
    if node.op == "relu":
        a = args[0]
        mask = np.empty(a.shape, dtype=object)
        for i in np.ndindex(*a.shape):
            mask[i] = 1 if a[i] > 0 else 0
        matrices.insert(1, Matrix(f"[{node.inputs[0]} > 0]", mask))
        zeros = [i for i in np.ndindex(*a.shape) if not (a[i] > 0) and not (a[i] < 0)]
        for z in zeros:
            notes.append(
                f"{ctx.label(node.inputs[0], z, a.shape)} = 0: ReLU′(0) = 0 (torch.relu), so "
                f"{ctx.label('δ' + node.inputs[0], z, a.shape)} = 0 — masking only where "
                f"{node.inputs[0]} < 0 (grad_h[h < 0] = 0, or clamp(min=0)) would pass the gradient there"
            )
    heading = f"backward through {formula(op, node.name, node.inputs)}"
    return Step("backward", heading, tuple(rules), tuple(matrices), tuple(entries), tuple(notes))


def _matmul_grad_entries(ctx: Context, node, position: int, args, dy: np.ndarray, part: np.ndarray, label: str):
    a, b = args
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    d2 = np.asarray(dy).reshape(a2.shape[0], b2.shape[1])
    name = label.split(" ")[0]
    entries = []
    la = _labeller(ctx, node.inputs[0], a.shape, a2.shape)
    lb = _labeller(ctx, node.inputs[1], b.shape, b2.shape)
    ld = _labeller(ctx, f"δ{node.name}", np.shape(dy), d2.shape)
    if position == 0:  # δA = δY·Bᵀ: entry (i, k) sums δY[i, j]·B[k, j] over j
        shape2 = a2.shape

        def make(i, k):
            return tuple((d2[i, j], b2[k, j]) for j in range(d2.shape[1]))

        def names(i, k):
            return tuple((ld(i, j), lb(k, j)) for j in range(d2.shape[1]))
    else:  # δB = Aᵀ·δY: entry (k, j) sums A[i, k]·δY[i, j] over i
        shape2 = b2.shape

        def make(k, j):
            return tuple((a2[i, k], d2[i, j]) for i in range(d2.shape[0]))

        def names(k, j):
            return tuple((la(i, k), ld(i, j)) for i in range(d2.shape[0]))
    target_shape = args[position].shape
    budget = ctx.limit(int(np.prod(shape2)))
    for i, j in np.ndindex(*shape2):
        if len(entries) >= budget:
            break
        index = tuple(int(v) for v in np.unravel_index(i * shape2[1] + j, target_shape)) if target_shape else ()
        entries.append(
            Entry(ctx.label(name, index, target_shape), "sum", part[index], terms=make(i, j), labels=names(i, j))
        )
    return entries


def _totals_step(spec: GraphSpec, run_: GraphPass) -> Step:
    rules, matrices, entries = [], [], []
    for name in list(spec.params) + list(spec.inputs):
        parts = run_.contributions.get(name, [])
        if len(parts) > 1:
            rules.append(
                f"δ{name} = "
                + " + ".join(f"δ{name} (from {via})" for via, _, _ in parts)
                + f"   ({name} is used {len(parts)} times: one contribution per use)"
            )
            for via, _, g in parts:
                matrices.append(Matrix(f"δ{name} (from {via})", g))
            for index in np.ndindex(*run_.grads[name].shape):
                entries.append(
                    Entry(
                        f"δ{name}[{','.join(map(str, index))}]" if index else f"δ{name}",
                        "value",
                        run_.grads[name][index],
                        candidates=tuple(g[index] for _, _, g in parts),
                        text=" + ".join(f"δ{name} (from {via})" for via, _, _ in parts),
                    )
                )
        matrices.append(
            Matrix(
                f"δ{name}", run_.grads[name], caption="parameter gradient" if name in spec.params else "input gradient"
            )
        )
    return Step("backward", "gradients of the parameters and inputs", tuple(rules), tuple(matrices), tuple(entries))


def graph_finite_differences(spec: GraphSpec, run_: GraphPass) -> Check:
    from convcalc.trace.check import _float, gradient_check

    tensors = {n: _float(run_.values[n]) for n in spec.tensors()}
    analytic = {n: _float(run_.grads[n]) for n in spec.tensors()}
    loss_spec = spec.loss
    if loss_spec is not None and loss_spec.target is not None and not loss_spec.class_indices:
        loss_spec = replace(loss_spec, target=_float(loss_spec.target))
    upstream = _float(spec.loss.grad) if spec.loss is not None and spec.loss.kind == "upstream" else None

    def loss(values: dict[str, np.ndarray]):
        vals = dict(values)
        decisions = []
        for node in spec.nodes:
            args = [vals[a] for a in node.inputs]
            if node.op == "relu":
                decisions.append(args[0] > 0)
            vals[node.name] = np.asarray(OPS[node.op].forward(*args))
        out = vals[spec.output]
        if upstream is not None:
            return float((upstream * out).sum()), decisions
        if loss_spec is not None:
            value, _ = evaluate(loss_spec, out)
            return float(value), decisions
        return float(out[()]), decisions

    return gradient_check(loss, tensors, analytic)
