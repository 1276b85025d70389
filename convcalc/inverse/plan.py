"""Inverse questions over several layers: chain plans (``--stages``) and receptive-field
stacks (``--rf``).

Chain plan: N layers of one op taking the input size to the target. Along each axis the
sizes form a layered graph: size x at stage j reaches every size y the closed forms of
:mod:`convcalc.inverse.solve` give from x. A plan's cost is the sum of its stages' best
ranking keys (the same additive keys as ``solve``), and the best plans are found by a
k-best dynamic programme from the target back to the input. Each stage of a plan shown is
then solved for real (validated by the shape engine), with its number of alternatives.

Receptive-field stack: layers (k, s, d) whose receptive field is exactly R, by the
forward recurrence r_out = r_in + (k_eff − 1)·j_in, j_out = j_in·s (docs/arithmetic.md §6.1; the one in
:mod:`convcalc.network.walk`). The last layer's stride cannot change the receptive field,
so it is 1 unless fixed. Stacks are ranked: fewest layers, then fewest dilated layers,
smallest kernels, smallest dilations, smallest strides.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache, lru_cache

from convcalc.engine import axis
from convcalc.errors import InputError
from convcalc.inverse.solve import (
    AxisProblem,
    Bounds,
    Fixed,
    SolveResult,
    _fixed_pads,
    _kernels_and_dilations,
    _key_sum,
    _range,
    _split,
    check_search,
    family_of,
    rows_never_read,
    solve_layer,
)

MAX_STAGES = 12
DEFAULT_BOUNDS = Bounds()
NOTHING_FIXED = Fixed()
MAX_SIZES = 4_000  # distinct sizes the chain search may visit along one axis
PLAN_LIMIT = 3  # plans shown by default


@dataclass(frozen=True)
class Plan:
    """One chain: the sizes per stage (per axis) and each stage solved for real."""

    sizes: tuple[tuple[int, ...], ...]  # stage boundaries: sizes[0] is the input, sizes[-1] the target
    stages: tuple[SolveResult, ...]
    key: tuple[int, ...]


@dataclass(frozen=True)
class PlanResult:
    op: str
    family: str
    rank: int
    input: tuple[int, ...]
    target: tuple[int, ...]
    stages: int
    count: int  # size sequences (per-axis counts multiplied)
    plans: tuple[Plan, ...]
    bounds: Bounds
    channels: tuple[int | None, int | None] = (None, None)


def transitions(family: str, x: int, fixed: Fixed, bounds: Bounds) -> dict[int, tuple[int, ...]]:
    """Every size reachable from x in one layer, with the best (smallest) ranking key.

    The (kernel, dilation) groups come in ranking order, so a size whose best choice so far
    reads every row with symmetric padding is settled: no later candidate can beat it, and
    the (costly) count of unread rows is skipped for it.
    """
    best: dict[int, tuple[int, ...]] = {}
    settled: set[int] = set()

    def offer(y: int, k: int, s: int, pl: int, pr: int, d: int, op: int = 0, ceil: bool = False) -> None:
        if y < 1 or y in settled:
            return
        unread = 0 if family == "conv-transpose" else rows_never_read(x, k, s, pl, d, y)
        key = (unread, int(pl != pr), int(d > 1), k, d, int(ceil), op, s, pl + pr)
        if y not in best or key < best[y]:
            best[y] = key

    groups = sorted(_kernels_and_dilations(family, fixed, bounds), key=lambda kd: (kd[1] > 1, kd[0], kd[1]))
    for k, d in groups:
        k_eff = axis.effective_kernel(k, d)
        for s in _range(fixed.stride, bounds.max_stride):
            if family == "conv":
                pads = _fixed_pads(fixed, x, k, s, d)
                splits = [tuple(pads)] if pads is not None else [_split(t) for t in range(max(k_eff - x, 0), k_eff)]
                for pl, pr in splits:
                    if x + pl + pr >= k_eff:
                        offer(axis.conv_output_size(x, k, s, pl, pr, d), k, s, pl, pr, d)
            elif family == "conv-transpose":
                pads = [tuple(fixed.pad)] if isinstance(fixed.pad, tuple) else \
                    [(p, p) for p in range(d * (k - 1) // 2 + 1)]
                for op in _range(fixed.output_padding, max(s, d) - 1, start=0):
                    for pl, pr in pads:
                        offer(axis.transposed_output_size(x, k, s, pl, pr, d, op), k, s, pl, pr, d, op=op)
            else:
                pads = _fixed_pads(fixed, x, k, s, d)
                splits = [tuple(pads)] if pads is not None else [_split(t) for t in range(2 * (k // 2) + 1)]
                for ceil in (fixed.ceil_mode,) if fixed.ceil_mode is not None else (False, True):
                    for pl, pr in splits:
                        offer(axis.pool_output_size(x, k, s, pl, pr, d, ceil)[0], k, s, pl, pr, d, ceil=ceil)
        settled.update(y for y, key in best.items() if key[0] == 0 and key[1] == 0)
    return best


def _plan_axis(problem: AxisProblem, stages: int, bounds: Bounds, limit: int,
               banned: frozenset) -> tuple[list[tuple[tuple[int, ...], tuple[int, ...]]], int]:
    """The ``limit`` cheapest size sequences i → … → o of ``stages`` steps, and how many there are."""
    family, fixed = problem.family, problem.fixed
    if family.startswith(("adaptive", "global")):
        raise InputError(f"a chain of {family} layers is one layer: use solve without --stages")
    grows = family == "conv-transpose"
    memo: dict[int, dict[int, tuple[int, ...]]] = {}

    def step(x: int) -> dict[int, tuple[int, ...]]:
        if x not in memo:
            moves = transitions(family, x, fixed, bounds)
            memo[x] = {y: key for y, key in moves.items() if (x, y) not in banned}
        return memo[x]

    def alive(y: int, remaining: int) -> bool:
        # conv shrinks or keeps, a transposed conv grows or keeps, a pool grows by at most 1
        if family == "conv":
            return y >= problem.o
        if grows:
            return y <= problem.o
        return y + remaining >= problem.o

    layers = [{problem.i}]
    for j in range(1, stages + 1):
        nxt = {y for x in layers[-1] for y in step(x) if alive(y, stages - j)}
        if len(memo) > MAX_SIZES:
            raise InputError(f"the chain search would visit more than {MAX_SIZES:,} sizes per axis: use fewer --stages "
                             f"({stages}) or narrower bounds (--max-stride {bounds.max_stride})")
        layers.append(nxt)
    # k-best from the target back: best[x] = the cheapest (key, path) lists from x to o
    best: dict[int, list[tuple[tuple[int, ...], tuple[int, ...]]]] = {problem.o: [((), (problem.o,))]}
    counts: dict[int, int] = {problem.o: 1}
    for j in range(stages - 1, -1, -1):
        new_best: dict[int, list] = {}
        new_counts: dict[int, int] = {}
        for x in layers[j]:
            options = []
            total = 0
            for y, key in step(x).items():
                if y in best:
                    total += counts[y]
                    options.extend((_key_sum([key, c]) if c else key, (x,) + path) for c, path in best[y])
            if options:
                options.sort()
                new_best[x], new_counts[x] = options[:limit], total
        best, counts = new_best, new_counts
    return best.get(problem.i, []), counts.get(problem.i, 0)


def plan_chain(op: str, rank: int, spatial_in: tuple[int, ...], spatial_out: tuple[int, ...], fixed: tuple[Fixed, ...],
               stages: int, bounds: Bounds = DEFAULT_BOUNDS, limit: int | None = None,
               channels: tuple[int | None, int | None] = (None, None)) -> PlanResult:
    """The best chains of ``stages`` layers of ``op`` from ``spatial_in`` to ``spatial_out``.

    Plans with one stride for every stage ("5 stride-2 stages") come before mixed ones of
    the same cost class (unread rows, asymmetric padding, dilation). The size sequences are
    searched without dilation unless ``--dilation`` is fixed (dilation does not help a size
    chain); each stage shown is then solved in full. The first stage takes the input
    channels to the output channels and the later stages keep them (widths are not planned).
    """
    family = family_of(op)
    if isinstance(stages, bool) or not isinstance(stages, int) or not 1 <= stages <= MAX_STAGES:
        raise InputError(f"--stages must be a whole number from 1 to {MAX_STAGES}; got {stages!r}")
    limit = PLAN_LIMIT if limit is None else limit
    problems = [AxisProblem(family, i, o, f) for i, o, f in zip(spatial_in, spatial_out, fixed)]
    distinct = list(dict.fromkeys(problems))
    searched = [replace(p, fixed=replace(p.fixed, dilation=p.fixed.dilation or 1)) for p in distinct]
    check_search(searched, bounds, factor=stages * max(max(spatial_in), max(spatial_out)), what="chain search")
    strides = sorted({s for p in distinct for s in _range(p.fixed.stride, bounds.max_stride)})
    banned: set = set()
    for _ in range(8):  # a transition the closed forms allow but the layer refuses is banned, then replanned
        free = {p: _plan_axis(p, stages, bounds, limit, frozenset(banned)) for p in searched}
        count = 1
        for p in searched if len(searched) == 1 else [searched[distinct.index(q)] for q in problems]:
            count *= free[p][1]
        if count == 0:
            raise _no_plan(op, problems, stages, bounds)
        candidates = [(None, free)]
        if len(strides) > 1:
            for s in strides:
                uniform = {p: _plan_axis(replace(p, fixed=replace(p.fixed, stride=s)), stages, bounds, limit,
                                         frozenset(banned)) for p in searched}
                if all(paths for paths, _ in uniform.values()):
                    candidates.append((s, uniform))
        ordered = []
        for stride, per_problem in candidates:
            depth = min(len(per_problem[p][0]) for p in searched)
            for m in range(depth):
                paths = [per_problem[searched[distinct.index(q)]][0][m] for q in problems]
                key = _key_sum(key for key, _ in paths[:1] if len(searched) == 1) or _key_sum(k for k, _ in paths)
                sizes = tuple(tuple(path[j] for _, path in paths) for j in range(stages + 1))
                ordered.append((key[:3] + (stride is None,) + key[3:], sizes, stride))
        ordered.sort()
        plans, refused, seen = [], set(), set()
        for key, sizes, stride in ordered:
            if sizes in seen or len(plans) == limit:
                continue
            seen.add(sizes)
            stage_fixed = tuple(replace(f, stride=stride) if stride is not None else f for f in fixed)
            results = _solve_stages(op, rank, sizes, stage_fixed, bounds, channels, refused)
            if results is not None:
                plans.append(Plan(sizes, results, key[:3] + key[4:]))
        if not refused:
            break
        banned |= refused
    else:  # pragma: no cover - would need many refusals in a row
        raise InputError(f"no {stages}-stage plan of {op} validates within the bounds")
    return PlanResult(op=op, family=family, rank=rank, input=tuple(spatial_in), target=tuple(spatial_out),
                      stages=stages, count=count, plans=tuple(plans), bounds=bounds, channels=channels)


def _solve_stages(op, rank, sizes, fixed, bounds, channels, refused) -> tuple[SolveResult, ...] | None:
    """Each stage of a plan solved for real; None (and the refused transitions noted) if one has no answer."""
    results = []
    for j in range(len(sizes) - 1):
        # the first stage goes C_in → C_out, the later ones keep C_out (the widths between are not planned)
        stage_channels = (channels[0] if j == 0 else channels[1] or channels[0], channels[1])
        try:
            results.append(_stage(op, rank, sizes[j], sizes[j + 1], fixed, bounds, stage_channels))
        except InputError:
            refused |= set(zip(sizes[j], sizes[j + 1]))
            return None
    return tuple(results)


@lru_cache(maxsize=256)
def _stage(op, rank, size_in, size_out, fixed, bounds, channels) -> SolveResult:
    return solve_layer(op, rank, size_in, size_out, fixed, bounds, limit=1, channels=channels)


def _no_plan(op, problems, stages, bounds) -> InputError:
    p = problems[0]
    return InputError(f"no chain of {stages} {op} layers takes {p.i} to {p.o} within the bounds "
                      f"({bounds.text(p.family)}): try another --stages or wider bounds")


# ---- receptive-field stacks ---------------------------------------------------------------


@dataclass(frozen=True)
class RFLayer:
    k: int
    stride: int
    dilation: int

    @property
    def key(self) -> tuple[int, ...]:
        return (int(self.dilation > 1), self.k, self.dilation, self.stride)


@dataclass(frozen=True)
class RFStack:
    layers: tuple[RFLayer, ...]
    rf: int  # checked by the receptive-field walk of convcalc.network.walk
    jump: int

    @property
    def key(self) -> tuple[int, ...]:
        return (len(self.layers),) + _key_sum(layer.key for layer in self.layers)


@dataclass(frozen=True)
class RFResult:
    rf: int
    depth: int
    count: int
    stacks: tuple[RFStack, ...]
    bounds: Bounds


MAX_RF = 100_000
MAX_DEPTH = 64


def rf_stacks(rf: int, fixed: Fixed = NOTHING_FIXED, bounds: Bounds = DEFAULT_BOUNDS, depth: int | None = None,
              limit: int | None = None) -> RFResult:
    """Conv stacks whose receptive field is exactly ``rf``: the shallowest ones, or ``depth`` layers."""
    if isinstance(rf, bool) or not isinstance(rf, int) or not 2 <= rf <= MAX_RF:
        raise InputError(f"--rf must be a whole number from 2 to {MAX_RF:,}; got {rf!r}")
    if depth is not None and not 1 <= depth <= MAX_DEPTH:
        raise InputError(f"--stages must be from 1 to {MAX_DEPTH} for a receptive-field stack; got {depth}")
    limit = 10 if limit is None else limit
    choices = [(k, d) for k, d in _kernels_and_dilations("conv", fixed, bounds) if k > 1]
    strides = list(_range(fixed.stride, bounds.max_stride))
    if not choices:
        raise InputError("a 1-tap kernel never grows the receptive field: use --k 2 or more")
    states = rf * len(choices) * len(strides) * (depth or MAX_DEPTH)
    if states > 50 * 2_000_000:
        raise InputError(f"the receptive-field search would explore about {states:,} states: narrow the bounds")
    last_stride = fixed.stride or 1

    @cache
    def best(layers: int, remaining: int, jump: int) -> tuple[int, tuple]:
        """(count, the ``limit`` best (key, layers) lists) of stacks of ``layers`` layers adding ``remaining``."""
        if layers == 0:
            return (1, (((), ()),)) if remaining == 0 else (0, ())
        if remaining <= 0:
            return 0, ()
        count, options = 0, []
        for k, d in choices:
            grow = (axis.effective_kernel(k, d) - 1) * jump
            if grow > remaining:
                continue
            for s in (strides if layers > 1 else [last_stride]):
                sub_count, sub = best(layers - 1, remaining - grow, jump * s)
                if sub_count:
                    count += sub_count
                    layer = RFLayer(k, s, d)
                    options.extend((_key_sum([layer.key, key]) if key else layer.key, (layer,) + rest)
                                   for key, rest in sub)
        options.sort()
        return count, tuple(options[:limit])

    depths = [depth] if depth is not None else range(1, MAX_DEPTH + 1)
    for n in depths:
        count, options = best(n, rf - 1, 1)
        if count:
            stacks = tuple(_checked_stack(layers, rf) for _, layers in options)
            return RFResult(rf=rf, depth=n, count=count, stacks=stacks, bounds=bounds)
    where = f"in {depth} layers" if depth is not None else f"in up to {MAX_DEPTH} layers"
    raise InputError(f"no conv stack reaches a receptive field of exactly {rf} {where} within the bounds "
                     f"(k ≤ {bounds.max_k}, stride ≤ {bounds.max_stride}, dilation ≤ {bounds.max_dilation})")


def _checked_stack(layers: tuple[RFLayer, ...], rf: int) -> RFStack:
    from convcalc.engine.report import AxisRF
    from convcalc.network.walk import RFState

    state = RFState()
    for layer in layers:
        state = state.after(AxisRF(axis.effective_kernel(layer.k, layer.dilation), layer.stride, 0))
    if state.size != rf:  # the search and the walk disagree: a bug, never an answer
        raise AssertionError(f"stack {layers} has receptive field {state.size}, not {rf}")
    return RFStack(layers, int(state.size), int(state.jump))
