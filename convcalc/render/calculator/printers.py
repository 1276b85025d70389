"""Plain text, Markdown and LaTeX printers of a calculator document."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

import numpy as np

from convcalc.compute.number_text import MINUS, number, signed, term
from convcalc.render.calculator.document import Block, Equation, Heading, Line, Matrix, slices


def equation_text(eq: Equation) -> str:
    """``J[0,0] = 1·(−1) + 3·0 + 2·1 = 2`` (and the max / average forms)."""
    value = signed(eq.value)
    if eq.kind == "sum":
        groups = [" + ".join(f"{term(a)}·{term(b)}" for a, b in group) for group in eq.product_groups()]
        body = groups[0] if len(groups) == 1 else " + ".join(f"({g})" for g in groups)
        if eq.bias is not None:
            before = eq.value - eq.bias
            text = f"{eq.lhs} = {body} + b = {signed(before)} + {term(eq.bias)} = {value}"
        else:
            text = f"{eq.lhs} = {body} = {value}"
    elif eq.kind == "max":
        text = f"{eq.lhs} = max({', '.join(signed(v).replace('-inf', MINUS + '∞') for v in eq.operands)}) = {value}"
    else:
        summed = " + ".join(term(v) for v in eq.operands)
        text = f"{eq.lhs} = ({summed}) / {signed(eq.divisor)} = {value}"
        if isinstance(eq.value, Fraction) and eq.value.denominator != 1:
            text += f" ≈ {float(eq.value):.6g}"
    return text + (f"  {eq.remark}" if eq.remark else "")


def _latex_number(value: Any, factor: bool = False) -> str:
    if value is None:
        return r"-\infty"
    if isinstance(value, Fraction) and value.denominator != 1:
        sign = "-" if value < 0 else ""
        text = rf"{sign}\tfrac{{{abs(value.numerator)}}}{{{value.denominator}}}"
    else:
        text = number(value)
    return f"({text})" if factor and text.startswith("-") else text


def _latex_equation(eq: Equation) -> str:
    lhs = eq.lhs.replace("[", "_{").replace("]", "}")
    value = _latex_number(eq.value)
    if eq.kind == "sum":
        groups = [" + ".join(rf"{_latex_number(a, True)} \cdot {_latex_number(b, True)}" for a, b in group)
                  for group in eq.product_groups()]
        body = groups[0] if len(groups) == 1 else " + ".join(rf"\left({g}\right)" for g in groups)
        if eq.bias is not None:
            return (rf"{lhs} &= {body} + b = {_latex_number(eq.value - eq.bias)} "
                    rf"+ {_latex_number(eq.bias, True)} = {value}")
        return rf"{lhs} &= {body} = {value}"
    if eq.kind == "max":
        remark = rf" \quad \text{{{eq.remark.replace('_', ' ')}}}" if eq.remark else ""
        return rf"{lhs} &= \max({', '.join(_latex_number(v) for v in eq.operands)}) = {value}{remark}"
    summed = " + ".join(_latex_number(v, True) for v in eq.operands)
    return rf"{lhs} &= \frac{{{summed}}}{{{_latex_number(eq.divisor)}}} = {value}"


def grid_lines(array2d: np.ndarray, row_labels=None, column_labels=None, indent: str = "  ") -> list[str]:
    cells = [[number(v) for v in row] for row in array2d]
    if column_labels is not None:
        cells = [list(column_labels)] + cells
    if row_labels is not None:
        cells = [[""] + r if i == 0 and column_labels is not None else r for i, r in enumerate(cells)]
        offset = 1 if column_labels is not None else 0
        for i, label in enumerate(row_labels):
            cells[i + offset] = [label] + cells[i + offset]
    widths = [max(len(row[j]) for row in cells) for j in range(len(cells[0]))]
    lines = []
    for i, row in enumerate(cells):
        parts = [v.rjust(w) for v, w in zip(row, widths)]
        if row_labels is not None:
            parts[0] = parts[0] + " |"
        lines.append(indent + "  ".join(parts).rstrip())
        if column_labels is not None and i == 0:
            lines.append(indent + "-" * (len(lines[-1]) - len(indent)))
    return lines


def to_text(blocks: list[Block]) -> str:
    out: list[str] = []
    previous = None
    for block in blocks:
        if out and (isinstance(block, (Heading, Matrix)) or isinstance(previous, Matrix)):
            out.append("")
        previous = block
        if isinstance(block, Heading):
            out.append(block.text)
        elif isinstance(block, Line):
            prefix = {"note": "note: ", "warning": "warning: "}.get(block.kind, "")
            out.append(prefix + block.text)
        elif isinstance(block, Matrix):
            out.append(f"{block.label}:")
            for caption, grid, _ in slices(block):
                if caption:
                    out.append(f"  {caption}:")
                out += grid_lines(grid, block.row_labels, block.column_labels, "    " if caption else "  ")
        else:
            out.append("  " + equation_text(block))
    return "\n".join(out) + "\n"


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    in_list = False
    for block in blocks:
        if not isinstance(block, Equation) and in_list:
            out.append("")
            in_list = False
        if isinstance(block, Heading):
            out += [f"**{block.text}**", ""]
        elif isinstance(block, Line):
            prefix = {"note": "*Note:* ", "warning": "**Warning:** "}.get(block.kind, "")
            out += [prefix + block.text, ""]
        elif isinstance(block, Matrix):
            for caption, grid, _ in slices(block):
                out += [f"{block.label}" + (f", {caption}" if caption else "") + ":", ""]
                columns = (list(block.column_labels) if block.column_labels is not None
                           else [str(j) for j in range(grid.shape[1])])
                rows = (list(block.row_labels) if block.row_labels is not None
                        else [str(i) for i in range(grid.shape[0])])
                out.append("| | " + " | ".join(columns) + " |")
                out.append("|---" * (len(columns) + 1) + "|")
                for label, row in zip(rows, grid):
                    out.append(f"| **{label}** | " + " | ".join(number(v) for v in row) + " |")
                out.append("")
        else:
            out.append(f"- `{equation_text(block)}`")
            in_list = True
    return "\n".join(out).rstrip() + "\n"


def latex_matrix(grid: np.ndarray) -> str:
    rows = [" & ".join(_latex_number(v) for v in row) for row in grid]
    return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"


def to_latex(blocks: list[Block]) -> str:
    out: list[str] = []
    equations: list[str] = []

    def flush():
        if equations:
            out.append(r"\begin{align*}")
            out.append(" \\\\\n".join(equations))
            out.append(r"\end{align*}")
            equations.clear()

    for block in blocks:
        if isinstance(block, Equation):
            equations.append(_latex_equation(block))
            continue
        flush()
        if isinstance(block, Heading):
            out.append(rf"\paragraph{{}} {_latex_text(block.text)}")
        elif isinstance(block, Line):
            out.append(_latex_text(block.text) + r"\\")
        else:
            name = _latex_name(block.label)
            for caption, grid, _ in slices(block):
                label = name + (rf"\ \text{{({_latex_text(caption)})}}" if caption else "")
                out.append(rf"\[ {label} = {latex_matrix(grid)} \]")
    flush()
    return "\n".join(out) + "\n"


def _latex_name(label: str) -> str:
    """``"I, input (4x6)"`` → ``I``; ``"X_col (4x4)"`` → ``X_{\text{col}}``; other labels as text."""
    name = label.split(" (")[0].split(",")[0]
    if re.fullmatch(r"[A-Za-z]{1,2}(_[a-z]+)?( · [A-Za-z]{1,2}(_[a-z]+)?)?( \+ b)?", name):
        name = re.sub(r"_([a-z]+)", r"_{\\text{\1}}", name).replace(" · ", r" \cdot ")
        return name
    if re.fullmatch(r"[A-Z]p", name):
        return f"{name[0]}_{{p}}"
    if name.startswith("flip("):
        return r"\operatorname{flip}" + name[4:]
    return rf"\text{{{_latex_text(name)}}}"


def _latex_text(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#"),
                 ("⋆", r"$\star$"), ("∗", r"$*$"), ("°", r"$^\circ$"), ("−", "-"), ("·", r"$\cdot$"),
                 ("≥", r"$\geq$"), ("∞", r"$\infty$"), ("→", r"$\to$"), ("≈", r"$\approx$"), ("—", "---")):
        text = text.replace(a, b)
    return text
