"""``convcalc backprop --format latex``: the trace as a LaTeX fragment to paste into homework
(needs ``amsmath``): each step a paragraph, its matrices in ``bmatrix``, its entries and
rules in ``align*``.
"""

from __future__ import annotations

import numpy as np

from convcalc.render.trace_numbers import latex, latex_factor, latex_name, latex_text
from convcalc.trace.model import Entry, Matrix, Step, Trace

PHASES = {"forward": "Forward pass", "loss": "Loss", "backward": "Backward pass", "update": "Update"}
MAX_TERMS = 40


def bmatrix(values) -> str:
    a = np.asarray(values, dtype=object)
    if a.ndim == 0:
        return latex(a[()])
    if a.ndim == 1:
        a = a.reshape(1, -1)
    rows = [" & ".join(latex(v) for v in row) for row in a]
    return "\\begin{bmatrix} " + " \\\\ ".join(rows) + " \\end{bmatrix}"


def _matrix(m: Matrix) -> list[str]:
    a = np.asarray(m.values, dtype=object)
    if a.ndim <= 2:
        return [f"{latex_name(m.name)} = {bmatrix(a)}"]
    return [
        f"{latex_name(m.name)}_{{{','.join(map(str, index))}}} = {bmatrix(a[index])}"
        for index in np.ndindex(*a.shape[:-2])
    ]


def _terms(terms) -> str:
    shown = [f"{latex_factor(a)} \\cdot {latex_factor(b)}" for a, b in terms[:MAX_TERMS]]
    more = " + \\dots" if len(terms) > MAX_TERMS else ""
    return " + ".join(shown) + more


def entry_latex(e: Entry) -> str:
    target, result = latex_name(e.target), latex(e.result)
    if e.form == "sum":
        parts = ([_terms(e.terms)] if e.terms else []) + [latex(a) for a in e.addends]
        body = " + ".join(parts) or "0"
        return f"{target} &= {body} = {result}"
    if e.form == "max":
        values = ", ".join(latex(v) for v in e.candidates)
        return f"{target} &= \\max({values}) = {result} && \\text{{at }} {latex_name(e.winner)}"
    if e.form == "mean":
        return f"{target} &= \\tfrac{{1}}{{{e.divisor}}}({' + '.join(latex(v) for v in e.candidates)}) = {result}"
    if e.form == "squares":
        body = " + ".join(f"{latex_factor(v)}^2" for v in e.candidates)
        scale = "" if e.divisor in (1, None) else f"{latex_factor(e.divisor)} \\cdot "
        return f"{target} &= {scale}\\left({body}\\right) = {result}"
    if e.form == "neglog":
        logs = " + ".join(f"\\log {latex_factor(p)}" for _, p in e.terms)
        n = "" if e.divisor in (1, None) else f"\\tfrac{{1}}{{{e.divisor}}}"
        return f"{target} &= -{n}\\left({logs}\\right) = {result}"
    values = " + ".join(latex(v) for v in e.candidates)
    return f"{target} &= {latex_name(e.text)}" + (f" = {values}" if values else "") + f" = {result}"


def step_latex(step: Step) -> list[str]:
    lines = [f"\\paragraph{{{latex_text(step.heading)}}}", ""]
    if step.rules:
        lines += ["\\begin{itemize}"] + [f"  \\item {latex_text(r)}" for r in step.rules] + ["\\end{itemize}"]
    shown = [s for m in step.matrices for s in _matrix(m)]
    if shown:
        lines += ["\\[", ",\\quad\n".join(shown), "\\]"]
    if step.entries:
        lines += ["\\begin{align*}", " \\\\\n".join(entry_latex(e) for e in step.entries), "\\end{align*}"]
    if step.entries_hidden:
        lines.append(f"\\noindent\\dots\\ {step.entries_hidden} more entries.")
    for note in step.notes:
        lines.append(f"\\noindent\\emph{{Note:}} {latex_text(note)}\n")
    lines.append("")
    return lines


def latex_trace(trace: Trace) -> str:
    lines = [
        f"% convcalc backprop — {trace.title}",
        "% needs \\usepackage{amsmath}",
        "",
        f"\\subsection*{{{latex_text(trace.title)}}}",
        "",
    ]
    lines += [f"\\noindent {latex_text(n)}\n" for n in trace.notes]
    phase = None
    for step in trace.steps:
        if step.phase != phase:
            phase = step.phase
            lines += [f"\\subsubsection*{{{PHASES[phase]}}}", ""]
        lines += step_latex(step)
    lines += ["\\subsubsection*{Checks}", "\\begin{itemize}"]
    for c in trace.checks:
        lines.append(f"  \\item {latex_text(c.name)}: {latex_text(c.summary)}")
        lines += [f"  \\item[] {latex_text(d)}" for d in c.details]
    lines.append("\\end{itemize}")
    return "\n".join(lines) + "\n"
