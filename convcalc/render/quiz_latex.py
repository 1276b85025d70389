"""``convcalc quiz --format latex``: a complete ``article`` document (needs only ``amsmath``),
one section per sheet; matrices in ``bmatrix``; in the key, the backprop steps as
``convcalc backprop --format latex`` writes them."""

from __future__ import annotations

import numpy as np

from convcalc.homework.model import Question, Quiz, Solution
from convcalc.render.quiz import HOW_TO_ANSWER, NETWORK_COLUMNS, is_matrix, network_rows
from convcalc.render.trace_latex import bmatrix, step_latex
from convcalc.render.trace_numbers import latex, latex_name, latex_text

# symbols the shared prose printer leaves as \texttt{…} (which pdflatex cannot typeset)
_MORE_SYMBOLS = {
    "Π": r"$\Pi$",
    "≈": r"$\approx$",
    "⌊": r"$\lfloor$",
    "⌋": r"$\rfloor$",
    "∈": r"$\in$",
    "•": r"$\bullet$",
    "≠": r"$\neq$",
    "ₒ": "o",
}


def tex(prose: str) -> str:
    out = latex_text(prose)
    for symbol, replacement in _MORE_SYMBOLS.items():
        out = out.replace(f"\\texttt{{{symbol}}}", replacement)
    return out


def answer_latex(kind: str, value) -> str:
    if kind == "shape":
        return "$" + r" \times ".join(str(v) for v in value) + "$"
    if kind == "number":
        return f"${latex(value)}$"
    return f"${bmatrix(np.asarray(value, dtype=object))}$"


def _layer_steps(steps) -> list[str]:
    lines = [r"\begin{itemize}"]
    for s in steps:
        body = [tex(s.formula)] if s.formula else []
        if s.substituted:
            body.append("= " + tex(s.substituted))
        if s.result:
            body.append(("= " if s.substituted else "") + tex(s.result))
        lines.append(f"  \\item \\textbf{{{tex(s.heading)}}}: " + r" \\ ".join(body))
    return lines + [r"\end{itemize}"]


def _network(report) -> list[str]:
    rows = network_rows(report)
    lines = [r"\begin{tabular}{rlrrrr}", " & ".join(NETWORK_COLUMNS).replace("#", r"\#") + r" \\ \hline"]
    lines += [" & ".join(tex(c) for c in row) + r" \\" for row in rows]
    return lines + [r"\end{tabular}", ""]


def solution_latex(solution: Solution) -> list[str]:
    lines = [r"\paragraph{Worked solution}", ""]
    lines += [f"\\noindent {tex(line)}\n" for line in solution.lines]
    if solution.layer_steps:
        lines += _layer_steps(solution.layer_steps)
    if solution.network is not None:
        lines += _network(solution.network)
    for step in solution.trace_steps:
        lines += step_latex(step)
    if solution.command:
        lines.append(f"\\noindent Check: \\texttt{{{tex(solution.command)}}}\n")
    return lines


def question_latex(question: Question, key: bool) -> list[str]:
    lines = [f"\\subsection*{{{question.id} ({tex(question.topic)})}}", "", tex(question.worked.prompt), ""]
    matrices = [g for g in question.worked.givens if is_matrix(g)]
    if matrices:
        lines += [r"\[", ",\\quad\n".join(f"{latex_name(g.name)} = {bmatrix(g.value)}" for g in matrices), r"\]"]
    for given in question.worked.givens:
        if not is_matrix(given):
            lines += [r"\begin{enumerate}"] + [
                f"  \\item \\texttt{{{tex(line.split('. ', 1)[1])}}}" for line in given.value
            ]
            lines.append(r"\end{enumerate}")
    lines.append(r"\begin{itemize}")
    for part in question.parts:
        answer = answer_latex(part.kind, part.answer) if key else r"\rule{5cm}{0.4pt}"
        lines.append(f"  \\item[\\textbf{{{part.id}}}] {tex(part.prompt)}: {answer}")
    lines += [r"\end{itemize}", ""]
    if key:
        lines += solution_latex(question.worked.solution)
    return lines


def quiz_latex(quiz: Quiz, key: bool = False) -> str:
    lines = [
        "% convcalc quiz" + (" — answer key" if key else ""),
        r"\documentclass{article}",
        r"\usepackage{amsmath}",
        r"\setcounter{secnumdepth}{0}",
        r"\begin{document}",
        "",
    ]
    for index, sheet in enumerate(quiz.sheets):
        if index:
            lines += [r"\clearpage", ""]
        title = quiz.title + (" --- answer key" if key else "")
        lines += [f"\\section*{{{tex(title)}}}", ""]
        if sheet.student is not None:
            lines += [f"\\noindent Student: \\textbf{{{tex(sheet.student)}}}", ""]
        lines += [f"\\noindent\\emph{{{tex(HOW_TO_ANSWER)}}}", ""]
        for question in sheet.questions:
            lines += question_latex(question, key)
    lines += [r"\end{document}", ""]
    return "\n".join(lines)
