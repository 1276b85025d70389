"""maxpool2d and avgpool2d on the board: which entry won each window (PyTorch's tie rule:
the first maximum in row-major order), the routing map of the backward pass, and each
average's sum and divisor.

Winners and window positions come from the layer's cache (``MaxPoolCache.indices``,
``WindowTable.positions``); the routing map drawn here must equal the layer's backward.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from convcalc.trace.context import Context, require_agreement, total
from convcalc.trace.model import Entry, Matrix, Step
from convcalc.trace.spec import LayerStep
from convcalc.trace.symbolic import Symbolic


def _window_cells(table, t: tuple[int, ...]) -> list[tuple[tuple[int, ...], int]]:
    """(input spatial index, tap number) of the real entries of window t, row-major."""
    cells = []
    for j, tap in enumerate(table.taps()):
        if all(table.valid[a][t[a], tap[a]] for a in range(len(tap))):
            cells.append((tuple(int(table.positions[a][t[a], tap[a]]) for a in range(len(tap))), j))
    return cells


def winner_cell(cache, index: tuple[int, ...], spatial: tuple[int, ...]) -> tuple[int, ...]:
    """The input cell that won window ``index``: PyTorch's ``return_indices`` (a flat index
    into the spatial plane), from the layer's cache."""
    return tuple(int(i) for i in np.unravel_index(int(np.asarray(cache.indices)[index]), spatial))


def _window_entry(
    ctx: Context, step: LayerStep, x_name: str, x: np.ndarray, y: np.ndarray, index, cells, form: str, **fields
) -> Entry:
    """Output entry ``index`` computed from one window of ``x``: its cells named and highlighted."""
    n, c = index[:2]
    return Entry(
        ctx.label(step.output, index, y.shape),
        form,
        y[index],
        source=x_name,
        labels=tuple(ctx.label(x_name, (n, c) + cell, x.shape) for cell, _ in cells),
        window=tuple(ctx.cell((n, c) + cell, x.shape) for cell, _ in cells),
        **fields,
    )


def _describe(step: LayerStep) -> str:
    o = step.options
    k = o["kernel_size"]
    stride = o["stride"][0] if o["stride"][0] == o["stride"][1] else "x".join(map(str, o["stride"]))
    text = f"{k[0]}x{k[1]} windows, stride {stride}"
    if o["padding"] != (0, 0):
        text += (
            f", padding {o['padding'][0] if o['padding'][0] == o['padding'][1] else 'x'.join(map(str, o['padding']))}"
        )
    if o.get("dilation", (1, 1)) != (1, 1):
        text += f", dilation {'x'.join(map(str, o['dilation']))}"
    if o.get("ceil_mode"):
        text += ", ceil_mode"
    return text


def _symbolic(x: np.ndarray) -> bool:
    return x.dtype == object and any(isinstance(v, Symbolic) for v in x.flat)


def maxpool_forward(ctx: Context, step: LayerStep, x_name: str, x: np.ndarray, y: np.ndarray, cache) -> Step:
    table = cache.windows
    entries, notes, ties = [], [], []
    marked = np.zeros(x.shape, dtype=bool)
    budget = ctx.limit(y.size)
    for index in np.ndindex(*y.shape):
        n, c, *t = index
        t = tuple(t)
        cells = _window_cells(table, t)
        values = [x[(n, c) + cell] for cell, _ in cells]
        win_cell = winner_cell(cache, index, x.shape[2:])
        best = x[(n, c) + win_cell]
        if not _same(best, y[index]) or any(v > best for v in values):
            from convcalc.trace.context import TraceBug

            raise TraceBug(f"{step.label}: the winner of window {list(index)} is not its maximum")
        marked[(n, c) + win_cell] = True
        equal = [cell for cell, _ in cells if not (x[(n, c) + cell] < best) and not (x[(n, c) + cell] > best)]
        win_label = ctx.label(x_name, (n, c) + win_cell, x.shape)
        note = ""
        if len(equal) > 1:
            others = [ctx.label(x_name, (n, c) + cell, x.shape) for cell in equal if cell != win_cell]
            note = f"tie with {', '.join(others)}: the first maximum in row-major order wins, as in PyTorch"
            ties.append((ctx.label(step.output, index, y.shape), win_label, others))
        if len(entries) < budget:
            entries.append(
                _window_entry(
                    ctx, step, x_name, x, y, index, cells, "max", candidates=tuple(values), winner=win_label, note=note
                )
            )
    for out, win, others in ties:
        notes.append(
            f"tie in the window of {out}: {win} = {' = '.join(others)}; PyTorch's CPU kernel scans the window "
            f"row by row with a strict '>' and keeps the first maximum, so {win} wins and alone gets the gradient"
        )
    if _symbolic(x):
        notes.append("winners are decided by comparing the entries' values at the spec's numbers")
    rules = (f"{step.output}[t] = max of window t of {x_name}   ({_describe(step)})",)
    matrices = (
        Matrix(x_name, ctx.show(x), marked=ctx.show(marked), marked_meaning="window winners"),
        Matrix(step.output, ctx.show(y)),
    )
    heading = f"{step.index}. {step.name if step.name != step.kind else 'maxpool2d'}: {step.output} = maxpool({x_name})"
    return Step("forward", heading, rules, matrices, tuple(entries), tuple(notes), step.index, y.size - len(entries))


def _same(a, b) -> bool:
    return not (a < b) and not (a > b)


def maxpool_backward(
    ctx: Context, step: LayerStep, x_name: str, x: np.ndarray, dy: np.ndarray, dx: np.ndarray, cache
) -> Step:
    out, dX = f"δ{step.output}", f"δ{x_name}"
    routed = np.zeros(x.shape, dtype=object) if dx.dtype == object else np.zeros(x.shape)
    routes = np.full(x.shape, "0", dtype=object)
    sources: dict[tuple[int, ...], list[str]] = {}
    for index in np.ndindex(*dy.shape):
        n, c = index[:2]
        target = (n, c) + winner_cell(cache, index, x.shape[2:])
        routed[target] = routed[target] + dy[index]
        sources.setdefault(target, []).append(ctx.label(out, index, dy.shape))
    for target, labels in sources.items():
        routes[target] = " + ".join(labels)
    require_agreement(routed, dx, f"{step.label} {dX}")
    entries = []
    budget = ctx.limit(len(sources))
    for target, labels in sorted(sources.items()):
        if len(labels) > 1 and len(entries) < budget:
            values = tuple(dy[_index_of(lbl, dy, ctx, out)] for lbl in labels)
            entries.append(
                Entry(
                    ctx.label(dX, target, x.shape),
                    "value",
                    dx[target],
                    text=" + ".join(labels),
                    candidates=values,
                    note="this entry won several overlapping windows: their gradients add up",
                )
            )
    rules = (
        f"{dX}[argmax of window t] = {out}[t]; every other entry gets 0 (one index per window: the first "
        "maximum in row-major order, PyTorch's tie rule)",
    )
    matrices = (
        Matrix(out, ctx.show(dy)),
        Matrix(f"routing of {out}", ctx.show(routes), caption="where each window's gradient goes"),
        Matrix(dX, ctx.show(dx)),
    )
    heading = f"{step.index}. {step.name if step.name != step.kind else 'maxpool2d'} backward"
    return Step("backward", heading, rules, matrices, tuple(entries), (), step.index)


def _index_of(label: str, dy: np.ndarray, ctx: Context, out: str) -> tuple[int, ...]:
    for index in np.ndindex(*dy.shape):
        if ctx.label(out, index, dy.shape) == label:
            return index
    raise KeyError(label)  # pragma: no cover


def _divisor_at(divisor, t: tuple[int, ...]) -> int:
    return int(divisor) if np.ndim(divisor) == 0 else int(np.asarray(divisor)[t])


def _reciprocal(divisor: int, like: np.ndarray):
    return Fraction(1, divisor) if like.dtype == object else 1.0 / divisor


def avgpool_forward(ctx: Context, step: LayerStep, x_name: str, x: np.ndarray, y: np.ndarray, cache) -> Step:
    table = cache.windows
    entries = []
    shown = np.empty(y.shape, dtype=object)
    budget = ctx.limit(y.size)
    divisors = set()
    for index in np.ndindex(*y.shape):
        n, c, *t = index
        cells = _window_cells(table, tuple(t))
        values = tuple(x[(n, c) + cell] for cell, _ in cells)
        divisor = _divisor_at(cache.divisor, tuple(t))
        divisors.add(divisor)
        shown[index] = total(values) * _reciprocal(divisor, x)
        if len(entries) < budget:
            entries.append(
                _window_entry(ctx, step, x_name, x, y, index, cells, "mean", candidates=values, divisor=divisor)
            )
    require_agreement(shown, y, f"{step.label} forward")
    o = step.options
    rule = f"{step.output}[t] = (Σ of window t of {x_name}) / divisor   ({_describe(step)})"
    notes = []
    if len(divisors) > 1 or o["padding"] != (0, 0) or o.get("ceil_mode"):
        if o.get("divisor_override"):
            notes.append(f"divisor_override = {o['divisor_override']} for every window")
        elif o.get("count_include_pad", True):
            notes.append(
                "count_include_pad: the divisor counts the padding inside the window "
                "(clipped at the end of the padding)"
            )
        else:
            notes.append("count_include_pad=false: the divisor counts only the real entries of each window")
    matrices = (Matrix(x_name, ctx.show(x)), Matrix(step.output, ctx.show(y)))
    heading = f"{step.index}. {step.name if step.name != step.kind else 'avgpool2d'}: {step.output} = avgpool({x_name})"
    return Step("forward", heading, (rule,), matrices, tuple(entries), tuple(notes), step.index, y.size - len(entries))


def avgpool_backward(
    ctx: Context, step: LayerStep, x_name: str, x: np.ndarray, dy: np.ndarray, dx: np.ndarray, cache
) -> Step:
    table = cache.windows
    out, dX = f"δ{step.output}", f"δ{x_name}"
    terms: dict[tuple[int, ...], list] = {}
    for index in np.ndindex(*dy.shape):
        n, c, *t = index
        share = _reciprocal(_divisor_at(cache.divisor, tuple(t)), dy)
        for cell, _ in _window_cells(table, tuple(t)):
            terms.setdefault((n, c) + cell, []).append((dy[index], share, ctx.label(out, index, dy.shape)))
    shown = np.zeros(x.shape, dtype=object)
    for target, pairs in terms.items():
        shown[target] = total(a * b for a, b, _ in pairs)
    require_agreement(shown, dx, f"{step.label} {dX}")
    entries = []
    budget = ctx.limit(x.size)
    for index in np.ndindex(*x.shape):
        if len(entries) >= budget:
            break
        pairs = terms.get(index, [])
        entries.append(
            Entry(
                ctx.label(dX, index, x.shape),
                "sum",
                dx[index],
                terms=tuple((a, b) for a, b, _ in pairs),
                note="" if pairs else "no window reads it",
                labels=tuple((lbl, None) for _, _, lbl in pairs),
            )
        )
    rule = f"{dX}[j] = Σ over the windows t that contain j of {out}[t] / divisor[t]"
    matrices = (Matrix(out, ctx.show(dy)), Matrix(dX, ctx.show(dx)))
    heading = f"{step.index}. {step.name if step.name != step.kind else 'avgpool2d'} backward"
    return Step("backward", heading, (rule,), matrices, tuple(entries), (), step.index, x.size - len(entries))
