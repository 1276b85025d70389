"""Which tensors ``--symbolic`` turns into symbols, and the refusal of traces whose
expressions would blow up.

Names accepted: a tensor's display name (``K``, ``W``, ``b2``), ``LAYER.PARAM`` with the
layer's name or 1-based position (``conv1.weight``, ``1.weight``), the input's name or
``input``; ``all`` (or nothing) means every parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from convcalc.errors import InputError

#: Refuse when one entry would hold more terms than this, or all entries together more than TOTAL.
MAX_TERMS = 4000
MAX_TOTAL = 150_000


def choose(spec, names: tuple[str, ...] | None) -> tuple[str, ...]:
    """The display names of the tensors to make symbolic (empty tuple: numeric trace)."""
    if names is None:
        return ()
    tensors = spec.tensors()
    params = _param_names(spec)
    if not names or any(n.strip().lower() == "all" for n in names):
        return tuple(params)
    aliases = _aliases(spec)
    chosen: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        key = aliases.get(name) or aliases.get(name.lower())
        if key is None:
            valid = ", ".join(list(tensors) + ["all"])
            raise InputError(
                f"--symbolic: no tensor called '{name}'; valid names: {valid} (or LAYER.weight / LAYER.bias)"
            )
        if key not in chosen:
            chosen.append(key)
    return tuple(chosen)


def _param_names(spec) -> list[str]:
    if spec.form == "graph":
        return list(spec.params)
    return [t.name for step in spec.layers for t in step.params.values()]


def _aliases(spec) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in spec.tensors():
        out[name] = name
    if spec.form == "graph":
        return out
    out["input"] = spec.input.name
    for step in spec.layers:
        for key, t in step.params.items():
            out[f"{step.index}.{key}"] = t.name
            out[f"{step.name}.{key}"] = t.name
            out[f"{step.name}.{key}".lower()] = t.name
    return out


@dataclass
class _Size:
    """A bound on the terms of one entry: a count, and the symbols and degree it can involve."""

    terms: float = 0.0  # 0: no symbol at all
    symbols: int = 0
    degree: int = 0

    def bound(self) -> float:
        if self.terms == 0:
            return 0.0
        return min(self.terms, math.comb(self.symbols + self.degree, self.degree))


def _times(a: _Size, b: _Size) -> _Size:
    if a.terms == 0:
        return b
    if b.terms == 0:
        return a
    return _Size(a.bound() * b.bound(), a.symbols + b.symbols, a.degree + b.degree)


def _sum(a: _Size, count: int, plus: _Size | None = None) -> _Size:
    if a.terms == 0:
        return plus or _Size()
    out = _Size(a.bound() * count, a.symbols, a.degree)
    if plus is not None and plus.terms:
        out = _Size(out.bound() + plus.bound(), out.symbols + plus.symbols, max(out.degree, plus.degree))
    return out


def check_size(spec, chosen: tuple[str, ...], force: bool) -> None:
    """Refuse (InputError) a symbolic trace whose expressions would be too large to show."""
    if not chosen or force:
        return
    if spec.form == "graph":
        _check_graph(spec, chosen)
        return
    size = _Size(1.0, spec.input.values.size, 1) if spec.input.name in chosen else _Size()
    biggest = size.bound()
    total = biggest * spec.input.values.size
    for step in spec.layers:
        weight = step.params.get("weight")
        bias = step.params.get("bias")
        w = _Size(1.0, weight.values.size, 1) if weight is not None and weight.name in chosen else _Size()
        b = _Size(1.0, bias.values.size, 1) if bias is not None and bias.name in chosen else _Size()
        if step.kind in ("conv2d", "conv_transpose2d"):
            fan = int(weight.values[0].size)
            size = _sum(_times(size, w), fan, b)
        elif step.kind == "linear":
            size = _sum(_times(size, w), weight.values.shape[1], b)
        elif step.kind == "avgpool2d":
            k = step.options["kernel_size"]
            size = _sum(size, k[0] * k[1])
        elif step.kind in ("sigmoid", "tanh", "softmax", "batchnorm2d") and (size.terms or w.terms):
            grow = step.input_shape[1] if step.kind in ("softmax", "batchnorm2d") else 1
            size = _Size(max(size.bound(), 1) * 4 * grow, size.symbols + w.symbols + b.symbols, size.degree + 2)
        biggest = max(biggest, size.bound())
        total += size.bound() * math.prod(step.output_shape)
    # the backward pass multiplies the output's expression into every gradient
    gradient = _times(size, size).bound() if size.terms else 0.0
    biggest = max(biggest, gradient)
    total += gradient * sum(math.prod(s.output_shape) for s in spec.layers)
    if biggest > MAX_TERMS or total > MAX_TOTAL:
        raise InputError(
            f"--symbolic {','.join(chosen)}: the expressions would grow too large to show (about {biggest:,.0f} terms "
            f"in one entry, {total:,.0f} in all). Make fewer tensors symbolic (e.g. --symbolic {chosen[0]}), use a "
            "smaller example, or add --force to run it anyway"
        )


def _check_graph(spec, chosen: tuple[str, ...]) -> None:
    sizes = {name: (_Size(1.0, t.values.size, 1) if name in chosen else _Size()) for name, t in spec.tensors().items()}
    biggest = total = 0.0
    for node in spec.nodes:
        args = [sizes[a] for a in node.inputs]
        if node.op == "matmul":
            inner = spec.tensors()[node.inputs[0]].values.shape[-1] if node.inputs[0] in spec.tensors() else 4
            size = _sum(_times(args[0], args[1]), inner)
        elif node.op == "mul":
            size = _times(args[0], args[1])
        elif node.op in ("add", "sub"):
            size = _sum(args[0], 1, args[1])
        elif node.op in ("sum", "half_sum_squares"):
            count = (
                int(math.prod(spec.tensors()[node.inputs[0]].values.shape)) if node.inputs[0] in spec.tensors() else 16
            )
            size = _sum(_times(args[0], args[0]) if node.op == "half_sum_squares" else args[0], count)
        else:
            size = args[0]
        sizes[node.name] = size
        biggest = max(biggest, size.bound())
        total += size.bound() * max(1, math.prod(node.shape))
    if biggest > MAX_TERMS or total > MAX_TOTAL:
        raise InputError(
            f"--symbolic {','.join(chosen)}: the expressions would grow too large to show (about {biggest:,.0f} terms "
            f"in one entry). Make fewer tensors symbolic, use smaller tensors, or add --force to run it anyway"
        )
