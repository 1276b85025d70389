"""Printers for the numeric calculator (``convcalc conv``, ``pool``, ``conv-transpose``,
``im2col``).

An engine result (:mod:`convcalc.calculator`) becomes a document (:mod:`.document`): a list
of blocks that the plain-text, Markdown and LaTeX printers (:mod:`.printers`) and the rich
printer (:mod:`.terminal`) draw. ``--json``, ``--format plain`` and ``csv`` read the result
directly (:mod:`.machine`). Numbers are written by :mod:`convcalc.compute.number_text`
(shared with the animation frames). Rendering never computes.
"""

from convcalc.compute.number_text import number
from convcalc.render.calculator.document import conv_document, im2col_document, pool_document, transpose_document
from convcalc.render.calculator.machine import (
    conv_json,
    im2col_json,
    json_text,
    pool_json,
    result_tensor,
    to_csv,
    to_plain,
    transpose_json,
)
from convcalc.render.calculator.printers import equation_text, to_latex, to_markdown, to_text
from convcalc.render.calculator.terminal import to_rich

__all__ = [
    "conv_document", "conv_json", "equation_text", "im2col_document", "im2col_json", "json_text", "number",
    "pool_document", "pool_json", "result_tensor", "to_csv", "to_latex", "to_markdown", "to_plain", "to_rich",
    "to_text", "transpose_document", "transpose_json",
]
