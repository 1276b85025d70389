"""Rewrites of an ONNX graph before it is walked: each one leaves what the graph computes as
it is and only writes it the way the operator specification spells it.

* **Weight aliases.** An exporter that deduplicates equal initializers (torch does) reads the
  kept one through ``Identity`` nodes; the consumers read the initializer itself again, so a
  weight is still a weight (an ``Identity`` of a constant computes the constant).
* **Transpose permutations** with negative entries (torch writes ``permute(0, -1, 1, 2)`` as
  ``perm=[0, -1, 1, 2]``): the spec asks for a permutation of 0 … r−1, and ONNX's own shape
  inference gives no shape otherwise; entry p becomes p mod r, r = len(perm).
* **Local response normalisation as PyTorch exports it.** ``F.local_response_norm`` has no
  ONNX symbolic; its Python body is exported op by op:
  ``x / (k + α·avgpool_n(pad(x²)))^β`` with the square lifted to one more axis so the window
  runs along the channels (``Mul(x, x)`` → ``Reshape``/``Unsqueeze`` to (N, 1, C, …) → ``Pad``
  n//2 before, (n−1)//2 after, on that axis only → ``AveragePool`` kernel (n, 1, …), stride 1
  → ``Squeeze`` of axis 1 (an ``If`` on its size when the exporter did not know it) →
  ``Reshape`` back → ``Mul`` α → ``Add`` k → ``Pow`` β → ``Div``). Exactly that shape of
  subgraph — every constant read, the pads checked — becomes the one ``LRN`` node (size n,
  alpha α, beta β, bias k) the spec defines; ONNX's LRN sums the same n channels for odd n.
* **A zero Pad read only by a Conv** (TensorFlow's asymmetric SAME as a torch module writes it)
  is the conv's own padding: its spatial pads are added to the conv's ``pads``.
* **Dead nodes** — nodes no graph output depends on (the size checks of the replaced
  subgraphs) — are dropped.
"""

from __future__ import annotations

from typing import Any


def rewrite(onnx: Any, model: Any, fold: Any) -> None:
    """Rewrite ``model.graph`` in place; ``fold(graph, names)`` gives the constant value of each
    tensor in ``names`` that constants alone compute (None when it cannot)."""
    graph = model.graph
    _alias_weights(graph)
    _normalise_perms(onnx, graph)
    changed = _fuse_lrn(onnx, graph, fold)
    changed = _pad_into_conv(onnx, graph, fold) or changed
    if changed:
        _drop_dead(graph)


def _pad_into_conv(onnx: Any, graph: Any, fold: Any) -> bool:
    """A zero ``Pad`` of the spatial axes read only by a ``Conv`` (TensorFlow's asymmetric SAME
    as a torch module writes it: ``F.pad`` then its conv) is that conv's own padding: the pads
    are added to the conv's ``pads`` (begin, end per axis). The conv then reads the pad's input
    and is named after the pad's module when the conv is that module's child."""
    producer = {o: n for n in graph.node for o in n.output if o}
    readers: dict[str, int] = {}
    for n in graph.node:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    changed = False
    for conv in graph.node:
        if conv.op_type != "Conv" or _attr(onnx, conv, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            continue
        pad = producer.get(conv.input[0])
        if pad is None or pad.op_type != "Pad" or readers.get(conv.input[0]) != 1:
            continue
        if _attr(onnx, pad, "mode", b"constant") not in (b"constant", "constant"):
            continue
        if len(pad.input) > 2 and pad.input[2] and _scalar(fold, pad.input[2]) != 0.0:
            continue
        if len(pad.input) > 3 and pad.input[3]:
            continue
        amounts = _attr(onnx, pad, "pads")
        if amounts is None and len(pad.input) > 1:
            amounts = fold([pad.input[1]]).get(pad.input[1])
        if amounts is None or isinstance(amounts, (int, float)):
            continue
        amounts = [int(v) for v in (amounts.reshape(-1) if hasattr(amounts, "reshape") else amounts)]
        rank = len(amounts) // 2
        if rank < 3 or len(amounts) != 2 * rank or any(v < 0 for v in amounts):
            continue
        if amounts[0] or amounts[1] or amounts[rank] or amounts[rank + 1]:
            continue  # the batch or the channels: not a convolution's padding
        spatial = rank - 2
        own = list(_attr(onnx, conv, "pads", [0] * 2 * spatial))
        if len(own) != 2 * spatial:
            continue
        fused = [own[i] + amounts[2 + i] for i in range(spatial)] + [own[spatial + i] + amounts[rank + 2 + i]
                                                                    for i in range(spatial)]
        for attr in list(conv.attribute):
            if attr.name == "pads":
                conv.attribute.remove(attr)
        conv.attribute.append(onnx.helper.make_attribute("pads", fused))
        conv.input[0] = pad.input[0]
        outer, conv_scope = pad.name.rpartition("/")[0], conv.name.rpartition("/")[0]
        if outer and conv_scope.startswith(outer + "/") and conv_scope.count("/") == outer.count("/") + 1:
            conv.name = outer + "/" + conv.name.rpartition("/")[2]
        changed = True
    return changed


def _alias_weights(graph: Any) -> None:
    initializers = {init.name for init in graph.initializer}
    alias = {n.output[0]: n.input[0] for n in graph.node
             if n.op_type == "Identity" and len(n.input) == 1 and n.input[0] in initializers}
    if not alias:
        return
    outputs = {o.name for o in graph.output}
    kept = [n for n in graph.node if not (n.op_type == "Identity" and n.output[0] in alias
                                          and n.output[0] not in outputs)]
    for node in kept:
        for i, name in enumerate(node.input):
            if name in alias:
                node.input[i] = alias[name]
    del graph.node[:]
    graph.node.extend(kept)


def _normalise_perms(onnx: Any, graph: Any) -> None:
    for node in graph.node:
        if node.op_type != "Transpose":
            continue
        for attr in node.attribute:
            if attr.name == "perm" and any(p < 0 for p in attr.ints):
                rank = len(attr.ints)
                fixed = [p % rank for p in attr.ints]
                del attr.ints[:]
                attr.ints.extend(fixed)


# --- local response normalisation ---------------------------------------------------------------


def _fuse_lrn(onnx: Any, graph: Any, fold: Any) -> bool:
    producer = {o: n for n in graph.node for o in n.output if o}
    consumers: dict[str, int] = {}
    for n in graph.node:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    found = []
    for node in graph.node:
        if node.op_type == "Div":
            match = _match_lrn(onnx, node, producer, fold)
            if match is not None:
                found.append((node, match))
    if not found:
        return False
    replaced = {id(div): onnx.helper.make_node(
        "LRN", [x], [div.output[0]],
        name=div.name.rpartition("/")[0] + "/LRN" if "/" in div.name else div.name + "_lrn",
        size=size, alpha=alpha, beta=beta, bias=bias) for div, (x, size, alpha, beta, bias) in found}
    nodes = [replaced.get(id(n), n) for n in graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
    return True


def _attr(onnx: Any, node: Any, name: str, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _scalar(fold: Any, name: str) -> float | None:
    values = fold([name]).get(name)
    if values is None or getattr(values, "size", 0) != 1:
        return None
    return float(values.reshape(-1)[0])


def _with_constant(node: Any, producer: dict, fold: Any) -> tuple[Any, float] | None:
    """(the data input's producer, the constant) of a binary node with one scalar constant."""
    for data, const in ((0, 1), (1, 0)):
        value = _scalar(fold, node.input[const])
        if value is not None and node.input[data] in producer:
            return producer[node.input[data]], value
    return None


def _match_lrn(onnx: Any, div: Any, producer: dict, fold: Any):
    """(x, size, alpha, beta, bias) when ``div`` ends PyTorch's exported local_response_norm."""
    if len(div.input) != 2 or div.input[1] not in producer:
        return None
    x = div.input[0]
    pow_ = producer[div.input[1]]
    if pow_.op_type != "Pow":
        return None
    beta = _scalar(fold, pow_.input[1])
    add = producer.get(pow_.input[0])
    if beta is None or add is None or add.op_type != "Add":
        return None
    found = _with_constant(add, producer, fold)
    if found is None or found[0].op_type != "Mul":
        return None
    mul, bias = found
    found = _with_constant(mul, producer, fold)
    if found is None:
        return None
    back, alpha = found
    if back.op_type == "Reshape":  # the 4-D+ case views the window's output back to x's shape
        back = producer.get(back.input[0])
    drop = _dropped(onnx, back, fold)
    pool = producer.get(drop) if drop else None
    if pool is None or pool.op_type != "AveragePool":
        return None
    kernel = list(_attr(onnx, pool, "kernel_shape", []))
    strides = list(_attr(onnx, pool, "strides", [1] * len(kernel)))
    pads = list(_attr(onnx, pool, "pads", [0] * 2 * len(kernel)))
    if not kernel or kernel[1:] != [1] * (len(kernel) - 1) or set(strides) != {1} or any(pads):
        return None
    if _attr(onnx, pool, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        return None
    size = int(kernel[0])
    pad = producer.get(pool.input[0])
    if pad is None or pad.op_type != "Pad" or (len(pad.input) > 3 and pad.input[3]):
        return None
    if _attr(onnx, pad, "mode", b"constant") not in (b"constant", "constant"):
        return None
    amounts = _attr(onnx, pad, "pads")  # an attribute before opset 11, an input after
    if amounts is None and len(pad.input) > 1:
        amounts = fold([pad.input[1]]).get(pad.input[1])
    amounts = None if amounts is None else [int(v) for v in getattr(amounts, "reshape", lambda _: amounts)(-1)]
    rank = len(kernel) + 2  # the lifted tensor: N, 1, C, spatial…
    expect = [0] * (2 * rank)
    expect[2], expect[rank + 2] = size // 2, (size - 1) // 2
    if amounts != expect:
        return None
    lift = producer.get(pad.input[0])
    if lift is None or lift.op_type not in ("Reshape", "Unsqueeze"):
        return None
    square = producer.get(lift.input[0])
    if square is None or square.op_type != "Mul" or list(square.input) != [x, x]:
        return None
    return x, size, alpha, beta, bias


def _dropped(onnx: Any, node: Any, fold: Any) -> str | None:
    """The tensor a Squeeze of the lifted axis reads — or an If on that axis's size whose two
    branches are that Squeeze and an Identity of one outer tensor."""
    if node is None:
        return None
    if node.op_type == "Squeeze":
        axes = _attr(onnx, node, "axes")
        if axes is None and len(node.input) > 1:
            value = fold([node.input[1]]).get(node.input[1])
            axes = None if value is None else [int(v) for v in value.reshape(-1)]
        return node.input[0] if axes is not None and list(axes) == [1] else None
    if node.op_type != "If":
        return None
    read = set()
    for name in ("then_branch", "else_branch"):
        branch = _attr(onnx, node, name)
        if branch is None:
            return None
        ops = [n for n in branch.node if n.op_type != "Constant"]
        if len(ops) != 1 or ops[0].op_type not in ("Squeeze", "Identity"):
            return None
        read.add(ops[0].input[0])
    return read.pop() if len(read) == 1 else None


def _drop_dead(graph: Any) -> None:
    producer = {o: n for n in graph.node for o in n.output if o}
    needed: set[int] = set()
    stack = [o.name for o in graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(i for i in node.input if i)
        for attr in node.attribute:  # a subgraph reads outer tensors by name
            if attr.type == attr.GRAPH:
                stack.extend(i for n in attr.g.node for i in n.input if i)
    kept = [n for n in graph.node if id(n) in needed]
    del graph.node[:]
    graph.node.extend(kept)


# --- GELU as exporters write it before opset 20 ---------------------------------------------------

SQRT2 = 2**0.5


def composites(live: list, const: Any, shapes: dict, consts: Any = None) -> tuple[list, dict[int, tuple[Any, str]]]:
    """Standard layers an exporter writes as several nodes, found among the walked nodes
    ``live`` ((node, …) entries): the list without their inner nodes, and per last node (by id)
    the layer it is and the tensor it reads. ``const(name)`` gives a constant's value or None,
    ``shapes`` the inferred shapes (with the batch); ``consts`` (when given) tells which constants
    are weights (``weights``) and how each folded one was computed (``made_by``)."""
    from convcalc.layers.attention import ClassToken, MultiheadSelfAttention, Tokens
    from convcalc.layers.preprocess import Normalization
    from convcalc.network import build
    from convcalc.network.declared import declare
    from convcalc.network.model import Leaf

    live, gelus = fuse_gelu(live, const)
    if consts is not None:
        live, norms = fuse_normalization(live, const, shapes, consts.weights, consts.made_by)
        found_norms = {key: (Leaf(Normalization(*stats) if stats else Normalization()), x)
                       for key, (x, stats) in norms.items()}
    else:
        found_norms = {}
    found: dict[int, tuple[Any, str]] = {key: (build.act("gelu"), x) for key, x in gelus.items()}
    found.update(found_norms)
    live, shuffles = fuse_channel_shuffle(live, shapes)
    found.update({key: (build.channel_shuffle(groups), x) for key, (x, groups) in shuffles.items()})
    live, grids = fuse_tokens(live, shapes)
    found.update({key: (Leaf(Tokens()), x) for key, x in grids.items()})
    live, tokens = fuse_class_token(live, const, shapes)
    found.update({key: (Leaf(ClassToken(dim)), x) for key, (x, dim) in tokens.items()})
    live, windows = fuse_window_attention(live, const, shapes, consts)  # before plain attention and linears
    found.update({key: (layers, x) for key, (layers, x) in windows.items()})
    live, moves = fuse_view_layers(live, const, shapes)
    found.update({key: (Leaf(layer), x) for key, (layer, x) in moves.items()})
    live, attentions = fuse_self_attention(live, const, shapes)  # before its projections are read as linears
    found.update({key: (Leaf(MultiheadSelfAttention(dim, heads)), x) for key, (x, dim, heads) in attentions.items()})
    live, linears = fuse_linear_bias(live, const)
    found.update({key: (declare(build.linear(out, bias=True), "in_features", k), x)
                  for key, (x, k, out) in linears.items()})
    return live, found


def fuse_normalization(live: list, const: Any, shapes: dict, weights: Any,
                       made_by: dict) -> tuple[list, dict[int, tuple[str, tuple | None]]]:
    """Keras's ``Normalization`` as an exporter writes it: ``Sub`` of a per-channel mean, read
    only by a ``Div`` by the square root of a per-channel variance (``(x − mean) / √var``). Per
    Div (by id): x, and None when mean and variance are the model's weights (the adapted layer:
    mean, variance and the count Keras keeps with them), else the constants (mean, variance)."""
    readers = _readers(live)
    producer = _producers(live)

    def source(name: str) -> str:
        """The tensor a folded constant is a view of (Reshape, Cast, Unsqueeze …), else itself."""
        while name in made_by and made_by[name][0] in ("Identity", "Cast", "Unsqueeze", "Squeeze", "Reshape",
                                                       "Expand", "Flatten"):
            name = made_by[name][1][0]
        return name

    found: dict[int, tuple[str, tuple | None]] = {}
    dropped: set[int] = set()
    for entry in live:
        div = entry[0]
        if div.op_type != "Div" or len(div.input) != 2:
            continue
        sub = producer.get(div.input[0])
        if sub is None or sub.op_type != "Sub" or readers.get(div.input[0]) != 1 or len(sub.input) != 2:
            continue
        x, mean_name = sub.input
        mean, root = const(mean_name), const(div.input[1])
        shape = shapes.get(x)
        if mean is None or root is None or const(x) is not None or not shape or len(shape) < 2:
            continue
        channels = int(shape[1])
        per_channel = (1, channels) + (1,) * (len(shape) - 2)
        if any(tuple(v.shape) not in (per_channel, per_channel[1:], (channels,)) for v in (mean, root)):
            continue
        made = made_by.get(source(div.input[1]))
        if made is None or made[0] != "Sqrt":
            continue
        variance_name = source(made[1][0])
        learnt = source(mean_name) in weights and variance_name in weights
        stats = None if learnt else (tuple(float(v) for v in mean.reshape(-1)),
                                     tuple(float(v) ** 2 for v in root.reshape(-1)))
        found[id(div)] = (x, stats)
        dropped.add(id(sub))
    return [entry for entry in live if id(entry[0]) not in dropped], found


def fuse_linear_bias(live: list, const: Any) -> tuple[list, dict[int, tuple[str, int, int]]]:
    """``nn.Linear`` on a tensor of more than two axes as torch exports it: ``MatMul`` by the
    constant (K, M) weight, then ``Add`` of the constant bias (M,) — one linear layer with its
    bias, as a ``Gemm`` would be. Per Add (by id): x, K and M."""
    readers = _readers(live)
    producer = _producers(live)
    found: dict[int, tuple[str, int, int]] = {}
    dropped: set[int] = set()
    for entry in live:
        add = entry[0]
        if add.op_type != "Add" or len(add.input) != 2:
            continue
        for data, bias in (add.input, add.input[::-1]):
            matmul, value = producer.get(data), const(bias)
            if matmul is None or matmul.op_type != "MatMul" or value is None or readers.get(data) != 1:
                continue
            weight = const(matmul.input[1])
            if weight is None or const(matmul.input[0]) is not None or len(getattr(weight, "shape", ())) != 2:
                continue
            if tuple(value.shape) != (weight.shape[1],):
                continue
            found[id(add)] = (matmul.input[0], int(weight.shape[0]), int(weight.shape[1]))
            dropped.add(id(matmul))
            break
    return [entry for entry in live if id(entry[0]) not in dropped], found


def fuse_tokens(live: list, shapes: dict) -> tuple[list, dict[int, str]]:
    """A feature map read as tokens (ViT's ``x.flatten(2).transpose(1, 2)``): ``Reshape`` (or
    ``Flatten``) of (N, C, *spatial) to (N, C, Π spatial) read only by a ``Transpose`` of its last
    two axes. Per Transpose (by id): the feature map — the tokens keep each pixel's field."""
    producer = _producers(live)
    readers = _readers(live)
    found: dict[int, str] = {}
    dropped: set[int] = set()
    for entry in live:
        swap = entry[0]
        perm = [list(a.ints) for a in swap.attribute if a.name == "perm"]
        if swap.op_type != "Transpose" or perm != [[0, 2, 1]] or readers.get(swap.input[0]) != 1:
            continue
        flat = producer.get(swap.input[0])
        if flat is None or flat.op_type not in ("Reshape", "Flatten"):
            continue
        before, after = shapes.get(flat.input[0]), shapes.get(flat.output[0])
        if before is None or after is None or len(before) < 4 or len(after) != 3:
            continue
        spatial = 1
        for d in before[2:]:
            spatial *= d
        if tuple(after) != (before[0], before[1], spatial):
            continue
        found[id(swap)] = flat.input[0]
        dropped.add(id(flat))
    return [entry for entry in live if id(entry[0]) not in dropped], found


def fuse_class_token(live: list, const: Any, shapes: dict) -> tuple[list, dict[int, tuple[str, int]]]:
    """ViT's class token: ``Concat`` along the tokens (axis 1) of a constant (1, 1, D) — the
    learned token, expanded to the batch (an ``Expand`` of the initializer, folded) — in front
    of the (N, L, D) tokens. Per Concat (by id): the tokens it reads and D."""
    found: dict[int, tuple[str, int]] = {}
    for entry in live:
        node = entry[0]
        if node.op_type != "Concat" or len(node.input) != 2:
            continue
        token, x = const(node.input[0]), node.input[1]
        before = shapes.get(x)
        axis = next((a.i for a in node.attribute if a.name == "axis"), None)
        if token is None or const(x) is not None or before is None or len(before) != 3 or axis not in (1, -2):
            continue
        if tuple(getattr(token, "shape", ())) == (1, 1, before[2]) and before[0] == 1:
            found[id(node)] = (x, int(before[2]))
    return live, found


_VIEWS = frozenset(("Reshape", "Transpose", "Squeeze", "Unsqueeze", "Gather", "Slice", "Split", "Identity"))


def fuse_self_attention(live: list, const: Any, shapes: dict) -> tuple[list, dict[int, tuple[str, int, int]]]:
    """Multi-head self-attention as ``nn.MultiheadAttention`` exports it op by op: projections
    of one input x (one packed x·W_in of 3D outputs, or three of D) and their biases, the heads
    split off by reshapes and transposes, q·kᵀ (q and k scaled by constants), ``Softmax`` along
    the last axis, its product with v, the heads merged back and the output projection (+ bias),
    then the transposes back to x's shape. Every tensor between x and the result must be read
    inside the subgraph only, and no other computed tensor may enter it (a mask, a second
    input: cross-attention is left op by op). Per last node (by id): x, D and the heads."""
    producer = _producers(live)
    readers: dict[str, list] = {}
    for entry in live:
        for name in entry[0].input:
            readers.setdefault(name, []).append(entry[0])

    def computed(node) -> list[str]:
        return [i for i in node.input if i and const(i) is None]

    def weight(node):
        """The constant weight of a projection x·W (MatMul) or Gemm, else None."""
        if node is None or node.op_type not in ("MatMul", "Gemm") or len(computed(node)) != 1:
            return None
        if const(node.input[0]) is not None:
            return None
        w = const(node.input[1])
        return w if w is not None and len(getattr(w, "shape", ())) == 2 else None

    def bias_add(node) -> bool:  # an Add of a constant
        return node.op_type == "Add" and len(computed(node)) == 1

    def scaled(node) -> bool:  # a Mul/Div/Add by a constant, a Cast: the values, not the structure
        return node.op_type in ("Mul", "Div", "Add", "Sub", "Cast") and len(computed(node)) == 1

    def projection(name: str):
        """Up from q, k or v through views and scalings to the projection that makes it."""
        node = producer.get(name)
        while node is not None and weight(node) is None and (node.op_type in _VIEWS or scaled(node)):
            node = producer.get(computed(node)[0])
        return node if weight(node) is not None else None

    found: dict[int, tuple[str, int, int]] = {}
    dropped: set[int] = set()
    for entry in live:
        softmax = entry[0]
        axis = next((a.i for a in softmax.attribute if a.name == "axis"), -1)
        scores_shape = shapes.get(softmax.input[0])
        if softmax.op_type != "Softmax" or scores_shape is None or axis % len(scores_shape) != len(scores_shape) - 1:
            continue
        qk = producer.get(softmax.input[0])
        while qk is not None and qk.op_type != "MatMul" and scaled(qk):
            qk = producer.get(computed(qk)[0])
        after = readers.get(softmax.output[0], [])
        if qk is None or qk.op_type != "MatMul" or len(computed(qk)) != 2 or len(after) != 1:
            continue
        av = after[0]
        if av.op_type != "MatMul" or av.input[0] != softmax.output[0] or len(computed(av)) != 2:
            continue
        projections = [projection(qk.input[0]), projection(qk.input[1]), projection(av.input[1])]
        if any(p is None for p in projections):
            continue
        sources = {computed(p)[0] for p in projections}
        if len(sources) != 1:
            continue
        x = sources.pop()
        lead = producer.get(x)  # batch_first: (N, L, D) transposed to (L, N, D) for the projection
        if lead is not None and lead.op_type == "Transpose" and all(r in projections for r in readers.get(x, [])):
            x = lead.input[0]
        x_shape = shapes.get(x)
        q_shape = shapes.get(qk.input[0])
        if x_shape is None or q_shape is None or len(x_shape) != 3:
            continue
        dim, per_head = int(x_shape[2]), int(q_shape[-1])
        # down from the attention's product: the heads merged back, the output projection (+ its
        # bias), the views back to x's shape — and no further (the residual Add reads two tensors)
        node, out_proj = av, None
        while True:
            step = readers.get(node.output[0], [])
            if len(step) != 1 or len(node.output) != 1:
                break
            if out_proj is None and weight(step[0]) is not None:
                out_proj = step[0]
            elif not (step[0].op_type in _VIEWS or (out_proj is not None and bias_add(step[0]))):
                break
            node = step[0]
            if out_proj is not None and shapes.get(node.output[0]) == x_shape and \
                    not any(bias_add(r) for r in readers.get(node.output[0], [])):
                break
        last = node
        if out_proj is None or shapes.get(last.output[0]) != x_shape or dim % per_head:
            continue
        inner = _between(x, last, producer)
        if inner is None or any(r not in inner for n in inner if n is not last for o in n.output
                                for r in readers.get(o, [])):
            continue
        if any(i != x and producer.get(i) not in inner for n in inner for i in computed(n)):
            continue
        weights = {id(p): p for p in projections + [out_proj]}.values()
        sizes = sum(int(const(p.input[1]).shape[0] * const(p.input[1]).shape[1]) for p in weights)
        added = [i for n in inner if n.op_type in ("Add", "Gemm")  # a bias: an Add's constant, a Gemm's C
                 for i in (n.input if n.op_type == "Add" else n.input[2:])]
        biases = sum(int(const(i).size) for i in added if i and getattr(const(i), "size", 0) > 1)
        if sizes != 4 * dim * dim or biases != 4 * dim:
            continue  # not nn.MultiheadAttention's own weights (other sizes, no biases): left op by op
        found[id(last)] = (x, dim, dim // per_head)
        dropped.update(id(n) for n in inner if n is not last)
    return [entry for entry in live if id(entry[0]) not in dropped], found


def _between(x: str, last: Any, producer: dict) -> list | None:
    """Every node on a path from tensor ``x`` to node ``last`` (``last`` included), by walking
    up from ``last``; None when a path reaches the graph's input without passing ``x``."""
    seen: dict[int, Any] = {}
    stack = [last]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        for name in node.input:
            if not name or name == x:
                continue
            up = producer.get(name)
            if up is not None:
                stack.append(up)
    return list(seen.values())


def _producers(live: list) -> dict[str, Any]:
    """The node that computes each tensor of the walked nodes."""
    return {o: entry[0] for entry in live for o in entry[0].output if o}


def _readers(live: list) -> dict[str, int]:
    readers: dict[str, int] = {}
    for entry in live:
        for name in entry[0].input:
            readers[name] = readers.get(name, 0) + 1
    return readers


def fuse_channel_shuffle(live: list, shapes: dict) -> tuple[list, dict[int, tuple[str, int]]]:
    """ShuffleNet's channel shuffle as written with tensor ops (torchvision's
    ``channel_shuffle``, or any exporter of ``nn.ChannelShuffle``): ``Reshape`` (N, C, …) →
    (N, g, C/g, …), ``Transpose`` of axes 1 and 2, ``Reshape`` back to (N, C, …). The node list
    without the first two nodes, and per last Reshape (by id) its input and g."""
    producer = _producers(live)
    readers = _readers(live)
    found: dict[int, tuple[str, int]] = {}
    dropped: set[int] = set()
    for entry in live:
        back = entry[0]
        if back.op_type != "Reshape":
            continue
        swap = producer.get(back.input[0])
        if swap is None or swap.op_type != "Transpose" or readers.get(back.input[0]) != 1:
            continue
        split = producer.get(swap.input[0])
        if split is None or split.op_type != "Reshape" or readers.get(swap.input[0]) != 1:
            continue
        perm = [a.ints for a in swap.attribute if a.name == "perm"]
        x = split.input[0]
        before, lifted, after = shapes.get(x), shapes.get(split.output[0]), shapes.get(back.output[0])
        if not perm or before is None or lifted is None or after != before or len(lifted) != len(before) + 1:
            continue
        rank = len(lifted)
        if list(perm[0]) != [0, 2, 1] + list(range(3, rank)):
            continue
        groups, per = lifted[1], lifted[2]
        if groups * per != before[1] or tuple(lifted[3:]) != tuple(before[2:]) or groups < 1:
            continue
        found[id(back)] = (x, int(groups))
        dropped.update((id(swap), id(split)))
    return [entry for entry in live if id(entry[0]) not in dropped], found


def fuse_gelu(live: list, const: Any) -> tuple[list, dict[int, str]]:
    """``x · ½ · (1 + erf(x / √2))`` — GELU as torch exports it before ``Gelu`` became an
    operator (opset 20): the node list without the factors' nodes, and per final ``Mul``
    (by id) the tensor x it is the GELU of. ``const(name)`` is a tensor's constant value or None.
    The constants are checked (½, 1, √2 or a multiplication by 1/√2); every inner tensor must
    have no other reader."""
    producer = _producers(live)
    readers = _readers(live)

    def near(name: str, value: float) -> bool:
        found = const(name)
        return found is not None and getattr(found, "size", 0) == 1 and abs(float(found.reshape(-1)[0]) - value) < 1e-5

    def only(name: str, op: str):
        node = producer.get(name)
        return node if node is not None and node.op_type == op and readers.get(name, 0) == 1 else None

    def factors(node) -> tuple[list[str], list]:
        names: list[str] = []
        inner: list = []
        for name in node.input:
            sub = only(name, "Mul")
            if sub is not None and not inner:
                names += list(sub.input)
                inner.append(sub)
            else:
                names.append(name)
        return names, inner

    gelus: dict[int, str] = {}
    dropped: set[int] = set()
    for entry in live:
        node = entry[0]
        if node.op_type != "Mul":
            continue
        names, inner = factors(node)
        if len(names) != 3:
            continue
        half = [n for n in names if near(n, 0.5)]
        rest = [n for n in names if n not in half]
        if len(half) != 1 or len(rest) != 2:
            continue
        for x, other in (rest, rest[::-1]):
            add = only(other, "Add")
            if add is None:
                continue
            erf_out = [n for n in add.input if not near(n, 1.0)]
            if len(erf_out) != 1 or len(add.input) != 2:
                continue
            erf = only(erf_out[0], "Erf")
            if erf is None:
                continue
            scale = only(erf.input[0], "Div") or only(erf.input[0], "Mul")
            if scale is None or scale.input[0] != x:
                continue
            if not near(scale.input[1], SQRT2 if scale.op_type == "Div" else 1 / SQRT2):
                continue
            gelus[id(node)] = x
            dropped.update(id(n) for n in inner + [add, erf, scale])
            break
    return [entry for entry in live if id(entry[0]) not in dropped], gelus


# --- Swin's (shifted) window attention ---------------------------------------------------------

_CPB_HIDDEN = 512  # Swin V2's continuous position bias MLP width (torchvision's)


def _data_free(live: list, const: Any, unfolded: dict) -> set[str]:
    """Tensors of the walked nodes that constants alone compute, though not folded here (Swin V2's
    position-bias MLP on its coordinate table, a mask built by scattering into zeros): ``unfolded``
    (the outputs of constant-only nodes the folding could not compute) and what walked nodes make
    of them and constants only."""
    free = set(unfolded)
    for entry in live:
        node = entry[0]
        if all(not i or i in free or const(i) is not None for i in node.input):
            free.update(o for o in node.output if o)
    return free


def _einsum(attrs: dict) -> str | None:
    """What an ``Einsum`` of two operands is in attention (torchvision's MaxViT writes its products
    so): "qk" for ``…id,…jd->…ij`` (q·kᵀ), "av" for ``…ij,…jd->…id`` (a·v), else None."""
    equation = attrs.get("equation", b"")
    equation = (equation.decode() if isinstance(equation, bytes) else str(equation)).replace(" ", "").lower()
    if equation.count("->") != 1 or equation.count(",") != 1:
        return None
    inputs, out = equation.split("->")
    a, b = inputs.split(",")
    if not (len(a) == len(b) == len(out) >= 3) or a[:-2] != b[:-2] or a[:-2] != out[:-2] or "." in equation:
        return None
    i, j = a[-2], b[-2]
    if a[-1] == b[-1] and out[-2:] == i + j and len({i, j, a[-1]}) == 3:
        return "qk"
    if a[-1] == b[-2] and out[-2:] == a[-2] + b[-1] and len({a[-2], a[-1], b[-1]}) == 3:
        return "av"
    return None


def _int_input(entry: tuple, const: Any, index: int, attr: str) -> int | None:
    """A Slice's one start/end/axis: input ``index`` from opset 10, else attribute ``attr``."""
    node, attrs = entry[0], entry[1]
    if attr in attrs:
        values = list(attrs[attr])
    elif len(node.input) > index and node.input[index]:
        value = const(node.input[index])
        values = [] if value is None else [int(v) for v in value.reshape(-1)]
    else:
        return None
    return int(values[0]) if len(values) == 1 else None


def fuse_window_attention(live: list, const: Any, shapes: dict,
                          consts: Any = None) -> tuple[list, dict[int, tuple[tuple, str]]]:
    """Swin's (shifted) window attention as torch exports it op by op — torchvision's
    ``shifted_window_attention`` on (N, H, W, C) and convcalc's builder's on (N, C, H, W):

    x → [Pad to multiples of w at the bottom/right] → [roll by −s: per axis a ``Concat`` of two
    ``Slice``s of one tensor] → windows (``Reshape`` to 6 axes, ``Transpose``, ``Reshape`` to
    (N·nW, w², D)) → one packed qkv projection (MatMul by a (D, 3D) constant, + bias) → heads →
    q·kᵀ (scaled; V2: of the normalised q and k) + the relative position bias (h, w², w²)
    [+ the shift mask] → ``Softmax`` → ·v → heads merged → proj (D, D) + bias → windows back →
    [roll by +s] → [Slice back to x's size] — every tensor between read inside only. The bias
    comes from constants: V1 a gathered ((2w−1)², h) table, V2 the continuous position bias MLP
    (2 → 512 → h) on a coordinate table. The same attention core on MaxViT's (1, G, P, D) token
    groups, with its ``merge`` projection back to their shape, is a relative-position attention.
    Per last node (by id): the layers (a window attention — channels-last, between moves of the
    channels first and back — or the relative-position attention) and the tensor it reads."""
    import math

    from convcalc.errors import InputError
    from convcalc.layers.partition import RelativePositionAttention
    from convcalc.layers.tensor import Permute
    from convcalc.layers.window import WindowAttention
    from convcalc.network.model import Leaf

    producer = _producers(live)
    entry_of = {id(entry[0]): entry for entry in live}
    readers: dict[str, list] = {}
    for entry in live:
        for name in entry[0].input:
            readers.setdefault(name, []).append(entry[0])
    unfolded = consts.unfolded if consts is not None else {}
    free = _data_free(live, const, unfolded)
    weights = consts.weights if consts is not None else set()
    made_by = consts.made_by if consts is not None else {}

    def fixed(name: str) -> bool:
        return not name or const(name) is not None or name in free

    def computed(node) -> list[str]:
        return [i for i in node.input if not fixed(i)]

    def shape(name: str) -> tuple | None:
        found = shapes.get(name)
        if found is None and const(name) is not None:
            found = getattr(const(name), "shape", None)
        return tuple(int(d) for d in found) if found is not None else None

    def only_reader(name: str):
        found = readers.get(name, [])
        return found[0] if len(found) == 1 else None

    def weight(node, rows: int | None = None):
        """The (K, M) constant of a MatMul x·W, else None."""
        if node is None or node.op_type != "MatMul" or len(computed(node)) != 1 or fixed(node.input[0]):
            return None
        w = const(node.input[1])
        if w is None or len(getattr(w, "shape", ())) != 2 or (rows is not None and w.shape[0] != rows):
            return None
        return w

    def normalised(node) -> str | None:
        """``a / f(a)`` (F.normalize: ReduceL2, Clip, Expand of a itself): a, else None."""
        if node.op_type != "Div" or len(computed(node)) != 2:
            return None
        a, norm = node.input
        seen, stack = 0, [norm]
        while stack:
            name = stack.pop()
            if name == a:
                seen += 1
                continue
            up = producer.get(name)
            if up is None or fixed(name) or up.op_type not in ("ReduceL2", "Clip", "Max", "Expand", "Sqrt",
                                                              "ReduceSum", "Mul", "Pow", "Identity", "Cast"):
                return None
            stack += computed(up)
        return a if seen else None

    def projection(name: str):
        """Up from q, k or v (views, scalings, a normalisation, the bias Add) to the packed qkv MatMul."""
        node = producer.get(name)
        while node is not None and weight(node) is None:
            if node.op_type in _VIEWS or (node.op_type in ("Mul", "Div", "Add", "Cast") and len(computed(node)) == 1):
                node = producer.get(computed(node)[0]) if computed(node) else None
            elif (source := normalised(node)) is not None:
                cosine.append(node)
                node = producer.get(source)
            else:
                return None
        return node

    def roll_of(concat) -> tuple[str, int, int] | None:
        """A Concat of y[k:] then y[:k] along one axis: (y, axis, k) — y rolled by −k."""
        if concat is None or concat.op_type != "Concat" or len(concat.input) != 2:
            return None
        first, second = (producer.get(i) for i in concat.input)
        if second is not None and second.op_type == "Slice" and second.input[0] == concat.input[0]:
            # a roll by 0 as the exporter writes it: y itself, then the empty y[0:0]
            e2 = entry_of[id(second)]
            start, end = _int_input(e2, const, 1, "starts"), _int_input(e2, const, 2, "ends")
            axis, a2 = concat_axis(concat), _int_input(e2, const, 3, "axes")
            y_shape = shape(concat.input[0])
            if y_shape is not None and axis is not None and a2 is not None and start == 0 and end == 0 and \
                    a2 % len(y_shape) == axis % len(y_shape) and len(readers.get(concat.input[1], [])) == 1:
                return concat.input[0], axis % len(y_shape), 0
        if first is None or second is None or first.op_type != "Slice" or second.op_type != "Slice":
            return None
        y = first.input[0]
        if second.input[0] != y or any(len(readers.get(i, [])) != 1 for i in concat.input):
            return None
        y_shape, axis = shape(y), concat_axis(concat)
        e1, e2 = entry_of[id(first)], entry_of[id(second)]
        a1, a2 = _int_input(e1, const, 3, "axes"), _int_input(e2, const, 3, "axes")
        s1, t1 = _int_input(e1, const, 1, "starts"), _int_input(e1, const, 2, "ends")
        s2, t2 = _int_input(e2, const, 1, "starts"), _int_input(e2, const, 2, "ends")
        if y_shape is None or axis is None or a1 is None or a2 is None or s1 is None or t1 is None or \
                s2 is None or t2 is None or len(first.input) > 4 or len(second.input) > 4:
            return None
        rank = len(y_shape)
        size = y_shape[axis % rank]
        if a1 % rank != axis % rank or a2 % rank != axis % rank:
            return None
        k = s1 % size if s1 < 0 else min(s1, size)
        if min(t1, size) != size or s2 != 0 or (t2 % size if t2 < 0 else min(t2, size)) != k:
            return None
        return y, axis % rank, k

    def concat_axis(node) -> int | None:
        axis = entry_of[id(node)][1].get("axis")
        return None if axis is None else int(axis)

    def crop_of(node) -> str | None:
        """A Slice keeping a leading part of some axes (x[:, :H, :W]): its input, else None."""
        if node.op_type != "Slice" or len(node.input) < 3:
            return None
        starts, ends = const(node.input[1]), const(node.input[2])
        if starts is None or ends is None or any(int(s) != 0 for s in starts.reshape(-1)):
            return None
        if len(node.input) > 4 and node.input[4]:
            steps = const(node.input[4])
            if steps is None or any(int(s) != 1 for s in steps.reshape(-1)):
                return None
        return node.input[0]

    def made(name: str, op: str):
        """The ``op`` node that makes tensor ``name``, read by one node only; else None."""
        node = producer.get(name)
        return node if node is not None and node.op_type == op and len(readers.get(name, [])) == 1 else None

    def bias_weights(name: str) -> list:
        """The float weights a position bias is computed from (folded or not)."""
        found, seen, stack = [], set(), [name]
        while stack:
            t = stack.pop()
            if t in seen or not t:
                continue
            seen.add(t)
            if t in made_by or t in unfolded:
                stack += list((made_by.get(t) or unfolded[t])[1])
            elif t in producer and t in free:
                stack += [i for i in producer[t].input if i]
            elif t in weights and const(t) is not None:
                value = const(t)
                kind = getattr(getattr(value, "dtype", None), "kind", "f")
                if kind == "f":
                    found.append(value)
        return found

    def contained(x: str, last) -> set[int] | None:
        """The ids of the nodes from x to ``last`` (``last`` apart) when nothing else enters or
        leaves them (constant-only nodes read outside too are left); else None."""
        inner = _between(x, last, producer)
        if inner is None:
            return None
        region = {id(n) for n in inner}
        if any(i != x and producer.get(i) is not None and id(producer[i]) not in region
               for n in inner for i in computed(n)):
            return None
        if any(id(r) not in region for n in inner if n is not last and not all(o in free for o in n.output if o)
               for o in n.output for r in readers.get(o, [])):
            return None
        return {id(n) for n in inner if n is not last and
                all(id(r) in region for o in n.output if o for r in readers.get(o, []))}

    def output_projection(av, dim: int):
        """Down from a·v: the views merging the heads, the (D, D) projection and its bias Add —
        the last of them, else None."""
        node = av
        while (step := only_reader(node.output[0])) is not None and step.op_type in _VIEWS and weight(step) is None:
            node = step
        proj = only_reader(node.output[0])
        proj_w = weight(proj, dim)
        if proj is None or proj_w is None or proj_w.shape[1] != dim:
            return None
        add = only_reader(proj.output[0])
        return add if add is not None and add.op_type == "Add" and len(computed(add)) == 1 else proj

    def group_attention(t: str, av, bias: str):
        """MaxViT's attention within token groups, down from a·v: the heads merged, the (D, D)
        ``merge`` projection and its bias, back to t's shape; its bias a ((2p − 1)², h) table (or
        that table folded). (last node, the ids of the others) or None."""
        t_shape = shape(t)
        assert t_shape is not None
        dim, tokens = t_shape[-1], t_shape[-2]
        last = output_projection(av, dim)
        if last is None:
            return None
        heads = shape(bias)[-3]  # type: ignore[index]
        side = math.isqrt(tokens)
        dims = [tuple(int(d) for d in v.shape) for v in bias_weights(bias)]
        if shape(last.output[0]) != t_shape or (((2 * side - 1) ** 2, heads) not in dims and
                                                dims not in ([], [shape(bias)])):
            return None
        inner = contained(t, last)
        return None if inner is None else (last, inner)

    found: dict[int, tuple[tuple, str]] = {}
    dropped: set[int] = set()
    for entry in live:
        softmax = entry[0]
        if softmax.op_type != "Softmax" or id(softmax) in dropped:
            continue
        scores = shape(softmax.input[0])
        # (N·nW, h, N, N) for Swin's windows; (1, G, h, P, P) for MaxViT's token groups
        if scores is None or len(scores) not in (4, 5) or (len(scores) == 5 and scores[0] != 1) or \
                entry[1].get("axis", -1) % len(scores) != len(scores) - 1 or scores[-2] != scores[-1]:
            continue
        grouped = len(scores) == 5
        heads, tokens = int(scores[-3]), int(scores[-1])
        window = math.isqrt(tokens)
        if window * window != tokens:
            continue
        # up from the scores: scalings, the bias and mask Adds, the views around the mask's Add
        added: list[str] = []
        qk = producer.get(softmax.input[0])
        while qk is not None and qk.op_type not in ("MatMul", "Einsum"):
            if qk.op_type in ("Reshape", "Identity", "Cast") or (
                    qk.op_type in ("Mul", "Div", "Add", "Sub") and len(computed(qk)) == 1):
                if qk.op_type == "Add":
                    added += [i for i in qk.input if fixed(i)]
                qk = producer.get(computed(qk)[0])
            else:
                qk = None
        av = only_reader(softmax.output[0])
        if qk is None or len(computed(qk)) != 2 or av is None or av.input[0] != softmax.output[0] or \
                len(computed(av)) != 2:
            continue
        if (qk.op_type == "Einsum" and _einsum(entry_of[id(qk)][1]) != "qk") or av.op_type not in (
                "MatMul", "Einsum") or (av.op_type == "Einsum" and _einsum(entry_of[id(av)][1]) != "av"):
            continue
        cosine: list = []  # V2's normalised q and k
        packed = [projection(qk.input[0]), projection(qk.input[1]), projection(av.input[1])]
        qkv = packed[0]
        if qkv is None or any(p is not qkv for p in packed):
            continue
        qkv_w = weight(qkv)
        dim = int(qkv_w.shape[0])
        t = qkv.input[0]
        t_shape = shape(t)
        if qkv_w.shape[1] != 3 * dim or dim % heads or t_shape is None or t_shape[-2:] != (tokens, dim) or \
                len(t_shape) != (4 if grouped else 3) or (grouped and t_shape[:2] != (1, scores[1])):
            continue
        bias = [a for a in added if shape(a) in ((heads, tokens, tokens), (1, heads, tokens, tokens))]
        if len(bias) != 1:
            continue
        if grouped:
            grouped_attention = group_attention(t, av, bias[0])
            if grouped_attention is not None:
                found[id(grouped_attention[0])] = ((Leaf(RelativePositionAttention(dim, dim // heads, window)),), t)
                dropped.update(grouped_attention[1])
            continue
        # the windows, up from t: Reshape ← Transpose ← Reshape of the rolled, padded map r
        merge = made(t, "Reshape")
        swap = made(merge.input[0], "Transpose") if merge is not None else None
        split = made(swap.input[0], "Reshape") if swap is not None else None
        if split is None:
            continue
        r = split.input[0]
        r_shape, lifted = shape(r), shape(split.output[0])
        perm = list(entry_of[id(swap)][1].get("perm", ()))
        if r_shape is None or lifted is None or len(r_shape) != 4 or r_shape[0] != 1:
            continue
        if perm == [0, 2, 4, 3, 5, 1] and r_shape[1] == dim:
            last_channels, (hp, wp) = False, r_shape[2:]
        elif perm == [0, 1, 3, 2, 4, 5] and r_shape[3] == dim:
            last_channels, (hp, wp) = True, r_shape[1:3]
        else:
            continue
        spatial = (2, 3) if not last_channels else (1, 2)
        expected = ((1, dim, hp // window, window, wp // window, window) if not last_channels
                    else (1, hp // window, window, wp // window, window, dim))
        if hp % window or wp % window or lifted != expected:
            continue
        # up from r: the rolls by −s, then the Pad; the tensor reached is x
        shift = dict.fromkeys(spatial, 0)
        x = r
        while (rolled := roll_of(producer.get(x))) is not None and rolled[1] in spatial and not shift[rolled[1]]:
            x, axis, k = rolled
            shift[axis] = k
        pad = producer.get(x)
        if pad is not None and pad.op_type == "Pad" and len(computed(pad)) == 1:  # read inside only: checked below
            pads = const(pad.input[1]) if len(pad.input) > 1 else None
            value = const(pad.input[2]) if len(pad.input) > 2 and pad.input[2] else None
            if pads is None and "pads" in entry_of[id(pad)][1]:
                import numpy as np

                pads = np.array(entry_of[id(pad)][1]["pads"])
            mode = entry_of[id(pad)][1].get("mode", b"constant")
            if pads is not None and (value is None or not value.any()) and mode in (b"constant", "constant"):
                rank = len(pads) // 2
                if all(int(p) == 0 for i, p in enumerate(pads) if i < rank or i - rank not in spatial):
                    x = pad.input[0]
        x_shape = shape(x)
        if x_shape is None or len(x_shape) != 4 or x_shape[0] != 1:
            continue
        height, width = (x_shape[2], x_shape[3]) if not last_channels else (x_shape[1], x_shape[2])
        channels = x_shape[1] if not last_channels else x_shape[3]
        if channels != dim:
            continue
        # down from a·v: the heads merged, proj (+ bias), the windows back, the rolls by +s, the crop
        node = output_projection(av, dim)
        if node is None:
            continue
        views = []
        for op in ("Reshape", "Transpose", "Reshape"):
            step = only_reader(node.output[0])
            if step is None or step.op_type != op:
                break
            views.append(step)
            node = step
        if len(views) != 3 or shape(node.output[0]) != r_shape:
            continue
        back = dict.fromkeys(spatial, 0)
        while True:
            out = node.output[0]
            after = readers.get(out, [])
            concat = only_reader(after[0].output[0]) if len(after) == 2 and after[0].op_type == "Slice" else None
            rolled = roll_of(concat) if concat is not None else None
            if rolled is None and len(after) == 2 and {a.op_type for a in after} == {"Concat", "Slice"}:
                concat = next(a for a in after if a.op_type == "Concat")
                rolled = roll_of(concat)
            if rolled is not None and rolled[0] == out and rolled[1] in spatial and not back[rolled[1]]:
                back[rolled[1]] = (r_shape[rolled[1]] - rolled[2]) % r_shape[rolled[1]]
                node = concat
                continue
            step = only_reader(out)
            if step is not None and step.op_type == "Slice" and crop_of(step) and (
                    shape(out) != x_shape or shape(step.output[0]) == shape(out)):  # a crop, or a slice of all
                node = step
                continue
            break
        last = node
        if shape(last.output[0]) != x_shape or back != shift:
            continue
        sh, sw = (shift[a] for a in spatial)
        s = max(sh, sw)
        try:
            geometry = WindowAttention(dim=dim, heads=heads, window=window, shift=s)._geometry((dim, height, width))
        except InputError:
            continue
        if geometry != (hp, wp, sh, sw):
            continue
        # the position bias: V1 a gathered table, V2 the MLP on a coordinate table
        sources = bias_weights(bias[0])
        dims = sorted(tuple(int(d) for d in v.shape) for v in sources)
        table = ((2 * window - 1) ** 2, heads)
        if table in dims:
            v2 = False
        elif any(d in dims for d in ((_CPB_HIDDEN, 2), (2, _CPB_HIDDEN))) and \
                any(d in dims for d in ((heads, _CPB_HIDDEN), (_CPB_HIDDEN, heads))):
            v2 = True
        elif dims in ([], [shape(bias[0])]):
            # the exporter folded the bias itself into a constant (do_constant_folding): the table
            # or the MLP it came from is gone from the file; V2 shows in its cosine attention
            v2 = len(cosine) == 2
        else:
            continue
        inner_ids = contained(x, last)
        if inner_ids is None:
            continue
        attention = Leaf(WindowAttention(dim=dim, heads=heads, window=window, shift=s, v2=v2))
        layers = (attention,) if not last_channels else (Leaf(Permute((2, 0, 1))), attention, Leaf(Permute((1, 2, 0))))
        found[id(last)] = (layers, x)
        dropped.update(inner_ids)
    return [entry for entry in live if id(entry[0]) not in dropped], found


# --- pixel (un)shuffle written as views --------------------------------------------------------

_PURE_VIEWS = frozenset(("Reshape", "Transpose", "Unsqueeze", "Squeeze", "Flatten", "Identity"))
_INDEXED = 1 << 20  # the largest map whose element order is checked by moving its indices


def _view(entry: tuple, value: Any, const: Any) -> Any:
    """``value`` (batched) through one pure view node, NumPy; None when a size or axis is not known."""
    import numpy as np

    node, attrs = entry[0], entry[1]
    op = node.op_type
    if op == "Identity":
        return value
    if op == "Transpose":
        return value.transpose(attrs["perm"]) if "perm" in attrs else value.transpose()
    if op == "Flatten":
        axis = int(attrs.get("axis", 1)) % max(value.ndim, 1)
        return value.reshape(int(np.prod(value.shape[:axis])), -1)
    if op == "Reshape":
        target = const(node.input[1]) if len(node.input) > 1 else None
        if target is None or attrs.get("allowzero", 0):
            return None
        target = [value.shape[i] if int(d) == 0 else int(d) for i, d in enumerate(target.reshape(-1))]
        return value.reshape(target)
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        found = const(node.input[1])
        axes = None if found is None else [int(a) for a in found.reshape(-1)]
    if op == "Squeeze":
        return np.squeeze(value, axis=None if axes is None else tuple(int(a) % value.ndim for a in axes))
    if axes is None:
        return None
    out = value
    for a in sorted(int(a) % (value.ndim + len(axes)) for a in axes):
        out = np.expand_dims(out, a)
    return out


def _view_layers(before: tuple, after: tuple) -> list:
    """The layers made of views alone that could take a (1, *before) tensor to (1, *after): pixel
    (un)shuffles of a (C, H, W) map, MaxViT's window and grid partitions into (G, P, C) token groups
    and back."""
    import math

    from convcalc.layers.partition import Departition, Partition
    from convcalc.layers.pixel_shuffle import PixelShuffle

    found: list = []
    if len(before) == 3 and len(after) == 3:
        c, h, w = before
        for r in range(2, 9):
            if after == (c * r * r, h // r, w // r) and not (h % r or w % r):
                found.append(PixelShuffle(r, True))
            if after == (c // (r * r), h * r, w * r) and not c % (r * r):
                found.append(PixelShuffle(r, False))
            if found:
                break
        groups, tokens, channels = after
        p = math.isqrt(tokens)
        if channels == c and p * p == tokens and not (h % p or w % p) and groups == (h // p) * (w // p):
            found += [Partition(p, False), Partition(p, True)]
        groups, tokens, c = before
        p = math.isqrt(tokens)
        if len(after) == 3 and after[0] == c and p * p == tokens and not (after[1] % p or after[2] % p) and \
                groups == (after[1] // p) * (after[2] // p):
            found += [Departition(p, False, after[1], after[2]), Departition(p, True, after[1], after[2])]
    return found


def _moved(layer: Any, value: Any) -> Any:
    """What ``layer`` (a view layer) makes of the batched index array ``value``."""
    from convcalc.layers.partition import Departition, _cut, _uncut
    from convcalc.layers.pixel_shuffle import PixelShuffle

    if isinstance(layer, PixelShuffle):
        n, c, h, w = value.shape
        r = layer.factor
        out = (n, c * r * r, h // r, w // r) if layer.inverse else (n, c // (r * r), h * r, w * r)
        return layer._permute(value, out, layer.inverse)
    if isinstance(layer, Departition):
        return _uncut(value, layer.size, layer.grid, *layer.map_size(value.shape[1]))
    return _cut(value, layer.size, layer.grid)


def fuse_view_layers(live: list, const: Any, shapes: dict) -> tuple[list, dict[int, tuple[Any, str]]]:
    """Layers that only move elements, as torch exports them: a chain of pure views (Reshape,
    Transpose, Unsqueeze, Squeeze), each tensor read by the next only — ``nn.PixelShuffle`` and
    ``nn.PixelUnshuffle`` (Swin's patch merging as the builder writes it), MaxViT's window and grid
    partitions of a (C, H, W) map into (G, P, C) token groups and back. A chain is such a layer when
    it moves its input's element indices exactly as the layer moves them (checked on the indices
    themselves, for tensors up to a million elements); the longest chain that is one is taken. Per
    last node (by id): the layer and the chain's input."""
    import numpy as np

    producer = _producers(live)
    readers: dict[str, list] = {}
    for entry in live:
        for name in entry[0].input:
            readers.setdefault(name, []).append(entry)
    found: dict[int, tuple[Any, str]] = {}
    dropped: set[int] = set()
    for entry in live:
        first = entry[0]
        x = first.input[0] if first.input else ""
        if first.op_type not in _PURE_VIEWS or id(first) in dropped or not x:
            continue
        before = shapes.get(x)
        up = producer.get(x)
        if before is None or len(before) != 4 or before[0] != 1 or (
                up is not None and up.op_type in _PURE_VIEWS and len(readers.get(x, [])) == 1
                and id(up) not in found):
            continue  # not a batched 3-d tensor, or not the start of its chain
        size = int(np.prod(before))
        if size > _INDEXED:
            continue
        start = np.arange(size).reshape(tuple(int(d) for d in before))
        value, step, best = start, entry, None
        chain: list[tuple] = []
        while step is not None and step[0].op_type in _PURE_VIEWS and step[0].input[0] == (
                chain[-1][0].output[0] if chain else x):
            value = _view(step, value, const)
            if value is None:
                break
            chain.append(step)
            after = tuple(value.shape)
            if len(after) == 4 and after[0] == 1 and len(chain) > 1:
                for layer in _view_layers(tuple(before[1:]), after[1:]):
                    moved = _moved(layer, start)
                    if moved.shape == value.shape and np.array_equal(moved, value):
                        best = (len(chain), layer)
                        break
            nxt = readers.get(step[0].output[0], [])
            step = nxt[0] if len(nxt) == 1 else None
        if best is not None:
            length, layer = best
            found[id(chain[length - 1][0])] = (layer, x)
            dropped.update(id(e[0]) for e in chain[:length - 1])
    return [entry for entry in live if id(entry[0]) not in dropped], found
