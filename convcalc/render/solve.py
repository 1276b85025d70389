"""``convcalc solve`` results as plain text, rich tables, Markdown and JSON (schema convcalc/solve/v1)."""

from __future__ import annotations

from typing import Any

from convcalc.inverse.plan import PlanResult, RFResult
from convcalc.inverse.solve import AxisChoice, Solution, SolveResult
from convcalc.notation import format_shape
from convcalc.render.table import plain_table
from convcalc.render.values import count, jsonable

SCHEMA = "convcalc/solve/v1"


def _axes(values) -> str:
    values = list(values)
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


def _pad(choice: AxisChoice) -> str:
    return str(choice.pad[0]) if not choice.asymmetric else f"{choice.pad[0]}:{choice.pad[1]}"


def columns(family: str, with_counts: bool) -> tuple[str, ...]:
    if family.startswith(("adaptive", "global")):
        return ("#", "output_size", "notes")
    head = ["#", "k", "stride", "pad"]
    if family != "avgpool":
        head.append("dilation")
    if family == "conv-transpose":
        head.append("output_padding")
    if family.endswith("pool"):
        head.append("ceil_mode")
    if family != "conv-transpose":
        head.append("unread")
    if with_counts and family.startswith("conv"):
        head += ["params", "MACs"]
    return tuple(head) + ("notes",)


def costs(solution: Solution, family: str) -> list[str]:
    """What an answer costs, in words."""
    notes = []
    axes = solution.axes
    unread = sum(a.rows_never_read for a in axes)
    if unread:
        notes.append(f"{_axes(a.rows_never_read for a in axes)} input rows never read (zero gradient)")
    if any(a.asymmetric for a in axes):
        notes.append("asymmetric padding: TF SAME or an explicit F.pad, not PyTorch's padding=")
    if any(a.dilation > 1 for a in axes):
        notes.append("dilated")
    if any(a.output_padding for a in axes):
        notes.append("output_padding picks one of the sizes the adjoint conv floors together")
    if any(a.ceil_mode for a in axes):
        notes.append("ceil_mode")
    report = solution.report
    if family.startswith(("adaptive", "global")) and report is not None and \
            any(i % a.output_size for i, a in zip(report.input[-len(axes):], axes)):
        notes.append("uneven bins")
    return notes


def cells(solution: Solution, index: int, family: str, with_counts: bool) -> list[str]:
    a = solution.axes
    if family.startswith(("adaptive", "global")):
        return [str(index), _axes(c.output_size for c in a), "; ".join(costs(solution, family))]
    row = [str(index), _axes(c.k for c in a), _axes(c.stride for c in a), _axes(_pad(c) for c in a)]
    if family != "avgpool":
        row.append(_axes(c.dilation for c in a))
    if family == "conv-transpose":
        row.append(_axes(c.output_padding for c in a))
    if family.endswith("pool"):
        row.append("yes" if a[0].ceil_mode else "no")
    if family != "conv-transpose":
        row.append(_axes(c.rows_never_read for c in a))
    if with_counts and family.startswith("conv"):
        row += [count(solution.params), count(solution.macs)]
    notes = [n for n in costs(solution, family)
             if not n.endswith("(zero gradient)") and n not in ("dilated", "ceil_mode")]
    row.append("; ".join(notes))
    return row


def _has_counts(result: SolveResult) -> bool:
    return result.channels[0] is not None and result.family.startswith("conv")


def headline(result: SolveResult) -> str:
    answers = "1 answer" if result.count == 1 else f"{result.count:,} answers"
    sizes = f"{format_shape(result.input)} → {format_shape(result.target)}"
    bounds = result.bounds.text(result.family)
    return f"{result.op}  {sizes}: {answers} ({bounds}; {result.searched:,} candidates checked)"


def _table_lines(head: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    return plain_table(head, rows, rule=False)


def footer(result: SolveResult) -> list[str]:
    lines = []
    if len(result.solutions) < result.count:
        lines.append(f"showing {len(result.solutions):,} of {result.count:,} (--limit N for more, --json for all)")
    if not result.uniform:
        per_axis = ", ".join(f"{a.name} {a.i} → {a.o}: {a.count}" for a in result.axes)
        lines.append(f"per axis ({per_axis}); any combination works, ranked by their summed costs")
    if _has_counts(result):
        lines.append(f"params and MACs with {result.channels[0]} input channels and "
                     f"{result.channels[1] or result.channels[0]} output channels")
    return lines


def solve_text(result: SolveResult) -> str:
    head = columns(result.family, _has_counts(result))
    rows = [cells(s, n, result.family, _has_counts(result)) for n, s in enumerate(result.solutions, 1)]
    lines = [headline(result), "", *_table_lines(head, rows)]
    if footer(result):
        lines += ["", *footer(result)]
    if result.explanation:
        lines += ["", "why (the first answer):"]
        lines += [f"  {title:<13} {text}" for title, text in result.explanation]
    return "\n".join(lines).rstrip("\n")


def solve_rich(result: SolveResult):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=headline(result), title_justify="left", show_edge=False, pad_edge=False)
    for name in columns(result.family, _has_counts(result)):
        table.add_column(name, overflow="fold", justify="right" if name in ("#", "params", "MACs") else "left")
    for n, s in enumerate(result.solutions, 1):
        table.add_row(*cells(s, n, result.family, _has_counts(result)), style="bold green" if n == 1 else None)
    parts: list[Any] = [table]
    parts += [Text(line, style="dim") for line in footer(result)]
    if result.explanation:
        why = Table.grid(padding=(0, 2))
        why.add_column(style="bold magenta", no_wrap=True)
        why.add_column(overflow="fold")
        for title, text in result.explanation:
            why.add_row(title, text)
        parts += [Text(""), Text("why (the first answer)", style="bold"), why]
    return Group(*parts)


def solve_markdown(result: SolveResult) -> str:
    head = columns(result.family, _has_counts(result))
    lines = [f"**{headline(result)}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n, s in enumerate(result.solutions, 1):
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(s, n, result.family, _has_counts(result)))
                     + " |")
    lines += [""] + [f"- {line}" for line in footer(result)]
    if result.explanation:
        lines += ["", "Why (the first answer):", ""] + [f"- **{t}**: `{x}`" for t, x in result.explanation]
    return "\n".join(lines).rstrip("\n")


def _solution_dict(solution: Solution, family: str) -> dict[str, Any]:
    a = solution.axes
    if family.startswith(("adaptive", "global")):
        doc: dict[str, Any] = {"output_size": [c.output_size for c in a]}
    else:
        doc = {"kernel_size": [c.k for c in a], "stride": [c.stride for c in a],
               "padding": [list(c.pad) for c in a], "dilation": [c.dilation for c in a]}
        if family == "conv-transpose":
            doc["output_padding"] = [c.output_padding for c in a]
        if family.endswith("pool"):
            doc["ceil_mode"] = a[0].ceil_mode
        doc["rows_never_read"] = [c.rows_never_read for c in a]
        doc["symmetric"] = not any(c.asymmetric for c in a)
    report = solution.report
    doc["output"] = jsonable(report.output) if report is not None else None
    doc["params"] = jsonable(solution.params)
    doc["macs"] = jsonable(solution.macs)
    doc["costs"] = costs(solution, family)
    doc["rank_key"] = list(solution.key)
    return doc


def solve_dict(result: SolveResult) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": "layer",
        "op": result.op,
        "input": list(result.input),
        "target": list(result.target),
        "channels": {"in": result.channels[0], "out": result.channels[1]},
        "bounds": {"max_k": result.bounds.max_k, "max_stride": result.bounds.max_stride,
                   "max_dilation": result.bounds.max_dilation, "text": result.bounds.text(result.family)},
        "count": result.count,
        "listed": len(result.solutions),
        "searched": result.searched,
        "uniform": result.uniform,
        "axes": [{"axis": a.name, "in": a.i, "out": a.o, "count": a.count} for a in result.axes],
        "ranking": ["rows_never_read", "asymmetric", "dilated", "k", "dilation", "ceil_mode", "output_padding",
                    "stride", "padding"],
        "solutions": [_solution_dict(s, result.family) for s in result.solutions],
        "explanation": [{"title": t, "text": x} for t, x in result.explanation],
    }


# ---- chain plans --------------------------------------------------------------------------


def _stage_text(stage: SolveResult) -> str:
    best = stage.solutions[0]
    a = best.axes
    if stage.family.startswith(("adaptive", "global")):
        body = f"output_size {_axes(c.output_size for c in a)}"
    else:
        body = f"k {_axes(c.k for c in a)} s {_axes(c.stride for c in a)} p {_axes(_pad(c) for c in a)}"
        if any(c.dilation > 1 for c in a):
            body += f" d {_axes(c.dilation for c in a)}"
        if any(c.output_padding for c in a):
            body += f" output_padding {_axes(c.output_padding for c in a)}"
        if any(c.ceil_mode for c in a):
            body += " ceil_mode"
    extra = [n for n in costs(best, stage.family) if n not in ("dilated", "ceil_mode")]
    others = stage.count - 1
    alternatives = f"({others:,} other{'s' if others != 1 else ''})" if others else "(only choice)"
    return f"{body}  {alternatives}" + (f"  — {'; '.join(extra)}" if extra else "")


def plan_lines(result: PlanResult) -> list[str]:
    plans = "1 size sequence" if result.count == 1 else f"{result.count:,} size sequences"
    lines = [f"{result.op}  {format_shape(result.input)} → {format_shape(result.target)} in {result.stages} stages: "
             f"{plans} ({result.bounds.text(result.family)})"]
    for n, plan in enumerate(result.plans, 1):
        strides = {c.stride for stage in plan.stages for c in stage.solutions[0].axes}
        kind = f"every stage stride {strides.pop()}" if len(strides) == 1 else "mixed strides"
        lines += ["", f"plan {n}: " + " → ".join(format_shape(s) for s in plan.sizes) + f"  ({kind})"]
        for j, stage in enumerate(plan.stages, 1):
            sizes = f"{format_shape(stage.input)} → {format_shape(stage.target)}"
            lines.append(f"  stage {j}  {sizes:<18} {_stage_text(stage)}")
    if result.count > len(result.plans):
        lines += ["", f"showing {len(result.plans)} of {result.count:,} (--limit N for more)"]
    return lines


def plan_text(result: PlanResult) -> str:
    return "\n".join(plan_lines(result))


def plan_markdown(result: PlanResult) -> str:
    lines = plan_lines(result)
    out = [f"**{lines[0]}**"]
    for line in lines[1:]:
        if line.startswith("plan "):
            out += ["", f"*{line}*", "", "| stage | sizes | choice |", "|---|---|---|"]
        elif line.startswith("  stage "):
            _, number, rest = line.split(None, 2)
            sizes, choice = rest.split("  ", 1) if "  " in rest else (rest, "")
            out.append(f"| {number} | {sizes.strip()} | {choice.strip().replace('|', '/')} |")
        elif line:
            out += ["", line]
    return "\n".join(out)


def plan_dict(result: PlanResult) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": "chain",
        "op": result.op,
        "input": list(result.input),
        "target": list(result.target),
        "stages": result.stages,
        "count": result.count,
        "bounds": {"max_k": result.bounds.max_k, "max_stride": result.bounds.max_stride,
                   "max_dilation": result.bounds.max_dilation, "text": result.bounds.text(result.family)},
        "plans": [{"sizes": [list(s) for s in plan.sizes], "rank_key": list(plan.key),
                   "stages": [{"input": list(st.input), "output": list(st.target), "count": st.count,
                               "best": _solution_dict(st.solutions[0], st.family)} for st in plan.stages]}
                  for plan in result.plans],
    }


# ---- receptive-field stacks ---------------------------------------------------------------


def rf_lines(result: RFResult) -> list[str]:
    stacks = "1 stack" if result.count == 1 else f"{result.count:,} stacks"
    lines = [f"receptive field {result.rf}: {stacks} of {result.depth} conv layer{'s' if result.depth != 1 else ''} "
             f"(k ≤ {result.bounds.max_k}, stride ≤ {result.bounds.max_stride}, "
             f"dilation ≤ {result.bounds.max_dilation}; "
             "the last layer's stride does not change the receptive field)"]
    if len(result.by_depth) > 1:
        lines.append("stacks per depth: " + ", ".join(f"{n} layers: {c:,}" for n, c in result.by_depth))
    if result.plain_depth is not None:
        lines.append(f"without strides or dilation: {result.plain_depth} layers")
    lines.append("")
    head = ("#", "layers (k, stride, dilation)", "RF", "jump")
    rows = []
    for n, stack in enumerate(result.stacks, 1):
        rows.append([str(n), _rf_layers(stack, " | "), str(stack.rf), str(stack.jump)])
    lines += _table_lines(head, rows)
    total = sum(c for _, c in result.by_depth) or result.count
    if total > len(result.stacks):
        lines += ["", f"showing {len(result.stacks)} of {total:,} (--limit N for more, --depths N for more depths)"]
    lines += ["", "r = 1 + Σ (k_eff − 1)·jump, jump = product of the strides before the layer, k_eff = d(k − 1) + 1"]
    return lines


def _rf_layers(stack, sep: str) -> str:
    """'k3 s4 | k3 s1 ×48': a run of three or more equal layers is written once with its count."""
    import itertools

    parts = []
    for layer, run in itertools.groupby(stack.layers):
        n = len(list(run))
        text = f"k{layer.k} s{layer.stride}" + (f" d{layer.dilation}" if layer.dilation > 1 else "")
        parts += [f"{text} ×{n}"] if n >= 3 else [text] * n
    return sep.join(parts)


def rf_text(result: RFResult) -> str:
    return "\n".join(rf_lines(result))


def rf_markdown(result: RFResult) -> str:
    lines = rf_lines(result)
    out = [f"**{lines[0]}**", "", "| # | layers | RF | jump |", "|---|---|---|---|"]
    for n, stack in enumerate(result.stacks, 1):
        out.append(f"| {n} | {_rf_layers(stack, ', ')} | {stack.rf} | {stack.jump} |")
    out += [""] + [f"- {line}" for line in lines if line.startswith(("stacks per depth", "without", "showing", "r = "))]
    return "\n".join(out)


def rf_dict(result: RFResult) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "kind": "receptive-field",
        "rf": result.rf,
        "depth": result.depth,
        "count": result.count,
        "by_depth": [{"depth": n, "count": c} for n, c in result.by_depth],
        "plain_depth": result.plain_depth,
        "bounds": {"max_k": result.bounds.max_k, "max_stride": result.bounds.max_stride,
                   "max_dilation": result.bounds.max_dilation},
        "stacks": [{"layers": [{"kernel_size": layer.k, "stride": layer.stride, "dilation": layer.dilation}
                               for layer in stack.layers], "depth": len(stack.layers), "rf": stack.rf,
                    "jump": stack.jump}
                   for stack in result.stacks],
    }
