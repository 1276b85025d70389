"""The finite-difference check at the end of every trace (CS231n's ``gradient_check``).

Central differences in float64, (L(v + h) − L(v − h))/2h with h = 1e-5·max(1, |v|) (CS231n's
step), for every entry of every parameter and of the input, against the gradients the trace
computed. Relative error |a − n| / max(|a|, |n|, 1); an entry passes below 1e-5, or below the
rounding noise of the difference itself (4·ε·|L|/h, which matters when the loss is large); an
entry that fails is retried with a 10x smaller step (the truncation error shrinks 100x) and,
failing that, with the Richardson extrapolation of the two differences, (100·n(h/10) − n(h))/99,
which cancels the h² term: that settles sharply curved losses such as batch norm of an almost
constant input.

Where the loss has a kink at the given numbers — a ReLU input exactly 0, a tie in a max-pool
window — it is not differentiable and a central difference averages two slopes. Such
entries are found by re-running the forward pass at v ± h and seeing a ReLU mask or a
pool winner change. There autograd returns the gradient of one of the pieces that meet
(PyTorch's choice: ReLU′(0) = 0, the first maximum wins); it usually equals one of the two
one-sided slopes, or lies between them, but it need not (a tied entry of two overlapping
windows). Kink entries are reported apart and never fail the check: finite differences
cannot decide them (``--verify torch`` does, exactly).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from convcalc.trace.model import Check
from convcalc.trace.symbolic import values_of

TOLERANCE = 1e-5  # central differences, float64
STEP = 1e-5
NOISE = 4 * 2.220446049250313e-16  # rounding of L(v ± h), relative to |L|
ONE_SIDED_TOLERANCE = 1e-4


def _float(a: np.ndarray) -> np.ndarray:
    return np.asarray(values_of(np.asarray(a)), dtype=np.float64)


def _close(a: float, n: float, loss_value: float, h: float) -> bool:
    """Within the tolerance, or within the rounding noise of the difference itself."""
    return abs(a - n) <= TOLERANCE * max(abs(a), abs(n), 1.0) + NOISE * abs(loss_value) / h


def relative_error(a: float, n: float) -> float:
    return abs(a - n) / max(abs(a), abs(n), 1.0)


#: Entries checked per tensor; above it a sample of this many, drawn with a seeded generator.
MAX_CHECKED = 1000
SAMPLE_SEED = 0
#: Values of perturbed copies stacked into one forward pass (times the pass's own expansion).
PASS_VALUES = 1 << 20


@dataclass(frozen=True)
class Sample:
    """Which entries of one tensor the check perturbs: all of them, or a seeded sample."""

    name: str
    entries: int
    indices: tuple[tuple[int, ...], ...]

    @property
    def sampled(self) -> bool:
        return len(self.indices) < self.entries


def choose_entries(name: str, shape: tuple[int, ...], rng: np.random.Generator, limit: int = MAX_CHECKED) -> Sample:
    """Every entry of a tensor of ``shape`` when it has at most ``limit``; otherwise ``limit``
    entries drawn without replacement by ``rng`` (in index order). The cost of the check is one
    forward pass per perturbed entry, so checking every entry of an n×n input costs n⁴ time."""
    size = int(np.prod(shape, dtype=np.int64))
    if size <= limit:
        return Sample(name, size, tuple(np.ndindex(*shape)))
    flat = np.sort(rng.choice(size, size=limit, replace=False))
    return Sample(name, size, tuple(tuple(int(i) for i in np.unravel_index(k, shape)) for k in flat))


def gradient_check(
    loss: Callable[[dict[str, np.ndarray]], tuple[float, Any]],
    tensors: dict[str, np.ndarray],
    analytic: dict[str, np.ndarray],
    label: Callable[[str, tuple], str] | None = None,
    many: Callable[[str, list[np.ndarray]], list[tuple[float, Any]] | None] | None = None,
    copies_per_pass: Callable[[str], int] | None = None,
    limit: int = MAX_CHECKED,
) -> Check:
    """Compare ``analytic`` with central differences of ``loss`` (which returns (L, decisions));
    ``label(name, index)`` names an entry the way the trace shows it; ``many(name, variants)``
    may evaluate several perturbed copies of one tensor at once (None: one call per copy), at
    most ``copies_per_pass(name)`` of them per call, so the memory stays that of a few passes.
    A tensor of more than ``limit`` entries is checked on a seeded sample of ``limit`` entries
    (:func:`choose_entries`), and the check says so."""
    base_value, base_decisions = loss(tensors)
    worst = 0.0
    kinks, kink_worst, kink_between, kink_other = [], 0.0, [], []
    failed: list[str] = []
    count = 0
    rng = np.random.default_rng(SAMPLE_SEED)
    samples = []
    for name, array in tensors.items():
        grad = analytic[name].reshape(array.shape)
        sample = choose_entries(name, array.shape, rng, limit)
        samples.append(sample)
        per_call = max(1, copies_per_pass(name) // 2) if copies_per_pass is not None and many is not None else 1
        for start in range(0, len(sample.indices), per_call):
            indices = sample.indices[start : start + per_call]
            steps = [STEP * max(1.0, abs(array[index])) for index in indices]
            variants = []
            for index, h in zip(indices, steps):
                for sign in (1, -1):
                    changed = array.copy()
                    changed[index] = array[index] + sign * h
                    variants.append(changed)
            results = many(name, variants) if many is not None else None
            if results is None:
                results = [loss({**tensors, name: changed}) for changed in variants]
            # Only the loss values and whether the decisions moved are kept: the perturbed
            # copies and their decisions go with this chunk.
            outcomes = [(f, _same(d, base_decisions)) for f, d in results]
            del variants, results
            for k, (index, h) in enumerate(zip(indices, steps)):
                (f_plus, same_plus), (f_minus, same_minus) = outcomes[2 * k], outcomes[2 * k + 1]
                a = float(grad[index])
                count += 1
                where = label(name, index) if label else (f"{name}[{','.join(map(str, index))}]" if index else name)
                if not same_plus or not same_minus:
                    right = (f_plus - base_value) / h
                    left = (base_value - f_minus) / h
                    err = min(relative_error(a, right), relative_error(a, left))
                    kinks.append(where)
                    if err <= ONE_SIDED_TOLERANCE:
                        kink_worst = max(kink_worst, err)
                    elif min(left, right) - ONE_SIDED_TOLERANCE <= a <= max(left, right) + ONE_SIDED_TOLERANCE:
                        kink_between.append(f"{where} (autograd {a:.6g}, one-sided slopes {left:.6g} and {right:.6g})")
                    else:
                        kink_other.append(f"{where} (autograd {a:.6g}, one-sided slopes {left:.6g} and {right:.6g})")
                    continue
                n = (f_plus - f_minus) / (2 * h)
                err = relative_error(a, n)
                if not _close(a, n, base_value, h):
                    # The truncation error (of order h² times the third derivative) can dominate where the
                    # loss curves sharply (batch norm of an almost constant input): retry with a 10x
                    # smaller step before calling the gradient wrong.
                    small = h / 10
                    probes = []
                    for sign in (1, -1):
                        changed = array.copy()
                        changed[index] = array[index] + sign * small
                        probes.append(loss({**tensors, name: changed}))
                    (g_plus, e_plus), (g_minus, e_minus) = probes
                    n_small = (g_plus - g_minus) / (2 * small)
                    # Richardson: the two central differences are n(h) = g' + c·h² + O(h⁴) at h and
                    # h/10, so (100·n(h/10) − n(h))/99 cancels the h² term (a near-constant batch
                    # norm's third derivative is of order 1/√ε³, too large for h/10 alone).
                    n_rich = (100 * n_small - n) / 99
                    smooth = _same(e_plus, base_decisions) and _same(e_minus, base_decisions)
                    if smooth and _close(a, n_small, base_value, small):
                        n, err = n_small, relative_error(a, n_small)
                    elif smooth and _close(a, n_rich, base_value, small):
                        n, err = n_rich, relative_error(a, n_rich)
                    else:
                        failed.append(f"{where} (autograd {a:.6g}, numerical {n:.6g})")
                worst = max(worst, err)
    ok = not failed
    smooth = count - len(kinks)
    verdict = "✓" if ok else f"✗ at {failed[0]}" + (f" and {len(failed) - 1} more" if len(failed) > 1 else "")
    if ok and worst > TOLERANCE:
        verdict = f"✓ (within the rounding noise of a loss of {abs(base_value):.3g})"
    sampled = [s for s in samples if s.sampled]
    summary = (
        f"central differences (float64, h = 1e-5) over {smooth} {'sampled ' if sampled else ''}"
        f"entr{'y' if smooth == 1 else 'ies'}: max relative error {worst:.1e} {verdict}"
    )
    details = []
    if sampled:
        parts = ", ".join(f"{len(s.indices):,} of the {s.entries:,} entries of {s.name}" for s in sampled)
        details.append(
            f"sampled: {parts}, drawn at random (seed {SAMPLE_SEED}, the same every run); tensors of at most "
            f"{limit:,} entries are checked whole (each entry costs two forward passes)"
        )
    if kinks:
        shown = ", ".join(kinks[:6]) + (f" and {len(kinks) - 6} more" if len(kinks) > 6 else "")
        matched = len(kinks) - len(kink_between) - len(kink_other)
        details.append(
            f"{len(kinks)} entr{'y sits' if len(kinks) == 1 else 'ies sit'} on a kink (a ReLU input 0 or a "
            f"max-pool tie), where the loss is not differentiable: {shown}. Autograd takes the slope of "
            f"one piece there: {matched} match a one-sided slope (max relative error {kink_worst:.1e})"
            + (
                f", {len(kink_between)} lie{'s' if len(kink_between) == 1 else ''} between the two"
                if kink_between
                else ""
            )
            + (f", {len(kink_other)} belong to a piece not on the coordinate line" if kink_other else "")
            + (
                " — not decidable by finite differences; --verify torch checks them exactly"
                if kink_between or kink_other
                else " ✓"
            )
        )
        details += [f"  {k}" for k in (kink_between + kink_other)[:6]]
    coverage = tuple((s.name, len(s.indices), s.entries) for s in sampled)
    return Check("finite differences", ok, summary, tuple(details), coverage, SAMPLE_SEED if coverage else None)


def _same(a, b) -> bool:
    if len(a) != len(b):
        return False
    return all(np.array_equal(x, y) for x, y in zip(a, b))


# --- the sequential form ------------------------------------------------------------------------


def finite_difference_check(spec, run_) -> Check:
    from convcalc.trace.explain_loss import evaluate

    names = [spec.input.name]
    tensors = {spec.input.name: _float(run_.inputs[0])}
    analytic = {spec.input.name: _float(run_.backwards[0].grad_input)}
    slots: list[tuple[int, str, str]] = []
    for i, step in enumerate(spec.layers):
        for key, t in step.params.items():
            tensors[t.name] = _float(run_.params[i][key])
            analytic[t.name] = _float(run_.backwards[i].grads[key])
            slots.append((i, key, t.name))
            names.append(t.name)
    upstream = _float(spec.loss.grad) if spec.loss.kind == "upstream" else None
    loss_spec = spec.loss
    if loss_spec.target is not None and not loss_spec.class_indices:
        from dataclasses import replace

        loss_spec = replace(loss_spec, target=_float(loss_spec.target))

    # The unperturbed pass, layer by layer: a perturbed parameter of layer j changes nothing
    # before j, so its pass starts from layer j's unperturbed input (the same numbers as
    # running the prefix again: every layer is a pure function of its inputs).
    prefix: list[tuple[np.ndarray, list]] = []

    def first_changed(values: dict[str, np.ndarray]) -> int:
        if values[spec.input.name] is not tensors[spec.input.name]:
            return 0
        changed = [j for (j, _, name) in slots if values[name] is not tensors[name]]
        return min(changed) if changed else 0

    def forward(values: dict[str, np.ndarray]) -> tuple[np.ndarray, list]:
        """The network's output and its decisions (ReLU masks, pool winners), batch axis first."""
        start = first_changed(values)
        if start and not prefix:
            run(tensors, 0, tensors[spec.input.name], [], prefix)
        if start:
            x, decisions = prefix[start][0], list(prefix[start][1])
        else:
            x, decisions = values[spec.input.name], []
        return run(values, start, x, decisions, None)

    def run(values, start: int, x: np.ndarray, decisions: list, record: list | None) -> tuple[np.ndarray, list]:
        for i, step in enumerate(spec.layers):
            if i < start:
                continue
            if record is not None:
                record.append((x, list(decisions)))
            p = {key: values[name] for (j, key, name) in slots if j == i}
            p.update({k: _float(v) for k, v in step.buffers.items()})
            fwd = step.layer.forward(x, p, training=True)
            if step.kind in ("relu", "leaky_relu"):
                decisions.append(x > 0)
            elif step.kind == "maxpool2d":
                cache = fwd.cache
                decisions.append(np.asarray(cache.indices))
            x = fwd.output
        return x, decisions

    def loss_of(y: np.ndarray) -> float:
        if upstream is not None:
            return float((upstream * y).sum())
        value, _ = evaluate(loss_spec, y)
        return float(value)

    def loss(values: dict[str, np.ndarray]) -> tuple[float, list]:
        y, decisions = forward(values)
        return loss_of(y), decisions

    # Samples never meet except in batch norm: every perturbed copy of the input can then run
    # in one forward pass, stacked along the batch axis (the loss is taken copy by copy).
    independent = not any(step.kind == "batchnorm2d" for step in spec.layers)

    def many(name: str, variants: list[np.ndarray]):
        if name != spec.input.name or not independent or not variants:
            return None
        n = variants[0].shape[0]
        y, decisions = forward({**tensors, name: np.concatenate(variants, axis=0)})
        return [
            (loss_of(y[k * n : (k + 1) * n]), [d[k * n : (k + 1) * n] for d in decisions]) for k in range(len(variants))
        ]

    per_copy = _values_per_pass(spec, run_)

    def copies_per_pass(name: str) -> int:
        return max(1, PASS_VALUES // per_copy)

    from convcalc.trace.context import Context

    ctx = Context(spec.implicit_dims, 0, "float")
    owners = {t.name: t for step in spec.layers for t in step.params.values()}

    def label(name: str, index: tuple) -> str:
        if name in owners:
            return ctx.param_label(name, owners[name], index)
        return ctx.label(name, index, tensors[name].shape)

    return gradient_check(loss, tensors, analytic, label, many, copies_per_pass)


def _values_per_pass(spec, run_) -> int:
    """The values one forward pass of the spec's input holds: every layer's input and output,
    and a windowed layer's im2col columns (C_in·Πk per output position)."""
    total = 0
    for i, step in enumerate(spec.layers):
        x, y = np.asarray(run_.inputs[i]), np.asarray(run_.forwards[i].output)
        total += x.size + y.size
        kernel = getattr(step.layer, "kernel_size", None)
        if isinstance(kernel, tuple) and x.ndim > 2 and y.ndim > 2:
            total += x.shape[0] * x.shape[1] * int(np.prod(kernel)) * int(np.prod(y.shape[2:]))
    return max(total, 1)
