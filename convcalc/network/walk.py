"""Walking a network layer by layer: shapes, parameters, MACs, memory and receptive fields.

Receptive fields follow Dang Ha The Hien's forward recurrences (docs/arithmetic.md §6.1), per axis, with
the integer-index convention (the first input unit is centred at 0):

    j_out = j_in·s,   r_out = r_in + (k_eff − 1)·j_in,   start_out = start_in + ((k_eff − 1)/2 − p)·j_in

Where branches meet, the receptive field is the union of the branches' intervals; a
warning says when the branches are misaligned (different jump or centre, Distill 2019).

Beside the recurrences, each axis carries the exact support (``engine/support.py``): which input
positions each output unit reads. It finds the holes dilation leaves (also in a union of
branches) and the unit-to-unit variation of transposed convolutions and adaptive pools; where it
is known, size (the largest span), jump (the mean jump) and start (the centre of unit 0) are
read from it, so they are exact in those cases too.

Row names join the module names with dots (``layer2.0.conv1``). A child or branch named ``""`` is
*unnamed*: it adds no name segment and no block row, its layers are named and shown as the
enclosing block's own — as when a torchvision ``forward`` calls the parent's modules directly
(a DenseNet layer's ``norm1 … conv2`` beside the concatenation; Inception's ``branch5x5_1``,
``branch5x5_2`` chain).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from convcalc.dims import Dim, format_dim, product
from convcalc.engine import support as supports
from convcalc.engine.axis import axis_names
from convcalc.engine.report import AxisRF, LayerReport, ParamCount
from convcalc.engine.support import AxisSupport
from convcalc.errors import InputError
from convcalc.network.model import Gate, Leaf, Module, Network, Parallel, Residual, Sequential, Side
from convcalc.notation import format_shape

Exact = int | Fraction  # a receptive-field number: an int where it is whole, else a Fraction


def _exact(value: Exact) -> Exact:
    """``value`` as an int when it is whole (cheaper to add and print; equal, and hashed alike)."""
    return value.numerator if value.denominator == 1 else value


def _half(twice: int) -> Exact:
    """``twice / 2``, exactly."""
    return twice >> 1 if twice & 1 == 0 else Fraction(twice, 2)


@dataclass(frozen=True, slots=True)
class RFState:
    """Receptive field along one axis after a layer, in input pixels: ``size``, ``jump`` and
    ``start`` are exact — ints where whole (the common case), Fractions otherwise (half-pixel
    centres, the fractional jumps of transposed convolutions)."""

    size: Exact = 1
    jump: Exact = 1
    start: Exact = 0
    support: AxisSupport | None = field(default_factory=supports.identity)

    def after(self, layer: AxisRF) -> RFState:
        jump = self.jump
        if type(jump) is int:
            shortcut, dense = _dense_after(self.support, layer)
            if shortcut:
                # The common case, in whole numbers (a deep walk does this per layer and axis): the
                # same values as the general rule below without a Fraction, and the support of a
                # gap-free window over a gap-free support without composing it.
                kernel, pad = layer.kernel, layer.pad
                if dense is not None:  # size, jump and start read from the support, as exactly() does
                    (lo, hi), = dense.units[0]
                    return RFState(hi - lo + 1, dense.shift, _half(lo + hi), dense)
                start = self.start
                twice = (kernel - 1 - 2 * pad) * jump
                start = _half(2 * start + twice) if type(start) is int else _exact(start + Fraction(twice, 2))
                size = self.size + (kernel - 1) * jump
                return RFState(size if type(size) is int else _exact(size), jump * layer.stride, start, None)
        return self._after_general(layer)

    def _after_general(self, layer: AxisRF) -> RFState:
        """The recurrences in Fractions, and the support composed in general."""
        stride = Fraction(layer.stride)
        k_eff = Fraction(layer.kernel)
        layer_support = layer.support()
        exact = None
        if self.support is not None and layer_support is not None:
            exact = supports.compose(self.support, layer_support)
        size, jump, start = Fraction(self.size), Fraction(self.jump), Fraction(self.start)
        if stride < 1:  # transposed conv / upsampling: each output reads floor((k_eff − 1)·stride) + 1 inputs
            reach = Fraction(int((k_eff - 1) * stride))
            state = RFState(_exact(size + reach * jump), _exact(jump * stride),
                            _exact(start + ((k_eff - 1) / 2 - layer.pad) * stride * jump), exact)
        else:
            state = RFState(_exact(size + (k_eff - 1) * jump), _exact(jump * stride),
                            _exact(start + ((k_eff - 1) / 2 - layer.pad) * jump), exact)
        return state.exactly()

    def exactly(self) -> RFState:
        """Size, jump and start read from the exact support, where it is known."""
        centre = None if self.support is None else self.support.centre(0)
        if self.support is None or centre is None:
            return self
        return RFState(self.support.extents[1], _exact(self.support.mean_jump), _exact(centre), self.support)

    @property
    def interval(self) -> tuple[Fraction, Fraction]:
        half = Fraction(self.size - 1, 2)
        return self.start - half, self.start + half


def _dense_after(support: AxisSupport | None, layer: AxisRF) -> tuple[bool, AxisSupport | None]:
    """The support after ``layer`` when both are gap-free — a plain window (whole kernel, stride
    >= 1 and padding, no dilation taps: ``taps`` absent or the window itself) over one interval per
    unit, period 1, whose neighbours' intervals touch or overlap (else: compose in general). A plain
    window over an unknown support leaves it unknown (None). Window k, s, p over units
    [lo + u·q, hi + u·q]: unit t reads inner units t·s − p … t·s − p + k − 1, whose union is
    [lo − p·q, hi + (k − 1 − p)·q] moved by t·s·q, gap-free as long as q <= hi − lo + 1 (or k = 1).
    Returns (shortcut applies, support)."""
    kernel, stride, pad, taps = layer.kernel, layer.stride, layer.pad, layer.taps
    if not (type(kernel) is int and type(stride) is int and type(pad) is int and stride >= 1):
        return False, None
    if taps is not None and not (taps.period == 1 and taps.shift == stride
                                 and taps.units == (((-pad, kernel - 1 - pad),),)):
        return False, None  # dilation holes, or a window other than the plain one
    if support is None:
        return True, None
    if support.period != 1 or len(support.units[0]) != 1:
        return False, None
    (lo, hi), = support.units[0]
    q = support.shift
    if kernel > 1 and q > hi - lo + 1:
        return False, None
    return True, AxisSupport(1, stride * q, (((lo - pad * q, hi + (kernel - 1 - pad) * q),),))


def rf_union(states: list[tuple[RFState, ...]]) -> tuple[tuple[RFState, ...], bool]:
    """The union of the branches' receptive fields, and whether they were misaligned."""
    merged, misaligned = [], False
    for axis_states in zip(*states):
        lows, highs = zip(*(s.interval for s in axis_states))
        lo, hi = min(lows), max(highs)
        jumps = {s.jump for s in axis_states}
        centres = {s.start for s in axis_states}
        misaligned |= len(jumps) > 1 or len(centres) > 1
        exact = None
        if all(s.support is not None for s in axis_states):
            exact = supports.union([s.support for s in axis_states])
        merged.append(RFState(_exact(hi - lo + 1), max(jumps), _exact((lo + hi) / 2), exact).exactly())
    return tuple(merged), misaligned


@dataclass(frozen=True)
class Row:
    """One row of the walk: a layer, a merge (add/concat/mul), or a folded block."""

    name: str
    type: str
    depth: int
    input: tuple
    output: tuple
    params: ParamCount = ParamCount()
    buffers: Dim = 0
    macs: Dim = 0
    other_ops: tuple[tuple[str, Dim], ...] = ()
    activation: Dim = 0  # output elements × batch
    rf: tuple[RFState, ...] | None = None
    report: LayerReport | None = None
    children: tuple[Row, ...] = ()
    layer: Any = None  # the layer object of a leaf row (which torch.nn module it stands for)
    functional: str = ""  # how the model's forward calls it: "" an nn.Module, else the function (F.relu …)


@dataclass(frozen=True)
class Totals:
    params: Dim
    trainable: Dim
    buffers: Dim
    macs: Dim
    other_ops: dict[str, Dim]
    activation_elements: Dim
    bytes_per_element: int

    @property
    def flops(self) -> Dim:
        return 2 * self.macs

    @property
    def param_bytes(self) -> Dim:
        return self.params * self.bytes_per_element

    @property
    def activation_bytes(self) -> Dim:
        return self.activation_elements * self.bytes_per_element


@dataclass(frozen=True)
class NetworkReport:
    name: str
    input: tuple
    output: tuple
    rows: tuple[Row, ...]
    totals: Totals
    batch: int = 1
    warnings: tuple[str, ...] = ()
    source: str = ""

    def leaves(self) -> list[Row]:
        """Every layer and merge row, no blocks."""
        return self.flat(None)

    def flat(self, depth: int | None = None) -> list[Row]:
        """Rows to show: every layer, or blocks at nesting level ``depth`` and below folded into one
        row each (``depth=1``: the top-level modules, as torchinfo counts depth)."""
        return _flatten(self.rows, depth)


def _flatten(rows, depth: int | None) -> list[Row]:
    out: list[Row] = []

    def visit(row: Row) -> None:
        if row.children and (depth is None or row.depth + 1 < depth):
            for child in row.children:
                visit(child)
        else:
            out.append(row)

    for row in rows:
        visit(row)
    return out


@dataclass
class _Walk:
    batch: int
    bytes_per_element: int
    warnings: list[str] = field(default_factory=list)
    # between a partition into token groups (G, P, D) and its departition (MaxViT): a linear on
    # the 3-d groups is the tokens' MLP, not a missing flatten
    grouped: bool = False
    # (id(layer), input shape) → (layer, its report): a layer object met again on the same input (a
    # chain's repeated segment is one Leaf) is analysed once — analyze is a pure function of both.
    reports: dict[tuple, tuple[Any, LayerReport]] = field(default_factory=dict)

    def analyze(self, layer: Any, shape: tuple) -> LayerReport:
        key = (id(layer), shape, tuple(map(type, shape)))  # 32 and a SymPy 32 print apart
        seen = self.reports.get(key)
        if seen is not None and seen[0] is layer:
            return seen[1]
        report = layer.analyze(shape, batch=self.batch, bytes_per_element=self.bytes_per_element)
        self.reports[key] = (layer, report)
        return report


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _sum_rows(rows: list[Row]) -> tuple[ParamCount, Dim, Dim, dict[str, Dim], Dim]:
    """Parameters, buffers, MACs, other work and activation elements of ``rows`` added up."""
    params = ParamCount()
    buffers: Dim = 0
    macs: Dim = 0
    other: dict[str, Dim] = {}
    activation: Dim = 0
    for row in rows:
        params = params + row.params
        buffers += row.buffers
        macs += row.macs
        activation += row.activation
        for op, n in row.other_ops:
            other[op] = other.get(op, 0) + n
    return params, buffers, macs, other, activation


def _block_row(name: str, kind: str, depth: int, shape_in, shape_out, rf, children: list[Row]) -> Row:
    params, buffers, macs, other, activation = _sum_rows(children)
    return Row(name, kind, depth, shape_in, shape_out, params, buffers, macs, tuple(other.items()), activation, rf,
               None, tuple(children))


_NO_PARAMS = ParamCount()


def _walk(module: Module, shape, rf, name: str, depth: int, ctx: _Walk) -> tuple[tuple, Any, list[Row]]:
    """Apply ``module`` to ``shape``; return the output shape, RF state and the rows it made."""
    if isinstance(module, Leaf):
        shape = tuple(shape)
        try:
            _check_channel_axis(module.layer, shape)
            report = ctx.analyze(module.layer, shape)
        except InputError as error:
            layer_type = getattr(module.layer, "name", type(module.layer).__name__)
            said = error.spelled(str)  # in the layer's own keywords
            raise InputError(f"layer {name or '(input)'} ({layer_type}) on input {format_shape(shape)}: "
                             f"{said}") from None
        # a layer's own warnings (a linear layer on a feature map, an empty adaptive pool) reach the network
        if report.op in ("window-partition", "grid-partition", "window-departition", "grid-departition"):
            ctx.grouped = report.op.endswith("-partition")
        if report.warnings:
            ctx.warnings += [f"{name or module.layer.name}: {w}" for w in report.warnings if _network_level(w)
                             and not (ctx.grouped and report.op == "linear" and len(shape) == 3)]
        if report.rf is None or rf is None or len(report.rf) != len(rf):
            new_rf = None if (report.rf is None and report.output != report.input) else rf
            if report.op in ("linear", "flatten") or report.reads_whole_input:
                new_rf = None
        else:
            new_rf = tuple(state.after(layer_rf) for state, layer_rf in zip(rf, report.rf))
        row = Row(name, report.op, depth, shape, report.output, report.params or _NO_PARAMS, report.buffers,
                  report.macs or 0, report.other_ops, report.activation_elements, new_rf, report, layer=module.layer,
                  functional=module.functional)
        return report.output, new_rf, [row]
    if isinstance(module, Sequential):
        shape_in = tuple(shape)
        shape, rf, rows = _walk_children(module, shape, rf, name, depth, ctx)
        if not name:  # the network's own body: its children are the top-level rows
            return shape, rf, rows
        return shape, rf, [_block_row(name, module.kind, depth, shape_in, shape, rf, rows)]
    if isinstance(module, Residual):
        return _residual(module, shape, rf, name, depth, ctx)
    if isinstance(module, Parallel):
        return _parallel(module, shape, rf, name, depth, ctx)
    if isinstance(module, Gate):
        return _gate(module, shape, rf, name, depth, ctx)
    if isinstance(module, Side):  # the head's own output is its block row's; x flows on
        head_out, head_rf, rows = _walk_children(module.head, shape, rf, name, depth, ctx)
        return tuple(shape), rf, [_block_row(name, module.kind, depth, tuple(shape), head_out, head_rf, rows)]
    raise TypeError(f"not a module: {module!r}")


def _network_level(warning: str) -> bool:
    """The layer warnings a network walk repeats (others, such as uncovered padding, stay per layer)."""
    return "a flatten is probably missing" in warning or "an empty tensor" in warning


def _walk_children(module: Sequential, shape, rf, name: str, depth: int, ctx: _Walk) -> tuple[tuple, Any, list[Row]]:
    """Walk a block's own children in the block's namespace (no row of their own)."""
    rows: list[Row] = []
    for child_name, child in module.children:
        shape, rf, child_rows = _walk_child(child_name, child, shape, rf, name, depth, ctx)
        rows.extend(child_rows)
    return shape, rf, rows


def _walk_child(child_name: str, child: Module, shape, rf, prefix: str, depth: int, ctx: _Walk):
    """Walk one child of the block ``prefix`` (at ``depth``); an unnamed child ("") is walked in the
    block's namespace and its own block row is dropped, its rows becoming the block's."""
    if child_name:
        return _walk(child, shape, rf, _join(prefix, child_name), depth + 1, ctx)
    if isinstance(child, Leaf):
        raise InputError(f"a layer in {prefix or 'the network'} has an empty name")
    if isinstance(child, Sequential):
        return _walk_children(child, shape, rf, prefix, depth, ctx)
    if isinstance(child, Parallel):
        out, rf, rows = _parallel(child, shape, rf, prefix, depth, ctx, unnamed=True)
    else:
        out, rf, rows = _walk(child, shape, rf, prefix, depth, ctx)
    return out, rf, list(rows[0].children)


def _merge_row(name: str, kind: str, depth: int, shapes: list, out, rf, ctx: _Walk) -> Row:
    elements = product(out) * ctx.batch
    ops: tuple = ()
    if kind == "add":
        ops = (("residual adds", elements * (len(shapes) - 1)),)
    elif kind == "mul":
        ops = (("scale mults", elements),)
    return Row(name, kind, depth, tuple(shapes[0]), out, activation=elements, other_ops=ops, rf=rf)


def _check_same(shapes: list, names: list[str], where: str) -> None:
    first = shapes[0]
    for other, other_name in zip(shapes[1:], names[1:]):
        if tuple(other) != tuple(first):
            raise InputError(
                f"shapes differ where branches meet at {where}: {names[0]} gives {format_shape(first)}, "
                f"{other_name} gives {format_shape(other)}"
            )


def _residual(module: Residual, shape, rf, name, depth, ctx):
    out, body_rf, rows = _walk_children(module.body, shape, rf, name, depth, ctx)
    short_rows: list[Row]
    if module.shortcut is None:
        short_out, short_rf, short_rows = tuple(shape), rf, []
        short_name = "identity"
    else:
        short_name, short_module = module.shortcut
        short_out, short_rf, short_rows = _walk(short_module, shape, rf, _join(name, short_name), depth + 1, ctx)
    rows += short_rows
    _check_same([out, short_out], ["the body", f"the shortcut ({short_name})"], name or "the input")
    merged_rf = None
    if body_rf is not None and short_rf is not None:
        merged_rf, misaligned = rf_union([body_rf, short_rf])
        if misaligned:
            ctx.warnings.append(f"{name}: the body and shortcut receptive fields are misaligned; the union is shown")
    rows.append(_merge_row(_join(name, "add"), "add", depth + 1, [out, short_out], out, merged_rf, ctx))
    rf = merged_rf
    for post_name, post in module.post:
        out, rf, post_rows = _walk_child(post_name, post, out, rf, name, depth, ctx)
        rows += post_rows
    return out, rf, [_block_row(name, module.kind, depth, tuple(shape), out, rf, rows)]


def _parallel(module: Parallel, shape, rf, name, depth, ctx, unnamed: bool = False):
    outs, rfs, rows, names = [], [], [], []
    for index, (branch_name, branch) in enumerate(module.branches):
        out, branch_rf, branch_rows = _walk_child(branch_name, branch, shape, rf, name, depth, ctx)
        outs.append(out)
        rfs.append(branch_rf)
        rows += branch_rows
        names.append(branch_name or f"branch {index + 1}")
    where = name or "the input"
    if module.merge == "concat":
        for other, other_name in zip(outs[1:], names[1:]):
            if tuple(other[1:]) != tuple(outs[0][1:]):
                raise InputError(
                    f"cannot concatenate channels at {where}: {names[0]} gives {format_shape(outs[0])}, "
                    f"{other_name} gives {format_shape(other)} (all but the channels must agree)"
                )
        out = (sum(o[0] for o in outs),) + tuple(outs[0][1:])
    else:
        _check_same(outs, names, where)
        out = outs[0]
    merged_rf = None
    if all(r is not None for r in rfs):
        merged_rf, misaligned = rf_union(rfs)
        if misaligned:
            ctx.warnings.append(f"{where}: branch receptive fields are misaligned; the union is shown")
    merge_name = _join(name, module.merge)
    if unnamed:  # named after what its branches share (Inception-E's branch3x3_2a, _2b: branch3x3_2.concat)
        # names, not paths: the character-wise prefix is the one meant
        shared = os.path.commonprefix([n for n, _ in module.branches]).rstrip("_.")  # noqa: RUF071
        merge_name = _join(_join(name, shared) if shared else name, module.merge)  # unnamed branches: the block's
    rows.append(_merge_row(merge_name, module.merge, depth + 1, outs, out, merged_rf, ctx))
    return out, merged_rf, [_block_row(name, module.kind, depth, tuple(shape), out, merged_rf, rows)]


def _gate(module: Gate, shape, rf, name, depth, ctx):
    gate_out, _, rows = _walk_children(module.gate, shape, rf, name, depth, ctx)
    if gate_out[0] != shape[0] or any(g != 1 for g in gate_out[1:]):
        raise InputError(
            f"the gate at {name} gives {format_shape(gate_out)}; "
            f"it must be {format_shape((shape[0],) + (1,) * (len(shape) - 1))} "
            f"to scale {format_shape(shape)}"
        )
    rows.append(_merge_row(_join(name, "scale"), "mul", depth + 1, [shape, gate_out], tuple(shape), rf, ctx))
    return tuple(shape), rf, [_block_row(name, module.kind, depth, tuple(shape), tuple(shape), rf, rows)]


def _check_channel_axis(layer, shape: tuple) -> None:
    """A network's spatial layer reads C×spatial: a shape of spatial sizes only (``32x32`` into a
    2-d conv) would count no parameters and follow the receptive field along the wrong axes."""
    rank = getattr(layer, "rank", None)
    if not isinstance(rank, int) or len(shape) != rank:
        return
    from convcalc.network.declared import declared

    said = declared(layer)
    if said is not None and said[0] == "in_channels":
        spatial = shape[1:] + (shape[-1],) if shape[0] == said[1] else shape  # 3x32 meant as 3x32x32
        example = format_shape((said[1], *spatial))
        because = f", and this one declares {said[0]}={said[1]}"
    else:
        example, because = f"{format_shape((3, *shape))} (or {format_shape((1, *shape))} for one channel)", ""
    names = "×".join(axis_names(rank))
    raise InputError(f"its input has no channel axis: a {rank}-d layer in a network reads C×{names} ({rank + 1} "
                     f"numbers){because}; give the input with its channels, e.g. {example}")


def walk(network: Network, input_shape: tuple | None = None, *, batch: int = 1,
         bytes_per_element: int = 4) -> NetworkReport:
    """Walk ``network`` on ``input_shape`` (C, *spatial; default the network's own input)."""
    shape = tuple(input_shape or network.input)
    ctx = _Walk(batch=batch, bytes_per_element=bytes_per_element)
    rank = len(shape) - 1
    rf = tuple(RFState() for _ in range(rank)) if rank >= 1 else None
    out, _, rows = _walk(network.body, shape, rf, "", -1, ctx)
    totals = _totals(rows, batch, bytes_per_element)
    return NetworkReport(network.name, shape, out, tuple(rows), totals, batch, tuple(ctx.warnings), network.source)


def _totals(rows: list[Row], batch: int, bytes_per_element: int) -> Totals:
    params, buffers, macs, other, activation = _sum_rows(_flatten(rows, None))
    return Totals(params.total, params.total, buffers, macs, other, activation, bytes_per_element)


def describe_rf(rf: tuple[RFState, ...] | None) -> str:
    if rf is None:
        return "all"
    sizes = "x".join(format_dim(_num(s.size)) for s in rf)
    return sizes


def _num(value: Exact):
    return value.numerator if value.denominator == 1 else value
