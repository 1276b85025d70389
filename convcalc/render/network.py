"""Whole-network reports (``convcalc arch``) as a table: plain text, rich, JSON, CSV, Markdown.

The engine (``convcalc.network.walk``) computes; this module only chooses which rows to show
(``--depth`` folding by name), formats numbers and lays the table out.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from convcalc.engine.dims import Dim, format_dim, is_symbolic
from convcalc.network.conventions import CATEGORIES, Headline, ToolCount, other_work
from convcalc.network.training import TrainingReport
from convcalc.network.walk import NetworkReport, RFState, Row
from convcalc.notation import format_shape
from convcalc.render.values import count, jsonable, nbytes

SCHEMA = "convcalc/arch/v1"
WIDTH = 80

DTYPE_NAMES = {8: "float64", 4: "float32", 2: "float16", 1: "int8"}

_SHORT_TYPES = {"adaptive-avgpool": "adaptavg", "adaptive-maxpool": "adaptmax", "global-avgpool": "gap",
                "global-maxpool": "gmp", "conv-transpose": "convT", "batchnorm": "bn", "groupnorm": "gn",
                "layernorm": "ln", "channel-shuffle": "shuffle", "upsample-": "up-", "SqueezeExcitation": "SE",
                "depthwise-separable": "dwsep", "Sequential": "seq", "Residual": "residual"}


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


def _prefix(name: str, depth: int) -> str:
    return ".".join(name.split(".")[:depth])


def fold(report: NetworkReport, depth: int | None = None) -> list[ShownRow]:
    """Every layer, or (``depth`` N) layers whose names have more than N parts folded into their
    ancestor of N parts (``--depth 1`` on ResNet shows conv1 … layer1, layer2 … fc)."""
    leaves = report.leaves()
    if depth is None:
        return [_shown([row], row.name) for row in leaves]
    groups: list[tuple[str, list[Row]]] = []
    for row in leaves:
        key = _prefix(row.name, depth)
        if groups and groups[-1][0] == key:
            groups[-1][1].append(row)
        else:
            groups.append((key, [row]))
    return [_shown(rows, key) for key, rows in groups]


def _shown(rows: list[Row], name: str) -> ShownRow:
    if len(rows) == 1 and rows[0].name == name:
        r = rows[0]
        return ShownRow(r.name, r.type, r.input, r.output, r.params.total, r.buffers, r.macs, r.other_ops,
                        r.activation, r.rf)
    other: dict[str, Dim] = {}
    for r in rows:
        for op, n in r.other_ops:
            other[op] = other.get(op, 0) + n
    return ShownRow(name, "block", rows[0].input, rows[-1].output, sum((r.params.total for r in rows), 0),
                    sum((r.buffers for r in rows), 0), sum((r.macs for r in rows), 0), tuple(other.items()),
                    sum((r.activation for r in rows), 0), rows[-1].rf, len(rows))


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


def _frac(value: Fraction) -> str:
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"
    return format_dim(value)


def rf_parts(rf: tuple[RFState, ...] | None) -> tuple[str, str, str]:
    """Receptive field size, jump and start (centre of the first output unit), per axis."""
    if rf is None:
        return "all", "—", "—"

    def axes(values):
        texts = [_frac(v) for v in values]
        return texts[0] if len(set(texts)) == 1 else "x".join(texts)

    return axes([s.size for s in rf]), axes([s.jump for s in rf]), axes([s.start for s in rf])


def short_type(kind: str) -> str:
    for long, abbrev in _SHORT_TYPES.items():
        if kind.startswith(long):
            return abbrev + kind[len(long):]
    return kind


# --- the table -------------------------------------------------------------------------------

HEADERS = ("name", "type", "output", "params", "MACs", "act", "RF", "jump", "start")
RIGHT = {"params", "MACs", "act", "RF", "jump", "start"}


def table_cells(view: ArchView, wide: bool) -> list[list[str]]:
    bpe = view.report.totals.bytes_per_element
    cells = []
    for row in view.rows:
        size, jump, start = rf_parts(row.rf)
        kind = row.type if wide else short_type(row.type)
        if row.folded > 1:
            kind = f"{row.folded} layers" if wide else f"({row.folded})"
        act = row.activation * bpe
        cells.append([
            row.name or "(net)", kind, format_shape(row.output),
            count(row.params) if wide else short(row.params),
            count(row.macs) if wide else short(row.macs),
            nbytes(act) if wide else short_bytes(act),
            size, jump, start,
        ])
    return cells


def _middle_truncate(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    keep = width - 1
    head = keep // 3
    return text[:head] + "…" + text[len(text) - (keep - head):]


def text_table(view: ArchView, wide: bool = False, width: int = WIDTH) -> str:
    cells = table_cells(view, wide)
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(HEADERS)]
    total = sum(widths) + 2 * (len(widths) - 1)
    if not wide and total > width:
        # Names give way first (middle-truncated, the ends stay readable).
        widths[0] = max(12, widths[0] - (total - width))
        for c in cells:
            c[0] = _middle_truncate(c[0], widths[0])
    lines = []

    def line(values):
        parts = [v.rjust(w) if h in RIGHT else v.ljust(w) for v, w, h in zip(values, widths, HEADERS)]
        lines.append("  ".join(parts).rstrip())

    line(HEADERS)
    lines.append("  ".join("-" * w for w in widths))
    for c in cells:
        line(c)
    return "\n".join(lines)


def summary_lines(view: ArchView) -> list[tuple[str, str]]:
    """The totals block: label/value pairs, exact numbers."""
    r = view.report
    t = r.totals
    work = other_work(r)
    rows = [
        ("network", f"{r.name}" + (f" ({r.source})" if r.source else "")),
        ("input → output", f"{format_shape(r.input)} → {format_shape(r.output)}" + (f" (batch {r.batch})" if r.batch != 1 else "")),
        ("parameters", f"{count(t.params)} (trainable {count(t.trainable)}, non-trainable {count(t.params - t.trainable)})"
                       + (f"; buffers {count(t.buffers)} (batch-norm running statistics, not parameters)" if t.buffers else "")),
        ("MACs", f"{count(t.macs)} (conv + linear multiply-accumulates, bias excluded)"),
        ("FLOPs", f"{count(t.flops)} (= 2 × MACs)"),
        ("other work", ", ".join(f"{count(work[c])} {c}" for c in CATEGORIES if work.get(c)) or "none"),
        ("param memory", f"{nbytes(t.param_bytes)} ({view.dtype})"),
        ("activations", f"{count(t.activation_elements)} values, {nbytes(t.activation_bytes)} ({view.dtype}, every layer output)"),
    ]
    if view.headline and view.headline.included:
        h = view.headline
        rows.append(("counted ops", f"{count(h.value)} = MACs + " + " + ".join(h.included)
                     + " (other work as one op per element)"))
    if view.tool:
        tc = view.tool
        rows.append((f"as {tc.tool}", f"{count(tc.value)} {tc.unit}: {tc.difference}"))
        rows.append(("  rule", f"{tc.rule} [{tc.source}]"))
    if view.training:
        tr = view.training
        rows += [
            ("backward MACs", f"{count(tr.backward_macs)} (dX {count(tr.dx_macs)} + dW {count(tr.dw_macs)}; no dX for the first layer)"),
            ("training step", f"{count(tr.step_macs)} MACs (forward + backward)"),
            ("training memory", f"{nbytes(tr.total_bytes)} = weights {nbytes(tr.param_bytes)} + gradients "
                                f"{nbytes(tr.gradient_bytes)} + {tr.optimizer} state {nbytes(tr.optimizer_bytes)} + saved "
                                f"activations {nbytes(tr.saved_activation_bytes)}"),
        ]
    return rows


def _wrap(label: str, value: str, width: int) -> list[str]:
    import textwrap

    indent = 16
    lines = textwrap.wrap(value, width - indent) or [""]
    return [f"{label:<{indent}}{lines[0]}"] + [" " * indent + more for more in lines[1:]]


def arch_text(view: ArchView, wide: bool = False) -> str:
    out = [text_table(view, wide), ""]
    for label, value in summary_lines(view):
        out += _wrap(label, value, WIDTH if not wide else 10_000)
    import textwrap

    for line in _footer(view):
        out += textwrap.wrap(line, WIDTH, subsequent_indent="  ") if not wide and line else [line]
    return "\n".join(out)


def _footer(view: ArchView) -> list[str]:
    lines = ["", "act: activation memory of the output; RF, jump, start: receptive field size, "
                 "effective stride and centre of the first output unit (input pixels)."]
    lines += [f"note: {note}" for note in view.notes]
    lines += [f"warning: {warning}" for warning in view.report.warnings]
    return lines


def arch_rich(view: ArchView, wide: bool = False):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{view.report.name}: {format_shape(view.report.input)} → {format_shape(view.report.output)}",
                  box=None, header_style="bold", pad_edge=False, expand=False)
    for header in HEADERS:
        justify = "right" if header in RIGHT else "left"
        table.add_column(header, justify=justify, no_wrap=True,
                         overflow="ellipsis" if header == "name" else "fold", ratio=None)
    for cells, row in zip(table_cells(view, wide), view.rows):
        style = "dim" if row.type in ("relu", "dropout", "flatten", "identity") else None
        table.add_row(*cells, style=style)
    totals = Table.grid(padding=(0, 2))
    totals.add_column(style="bold")
    totals.add_column()
    for label, value in summary_lines(view):
        totals.add_row(label, value)
    parts = [table, Text(""), totals]
    for line in _footer(view):
        if line:
            parts.append(Text(line, style="yellow" if line.startswith("warning") else "dim"))
    return Group(*parts)


def arch_csv(view: ArchView) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "type", "output", "params", "macs", "activation_bytes", "rf_size", "rf_jump", "rf_start"])
    bpe = view.report.totals.bytes_per_element
    for row in view.rows:
        size, jump, start = rf_parts(row.rf)
        writer.writerow([row.name, row.type, format_shape(row.output), jsonable(row.params), jsonable(row.macs),
                         jsonable(row.activation * bpe), size, jump, start])
    return buffer.getvalue().rstrip("\n")


def arch_markdown(view: ArchView) -> str:
    cells = table_cells(view, wide=True)
    lines = ["| " + " | ".join(HEADERS) + " |",
             "|" + "|".join("---:" if h in RIGHT else "---" for h in HEADERS) + "|"]
    for c in cells:
        lines.append("| " + " | ".join(v.replace("|", "\\|") for v in c) + " |")
    lines.append("")
    for label, value in summary_lines(view):
        lines.append(f"- **{label.strip()}**: {value}")
    return "\n".join(lines)


def _rf_json(rf: tuple[RFState, ...] | None):
    if rf is None:
        return None
    return {"size": [jsonable(s.size) for s in rf], "jump": [jsonable(s.jump) for s in rf],
            "start": [jsonable(s.start) for s in rf]}


def arch_dict(view: ArchView) -> dict[str, Any]:
    """The ``--json`` document (schema convcalc/arch/v1)."""
    r = view.report
    t = r.totals
    bpe = t.bytes_per_element
    layers = []
    for row in view.rows:
        layers.append({
            "name": row.name, "type": row.type, "input": jsonable(list(row.input)), "output": jsonable(list(row.output)),
            "params": jsonable(row.params), "buffers": jsonable(row.buffers), "macs": jsonable(row.macs),
            "flops": jsonable(2 * row.macs), "other_ops": jsonable(dict(row.other_ops)),
            "activation_elements": jsonable(row.activation), "activation_bytes": jsonable(row.activation * bpe),
            "rf": _rf_json(row.rf), **({"folded_layers": row.folded} if row.folded > 1 else {}),
        })
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
    if view.headline and view.headline.included:
        doc["count"] = {"included": ["macs", *view.headline.included], "value": jsonable(view.headline.value),
                        "parts": jsonable(view.headline.parts)}
    if view.tool:
        tc = view.tool
        doc["as"] = {"tool": tc.tool, "unit": tc.unit, "value": jsonable(tc.value), "rule": tc.rule,
                     "source": tc.source, "difference": tc.difference}
    if view.training:
        tr = view.training
        doc["training"] = {
            "optimizer": tr.optimizer, "forward_macs": jsonable(tr.forward_macs), "dx_macs": jsonable(tr.dx_macs),
            "dw_macs": jsonable(tr.dw_macs), "backward_macs": jsonable(tr.backward_macs),
            "step_macs": jsonable(tr.step_macs), "param_bytes": jsonable(tr.param_bytes),
            "gradient_bytes": jsonable(tr.gradient_bytes), "optimizer_bytes": jsonable(tr.optimizer_bytes),
            "saved_activation_bytes": jsonable(tr.saved_activation_bytes), "total_bytes": jsonable(tr.total_bytes),
            "layers": [{"name": b.name, "dx_macs": jsonable(b.dx_macs), "dw_macs": jsonable(b.dw_macs)} for b in tr.rows],
        }
    return doc


def zoo_list_text(entries, width: int = 80) -> str:
    """One line per network (name and source), its summary wrapped beneath: fits ``width`` columns."""
    import textwrap

    name_width = max((len(e.name) for e in entries), default=4)
    lines = []
    for e in entries:
        head = textwrap.wrap(f"{e.name:<{name_width}}  {e.source}", width, subsequent_indent=" " * (name_width + 2))
        lines.extend(head)
        lines.extend(textwrap.wrap(e.summary, width, initial_indent=" " * (name_width + 4),
                                   subsequent_indent=" " * (name_width + 4)))
    return "\n".join(lines)


def zoo_list_csv(entries) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "source", "summary"])
    writer.writerows([e.name, e.source, e.summary] for e in entries)
    return buffer.getvalue().rstrip("\n")
