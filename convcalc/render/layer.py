"""Single-layer reports (``convcalc shape``) as rows, plain text, rich, JSON, CSV, Markdown."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from convcalc.dims import format_dim
from convcalc.engine.report import LayerReport
from convcalc.layers.base import rf_stride_text
from convcalc.notation import Notation, format_shape
from convcalc.render.values import count, jsonable, nbytes

SCHEMA = "convcalc/shape/v1"


def other_work_text(report: LayerReport) -> str:
    return ", ".join(f"{count(n)} {name}" for name, n in report.other_ops) or "none"


def rf_text(report: LayerReport) -> str:
    if report.rf is None:
        return "the whole input (every output reads every input)"
    kernel = "x".join(format_dim(a.kernel) for a in report.rf)
    stride = "x".join(rf_stride_text(a.stride) for a in report.rf)
    pad = "x".join(format_dim(a.pad) for a in report.rf)
    return f"kernel {kernel}, stride {stride}, left pad {pad}"


def summary_rows(report: LayerReport, notation: Notation) -> list[tuple[str, str]]:
    """The label/value pairs every human format shows, in order."""
    rows = [("op", report.op), ("input", format_shape(report.input, notation)),
            ("output", format_shape(report.output, notation))]
    if report.params is not None:
        p = report.params
        detail = f" (weight {count(p.weight)} + bias {count(p.bias)})" if p.bias != 0 else ""
        rows.append(("parameters", f"{count(p.total)}{detail}"))
    else:
        rows.append(("parameters", "— (needs input channels)"))
    rows.append(("MACs", count(report.macs)))
    rows.append(("FLOPs", f"{count(report.flops)} (2 × MACs, bias not included)" if report.flops is not None else "—"))
    rows.append(("other work", other_work_text(report)))
    rows.append(("activation", f"{count(report.activation_elements)} values, {nbytes(report.activation_bytes)} "
                               f"at {report.bytes_per_element} B each"))
    rows.append(("receptive field", rf_text(report)))
    for i, part in enumerate(report.parts):
        rows.append((f"part {i + 1}", f"{part.op} {format_shape(part.output, notation)}: "
                                      f"{count(part.params.total)} params, {count(part.macs)} MACs"))
    if report.comparison:
        c = report.comparison
        rows.append(("standard conv", f"{count(c['standard_params'])} params, {count(c['standard_macs'])} MACs"))
        ratio = c["macs_ratio"]
        approx = f" ≈ {float(ratio):.4f}" if isinstance(ratio, Fraction) else ""
        rows.append(("cost ratio", f"{count(ratio)}{approx} = {c['formula']}"))
    return rows


def _as_is(value: Any) -> Any:
    return value


def _number(value: Any) -> Any:
    return value if type(value) is int else jsonable(value)


def shape_dict(report: LayerReport, notation: Notation, *, raw: bool = False) -> dict[str, Any]:
    """The ``--json`` document (schema convcalc/shape/v1). ``raw``: shapes, receptive fields and
    hyperparameters as the report holds them (tuples, Fractions), for an encoder whose
    ``default`` is :func:`jsonable` (a batch encodes thousands: converting first costs twice)."""
    params, elements = report.params, report.activation_elements
    as_json = _as_is if raw else jsonable
    doc: dict[str, Any] = {  # ints (most values) as they are; a batch builds one such document a line
        "schema": SCHEMA,
        "op": report.op,
        "input": as_json(report.input),
        "output": as_json(report.output),
        "output_text": format_shape(report.output, notation),
        "params": None if params is None else {
            "weight": _number(params.weight), "bias": _number(params.bias), "total": _number(params.total)},
        "macs": _number(report.macs),
        "flops": _number(report.flops),
        "other_ops": {name.replace(" ", "_"): _number(n) for name, n in report.other_ops},
        "memory": {"output_elements": _number(elements),
                   "output_bytes": _number(elements * report.bytes_per_element),
                   "bytes_per_element": report.bytes_per_element},
        "receptive_field": None if report.rf is None else {
            "kernel": as_json([a.kernel for a in report.rf]),
            "stride": as_json([a.stride for a in report.rf]),
            "pad": as_json([a.pad for a in report.rf])},
        "hyper": as_json(report.hyper),
        "warnings": list(report.warnings),
        "notes": list(report.notes),
        "conventions": {"macs": "multiply-accumulates of the GEMM work, bias excluded", "flops": "2 x macs"},
    }
    if report.steps:
        doc["steps"] = [{"title": s.title, "axis": s.axis, "formula": s.formula, "substituted": s.substituted,
                         "result": s.result}
                        for s in report.steps]
    if report.parts:
        doc["parts"] = [shape_dict(p, notation, raw=raw) | {"schema": None} for p in report.parts]
        for part in doc["parts"]:
            del part["schema"]
    if report.comparison:
        doc["comparison"] = jsonable(report.comparison)
        ratio = report.comparison.get("macs_ratio")
        if isinstance(ratio, Fraction):
            doc["comparison"]["macs_ratio_float"] = float(ratio)
    return doc


def _step_lines(report: LayerReport) -> list[tuple[str, list[str]]]:
    out = []
    for s in report.steps:
        body = [s.formula] if s.formula else []
        if s.substituted:
            body.append(f"= {s.substituted}" if not s.substituted.endswith("→ ") else s.substituted)
        if s.result:
            body.append(f"= {s.result}" if s.substituted else f"→ {s.result}" if s.formula else s.result)
        out.append((s.heading, body))
    return out


def shape_text(report: LayerReport, notation: Notation) -> str:
    """Plain text, for pipes and NO_COLOR terminals: aligned ``label  value`` lines."""
    rows = summary_rows(report, notation)
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    for w in report.warnings:
        lines.append(f"warning: {w}")
    for n in report.notes:
        lines.append(f"note: {n}")
    if report.steps:
        lines.append("")
        lines.append("explanation:")
        for title, body in _step_lines(report):
            lines.append(f"  {title}")
            lines.extend(f"      {line}" for line in body)
    return "\n".join(lines)


def shape_rich(report: LayerReport, notation: Notation):
    """A compact rich panel (fits 80 columns)."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in summary_rows(report, notation)[1:]:
        grid.add_row(label, Text(value, style="bold green") if label == "output" else value)
    parts: list[Any] = [grid]
    for w in report.warnings:
        parts.append(Text(f"⚠ {w}", style="yellow"))
    for n in report.notes:
        parts.append(Text(f"• {n}", style="dim"))
    if report.steps:
        steps = Table.grid(padding=(0, 2))
        steps.add_column(style="bold magenta", no_wrap=True)
        steps.add_column(overflow="fold")
        for title, body in _step_lines(report):
            steps.add_row(title, "\n".join(body))
        parts.append(Text(""))
        parts.append(steps)
    title = f"[bold]{report.op}[/]  {format_shape(report.input, notation)} → {format_shape(report.output, notation)}"
    return Panel(Group(*parts), title=title, title_align="left", expand=False)


def shape_csv(report: LayerReport, notation: Notation) -> str:
    """One header line and one row of raw values (for spreadsheets and scripts)."""
    p = report.params
    row = {
        "op": report.op, "input": format_shape(report.input, notation), "output": format_shape(report.output, notation),
        "params": "" if p is None else format_dim(p.total), "weight": "" if p is None else format_dim(p.weight),
        "bias": "" if p is None else format_dim(p.bias), "macs": "" if report.macs is None else format_dim(report.macs),
        "flops": "" if report.flops is None else format_dim(report.flops),
        "activation_elements": format_dim(report.activation_elements),
        "activation_bytes": format_dim(report.activation_bytes),
        "warnings": " | ".join(report.warnings),
    }
    import csv  # only --format csv needs it
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(row), lineterminator="\n")
    writer.writeheader()
    writer.writerow(row)
    return buffer.getvalue().rstrip("\n")


def shape_markdown(report: LayerReport, notation: Notation) -> str:
    """A two-column Markdown table, then warnings and the explanation as lists."""
    lines = ["| quantity | value |", "|---|---|"]
    for label, value in summary_rows(report, notation):
        cell = value.replace("|", "\\|")
        lines.append(f"| {label} | {cell} |")
    for w in report.warnings:
        lines.append(f"\n> **warning:** {w}")
    for n in report.notes:
        lines.append(f"\n> note: {n}")
    if report.steps:
        lines.append("")
        for title, body in _step_lines(report):
            lines.append(f"- **{title}**: " + " ".join(f"`{b}`" for b in body))
    return "\n".join(lines)
