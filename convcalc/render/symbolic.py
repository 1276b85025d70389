"""Symbolic-hyper-parameter layers (``convcalc shape --k K``) and ``--solve`` answers as text,
rich, Markdown and JSON (schema convcalc/shape/v1, with ``symbols`` and ``conditions``)."""

from __future__ import annotations

from typing import Any

from convcalc.dims import format_dim
from convcalc.inverse.hyper_symbols import FreeSymbolSolution, SymbolicLayer
from convcalc.notation import Notation, format_shape
from convcalc.render.values import jsonable

SCHEMA = "convcalc/shape/v1"


def _axes_label(layer: SymbolicLayer) -> list[tuple[str, str]]:
    """(axes, formula) with identical formulas merged: ('H, W', …) only when they are equal."""
    merged: dict[str, list[str]] = {}
    for f in layer.formulas:
        merged.setdefault(format_dim(f.formula), []).append(f.axis)
    return [(", ".join(axes), text) for text, axes in merged.items()]


def rows(layer: SymbolicLayer, notation: Notation, explain: bool) -> list[tuple[str, str]]:
    out = [("op", layer.op), ("input", format_shape(layer.input, notation)),
           ("output", format_shape(layer.output, notation))]
    for axes, text in _axes_label(layer):
        out.append((f"output {axes}", text))
    if explain:
        rules = dict.fromkeys(f.rule for f in layer.formulas)
        out += [("rule", rule) for rule in rules]
        out += [("symbol " + sym, meaning) for sym, meaning in layer.symbols]
        out += [("valid when", c) for c in layer.conditions]
    return out


def layer_text(layer: SymbolicLayer, notation: Notation, explain: bool) -> str:
    shown = rows(layer, notation, explain)
    width = max(len(label) for label, _ in shown)
    lines = []
    for n, (label, value) in enumerate(shown):
        repeat = n > 0 and label == shown[n - 1][0] and label in ("rule", "valid when")
        lines.append(f"{'' if repeat else label:<{width}}  {value}")
    if not explain:
        lines.append("note: --explain shows the rule, what each symbol stands for and when the layer is valid")
    return "\n".join(lines)


def layer_rich(layer: SymbolicLayer, notation: Notation, explain: bool):
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows(layer, notation, explain)[1:]:
        grid.add_row(label, value)
    title = f"[bold]{layer.op}[/]  {format_shape(layer.input, notation)} → {format_shape(layer.output, notation)}"
    return Panel(grid, title=title, title_align="left", expand=False)


def layer_markdown(layer: SymbolicLayer, notation: Notation, explain: bool) -> str:
    lines = ["| quantity | value |", "|---|---|"]
    lines += [f"| {label} | `{value}` |" for label, value in rows(layer, notation, explain)]
    return "\n".join(lines)


def layer_dict(layer: SymbolicLayer, notation: Notation, explain: bool) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "op": layer.op,
        "input": jsonable(layer.input),
        "output": jsonable(layer.output),
        "output_text": format_shape(layer.output, notation),
        "params": None,
        "macs": None,
        "flops": None,
        "warnings": [],
        "hyper": {key: jsonable(values) for key, values in layer.hyper.items()},
        "formulas": [{"axis": f.axis, "rule": f.rule, "formula": format_dim(f.formula)} for f in layer.formulas],
        "symbols": [{"symbol": sym, "meaning": meaning} for sym, meaning in layer.symbols],
        "conditions": list(layer.conditions),
        "notes": ["parameters and MACs need numeric hyper-parameters"],
    }


def solution_lines(layer: SymbolicLayer, solution: FreeSymbolSolution, notation: Notation) -> list[str]:
    target = format_shape(solution.target, notation)
    found = ", ".join(map(str, solution.values)) or "none"
    lines = [f"{layer.op}  {format_shape(layer.input, notation)} → {format_shape(layer.output, notation)}",
             f"solve {solution.symbol} ({solution.role}) for output {target}: {solution.symbol} = {found}",
             f"whole values searched: {solution.tried[0]} … {solution.tried[1]} (every solution lies in this range); "
             "each checked by the shape engine"]
    if solution.note:
        lines.append(f"note: {solution.note}")
    for axes, text in _axes_label(layer):
        lines.append(f"output {axes} = {text}")
    return lines


def solution_text(layer: SymbolicLayer, solution: FreeSymbolSolution, notation: Notation) -> str:
    return "\n".join(solution_lines(layer, solution, notation))


def solution_markdown(layer: SymbolicLayer, solution: FreeSymbolSolution, notation: Notation) -> str:
    lines = solution_lines(layer, solution, notation)
    return "\n".join([f"**{lines[0]}**", ""] + [f"- {line}" for line in lines[1:]])


def solution_dict(layer: SymbolicLayer, solution: FreeSymbolSolution, notation: Notation) -> dict[str, Any]:
    doc = layer_dict(layer, notation, True)
    doc["solve"] = {"symbol": solution.symbol, "role": solution.role, "values": list(solution.values),
                    "searched": list(solution.tried), "target": jsonable(solution.target), "note": solution.note}
    return doc
