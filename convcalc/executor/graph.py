"""The graph walk: forward through a network's module tree keeping what backward needs, then
backward in reverse (micrograd's one generic ``backward()``, written once).

The walk knows nothing about specific layers. A leaf calls its layer type's own
``forward(x, params, training=, rng=) -> Forward`` and ``backward(grad_output, cache) -> Backward``
(the contract in :mod:`convcalc.compute`); containers only route tensors:

* Sequential ``y = f_n(… f_1(x))``:           δx = f_1'ᵀ(… f_n'ᵀ(δy)), children in reverse;
* Residual ``y = post(body(x) + shortcut(x))``: δx = body'ᵀ(δs) + shortcut'ᵀ(δs), δs = post'ᵀ(δy)
  (the identity shortcut passes δs unchanged);
* Parallel, merge concat: each branch gets its slice of δy along the channels; add: each
  branch gets δy; mul ``y = Π b_i(x)``: branch i gets δy·Π_{j≠i} b_j(x); then δx = Σ_i b_i'ᵀ(·);
* Gate (squeeze-and-excitation) ``y = x ⊙ g(x)``, g of shape (N, C, 1, …): δx = δy ⊙ g + g'ᵀ(Σ_spatial δy ⊙ x).

Wherever a tensor fans out, the gradients coming back are summed (the multivariate chain rule).
Parameters and buffers are named as ``torch.nn`` names its ``state_dict`` keys, the leaf's row
name in :func:`convcalc.network.walk.walk` plus the layer's own name: ``layer1.0.conv1.weight``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from convcalc.compute.broadcast import unbroadcast
from convcalc.errors import InputError
from convcalc.network.model import Gate, Leaf, Module, Network, Parallel, Residual, Sequential, Side

# observe(name, array): called with each layer's output (forward, in the walk's row order) or the
# gradient of the loss with respect to it (backward, in reverse); names are the walk's row names
# (``layer1.0.add`` for a merge). Parameter-free layers may share a name (torchvision's one ReLU
# per block): they are then observed once each, in order.
Observer = Callable[[str, np.ndarray], None]


@dataclass(frozen=True)
class TensorSpec:
    """One named parameter or buffer: ``layer1.0.bn1.running_mean`` of layer ``layer1.0.bn1``."""

    name: str
    shape: tuple[int, ...]
    layer: str
    local: str


@dataclass(frozen=True)
class LeafInfo:
    """One layer of the network with its (unbatched) input and output shapes."""

    name: str
    layer: Any
    type: str
    input: tuple[int, ...]
    output: tuple[int, ...]


@dataclass(frozen=True)
class Graph:
    """A network compiled for running at one input shape (C, *spatial): the walk's names, every
    leaf's shapes, and the parameters and buffers in ``state_dict`` order."""

    network: Network
    input: tuple[int, ...]
    output: tuple[int, ...]
    leaves: tuple[LeafInfo, ...]
    parameters: tuple[TensorSpec, ...]
    buffers: tuple[TensorSpec, ...]
    root: Any = field(repr=False)
    rows: tuple[tuple[str, str, tuple[int, ...]], ...] = ()  # (name, type, output) of every layer and merge, in order

    @property
    def parameter_count(self) -> int:
        return sum(int(np.prod(p.shape, dtype=np.int64)) for p in self.parameters)


@dataclass(frozen=True)
class ForwardPass:
    """The network's output, the tape for backward (None when not kept) and the buffers after
    the pass (batch norm's running statistics move in training mode)."""

    output: np.ndarray
    tape: Any
    buffers: Mapping[str, np.ndarray]
    training: bool


@dataclass(frozen=True)
class Gradients:
    """δ of the loss with respect to the input and to every parameter (``state_dict`` names)."""

    input: np.ndarray
    params: Mapping[str, np.ndarray]


# --------------------------------------------------------------------------- one pass's context

@dataclass
class _Pass:
    """What one forward or backward pass reads and fills (local to the call)."""

    params: Mapping[str, np.ndarray]
    buffers: Mapping[str, np.ndarray]
    training: bool = False
    rng: np.random.Generator | None = None
    keep: bool = True
    observe: Observer | None = None
    new_buffers: dict[str, np.ndarray] = field(default_factory=dict)
    grads: dict[str, np.ndarray] = field(default_factory=dict)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a + b into a fresh array (either may be held by a cache or the caller)."""
    return np.add(a, b)


# --------------------------------------------------------------------------- the steps

@dataclass(frozen=True)
class _LeafStep:
    name: str
    layer: Any
    param_keys: tuple[tuple[str, str], ...]   # (layer's own name, state_dict name)
    buffer_keys: tuple[tuple[str, str], ...]

    def forward(self, x: np.ndarray, run: _Pass):
        values = {local: run.params[full] for local, full in self.param_keys}
        for local, full in self.buffer_keys:
            values[local] = run.buffers[full]
        result = self.layer.forward(x, values, training=run.training, rng=run.rng)
        if result.buffers:
            full_names = dict(self.buffer_keys)
            for local, value in result.buffers.items():
                run.new_buffers[full_names[local]] = value
        if run.observe is not None:
            run.observe(self.name, result.output)
        return result.output, (result.cache if run.keep else None)

    def backward(self, grad: np.ndarray, cache, run: _Pass) -> np.ndarray:
        if run.observe is not None:
            run.observe(self.name, grad)
        result = self.layer.backward(grad, cache)
        for local, full in self.param_keys:
            g = result.grads.get(local)
            if g is None:
                raise RuntimeError(f"{self.name}: the backward of {type(self.layer).__name__} "
                                   f"gave no gradient for {local}")
            run.grads[full] = _add(run.grads[full], g) if full in run.grads else g
        return result.grad_input


@dataclass(frozen=True)
class _SequenceStep:
    children: tuple[Any, ...]

    def forward(self, x, run: _Pass):
        records = []
        for child in self.children:
            x, record = child.forward(x, run)
            records.append(record)
        return x, records

    def backward(self, grad, records, run: _Pass):
        for child, record in zip(reversed(self.children), reversed(records)):
            grad = child.backward(grad, record, run)
        return grad


@dataclass(frozen=True)
class _ResidualStep:
    body: _SequenceStep
    shortcut: Any | None  # None: the identity
    post: _SequenceStep
    add_name: str

    def forward(self, x, run: _Pass):
        out, body_record = self.body.forward(x, run)
        if self.shortcut is None:
            short, short_record = x, None
        else:
            short, short_record = self.shortcut.forward(x, run)
        out = _add(out, short)
        if run.observe is not None:
            run.observe(self.add_name, out)
        out, post_record = self.post.forward(out, run)
        return out, (body_record, short_record, post_record)

    def backward(self, grad, record, run: _Pass):
        body_record, short_record, post_record = record
        grad = self.post.backward(grad, post_record, run)
        if run.observe is not None:
            run.observe(self.add_name, grad)
        grad_body = self.body.backward(grad, body_record, run)
        grad_short = grad if self.shortcut is None else self.shortcut.backward(grad, short_record, run)
        return _add(grad_body, grad_short)


@dataclass(frozen=True)
class _ParallelStep:
    branches: tuple[Any, ...]
    merge: str  # concat, add, mul
    merge_name: str

    def forward(self, x, run: _Pass):
        outs, records = [], []
        for branch in self.branches:
            out, record = branch.forward(x, run)
            outs.append(out)
            records.append(record)
        if self.merge == "concat":
            merged = np.concatenate(outs, axis=1)
            kept = tuple(o.shape[1] for o in outs)
        elif self.merge == "add":
            merged = outs[0]
            for o in outs[1:]:
                merged = _add(merged, o)
            kept = None
        elif self.merge == "mul":
            merged = outs[0]
            for o in outs[1:]:
                merged = merged * o
            kept = tuple(outs) if run.keep else None
        else:
            raise InputError(f"unknown merge '{self.merge}' (valid: concat, add, mul)")
        if run.observe is not None:
            run.observe(self.merge_name, merged)
        return merged, (records, kept)

    def _branch_grads(self, grad, kept):
        if self.merge == "concat":
            bounds = np.cumsum(kept)[:-1]
            return np.split(grad, bounds, axis=1)
        if self.merge == "add":
            return [grad] * len(self.branches)
        grads = []
        for i, out in enumerate(kept):  # δb_i = δy · Π_{j≠i} b_j
            g = grad
            for j, other in enumerate(kept):
                if j != i:
                    g = g * other
            grads.append(unbroadcast(g, out.shape))
        return grads

    def backward(self, grad, record, run: _Pass):
        records, kept = record
        if run.observe is not None:
            run.observe(self.merge_name, grad)
        total = None
        for branch, branch_record, branch_grad in zip(self.branches, records, self._branch_grads(grad, kept)):
            g = branch.backward(branch_grad, branch_record, run)
            total = g if total is None else _add(total, g)
        return total


@dataclass(frozen=True)
class _GateStep:
    gate: _SequenceStep
    scale_name: str

    def forward(self, x, run: _Pass):
        g, record = self.gate.forward(x, run)
        out = x * g
        if run.observe is not None:
            run.observe(self.scale_name, out)
        return out, ((x, g, record) if run.keep else None)

    def backward(self, grad, record, run: _Pass):
        x, g, gate_record = record
        if run.observe is not None:
            run.observe(self.scale_name, grad)
        grad_direct = grad * g
        grad_gate = unbroadcast(grad * x, g.shape)
        return _add(grad_direct, self.gate.backward(grad_gate, gate_record, run))


# --------------------------------------------------------------------------- compiling a network

@dataclass
class _Compiler:
    """Builds the steps, taking every name from the walk's rows: the walk lists layers and merges
    in the order the steps run them (a residual's body, shortcut, add, post; a parallel's branches,
    then the merge; a gate's layers, then the scale), so the naming rules live in the walk alone."""

    rows: Iterator[Any]  # the walk's layer and merge rows, in order
    leaves: list[LeafInfo] = field(default_factory=list)
    parameters: list[TensorSpec] = field(default_factory=list)
    buffers: list[TensorSpec] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # layers holding parameters or buffers

    def _next(self, leaf: bool, what: Any):
        row = next(self.rows)
        if (row.report is not None) != leaf or (leaf and row.layer is not None and row.layer is not what):
            raise RuntimeError(f"the walk's row {row.name} ({row.type}) does not line up with {what!r}")
        return row

    def leaf(self, module: Leaf) -> _LeafStep:
        layer = module.layer
        row = self._next(True, layer)
        name, kind, shape_in, shape_out = row.name, row.type, tuple(row.input), tuple(row.output)
        missing = [m for m in ("parameter_shapes", "buffer_shapes", "forward", "backward") if not hasattr(layer, m)]
        if missing:
            raise InputError(f"layer {name} ({kind}) cannot be run: its layer type has no {', '.join(missing)} yet")
        batched = (1,) + shape_in  # the contract's shapes are batched; parameters do not depend on N
        param_shapes = layer.parameter_shapes(batched)
        buffer_shapes = layer.buffer_shapes(batched)
        if param_shapes or buffer_shapes:
            # A name may repeat for parameter-free layers (torchvision reuses one ReLU in a block);
            # parameters need unique names.
            if name in self.names:
                raise InputError(f"two layers with parameters are both named '{name}': give them different names")
            self.names.add(name)
        params = tuple((local, _join(name, local)) for local in param_shapes)
        buffers = tuple((local, _join(name, local)) for local in buffer_shapes)
        self.parameters += [TensorSpec(_join(name, local), tuple(shape), name, local)
                            for local, shape in param_shapes.items()]
        self.buffers += [TensorSpec(_join(name, local), tuple(shape), name, local)
                         for local, shape in buffer_shapes.items()]
        self.leaves.append(LeafInfo(name, layer, kind, shape_in, shape_out))
        return _LeafStep(name, layer, params, buffers)

    def module(self, module: Module):
        if isinstance(module, Leaf):
            return self.leaf(module)
        if isinstance(module, Sequential):
            return self.sequence(module.children)
        if isinstance(module, Residual):
            body = self.sequence(module.body.children)
            shortcut = None if module.shortcut is None else self.module(module.shortcut[1])
            add = self._next(False, module).name
            return _ResidualStep(body, shortcut, self.sequence(module.post), add)
        if isinstance(module, Parallel):
            branches = tuple(self.module(branch) for _, branch in module.branches)
            return _ParallelStep(branches, module.merge, self._next(False, module).name)
        if isinstance(module, Gate):
            gate = self.sequence(module.gate.children)
            return _GateStep(gate, self._next(False, module).name)
        if isinstance(module, Side):
            raise InputError("an auxiliary head (--aux) is counted by arch but not run: "
                             "leave --aux out to run or train")
        raise TypeError(f"not a module: {module!r}")

    def sequence(self, children) -> _SequenceStep:
        return _SequenceStep(tuple(self.module(child) for _, child in children))


def build_graph(network: Network, input_shape: tuple | None = None) -> Graph:
    """Compile ``network`` for inputs of ``input_shape`` (C, *spatial; default the network's own).

    Names and shapes come from :func:`convcalc.network.walk.walk` (the one shape rule per layer
    type, the one naming rule), so an input too small for the network, or branches that
    disagree, fail here with its message."""
    from convcalc.network.walk import walk

    report = walk(network, input_shape)
    rows = report.leaves()
    compiler = _Compiler(iter(rows))
    root = compiler.sequence(network.body.children)
    return Graph(network, tuple(report.input), tuple(report.output), tuple(compiler.leaves),
                 tuple(compiler.parameters), tuple(compiler.buffers), root,
                 tuple((row.name, row.type, tuple(row.output)) for row in rows))


# --------------------------------------------------------------------------- running

def forward(graph: Graph, x: np.ndarray, params: Mapping[str, np.ndarray],
            buffers: Mapping[str, np.ndarray] | None = None, *, training: bool = False,
            rng: np.random.Generator | None = None, keep: bool = True,
            observe: Observer | None = None) -> ForwardPass:
    """Run the network on a batch ``x`` (N, C, *spatial).

    ``training`` selects batch statistics and dropout (``rng`` draws the masks); ``keep=False``
    drops every cache as soon as the next layer has its input (inference: no backward, no memory
    held). ``observe(name, output)`` sees each layer's and each merge's output."""
    expected = tuple(graph.input)
    if tuple(x.shape[1:]) != expected:
        shown = "x".join(map(str, x.shape))
        raise InputError(f"the input batch has shape {shown}; {graph.network.name} at this size takes "
                         f"N x {'x'.join(map(str, expected))}")
    buffers = dict(buffers or {})
    run = _Pass(params, buffers, training, rng, keep, observe)
    output, tape = graph.root.forward(x, run)
    if run.new_buffers:
        buffers.update(run.new_buffers)
    return ForwardPass(output, tape if keep else None, buffers, training)


def backward(graph: Graph, forward_pass: ForwardPass, grad_output: np.ndarray, *,
             observe: Observer | None = None) -> Gradients:
    """Backpropagate ``grad_output`` (δ of the loss w.r.t. the network's output) through the tape.

    ``observe(name, grad)`` sees δ of the loss with respect to each layer's and merge's output."""
    if forward_pass.tape is None:
        raise ValueError("this forward pass kept no caches (keep=False): run it again with keep=True")
    if grad_output.shape != forward_pass.output.shape:
        raise ValueError(f"grad_output has shape {grad_output.shape}; the output has {forward_pass.output.shape}")
    run = _Pass({}, {}, forward_pass.training, None, True, observe)
    grad_input = graph.root.backward(grad_output, forward_pass.tape, run)
    missing = [p.name for p in graph.parameters if p.name not in run.grads]
    if missing:
        raise RuntimeError(f"no gradient reached {', '.join(missing[:3])}")
    return Gradients(grad_input, {p.name: run.grads[p.name] for p in graph.parameters})
