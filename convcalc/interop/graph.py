"""From a dataflow graph (an ONNX graph, a torch.fx trace, a Keras functional model) to the
network model the zoo uses (:mod:`convcalc.network.model`): one algorithm for every front end.

Every front end turns its source into :class:`Op` records: a *layer* op reads one data tensor
and writes one (its layers are :class:`~convcalc.network.model.Leaf` objects), a *merge* op
joins several tensors (``add``, ``mul``, channel ``concat``). The graph is then reduced the
way series-parallel graphs are recognised (Valdes, Tarjan & Lawler 1982): a tensor read once
and written once is folded into a chain (series), and a merge whose inputs all start from the
same tensor becomes one block (parallel): a residual block when one branch is the identity
(``x + f(x)``) or two branches are added, a squeeze-and-excitation gate for ``x * g(x)``,
otherwise parallel branches. The module tree is then rebuilt from the dotted names the source
gives its layers (``layer1.0.conv1``), so ``--depth`` folds by the source's own modules.

A concatenation that repeats an earlier one's inputs and adds more (torchvision's DenseNet
concatenates every earlier feature map in each layer) is first rewritten as the earlier
concatenation plus the new inputs — the same tensor, and a graph the reduction accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from convcalc.errors import InputError
from convcalc.layers.elementwise import Activation, Identity
from convcalc.network.model import Gate, Leaf, Module, Parallel, Residual, Sequential

MERGES = ("add", "mul", "concat")


def descriptor_reader(front: str, word: str, readers: Mapping[str, Callable],
                      activation: Callable[[str], Callable] | None = None) -> Callable | None:
    """How an importer reads the layer ``word`` names in its ``front`` (``onnx``, ``torch``,
    ``keras``): the reader of the descriptor the word is an alias of, or, for an attribute-free
    activation, ``activation(name)``; None when no descriptor names it (an unmapped layer)."""
    from convcalc.layers.descriptor import lookup

    descriptor = lookup(front, word)
    if descriptor is None:
        return None
    if descriptor.name in readers:
        return readers[descriptor.name]
    if activation is not None and descriptor.classes == ("Activation",):
        return activation(descriptor.name)
    return None


@dataclass(frozen=True)
class Op:
    """One operation of the source graph, already mapped.

    ``layers`` (for a layer op): the leaves it becomes, in order, with their dotted names;
    ``merge`` (for a merge op): ``add``, ``mul`` or ``concat``, ``scope`` the module it runs in."""

    inputs: tuple[str, ...]
    output: str
    layers: tuple[tuple[str, Leaf], ...] = ()
    merge: str | None = None
    scope: str = ""


@dataclass
class _Block:
    merge: str
    branches: list[list]  # each a list of items: (name, Leaf) pairs or _Block
    path: tuple[str, ...] = ()


@dataclass
class _Edge:
    src: str
    dst: str
    items: list
    slot: int = 0


@dataclass
class _Graph:
    ins: dict[str, list[_Edge]] = field(default_factory=dict)
    outs: dict[str, list[_Edge]] = field(default_factory=dict)

    def add(self, edge: _Edge) -> None:
        self.ins.setdefault(edge.dst, []).append(edge)
        self.outs.setdefault(edge.src, []).append(edge)
        self.ins.setdefault(edge.src, [])
        self.outs.setdefault(edge.dst, [])

    def remove(self, edge: _Edge) -> None:
        self.ins[edge.dst].remove(edge)
        self.outs[edge.src].remove(edge)


def structure(
    ops: Sequence[Op], source: str, sink: str, kinds: Mapping[str, str] | None = None, what: str = "the model"
) -> Sequential:
    """The network body computing ``sink`` from ``source`` through ``ops``.

    ``kinds`` names the container kinds by dotted path (``{"layer1.0": "BasicBlock"}``)."""
    kinds = dict(kinds or {})
    ops = _flatten_concats(_separable(_live(ops, sink)))
    try:
        return _nest(ops, source, sink, kinds, what)
    except InputError:
        unshared = _unshare(ops)
        if unshared is None:
            raise
        return _nest(_separable(unshared), source, sink, kinds, what)


def _nest(ops: list[Op], source: str, sink: str, kinds: dict[str, str], what: str) -> Sequential:
    graph = _Graph()
    graph.ins.setdefault(source, [])
    graph.outs.setdefault(source, [])
    pending: dict[str, Op] = {}
    for op in ops:
        if op.merge and len(op.inputs) > 1:
            pending[op.output] = op
            for slot, tensor in enumerate(op.inputs):
                graph.add(_Edge(tensor, op.output, [], slot))
        else:
            graph.add(_Edge(op.inputs[0], op.output, list(op.layers)))
    _reduce(graph, pending, source, sink)
    while _regroup_concat(graph, pending):
        _reduce(graph, pending, source, sink)
    edges = graph.ins.get(sink, [])
    if sink == source:
        items: list = []
    elif len(edges) == 1 and edges[0].src == source and len(graph.outs[source]) == 1:
        items = edges[0].items
    else:
        stuck = [op for tensor, op in pending.items()]
        where = f" at the {stuck[0].merge} in {stuck[0].scope or 'the top level'}" if stuck else ""
        raise InputError(
            f"{what} is not a nesting of chains and branches convcalc can walk{where}: "
            "a tensor is used again after the branches that read it were merged"
        )
    return Sequential(tuple(_children(_peephole(items), (), kinds)))


def _peephole(items: list) -> list:
    """A layer norm over the last axis between moving the channels last and back —
    ``permute(0, 2, 3, 1) → LayerNorm(C) → permute(0, 3, 1, 2)``, ConvNeXt's LayerNorm2d as
    any exporter writes it — normalises each position over its channels: it is the one
    channels-first layer norm (same parameters, same output, and the receptive field goes on)."""
    from convcalc.layers.norm import LayerNorm
    from convcalc.layers.tensor import Permute

    out: list = []
    for item in items:
        if isinstance(item, _Block):
            item = _Block(item.merge, [_peephole(b) for b in item.branches], item.path)
        out.append(item)
        if len(out) < 3 or any(isinstance(i, _Block) for i in out[-3:]):
            continue
        (n1, a), (n2, b), (n3, c) = out[-3:]
        first, norm, back = a.layer, b.layer, c.layer
        if not (isinstance(first, Permute) and isinstance(back, Permute) and isinstance(norm, LayerNorm)):
            continue
        rank = len(first.perm)
        last = tuple(range(1, rank)) + (0,)
        if (norm.channels_first or norm.dims != 1 or first.perm != last
                or back.perm != (rank - 1,) + tuple(range(rank - 1))):
            continue
        common = _common([tuple(n.split(".")) for n in (n1, n2, n3)])
        fused = Leaf(LayerNorm(channels_first=True, eps=norm.eps))
        out[-3:] = [(".".join(common) if common else n2, fused)]
    return out


def _separable(ops: list[Op]) -> list[Op]:
    """A module holding a depthwise conv (groups = its input channels) and, reading its output
    alone, a 1×1 pointwise conv — nothing else but an explicit zero padding read by the depthwise
    conv alone (TensorFlow's SAME, written out) — is a depthwise-separable conv (Keras's
    SeparableConv2D, written as two convs by a torch module or its ONNX export): the one layer,
    under the module's name. Two such convs with other layers between them, or beside other ops
    in their module (MobileNet's batch norms), stay two convs."""
    from convcalc.layers.conv import Conv
    from convcalc.layers.separable import DepthwiseSeparable
    from convcalc.network.declared import declare, declared

    def only(op: Op | None) -> object:
        return op.layers[0][1].layer if op is not None and len(op.layers) == 1 and not op.merge else None

    in_scope: dict[str, int] = {}
    for op in ops:
        for name in [n for n, _ in op.layers] or [op.scope + ".merge"]:
            for depth in range(1, name.count(".") + 1):
                scope = name.rsplit(".", depth)[0]
                in_scope[scope] = in_scope.get(scope, 0) + 1
    readers: dict[str, int] = {}
    for op in ops:
        for tensor in op.inputs:
            readers[tensor] = readers.get(tensor, 0) + 1
    by_input = {op.inputs[0]: op for op in ops if len(op.inputs) == 1}
    by_output = {op.output: op for op in ops}
    fused: dict[str, Op] = {}
    dropped: set[str] = set()
    for op in ops:
        dw, pw_op = only(op), by_input.get(op.output)
        pw = only(pw_op) if readers.get(op.output) == 1 else None
        if not isinstance(dw, Conv) or not isinstance(pw, Conv) or pw_op is None:
            continue
        channels = (declared(dw) or ("", 0))[1]
        if not (dw.depthwise or (channels and dw.groups == channels)) or dw.bias != pw.bias:
            continue
        if (pw.groups != 1 or pw.depthwise or set(pw.kernel_size) != {1} or set(pw.stride) != {1}
                or set(pw.dilation) != {1} or _pairs(pw.padding, pw.rank) != ((0, 0),) * pw.rank):
            continue
        if dw.out_channels is not None and channels and dw.out_channels % channels:
            continue
        candidates = [([op, pw_op], dw.padding)]
        pad_op = by_output.get(op.inputs[0])
        explicit = _zero_pad(only(pad_op), dw.rank) if readers.get(op.inputs[0]) == 1 else None
        own = _pairs(dw.padding, dw.rank)
        if explicit is not None and own is not None and pad_op is not None:  # the padding too, if in the module
            candidates.insert(0, ([pad_op, op, pw_op],
                                  tuple((b + ob, a + oa) for (b, a), (ob, oa) in zip(explicit, own))))
        found = next(((chain, padding, scope) for chain, padding in candidates
                      for scope in [_unit([o.layers[0][0] for o in chain], in_scope)] if scope), None)
        if found is None:
            continue
        chain, padding, scope = found
        layer = DepthwiseSeparable(
            rank=dw.rank, out_channels=pw.out_channels, kernel_size=dw.kernel_size, stride=dw.stride,
            padding=padding, dilation=dw.dilation, bias=dw.bias, padding_mode=dw.padding_mode,
            multiplier=(dw.out_channels or channels) // channels if channels else 1,
        )
        leaf = declare(Leaf(layer), "in_channels", channels) if channels else Leaf(layer)
        fused[pw_op.output] = Op(chain[0].inputs, pw_op.output, ((scope, leaf),))
        dropped.update(o.output for o in chain[:-1])
    return [fused.get(op.output, op) for op in ops if op.output not in dropped]


def _unit(names: list[str], in_scope: dict[str, int]) -> str:
    """The module that holds the layers ``names`` and nothing else (``in_scope``: how many layers
    each module holds), or ""."""
    parts = [name.split(".") for name in names]
    unit: list[str] = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        unit.append(level[0])
    scope = ".".join(unit)
    if not scope or any(len(p) == len(unit) for p in parts) or in_scope.get(scope) != len(names):
        return ""
    return scope


def _unshare(ops: list[Op]) -> list[Op] | None:
    """``ops`` with every parameter-free layer op that several ops read (a slice, an activation,
    a padding) computed once per reader, or None when there is none. An exporter's
    common-subexpression pass merges equal ops of different branches into one — NASNet's cells
    slice and activate the same tensor in several branches — which leaves a graph that is no
    nesting of chains and branches; recomputing such an op per branch restores the model as
    written and changes no parameter or MAC (pools, activations and reshapes have none). Tried
    only where the graph as given does not nest."""
    from convcalc.layers.base import NoParameters
    from convcalc.layers.pool import AdaptivePool, AvgPool, MaxPool
    from convcalc.layers.tensor import Unmapped

    def free(layer: object) -> bool:
        return isinstance(layer, (NoParameters, MaxPool, AvgPool, AdaptivePool)) and not isinstance(layer, Unmapped)

    ops = list(ops)
    changed = False
    for index in range(len(ops) - 1, -1, -1):
        op = ops[index]
        if op.merge or not op.layers or not all(free(leaf.layer) for _, leaf in op.layers):
            continue
        readers = [(i, slot) for i, reader in enumerate(ops) for slot, tensor in enumerate(reader.inputs)
                   if tensor == op.output]
        if len(readers) < 2:
            continue
        changed = True
        own = op.layers[0][0].rpartition(".")[0]
        readers.sort(key=lambda r: not _home(ops[r[0]]).startswith(own))  # the reader in its module keeps it
        copies = []
        for n, (i, slot) in enumerate(readers[1:], 1):
            copy, home = f"{op.output}~{n}", _home(ops[i])
            # the copy belongs to its reader's module, so it is named there
            layers = tuple((f"{home}.{name.rpartition('.')[2]}" if home else name, leaf) for name, leaf in op.layers)
            copies.append(Op(op.inputs, copy, layers, op.merge, op.scope))
            reader = ops[i]
            inputs = list(reader.inputs)
            inputs[slot] = copy
            ops[i] = Op(tuple(inputs), reader.output, reader.layers, reader.merge, reader.scope)
        ops[index + 1:index + 1] = copies
    return ops if changed else None


def _home(op: Op) -> str:
    """The module an op runs in: its first layer's parent, or a merge's scope."""
    return op.scope if op.merge else op.layers[0][0].rpartition(".")[0]


def _pairs(padding: object, rank: int) -> tuple[tuple[int, int], ...] | None:
    """A conv's padding (an amount, per-axis amounts or (begin, end) pairs, ``valid``) as one
    (begin, end) pair per axis; None for a rule (``same``)."""
    if padding == "valid":
        return ((0, 0),) * rank
    if isinstance(padding, int):
        return ((padding, padding),) * rank
    if isinstance(padding, (tuple, list)) and len(padding) in (1, rank):
        pairs = [(p, p) if isinstance(p, int) else tuple(p) for p in padding]
        if all(len(p) == 2 and all(isinstance(v, int) for v in p) for p in pairs):
            return tuple(pairs) * (rank if len(pairs) == 1 else 1)
    return None


def _zero_pad(layer: object, rank: int) -> tuple[tuple[int, int], ...] | None:
    """The spatial (begin, end) pairs of a zero padding of the spatial axes alone, else None."""
    from convcalc.layers.padding import Pad as SpatialPad
    from convcalc.layers.tensor import Pad

    if isinstance(layer, SpatialPad) and layer.value == 0 and layer.rank == rank:
        return tuple(layer.padding)
    if isinstance(layer, Pad) and layer.mode == "constant" and len(layer.pads) == rank + 1 and layer.pads[0] == (0, 0):
        return tuple(layer.pads[1:])
    return None


def _live(ops: Sequence[Op], sink: str) -> list[Op]:
    """The ops ``sink`` depends on, in their order (unused outputs and dead branches dropped)."""
    producer = {op.output: op for op in ops}
    needed, stack = set(), [sink]
    while stack:
        tensor = stack.pop()
        op = producer.get(tensor)
        if op is None or id(op) in needed:
            continue
        needed.add(id(op))
        stack.extend(op.inputs)
    return [op for op in ops if id(op) in needed]


def _flatten_concats(ops: list[Op]) -> list[Op]:
    """``cat(a, b, c)`` after ``y = cat(a, b)`` → ``cat(y, c)`` (the longest earlier prefix)."""
    seen: list[Op] = []
    out = []
    for op in ops:
        if op.merge == "concat" and len(op.inputs) > 2:
            best = None
            for earlier in seen:
                n = len(earlier.inputs)
                if (
                    1 < n < len(op.inputs)
                    and op.inputs[:n] == earlier.inputs
                    and (best is None or n > len(best.inputs))
                ):
                    best = earlier
            if best is not None:
                op = Op((best.output,) + op.inputs[len(best.inputs) :], op.output, merge="concat", scope=op.scope)
        if op.merge == "concat":
            seen.append(op)
        out.append(op)
    return out


def _reduce(graph: _Graph, pending: dict[str, Op], source: str, sink: str) -> None:
    work = list(graph.ins)
    while work:
        vertex = work.pop()
        if vertex not in graph.ins:
            continue
        ins, outs = graph.ins[vertex], graph.outs[vertex]
        if vertex in pending:
            op = pending[vertex]
            if len(ins) == len(op.inputs) and len({e.src for e in ins}) == 1:
                src = ins[0].src
                branches = [e.items for e in sorted(ins, key=lambda e: e.slot)]
                for e in list(ins):
                    graph.remove(e)
                del pending[vertex]
                assert op.merge is not None  # pending holds the merging ops only
                graph.add(_Edge(src, vertex, [_Block(op.merge, branches, _scope_path(op.scope))]))
                work += [vertex, src]
            continue
        if vertex in (source, sink) or len(ins) != 1 or len(outs) != 1:
            continue
        first, second = ins[0], outs[0]
        graph.remove(first)
        graph.remove(second)
        del graph.ins[vertex], graph.outs[vertex]
        graph.add(_Edge(first.src, second.dst, first.items + second.items, second.slot))
        work += [first.src, second.dst]


def _regroup_concat(graph: _Graph, pending: dict[str, Op]) -> bool:
    """When the reduction is stuck: a concatenation some of whose adjacent inputs branch from
    one tensor and the others from elsewhere — Inception's ``cat(a(x), b(y), c(y), d(x))`` with
    y computed from x, which an exporter flattens from ``cat(a, cat(b, c), d)`` — gets those
    inputs as one inner concatenation (concatenation along the channels is associative: the
    same tensor). True when one was regrouped."""
    for vertex, op in list(pending.items()):
        if op.merge != "concat":
            continue
        ins = sorted(graph.ins.get(vertex, []), key=lambda e: e.slot)
        if len(ins) != len(op.inputs) or len({e.src for e in ins}) < 2:
            continue
        start = 0
        while start < len(ins):
            end = start
            while end + 1 < len(ins) and ins[end + 1].src == ins[start].src:
                end += 1
            run = ins[start : end + 1]
            if len(run) > 1:
                inner = f"{vertex}#{run[0].slot}"
                for slot, edge in enumerate(run):
                    graph.remove(edge)
                    graph.add(_Edge(edge.src, inner, edge.items, slot))
                graph.add(_Edge(inner, vertex, [], run[0].slot))
                pending[inner] = Op(tuple(e.src for e in run), inner, merge="concat", scope=op.scope)
                kept = ins[:start] + [None] + ins[end + 1 :]
                pending[vertex] = Op(tuple(inner if e is None else e.src for e in kept), vertex, merge="concat",
                                     scope=op.scope)
                return True
            start = end + 1
    return False


# --- the module tree from the names -----------------------------------------------------------


def _scope_path(scope: str) -> tuple[str, ...]:
    return tuple(scope.split(".")) if scope else ()


def _leaf_path(item) -> tuple[str, ...]:
    return tuple(item[0].split("."))


def _item_paths(items: list) -> list[tuple[str, ...]]:
    paths = []
    for item in items:
        if isinstance(item, _Block):
            for branch in item.branches:
                paths += _item_paths(branch)
            paths.append(item.path)
        else:
            paths.append(_leaf_path(item))
    return paths


def _common(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    if not paths:
        return ()
    common = paths[0]
    for path in paths[1:]:
        n = 0
        while n < min(len(common), len(path)) and common[n] == path[n]:
            n += 1
        common = common[:n]
    return tuple(common)


def _path(item) -> tuple[str, ...]:
    """A leaf's dotted name; a block's scope (the merge's module), kept a prefix of its layers'."""
    if not isinstance(item, _Block):
        return _leaf_path(item)
    inner = [p for branch in item.branches for p in _item_paths(branch)]
    return _common(inner + [item.path]) if inner else item.path


def _children(items: list, prefix: tuple[str, ...], kinds: dict[str, str]) -> list[tuple[str, Module]]:
    """The children of the container at ``prefix``: consecutive items under the same next name
    segment become one named sub-container (a residual block keeps the layers after its add)."""
    out: list[tuple[str, Module]] = []
    depth = len(prefix)
    i = 0
    while i < len(items):
        item = items[i]
        path = _path(item)
        rel = path[depth:] if path[:depth] == prefix else path
        if not isinstance(item, _Block) and len(rel) <= 1:
            out.append((rel[0] if rel else item[1].layer.name, item[1]))
            i += 1
            continue
        if isinstance(item, _Block) and not rel:
            module = _block(item, prefix, kinds)
            inner = [b[0] for b in item.branches if b and not isinstance(b[0], _Block)]
            out.append((_leaf_path(inner[0])[-1] if isinstance(module, Leaf) and inner else "", module))
            i += 1
            continue
        key = rel[0]
        j = i
        while j < len(items) and _in_group(items[j], prefix, key):
            j += 1
        group, sub = items[i:j], prefix + (key,)
        head = group[0]
        if isinstance(head, _Block) and _path(head) == sub:
            module = _block(head, sub, kinds)
            if len(group) > 1 and isinstance(module, Residual) and not module.post:
                module = Residual(module.body, module.shortcut, tuple(_children(group[1:], sub, kinds)), module.kind)
            elif len(group) > 1:
                module = Sequential(tuple([("", module)] + _children(group[1:], sub, kinds)), _kind(kinds, sub))
            out.append((key, module))
        else:
            out.append((key, Sequential(tuple(_children(group, sub, kinds)), _kind(kinds, sub))))
        i = j
    return out


def _in_group(item, prefix: tuple[str, ...], key: str) -> bool:
    path = _path(item)
    depth = len(prefix)
    if path[: depth + 1] != prefix + (key,):
        return False
    return isinstance(item, _Block) or len(path) > depth + 1


def _kind(kinds: dict[str, str], path: tuple[str, ...], default: str = "Sequential") -> str:
    return kinds.get(".".join(path), default)


def _branch(items: list, path: tuple[str, ...], kinds: dict[str, str], default: str) -> tuple[str, Module]:
    """One branch of a block at ``path``: named after the sub-module it lies in, else unnamed."""
    if not items:
        return default, Leaf(Identity())
    inner = _common(_item_paths(items))
    if len(inner) > len(path) and inner[: len(path)] == path:
        key = inner[len(path)]
        sub = path + (key,)
        if len(items) == 1 and _path(items[0]) == sub:
            item = items[0]
            return key, (_block(item, sub, kinds) if isinstance(item, _Block) else item[1])
        return key, Sequential(tuple(_children(items, sub, kinds)), _kind(kinds, sub))
    return "", Sequential(tuple(_children(items, path, kinds)))


def _pools(items: list) -> bool:
    """Whether a branch pools (a squeeze-and-excitation gate pools the map to one value per channel)."""
    from convcalc.layers.pool import AdaptivePool

    for item in items:
        if isinstance(item, _Block):
            if any(_pools(b) for b in item.branches):
                return True
        elif isinstance(item[1].layer, AdaptivePool):
            return True
    return False


def _block(block: _Block, path: tuple[str, ...], kinds: dict[str, str]) -> Module:
    branches = block.branches
    if block.merge in ("add", "mul") and len(branches) == 2:
        empty = [not b for b in branches]
        if block.merge == "mul" and any(empty) and not all(empty):
            gate = branches[1] if empty[0] else branches[0]
            if (
                len(gate) == 1
                and not isinstance(gate[0], _Block)
                and getattr(gate[0][1].layer, "kind", "") == "sigmoid"
            ):
                return Leaf(Activation("silu"))  # x·σ(x), an exporter's SiLU
            if not _pools(gate):  # no pooling: g(x) has x's own size, an element-wise product
                return Parallel(
                    (("identity", Leaf(Identity())), _branch(gate, path, kinds, "branch2")), "mul",
                    _kind(kinds, path, "Parallel"),
                )
            return Gate(
                Sequential(tuple(_children(gate, path, kinds)), _kind(kinds, path, "SqueezeExcitation")),
                _kind(kinds, path, "SqueezeExcitation"),
            )
        if block.merge == "add" and not all(empty):
            body, short = (branches[1], branches[0]) if empty[0] else (branches[0], branches[1])
            kind = _kind(kinds, path, "Residual")
            shortcut = None
            if short:
                name, module = _branch(short, path, kinds, "shortcut")
                shortcut = (name or "shortcut", module)
            return Residual(Sequential(tuple(_children(body, path, kinds)), kind), shortcut, (), kind)
    named = []
    for index, branch in enumerate(branches):
        name, module = _branch(branch, path, kinds, "identity" if not branch else f"branch{index + 1}")
        if not name and isinstance(module, Leaf):
            name = f"branch{index + 1}"
        named.append((name, module))
    return Parallel(tuple(named), block.merge, _kind(kinds, path, "Parallel"))
