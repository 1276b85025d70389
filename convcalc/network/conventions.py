"""Counting conventions: what goes into a headline "FLOPs"/"MACs" figure.

Our own figure (``totals.macs``) is exactly the conv + linear multiply-accumulates, bias
excluded (docs/arithmetic.md §5.1–5.2); everything else the walk counts (bias adds, norms, pooling,
activations, residual adds) is *other work*, grouped here into categories so ``--count``
can put chosen ones into the headline.

``--as TOOL`` (another tool's headline number, from the same walk) lives in
``convcalc.network.tools``.
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.dims import Dim
from convcalc.errors import InputError
from convcalc.layers.descriptor import of_layer
from convcalc.network.walk import NetworkReport, Row

# --- categories of work ---------------------------------------------------------------------

CATEGORIES = ("bias", "norm", "activation", "pool", "add", "other")
_CATEGORY_ALIASES = {"bn": "norm", "batchnorm": "norm", "norms": "norm", "act": "activation",
                     "activations": "activation",
                     "relu": "activation", "pooling": "pool", "residual": "add", "adds": "add", "merge": "add",
                     "biases": "bias"}
MERGE_TYPES = ("add", "mul", "concat")


def is_gemm(row: Row) -> bool:
    """Conv, transposed conv and linear layers: the ones with multiply-accumulates (a patch
    embedding is a conv)."""
    return row.type.startswith(("conv", "linear", "depthwise", "patch-embed"))


def category(row: Row, op_name: str) -> str:
    """The category of one entry of a row's other work: its layer type's descriptor says
    (``work``); the merges of residual and parallel blocks are adds."""
    descriptor = of_layer(row.layer) if row.layer is not None else None
    if descriptor is not None:
        return descriptor.category(op_name)
    if row.type in MERGE_TYPES:
        return "add"
    return "other"


def other_work(report: NetworkReport) -> dict[str, Dim]:
    """Other work per category, summed over every leaf."""
    sums: dict[str, Dim] = {}
    for row in report.leaves():
        for op_name, n in row.other_ops:
            key = category(row, op_name)
            sums[key] = sums.get(key, 0) + n
    return sums


def parse_count(text: str | None) -> tuple[str, ...]:
    """``--count bias,norm`` → the categories added to the MACs headline (``all``, ``none`` too)."""
    if text is None or text.strip().lower() in ("", "macs", "none"):
        return ()
    chosen: list[str] = []
    for word in text.replace("+", ",").split(","):
        word = word.strip().lower()
        if word in ("", "macs"):
            continue
        if word == "all":
            return CATEGORIES
        word = _CATEGORY_ALIASES.get(word, word)
        if word not in CATEGORIES:
            raise InputError(f"{{field}} '{word}' is not one of macs, {', '.join(CATEGORIES)}, all", field="count",
                             value=word, valid=f"macs, {', '.join(CATEGORIES)}, all")
        if word not in chosen:
            chosen.append(word)
    return tuple(chosen)


@dataclass(frozen=True)
class Headline:
    """MACs plus the chosen categories of other work (each counted as one op per element)."""

    included: tuple[str, ...]
    value: Dim
    parts: dict[str, Dim]


def headline(report: NetworkReport, included: tuple[str, ...]) -> Headline:
    work = other_work(report)
    parts = {"macs": report.totals.macs, **{c: work.get(c, 0) for c in included}}
    return Headline(included, sum(parts.values()), parts)
