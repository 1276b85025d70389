"""Whole-network reports (``convcalc arch``) as a table: plain text, rich, JSON, CSV, Markdown.

The engine (``convcalc.network.walk``) computes; this module only chooses which rows to show
(``--depth`` folding by name), formats numbers and lays the table out.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from typing import Any

from convcalc.dims import Dim, format_dim, is_symbolic
from convcalc.network.conventions import CATEGORIES, Headline, other_work
from convcalc.network.tools import ToolCount
from convcalc.network.training import TrainingReport
from convcalc.network.walk import NetworkReport, RFState, Row
from convcalc.notation import format_shape
from convcalc.render.fit import records
from convcalc.render.table import column_widths, plain_table
from convcalc.render.values import count, jsonable, nbytes

SCHEMA = "convcalc/arch/v1"
WIDTH = 80

#: Short names of the blocks (not layer types: those carry their ``label`` in their descriptor).
_SHORT_BLOCKS = {"SqueezeExcitation": "SE", "Residual": "residual", "Conv2dNormActivation": "ConvNormAct",
                 "DepthwiseSeparable": "DWSeparable"}


@cache
def _short_types() -> tuple[tuple[str, str], ...]:
    """(report type prefix, short label) of every layer type with a label, then of the blocks;
    longer prefixes first, so that one never shortens the start of another."""
    from convcalc.layers.descriptor import descriptors

    labels = dict(d.label for d in descriptors() if d.label is not None)
    return tuple(sorted({**labels, **_SHORT_BLOCKS}.items(), key=lambda item: -len(item[0])))


@dataclass(frozen=True)
class ShownRow:
    """One row as shown: a layer, or a folded group of layers with their sums."""

    name: str
    type: str
    input: tuple
    output: tuple
    params: Dim
    buffers: Dim
    macs: Dim
    other_ops: tuple[tuple[str, Dim], ...]
    activation: Dim
    rf: tuple[RFState, ...] | None
    folded: int = 1  # how many layers this row stands for
    layers: tuple[str, ...] = ()  # their names, when folded


@dataclass(frozen=True)
class ArchView:
    """Everything the renderers print; built by the CLI from the engine's results."""

    report: NetworkReport
    rows: tuple[ShownRow, ...]
    dtype: str
    headline: Headline | None = None
    tool: ToolCount | None = None
    training: TrainingReport | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    channels_last: bool = False  # a Keras model: show C x H x W as H x W x C, as Keras does


def shape_text(view: ArchView, shape) -> str:
    """A shape as the view shows it: (C, *spatial) turned to (*spatial, C) for a channels-last model."""
    shape = tuple(shape)
    if view.channels_last and len(shape) >= 2:
        shape = shape[1:] + shape[:1]
    return format_shape(shape)


def fold(report: NetworkReport, depth: int | None = None) -> list[ShownRow]:
    """Every layer, or (``depth`` N) the blocks N levels down the module tree folded into one row
    each with their sums (``NetworkReport.flat``: ``--depth 1`` on ResNet shows conv1 … layer1,
    layer2 … fc); ``--depth 0`` is the whole network in one row."""
    if depth == 0:
        rows = report.leaves()
        return [_folded("", "network", rows[0].input if rows else report.input, report.output, rows,
                        rows[-1].rf if rows else None)]
    return [_shown(row) for row in report.flat(depth)]


def block_kind(row: Row) -> str:
    """What a folded block is: its kind (``Bottleneck``, ``DenseBlock``), or for a plain Sequential of
    blocks of one kind, how many of which (``3×Bottleneck``)."""
    if row.type == "Sequential" and row.children and all(child.children for child in row.children):
        kinds = {child.type for child in row.children}
        if len(kinds) == 1:
            return f"{len(row.children)}×{kinds.pop()}"
    return row.type


def _shown(row: Row) -> ShownRow:
    if not row.children:
        return ShownRow(row.name, row.type, row.input, row.output, row.params.total, row.buffers, row.macs,
                        row.other_ops, row.activation, row.rf)
    leaves = _flatten_leaves(row)
    return _folded(row.name, block_kind(row), row.input, row.output, leaves, row.rf)


def _flatten_leaves(row: Row) -> list[Row]:
    if not row.children:
        return [row]
    return [leaf for child in row.children for leaf in _flatten_leaves(child)]


def _folded(name: str, kind: str, shape_in, shape_out, rows: list[Row], rf) -> ShownRow:
    other: dict[str, Dim] = {}
    for r in rows:
        for op, n in r.other_ops:
            other[op] = other.get(op, 0) + n
    return ShownRow(name, kind, shape_in, shape_out, sum((r.params.total for r in rows), 0),
                    sum((r.buffers for r in rows), 0), sum((r.macs for r in rows), 0), tuple(other.items()),
                    sum((r.activation for r in rows), 0), rf, len(rows), tuple(r.name for r in rows))


# --- numbers ---------------------------------------------------------------------------------

def short(value: Any) -> str:
    """``70.3M`` style: 3 significant digits with K/M/G/T; exact below 10,000."""
    if value is None:
        return "—"
    if is_symbolic(value) or isinstance(value, Fraction):
        return count(value)
    n = int(value)
    if abs(n) < 10_000:
        return f"{n:,}"
    for unit, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= scale:
            v = n / scale
            text = f"{v:.3g}" if v < 1000 else f"{v:.0f}"
            return f"{text}{unit}"
    return str(n)  # pragma: no cover


def short_bytes(value: Any) -> str:
    if value is None or is_symbolic(value):
        return nbytes(value)
    size = float(value)
    for unit in ("B", "K", "M", "G", "T"):
        if size < 1024 or unit == "T":
            if unit == "B":
                return f"{int(size)}B"
            return f"{size:.3g}{unit}" if size < 100 else f"{size:.0f}{unit}"
        size /= 1024
    return str(value)  # pragma: no cover


def _frac(value: Fraction | int) -> str:
    if type(value) is int:
        return str(value)
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"
    return format_dim(value)


def _range(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}–{high}"


def _axes(texts: list[str]) -> str:
    return texts[0] if len(set(texts)) == 1 else "x".join(texts)


def rf_parts(rf: tuple[RFState, ...] | None) -> tuple[str, str, str]:
    """Receptive field size, jump and start (centre of the first output unit), per axis.

    Where the exact support is known: the size is the span (a range "1–2" where it varies from
    unit to unit), followed by "(n read)" where a unit reads only some positions of its span, and
    the jump is the mean jump."""
    if rf is None:
        return "all", "—", "—"
    if all(s.support is not None and s.support.period == 1 and len(s.support.units[0]) == 1 for s in rf):
        # one interval a unit, moved by a constant jump (the common case): its span is all it reads
        spans = [s.support.units[0][0] for s in rf]  # type: ignore[union-attr]  # all known, just checked
        sizes = [str(hi - lo + 1) for lo, hi in spans]
        return _axes(sizes), _axes([_frac(s.jump) for s in rf]), _axes([_frac(s.start) for s in rf])
    sizes = [_range(*s.support.extents) if s.support is not None else _frac(s.size) for s in rf]
    size = _axes(sizes)
    if any(s.support is not None and (s.support.has_holes or s.support.reads != s.support.extents) for s in rf):
        reads = [_range(*s.support.reads) if s.support is not None else "?" for s in rf]
        size += f" ({_axes(reads)} read)"
    return size, _axes([_frac(s.jump) for s in rf]), _axes([_frac(s.start) for s in rf])


def rf_notes(rows) -> list[str]:
    """A note for each row where the receptive field starts to have holes or to vary between units
    (the rows below inherit it), saying what the RF column's numbers mean there."""
    notes = []
    before: tuple = ()
    plain: set[int] = set()  # RF tuples seen to be one interval a unit (relu, bn share their input's)
    for row in rows:
        if id(row.rf) in plain and before and not before[0] and all(p == 1 for p in before[1]):
            continue  # no holes and period 1, like the row before: nothing new to say
        axes = [] if row.rf is None else [s.support for s in row.rf]
        if row.rf is not None and all(s is not None and s.period == 1 and len(s.units[0]) == 1 for s in axes):
            plain.add(id(row.rf))
        holes = tuple(s is not None and s.has_holes for s in axes)
        periods = tuple(s.period if s is not None else 1 for s in axes)
        state = (any(holes), periods)
        if state == before:
            continue
        name = row.name or "(net)"
        if any(holes) and not (before and before[0]):
            spans = [_range(*s.extents) if s is not None else "?" for s in axes]
            reads = [_range(*s.reads) if s is not None else "?" for s in axes]
            notes.append(f"{name}: a unit reads {_axes(reads)} of the {_axes(spans)} input positions its receptive "
                         "field spans (dilation leaves holes; --json gives the offsets)")
        if any(p > 1 for p in periods) and (not before or before[1] != periods):
            jumps = _axes([str(s.mean_jump) if s is not None else "?" for s in axes])
            notes.append(f"{name}: the receptive field varies from unit to unit "
                         f"(period {_axes([str(p) for p in periods])} "
                         f"output units): sizes {_axes([_range(*s.extents) if s else '?' for s in axes])}, "
                         f"positions read {_axes([_range(*s.reads) if s else '?' for s in axes])}, "
                         f"mean jump {jumps}")
        before = state
    return notes


def global_field_note(rows) -> list[str]:
    """A note at the first layer of the walk (``rows``: the report's, folded or not) whose every
    output reads every input position (global self-attention): RF "all" from there on is the
    whole input, not a field the walk lost track of."""
    for row in rows:
        if row.report is not None and row.report.reads_whole_input:
            return [f"{row.name or '(net)'}: global attention — every output reads every input position, so from "
                    "here on the receptive field (RF all) is the whole input"]
        found = global_field_note(row.children)
        if found:
            return found
    return []


@cache  # a deep network repeats a few types
def short_type(kind: str) -> str:
    count_, times, base = kind.rpartition("×")  # a folded "3×Bottleneck"
    for long, abbrev in _short_types():
        if base.startswith(long):
            return count_ + times + abbrev + base[len(long):]
    return kind


# --- the table -------------------------------------------------------------------------------

HEADERS = ("name", "type", "output", "params", "MACs", "act", "RF", "jump", "start")
# With --training the receptive-field columns give way to the backward pass of each row.
TRAINING_HEADERS = ("name", "type", "output", "params", "MACs", "dX MACs", "dW MACs", "act")
RIGHT = {"params", "MACs", "act", "RF", "jump", "start", "dX MACs", "dW MACs"}


def headers(view: ArchView) -> tuple[str, ...]:
    return TRAINING_HEADERS if view.training else HEADERS


def backward_macs(view: ArchView) -> list[tuple[Dim, Dim]]:
    """(dX, dW) MACs of each shown row: its layers' backward passes added up."""
    if not view.training:
        return [(0, 0)] * len(view.rows)
    per_layer: dict[str, tuple[Dim, Dim]] = {}
    for b in view.training.rows:
        dx, dw = per_layer.get(b.name, (0, 0))
        per_layer[b.name] = (dx + b.dx_macs, dw + b.dw_macs)
    sums = []
    for row in view.rows:
        pairs = [per_layer.get(name, (0, 0)) for name in (row.layers or (row.name,))]
        sums.append((sum((p[0] for p in pairs), 0), sum((p[1] for p in pairs), 0)))
    return sums


def table_cells(view: ArchView, wide: bool) -> list[list[str]]:
    bpe = view.report.totals.bytes_per_element
    number = count if wide else short
    cells = []
    rf_texts: dict[int, tuple[str, str, str]] = {}  # a relu or bn shares its input's RF tuple: one text
    for row, (dx, dw) in zip(view.rows, backward_macs(view)):
        rf_text = rf_texts.get(id(row.rf))
        if rf_text is None:
            rf_text = rf_texts[id(row.rf)] = rf_parts(row.rf)
        size, jump, start = rf_text
        kind = row.type if wide else short_type(row.type)
        if row.folded > 1 and wide:
            kind = f"{kind} ({row.folded} layers)"
        act = row.activation * bpe
        act_text = nbytes(act) if wide else short_bytes(act)
        head = [row.name or "(net)", kind, shape_text(view, row.output), number(row.params), number(row.macs)]
        if view.training:
            cells.append(head + [number(dx), number(dw), act_text])
        else:
            cells.append(head + [act_text, size, jump, start])
    return cells


def shorten_name(name: str, width: int) -> str:
    """A dotted name cut to ``width`` from the left, its end kept (``…1.0.downsample.0``): the last
    parts say what a row is, the rows above say where; a cut word fragment before a dot is dropped."""
    if len(name) <= width:
        return name
    tail = name[len(name) - (width - 1):]
    fragment, dot, rest = tail.partition(".")
    if dot and rest and len(fragment) <= 3 and not fragment.isdigit():
        tail = rest
    return "…" + tail


def shorten_names(names: list[str], width: int) -> list[str]:
    """Each name cut to ``width`` (:func:`shorten_name`); where two different names would look
    alike (``…branch1x1.conv`` under Mixed_5b and Mixed_5c) both keep their first part instead,
    the cut in the middle (``Mixed_5b…1x1.conv``)."""
    short = [shorten_name(name, width) for name in names]
    owners: dict[str, set[str]] = {}
    for name, cut in zip(names, short):
        owners.setdefault(cut, set()).add(name)
    return [_cut_middle(name, width) if len(owners[cut]) > 1 else cut for name, cut in zip(names, short)]


def _cut_middle(name: str, width: int) -> str:
    """``name`` cut to ``width`` keeping its first dotted part (at most half the width) and its end."""
    if len(name) <= width:
        return name
    head = name.split(".", 1)[0][: max(1, width // 2)]
    return head + "…" + name[len(name) - (width - len(head) - 1):]


MIN_NAME = 16
DROPPABLE = ("start",)  # left out, in this order, when names would get shorter than MIN_NAME


def layout(view: ArchView, wide: bool, width: int = WIDTH) -> tuple[list[list[str]], tuple[str, ...], list[str]]:
    """The table's cells and columns fitted to ``width``: names give way first (their ends stay
    readable), then the receptive-field start column; and a note saying what was left out."""
    cells, columns = table_cells(view, wide), headers(view)
    if wide:
        return cells, columns, []
    dropped = []
    for column in DROPPABLE:
        widths = column_widths(columns, cells)
        if sum(widths[1:]) + 2 * (len(widths) - 1) + min(MIN_NAME, widths[0]) <= width or column not in columns:
            break
        index = columns.index(column)
        cells = [c[:index] + c[index + 1:] for c in cells]
        columns = columns[:index] + columns[index + 1:]
        dropped.append(column)
    widths = column_widths(columns, cells)
    excess = sum(widths) + 2 * (len(widths) - 1) - width
    if excess > 0:
        name_width = max(12, widths[0] - excess)
        for c, name in zip(cells, shorten_names([c[0] for c in cells], name_width)):
            c[0] = name
    notes = [f"the {', '.join(dropped)} column is left out to fit {width} columns (--wide, --csv and --json show it)"] \
        if dropped else []
    return cells, columns, notes


def _text_table(cells: list[list[str]], columns: tuple[str, ...]) -> str:
    return "\n".join(plain_table(columns, cells, RIGHT))


def summary_lines(view: ArchView) -> list[tuple[str, str]]:
    """The totals block: label/value pairs, exact numbers."""
    r = view.report
    t = r.totals
    work = other_work(r)
    rows = [
        ("network", f"{r.name}" + (f" ({r.source})" if r.source else "")),
        ("input → output", f"{shape_text(view, r.input)} → {shape_text(view, r.output)}"
                           + (f" (batch {r.batch})" if r.batch != 1 else "")),
        ("parameters", f"{count(t.params)} (trainable {count(t.trainable)}, "
                       f"non-trainable {count(t.params - t.trainable)})"
                       + (f"; buffers {count(t.buffers)} (batch-norm running statistics, not parameters)"
                          if t.buffers else "")),
        ("MACs", f"{count(t.macs)} (conv + linear multiply-accumulates, bias excluded)"),
        ("FLOPs", f"{count(t.flops)} (= 2 × MACs)"),
        ("other work", ", ".join(f"{count(work[c])} {c}" for c in CATEGORIES if work.get(c)) or "none"),
        ("param memory", f"{nbytes(t.param_bytes)} ({view.dtype})"),
        ("activations", f"{count(t.activation_elements)} values, "
                        f"{nbytes(t.activation_bytes)} ({view.dtype}, every layer output)"),
    ]
    if view.headline and view.headline.included:
        h = view.headline
        rows.append(("counted ops", f"{count(h.value)} = MACs + " + " + ".join(h.included)
                     + " (other work as one op per element)"))
    if view.tool:
        tc = view.tool
        shown = f"{count(tc.value)} {tc.unit}" + (f' (printed "{tc.printed}")' if tc.printed else "")
        rows.append((f"as {tc.tool.replace('_thop', '-thop')}", f"{shown} = {tc.difference}"))
        rows.append(("  it counts", tc.rule))
        rows.append(("  checked", f"{tc.checked} on convcalc's torch.nn build, every layer a module [{tc.source}]"))
    if view.training:
        tr = view.training
        rows += [
            ("backward MACs", f"{count(tr.backward_macs)} (dX {count(tr.dx_macs)} + dW {count(tr.dw_macs)}; "
                              "no dX for the first layer)"),
            ("training step", f"{count(tr.step_macs)} MACs (forward + backward)"),
            ("training memory", f"{nbytes(tr.total_bytes)} = weights {nbytes(tr.param_bytes)} + gradients "
                                f"{nbytes(tr.gradient_bytes)} + "
                                + (f"{tr.optimizer} state {nbytes(tr.optimizer_bytes)}" if tr.optimizer_bytes
                                   else f"no optimizer state ({tr.optimizer})")
                                + f" + saved activations {nbytes(tr.saved_activation_bytes)} (the input and every "
                                  f"layer output)"),
        ]
    return rows


def _wrap(label: str, value: str, width: int) -> list[str]:
    import textwrap

    indent = 16
    lines = textwrap.wrap(value, width - indent) or [""]
    if len(label) >= indent:  # a long label gets a line of its own
        return [label] + [" " * indent + line for line in lines]
    return [f"{label:<{indent}}{lines[0]}"] + [" " * indent + more for more in lines[1:]]


def arch_text(view: ArchView, wide: bool = False) -> str:
    cells, columns, notes = layout(view, wide)
    out = [_text_table(cells, columns), ""]
    for label, value in summary_lines(view):
        out += _wrap(label, value, WIDTH if not wide else 10_000)
    import textwrap

    for line in _footer(view, notes):
        out += textwrap.wrap(line, WIDTH, subsequent_indent="  ") if not wide and line else [line]
    return "\n".join(out)


def _footer(view: ArchView, layout_notes: list[str] = ()) -> list[str]:
    act = "act: activation memory of the output"
    if any(row.folded > 1 for row in view.rows):
        act += " (of a folded block: all its layers' outputs; its params and MACs are sums too)"
    if view.training:
        legend = (f"{act}; dX, dW MACs: the backward pass (gradient with respect to the layer's input, to its "
                  "weights). Without --training the table shows receptive fields instead.")
    else:
        legend = (f"{act}; RF, jump, start: receptive field size, effective stride and centre of the first output "
                  "unit (input pixels).")
    lines = ["", legend]
    if not view.training:
        layout_notes = (*layout_notes, *rf_notes(view.rows), *global_field_note(view.report.rows))
    lines += [f"note: {note}" for note in (*layout_notes, *view.notes)]
    lines += [f"warning: {warning}" for warning in view.report.warnings]
    return lines


def arch_rich(view: ArchView, wide: bool = False, width: int = WIDTH):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = f"{view.report.name}: {shape_text(view, view.report.input)} → {shape_text(view, view.report.output)}"
    cells_list, columns, notes = layout(view, wide, width)
    widths = column_widths(columns, cells_list)
    if not wide and sum(widths) + 2 * (len(widths) - 1) > width:  # too narrow for a table: one record per row
        return Group(*narrow_records(view, title, width), Text(""), _totals(view),
                     *_footer_texts(view, ["too narrow for the table: one layer per record (--csv, --json or a wider "
                                           "terminal give the table)"]))
    table = Table(title=title, box=None, header_style="bold", pad_edge=False, expand=False)
    for header in columns:
        justify = "right" if header in RIGHT else "left"
        table.add_column(header, justify=justify, no_wrap=True,
                         overflow="ellipsis" if header == "name" else "fold", ratio=None)
    for cells, row in zip(cells_list, view.rows):
        style = "dim" if row.type in ("relu", "dropout", "flatten", "identity") else None
        table.add_row(*cells, style=style)
    return Group(table, Text(""), _totals(view), *_footer_texts(view, notes))


def _totals(view: ArchView):
    from rich.table import Table

    totals = Table.grid(padding=(0, 2))
    totals.add_column(style="bold", no_wrap=True)
    totals.add_column()
    for label, value in summary_lines(view):
        totals.add_row(label, value)
    return totals


def _footer_texts(view: ArchView, notes: list[str]) -> list:
    from rich.text import Text

    return [Text(line, style="yellow" if line.startswith("warning") else "dim")
            for line in _footer(view, notes) if line]


def narrow_records(view: ArchView, title: str, width: int) -> list:
    """The table for a terminal too narrow for its columns: per layer its name, then
    ``column value`` pairs that wrap between pairs (never inside a number)."""
    from rich.text import Text

    cells_list, columns = table_cells(view, False), headers(view)
    styles = ["dim" if row.type in ("relu", "dropout", "flatten", "identity") else None for row in view.rows]
    return [Text(title, style="bold"), *records(columns, cells_list, width, styles)]


def arch_csv(view: ArchView) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    training = ["dx_macs", "dw_macs"] if view.training else []
    writer.writerow(["name", "type", "output", "params", "macs", "activation_bytes", "rf_size", "rf_jump", "rf_start"]
                    + training)
    bpe = view.report.totals.bytes_per_element
    for row, (dx, dw) in zip(view.rows, backward_macs(view)):
        size, jump, start = rf_parts(row.rf)
        writer.writerow([row.name, row.type, shape_text(view, row.output), jsonable(row.params), jsonable(row.macs),
                         jsonable(row.activation * bpe), size, jump, start]
                        + ([jsonable(dx), jsonable(dw)] if view.training else []))
    return buffer.getvalue().rstrip("\n")


def arch_markdown(view: ArchView) -> str:
    cells = table_cells(view, wide=True)
    columns = headers(view)
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---:" if h in RIGHT else "---" for h in columns) + "|"]
    for c in cells:
        lines.append("| " + " | ".join(v.replace("|", "\\|") for v in c) + " |")
    lines.append("")
    for label, value in summary_lines(view):
        lines.append(f"- **{label.strip()}**: {value}")
    lines += [line.replace("|", "\\|") for line in _footer(view)]
    return "\n".join(lines)


MAX_OFFSETS = 4096  # longer offset lists are left out (null) of --json


def _offsets(support, r: int):
    return support.offsets(r) if support.read(r) <= MAX_OFFSETS else None


def _rf_json(rf: tuple[RFState, ...] | None):
    """size (the span; the largest where units differ), jump (the mean jump), start (centre of unit 0).
    Where some axis has holes or varies from unit to unit (the support is not one interval moved by
    a constant jump), per axis: read (positions a unit reads; the most where units differ), first
    (unit 0's first input position) and offsets (unit 0's positions relative to it); and where units
    vary: period, size_range, read_range and, per axis, the units of one period (each unit's first
    position and offsets)."""
    if rf is None:
        return None
    sizes, jumps, starts = [], [], []
    known = plain = True  # every axis's support known; each one interval moved by a constant jump
    for s in rf:  # ints as they are (a long walk has hundreds of thousands), Fractions as "p/q"
        sizes.append(s.size if type(s.size) is int else jsonable(s.size))
        jumps.append(s.jump if type(s.jump) is int else jsonable(s.jump))
        starts.append(s.start if type(s.start) is int else jsonable(s.start))
        a = s.support
        if a is None:
            known = False
        elif a.period != 1 or len(a.units[0]) != 1:
            plain = False
    doc: dict[str, Any] = {"size": sizes, "jump": jumps, "start": starts}
    if not known or plain:
        return doc
    axes = [s.support for s in rf]
    doc["read"] = [a.reads[1] for a in axes]
    doc["first"] = [a.first(0) for a in axes]
    doc["offsets"] = [_offsets(a, 0) for a in axes]
    if any(a.varies for a in axes):
        doc["varies"] = [a.varies for a in axes]
        doc["period"] = [a.period for a in axes]
        doc["size_range"] = [list(a.extents) for a in axes]
        doc["read_range"] = [list(a.reads) for a in axes]
        doc["units"] = [[{"first": a.first(r), "offsets": _offsets(a, r)} for r in range(a.period)]
                        if a.period <= MAX_OFFSETS // 16 else None for a in axes]
    return doc


def _json_shape(shape) -> list:
    """A shape's sizes for JSON: ints as they are, formulas as text."""
    return [v if type(v) is int else jsonable(v) for v in shape]


def arch_dict(view: ArchView) -> dict[str, Any]:
    """The ``--json`` document (schema convcalc/arch/v1)."""
    r = view.report
    t = r.totals
    bpe = t.bytes_per_element
    layers = []
    number = jsonable  # each value's own type check first: most are ints, as they are
    rf_docs: dict[int, Any] = {}  # a layer that keeps its input's RF (relu, bn) shares its tuple: one document
    for row in view.rows:
        params, buffers, macs, activation = row.params, row.buffers, row.macs, row.activation
        rf = row.rf
        rf_doc = rf_docs.get(id(rf)) if rf is not None else None
        if rf_doc is None:
            rf_doc = rf_docs[id(rf)] = _rf_json(rf)
        layer = {
            "name": row.name, "type": row.type, "input": _json_shape(row.input), "output": _json_shape(row.output),
            "params": params if type(params) is int else number(params),
            "buffers": buffers if type(buffers) is int else number(buffers),
            "macs": macs if type(macs) is int else number(macs), "flops": number(2 * macs),
            "other_ops": {op: n if type(n) is int else number(n) for op, n in row.other_ops},
            "activation_elements": activation if type(activation) is int else number(activation),
            "activation_bytes": number(activation * bpe), "rf": rf_doc,
        }
        if row.folded > 1:
            layer["folded_layers"] = row.folded
        layers.append(layer)
    doc: dict[str, Any] = {
        "schema": SCHEMA, "name": r.name, "source": r.source, "input": jsonable(list(r.input)),
        "output": jsonable(list(r.output)), "batch": r.batch, "dtype": view.dtype, "layers": layers,
        "totals": {
            "params": jsonable(t.params), "trainable": jsonable(t.trainable),
            "non_trainable": jsonable(t.params - t.trainable), "buffers": jsonable(t.buffers),
            "macs": jsonable(t.macs), "flops": jsonable(t.flops), "other_ops": jsonable(t.other_ops),
            "other_work": jsonable(other_work(r)), "param_bytes": jsonable(t.param_bytes),
            "activation_elements": jsonable(t.activation_elements), "activation_bytes": jsonable(t.activation_bytes),
        },
        "warnings": list(r.warnings),
    }
    if view.notes:  # an imported model's notes (what the totals exclude, channels-last, --as keras)
        doc["notes"] = list(view.notes)
    if view.headline and view.headline.included:
        doc["count"] = {"included": ["macs", *view.headline.included], "value": jsonable(view.headline.value),
                        "parts": jsonable(view.headline.parts)}
    if view.tool:
        tc = view.tool
        doc["as"] = {"tool": tc.tool, "unit": tc.unit, "value": jsonable(tc.value), "rule": tc.rule,
                     "source": tc.source, "checked": tc.checked, "printed": tc.printed, "difference": tc.difference,
                     "parts": {k: jsonable(v) for k, v in tc.parts.items()}}
    if view.training:
        tr = view.training
        doc["training"] = {
            "optimizer": tr.optimizer, "forward_macs": jsonable(tr.forward_macs), "dx_macs": jsonable(tr.dx_macs),
            "dw_macs": jsonable(tr.dw_macs), "backward_macs": jsonable(tr.backward_macs),
            "step_macs": jsonable(tr.step_macs), "param_bytes": jsonable(tr.param_bytes),
            "gradient_bytes": jsonable(tr.gradient_bytes), "optimizer_bytes": jsonable(tr.optimizer_bytes),
            "saved_activation_bytes": jsonable(tr.saved_activation_bytes), "total_bytes": jsonable(tr.total_bytes),
            "layers": [{"name": b.name, "dx_macs": jsonable(b.dx_macs), "dw_macs": jsonable(b.dw_macs)}
                       for b in tr.rows],
        }
    return doc
