"""Inverse shape questions: which hyper-parameters take an input size to an output size.

Axes never interact, so the search runs one spatial axis at a time. Candidates come from
the closed-form size rules of :mod:`convcalc.engine.axis`; every survivor is then built as a
real layer (:func:`convcalc.layers.analyze_layer`), so ``solve`` accepts exactly
what ``convcalc shape`` accepts and reports its parameters and MACs.

Closed forms along one axis (total padding P = p_before + p_after, k_eff = d(k − 1) + 1):

* conv: o = floor((i + P − k_eff)/s) + 1, so P runs over the s values
  (o − 1)s + k_eff − i ≤ P ≤ (o − 1)s + k_eff − i + s − 1;
* transposed conv: o = (i − 1)s − 2p + d(k − 1) + op + 1, so 2p − op = (i − 1)s + d(k − 1) + 1 − o
  fixes p for each output padding 0 ≤ op < max(s, d);
* pooling: the paddings p ≤ floor(k/2) are few; floor and ceil mode are both tried;
* adaptive pooling: output_size = o.

Search bounds: k ≤ max_k, s ≤ max_stride, d ≤ max_dilation (a 1-tap kernel is never
dilated: it would be the same layer); padding at most the "same" amount — conv P ≤ d(k − 1),
transposed p ≤ floor(d(k − 1)/2), pools PyTorch's own p ≤ floor(k/2). Odd totals split as
TensorFlow SAME does (the extra row after). A value the user fixes is used as given.

Ranking (what an engineer would pick first): no input rows left unread, symmetric padding,
no dilation, the smallest kernel, smaller dilation, floor mode, no output padding, the
smallest stride, the least padding.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from convcalc.engine import axis
from convcalc.engine.report import LayerReport
from convcalc.errors import InputError

DEFAULT_MAX_K = 11  # AlexNet's first kernel
DEFAULT_MAX_STRIDE = 4
DEFAULT_MAX_DILATION = 3
SEARCH_LIMIT = 2_000_000  # closed-form candidate checks; beyond this the request is refused
SHOWN_LIMIT = 10_000  # solutions listed at most (the count is always exact)

FAMILIES = ("conv", "conv-transpose", "maxpool", "avgpool", "adaptive-avgpool", "adaptive-maxpool",
            "global-avgpool", "global-maxpool")


@dataclass(frozen=True)
class Bounds:
    """The search box; values the user fixes are not bounded by it."""

    max_k: int = DEFAULT_MAX_K
    max_stride: int = DEFAULT_MAX_STRIDE
    max_dilation: int = DEFAULT_MAX_DILATION

    def __post_init__(self) -> None:
        for name, value in (("--max-k", self.max_k), ("--max-stride", self.max_stride),
                            ("--max-dilation", self.max_dilation)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a whole number ≥ 1; got {value!r}")

    def text(self, family: str) -> str:
        if family.startswith(("adaptive", "global")):
            return "output_size = the target"
        dil = "" if family == "avgpool" else f", dilation ≤ {self.max_dilation}"
        pad = "p ≤ floor(k/2)" if family.endswith("pool") else "padding ≤ the 'same' amount"
        return f"k ≤ {self.max_k}, stride ≤ {self.max_stride}{dil}, {pad}"


@dataclass(frozen=True)
class Fixed:
    """Hyper-parameters the user fixed along one axis (None: searched)."""

    k: int | None = None
    stride: int | None = None
    pad: Any = None  # (before, after), or "same" / "tf-same"
    dilation: int | None = None
    output_padding: int | None = None
    ceil_mode: bool | None = None


@dataclass(frozen=True)
class AxisChoice:
    """One way to get the target size along one axis, with what it costs."""

    k: int = 1
    stride: int = 1
    pad: tuple[int, int] = (0, 0)
    dilation: int = 1
    output_padding: int = 0
    ceil_mode: bool = False
    output_size: int | None = None  # adaptive pooling
    rows_never_read: int = 0  # input rows no window reads (they get zero gradient)

    @property
    def asymmetric(self) -> bool:
        return self.pad[0] != self.pad[1]

    @property
    def key(self) -> tuple[int, ...]:
        """The ranking, as additive costs (a layer's key is the sum over its axes)."""
        return (self.rows_never_read, int(self.asymmetric), int(self.dilation > 1), self.k, self.dilation,
                int(self.ceil_mode), self.output_padding, self.stride, sum(self.pad))


@dataclass(frozen=True)
class AxisProblem:
    """Take size ``i`` to size ``o`` along one axis with an op family."""

    family: str
    i: int
    o: int
    fixed: Fixed = Fixed()


@dataclass(frozen=True)
class Solution:
    """One layer configuration (a choice per axis) and what the shape engine says about it."""

    axes: tuple[AxisChoice, ...]
    report: LayerReport | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[int, ...]:
        return _key_sum(a.key for a in self.axes)

    @property
    def params(self):
        return None if self.report is None or self.report.params is None else self.report.params.total

    @property
    def macs(self):
        return None if self.report is None else self.report.macs


@dataclass(frozen=True)
class AxisSummary:
    name: str
    i: int
    o: int
    count: int


@dataclass(frozen=True)
class SolveResult:
    """Every configuration found (ranked, at most ``limit`` listed) and how it was found."""

    op: str
    family: str
    rank: int
    input: tuple[int, ...]
    target: tuple[int, ...]
    count: int
    solutions: tuple[Solution, ...]
    axes: tuple[AxisSummary, ...]
    bounds: Bounds
    searched: int
    uniform: bool  # every axis has the same problem: one choice applied to all axes
    channels: tuple[int | None, int | None] = (None, None)
    explanation: tuple[tuple[str, str], ...] = ()


# ---- one axis -----------------------------------------------------------------------------


def family_of(op: str) -> str:
    """The op family (``conv2d`` → ``conv``), refusing ops solve cannot invert."""
    from convcalc.layers.registry import resolve_op

    spec, _ = resolve_op(op)
    if spec.name not in FAMILIES:
        raise InputError(f"solve handles {', '.join(FAMILIES)}; {spec.name} keeps or flattens sizes, there is "
                         "nothing to solve for")
    return spec.name


def _range(fixed: int | None, top: int, start: int = 1) -> range:
    return range(fixed, fixed + 1) if fixed is not None else range(start, top + 1)


def _kernels_and_dilations(family: str, fixed: Fixed, bounds: Bounds) -> Iterator[tuple[int, int]]:
    for k in _range(fixed.k, bounds.max_k):
        if family == "avgpool":
            dilations = range(1, 2)
        elif fixed.dilation is not None:
            dilations = range(fixed.dilation, fixed.dilation + 1)
        else:
            dilations = range(1, 2) if k == 1 else range(1, bounds.max_dilation + 1)
        for d in dilations:
            yield k, d


def _split(total: int) -> tuple[int, int]:
    """TensorFlow SAME's split: the extra row goes after."""
    return total // 2, total - total // 2


def rows_never_read(i: int, k: int, s: int, pl: int, d: int, o: int) -> int:
    """Input rows (of 0 … i − 1) that none of the o windows' taps reads.

    Tap u of window t reads padded position y = t·s + u·d (real row y − p_before). Taps with
    the same residue r = u·d mod s read y = r + q·s for q in [u·d div s, u·d div s + o − 1];
    merging those intervals per residue and clipping them to the real rows counts the rows
    read exactly, in O(k log k) whatever the size.
    """
    if d == 1 and s <= k and pl <= k - 1:  # overlapping contiguous windows from row 0: only the tail can be missed
        return max(0, i + pl - ((o - 1) * s + k))
    by_residue: dict[int, list[int]] = {}
    for u in range(k):
        q, r = divmod(u * d, s)
        by_residue.setdefault(r, []).append(q)
    read = 0
    for r, starts in by_residue.items():
        lo = -((r - pl) // s)  # first q with r + q·s ≥ p_before
        hi = (pl + i - 1 - r) // s  # last q with r + q·s ≤ p_before + i − 1
        end = lo - 1  # the last q counted so far
        for q in sorted(starts):
            a, b = max(q, end + 1, lo), min(q + o - 1, hi)
            if a <= b:
                read += b - a + 1
                end = b
    return i - read


def _choice(i: int, k: int, s: int, pads: tuple[int, int], d: int, o: int, **extra) -> AxisChoice:
    return AxisChoice(k=k, stride=s, pad=pads, dilation=d, rows_never_read=rows_never_read(i, k, s, pads[0], d, o),
                      **extra)


def _fixed_pads(fixed: Fixed, i: int, k: int, s: int, d: int) -> tuple[int, int] | None:
    if fixed.pad == "same":
        return axis.torch_same_padding(k, d)
    if fixed.pad == "tf-same":
        return axis.tf_same_padding(i, k, s, d)
    return fixed.pad


def _conv_totals(problem: AxisProblem, k_eff: int, s: int) -> range:
    """The total paddings P that give o (the closed form), within the 'same' bound."""
    low = (problem.o - 1) * s + k_eff - problem.i
    return range(max(low, 0), min(low + s - 1, k_eff - 1) + 1)


def candidates(problem: AxisProblem, bounds: Bounds) -> Iterator[AxisChoice]:
    """Every configuration the closed forms say gives ``problem.o`` (not yet validated)."""
    f, _i, o, family = problem.fixed, problem.i, problem.o, problem.family
    if family.startswith(("adaptive", "global")):
        if family.startswith("global") and o != 1:
            return
        yield AxisChoice(output_size=o)
        return
    for k, d in _kernels_and_dilations(family, f, bounds):
        k_eff = axis.effective_kernel(k, d)
        for s in _range(f.stride, bounds.max_stride):
            if family == "conv":
                yield from _conv_candidates(problem, k, s, d, k_eff)
            elif family == "conv-transpose":
                yield from _transposed_candidates(problem, k, s, d)
            else:
                yield from _pool_candidates(problem, k, s, d)


def _conv_candidates(problem: AxisProblem, k: int, s: int, d: int, k_eff: int) -> Iterator[AxisChoice]:
    i, o = problem.i, problem.o
    pads = _fixed_pads(problem.fixed, i, k, s, d)
    if pads is not None:
        if axis.conv_output_size(i, k, s, pads[0], pads[1], d) == o and i + sum(pads) >= k_eff:
            yield _choice(i, k, s, tuple(pads), d, o)
        return
    for total in _conv_totals(problem, k_eff, s):
        yield _choice(i, k, s, _split(total), d, o)


def _transposed_candidates(problem: AxisProblem, k: int, s: int, d: int) -> Iterator[AxisChoice]:
    i, o, f = problem.i, problem.o, problem.fixed
    base = (i - 1) * s + d * (k - 1) + 1 - o  # = 2p − output_padding
    for op in _range(f.output_padding, max(s, d) - 1, start=0):
        if f.pad is not None:
            if isinstance(f.pad, str) or sum(f.pad) != base + op:
                continue
            pads = tuple(f.pad)
        else:
            if (base + op) % 2 or not 0 <= (base + op) // 2 <= d * (k - 1) // 2:
                continue
            pads = ((base + op) // 2,) * 2
        yield AxisChoice(k=k, stride=s, pad=pads, dilation=d, output_padding=op)


def _pool_candidates(problem: AxisProblem, k: int, s: int, d: int) -> Iterator[AxisChoice]:
    i, o, f = problem.i, problem.o, problem.fixed
    modes = (f.ceil_mode,) if f.ceil_mode is not None else (False, True)
    fixed_pads = _fixed_pads(f, i, k, s, d)
    splits = [tuple(fixed_pads)] if fixed_pads is not None else [_split(t) for t in range(2 * (k // 2) + 1)]
    for ceil in modes:
        for pl, pr in splits:
            size, _ = axis.pool_output_size(i, k, s, pl, pr, d, ceil)
            if size == o:
                yield _choice(i, k, s, (pl, pr), d, o, ceil_mode=ceil)


def search_size(problem: AxisProblem, bounds: Bounds) -> int:
    """How many closed-form checks :func:`candidates` makes (to refuse explosive bounds first)."""
    f, family = problem.fixed, problem.family
    if family.startswith(("adaptive", "global")):
        return 1
    ks = 1 if f.k is not None else bounds.max_k
    ds = 1 if f.dilation is not None or family == "avgpool" else bounds.max_dilation
    strides = [f.stride] if f.stride is not None else list(range(1, bounds.max_stride + 1))
    top_k = f.k if f.k is not None else bounds.max_k
    if family == "conv":
        per = sum(strides)
    elif family == "conv-transpose":
        per = sum(max(s, bounds.max_dilation) for s in strides)
    else:
        per = len(strides) * (top_k + 1) * 2
    return ks * ds * per


def validate(op: str, rank: int, choices: tuple[AxisChoice, ...], family: str, spatial: tuple[int, ...],
             channels: tuple[int | None, int | None]) -> LayerReport | None:
    """The shape engine's report for a configuration, or None when the layer refuses it."""
    from convcalc.layers.registry import analyze_layer

    c_in, c_out = channels
    shape = ((c_in,) if c_in is not None else ()) + tuple(spatial)
    try:
        report = analyze_layer(op, layer_options(family, choices, c_out), shape, dims=rank)
    except InputError:
        return None
    return report


def layer_options(family: str, choices: tuple[AxisChoice, ...], c_out: int | None = None) -> dict[str, Any]:
    """The parsed options ``build_layer`` takes for this configuration."""
    if family.startswith("global"):
        return {}
    if family.startswith("adaptive"):
        return {"output-size": tuple(c.output_size for c in choices)}
    options: dict[str, Any] = {"k": tuple(c.k for c in choices), "stride": tuple(c.stride for c in choices),
                               "pad": tuple(c.pad for c in choices)}
    if family != "avgpool":
        options["dilation"] = tuple(c.dilation for c in choices)
    if family == "conv-transpose":
        options["output-padding"] = tuple(c.output_padding for c in choices)
    if family.endswith("pool") and choices[0].ceil_mode:
        options["ceil-mode"] = True
    if family.startswith("conv") and c_out is not None:
        options["out"] = c_out
    return options


def _key_sum(keys) -> tuple[int, ...]:
    total: tuple[int, ...] | None = None
    for key in keys:
        total = key if total is None else tuple(a + b for a, b in zip(total, key))
    return total or ()


def solve_axis(problem: AxisProblem, bounds: Bounds, op: str, rank: int) -> list[AxisChoice]:
    """The validated choices for one axis, best first.

    Each candidate is checked as a layer with the same choice on every axis of an input
    with size i on every axis: the shape rules are per axis, so this is exactly the check
    the axis needs.
    """
    found = []
    for choice in candidates(problem, bounds):
        report = validate(op, rank, (choice,) * rank, problem.family, (problem.i,) * rank, (None, None))
        if report is not None and report.output[-1] == problem.o:
            found.append(choice)
    found.sort(key=lambda c: c.key)
    return found


def reachable_sizes(problem: AxisProblem, bounds: Bounds) -> set[int]:
    """Every output size the closed forms reach from ``problem.i`` within the bounds."""
    f, i, family = problem.fixed, problem.i, problem.family
    if family.startswith("global"):
        return {1}
    if family.startswith("adaptive"):
        return set(range(1, i + 1))
    sizes: set[int] = set()
    for k, d in _kernels_and_dilations(family, f, bounds):
        k_eff = axis.effective_kernel(k, d)
        for s in _range(f.stride, bounds.max_stride):
            if family == "conv":
                pads = _fixed_pads(f, i, k, s, d)
                totals = [sum(pads)] if pads is not None else range(max(k_eff - i, 0), k_eff)
                sizes.update(axis.conv_output_size(i, k, s, t, 0, d) for t in totals if i + t >= k_eff)
            elif family == "conv-transpose":
                pads = [sum(f.pad)] if isinstance(f.pad, tuple) else [2 * p for p in range(d * (k - 1) // 2 + 1)]
                for op in _range(f.output_padding, max(s, d) - 1, start=0):
                    sizes.update(axis.transposed_output_size(i, k, s, t, 0, d, op) for t in pads)
            else:
                fixed_pads = _fixed_pads(f, i, k, s, d)
                splits = [fixed_pads] if fixed_pads is not None else [_split(t) for t in range(2 * (k // 2) + 1)]
                for ceil in (f.ceil_mode,) if f.ceil_mode is not None else (False, True):
                    sizes.update(axis.pool_output_size(i, k, s, pl, pr, d, ceil)[0] for pl, pr in splits)
    return {x for x in sizes if x >= 1}


def nearest_reachable(problem: AxisProblem, bounds: Bounds, op: str, rank: int) -> tuple[int | None, int | None]:
    """The reachable sizes closest below and above the target (each checked by a solve)."""
    sizes = reachable_sizes(problem, bounds)
    below = sorted((x for x in sizes if x < problem.o), reverse=True)
    above = sorted(x for x in sizes if x > problem.o)

    def first(options):
        for x in options:
            if solve_axis(replace(problem, o=x), bounds, op, rank):
                return x
        return None

    return first(below), first(above)


# ---- a whole layer ------------------------------------------------------------------------


def check_search(problems: list[AxisProblem], bounds: Bounds, factor: int = 1, what: str = "search") -> int:
    """Refuse, before searching, bounds that would take too long; return the candidate count."""
    total = factor * sum(search_size(p, bounds) for p in set(problems))
    if total > SEARCH_LIMIT:
        raise InputError(
            f"the {what} would check {total:,} candidates (more than {SEARCH_LIMIT:,}): narrow --max-k "
            f"({bounds.max_k}), --max-stride ({bounds.max_stride}) or --max-dilation ({bounds.max_dilation}), "
            "or fix --k / --stride"
        )
    return total


def _no_solution(problems, bounds, op, rank, family) -> InputError:
    from convcalc.layers.base import axis_names

    parts = []
    names: dict[AxisProblem, list[str]] = {}
    for name, problem in zip(axis_names(rank), problems):
        names.setdefault(problem, []).append(name)
    for problem, axes_named in names.items():
        name = ", ".join(axes_named)
        if solve_axis(problem, bounds, op, rank):
            continue
        below, above = nearest_reachable(problem, bounds, op, rank)
        near = [f"{x}" for x in (below, above) if x is not None]
        if above is None and below is not None:
            reach = f"the largest size reachable from {problem.i} is {below}"
        elif below is None and above is not None:
            reach = f"the smallest size reachable from {problem.i} is {above}"
        elif near:
            reach = f"the nearest sizes reachable from {problem.i} are {' and '.join(near)}"
        else:
            reach = f"nothing is reachable from {problem.i}"
        parts.append(f"along {name}, {problem.i} → {problem.o}: {reach}")
    return InputError(f"no {op} takes the input to the target within the bounds ({bounds.text(family)}); "
                      + "; ".join(parts))


def solve_layer(op: str, rank: int, spatial_in: tuple[int, ...], spatial_out: tuple[int, ...],
                fixed: tuple[Fixed, ...], bounds: Bounds = Bounds(), limit: int | None = None,
                channels: tuple[int | None, int | None] = (None, None)) -> SolveResult:
    """Every configuration of ``op`` taking ``spatial_in`` to ``spatial_out`` within ``bounds``.

    Raises InputError when there is none (naming the nearest reachable sizes) or when the
    search would be too large. ``limit`` caps the solutions listed, never the count.
    """
    from convcalc.layers.base import axis_names

    family = family_of(op)
    problems = [AxisProblem(family, i, o, f) for i, o, f in zip(spatial_in, spatial_out, fixed)]
    searched = check_search(problems, bounds)
    per_problem = {p: solve_axis(p, bounds, op, rank) for p in set(problems)}
    uniform = len(per_problem) == 1
    shown = SHOWN_LIMIT if limit is None else min(limit, SHOWN_LIMIT)
    if uniform:
        choices = per_problem[problems[0]]
        count = len(choices)
        combos: list[tuple[AxisChoice, ...]] = [(c,) * rank for c in choices[:shown]]
    else:
        lists = [per_problem[p] for p in problems]
        count = _combination_count(lists, family)
        combos = _best_combinations(lists, family, shown)
    if count == 0:
        raise _no_solution(problems, bounds, op, rank, family)
    solutions = []
    for combo in combos:
        report = validate(op, rank, combo, family, spatial_in, channels)
        if report is None:  # per-axis checks passed, so only a cross-axis rule could refuse
            raise AssertionError(f"{op}: {combo} passed every axis but not the layer")
        solutions.append(Solution(combo, report))
    axes = tuple(AxisSummary(name, p.i, p.o, len(per_problem[p])) for name, p in zip(axis_names(rank), problems))
    return SolveResult(op=op, family=family, rank=rank, input=tuple(spatial_in), target=tuple(spatial_out),
                       count=count, solutions=tuple(solutions), axes=axes, bounds=bounds, searched=searched,
                       uniform=uniform, channels=channels,
                       explanation=explain(problems[0], solutions[0].axes[0]) if solutions else ())


def _combination_count(lists: list[list[AxisChoice]], family: str) -> int:
    """Per-axis choices combine freely, except that ceil_mode is one flag for the whole layer."""
    if not family.endswith("pool") or family.startswith(("adaptive", "global")):
        count = 1
        for choices in lists:
            count *= len(choices)
        return count
    total = 0
    for ceil in (False, True):
        count = 1
        for choices in lists:
            count *= sum(1 for c in choices if c.ceil_mode == ceil)
        total += count
    return total


def _best_combinations(lists: list[list[AxisChoice]], family: str, limit: int) -> list[tuple[AxisChoice, ...]]:
    """The ``limit`` best combinations of per-axis choices (key = the sum of the axes' keys).

    The keys add up componentwise and compare lexicographically, an ordered group, so the
    usual best-first walk over index vectors finds the best sums in order without listing
    the whole product.
    """
    groups = [lists]
    if family.endswith("pool") and not family.startswith(("adaptive", "global")):
        groups = [[[c for c in choices if c.ceil_mode == ceil] for choices in lists] for ceil in (False, True)]
    heap: list = []
    seen = set()
    for g, group in enumerate(groups):
        if all(group):
            start = (0,) * len(group)
            heapq.heappush(heap, (_key_sum(c[0].key for c in group), g, start))
            seen.add((g, start))
    result = []
    while heap and len(result) < limit:
        _, g, index = heapq.heappop(heap)
        group = groups[g]
        result.append(tuple(choices[j] for choices, j in zip(group, index)))
        for axis_index in range(len(index)):
            nxt = index[:axis_index] + (index[axis_index] + 1,) + index[axis_index + 1:]
            if nxt[axis_index] < len(group[axis_index]) and (g, nxt) not in seen:
                seen.add((g, nxt))
                heapq.heappush(heap, (_key_sum(c[j].key for c, j in zip(group, nxt)), g, nxt))
    return result


def explain(problem: AxisProblem, best: AxisChoice) -> tuple[tuple[str, str], ...]:
    """Why the best answer works: the closed form with its numbers."""
    i, o, k, s, d = problem.i, problem.o, best.k, best.stride, best.dilation
    pl, pr = best.pad
    k_eff = axis.effective_kernel(k, d)
    family = problem.family
    if family == "conv":
        low = (o - 1) * s + k_eff - i
        lines = [
            ("rule", "o = floor((i + P − k_eff)/s) + 1 with P = p_before + p_after, k_eff = d(k − 1) + 1"),
            ("solved for P", "(o − 1)·s + k_eff − i ≤ P ≤ (o − 1)·s + k_eff − i + s − 1"),
            ("numbers", f"k_eff = {d}·({k} − 1) + 1 = {k_eff}; ({o} − 1)·{s} + {k_eff} − {i} = {low}, so "
                        f"{low} ≤ P ≤ {low + s - 1}"),
            ("chosen", f"P = {pl + pr} → padding {_pad_text(best.pad)}: "
                       f"floor(({i} + {pl + pr} − {k_eff})/{s}) + 1 = {o}"),
        ]
    elif family == "conv-transpose":
        base = (i - 1) * s + d * (k - 1) + 1 - o
        lines = [
            ("rule", "o = (i − 1)·s − 2p + d(k − 1) + output_padding + 1, 0 ≤ output_padding < max(s, d)"),
            ("solved for p", "2p − output_padding = (i − 1)·s + d(k − 1) + 1 − o"),
            ("numbers", f"({i} − 1)·{s} + {d}·({k} − 1) + 1 − {o} = {base}"),
            ("chosen", f"p = {pl}, output_padding = {best.output_padding}: 2·{pl} − {best.output_padding} = {base}"),
        ]
    elif family.startswith(("adaptive", "global")):
        lines = [("rule", "bin t = [floor(t·I/O), ceil((t + 1)·I/O)): any output size O works"),
                 ("chosen", f"output_size = {o}" + ("" if i % o == 0 else f" ({o} does not divide {i}: uneven bins)"))]
    else:
        mode = "ceil" if best.ceil_mode else "floor"
        size, _ = axis.pool_output_size(i, k, s, pl, pr, d, best.ceil_mode)
        lines = [
            ("rule", "floor mode as a conv; ceil mode o = ceil((i + P − k_eff)/s) + 1, minus 1 if the last window "
                     "starts in the right padding"),
            ("chosen", f"k {k}, stride {s}, padding {_pad_text(best.pad)}, {mode} mode: {i} → {size}"),
        ]
    if best.rows_never_read:
        lines.append(("cost", f"{best.rows_never_read} input rows are never read"))
    return tuple(lines)


def _pad_text(pads: tuple[int, int]) -> str:
    return str(pads[0]) if pads[0] == pads[1] else f"{pads[0]}:{pads[1]}"


def expand_fixed(rank: int, **values: tuple | None) -> tuple[Fixed, ...]:
    """Per-axis Fixed from per-axis (or one-for-all) tuples, as the CLI parses them."""
    from convcalc.notation import expand

    per_axis: dict[str, tuple] = {}
    for name, value in values.items():
        if value is None or isinstance(value, (str, bool)):
            per_axis[name] = (value,) * rank
        else:
            per_axis[name] = expand(tuple(value), rank, f"--{name.replace('_', '-')}")
    return tuple(Fixed(**{name: per_axis[name][j] for name in per_axis}) for j in range(rank))


__all__ = ["AxisChoice", "AxisProblem", "Bounds", "Fixed", "Solution", "SolveResult", "candidates", "check_search",
           "expand_fixed", "family_of", "layer_options", "reachable_sizes", "rows_never_read", "solve_axis",
           "solve_layer", "validate"]
