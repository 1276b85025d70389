"""The loss on the board: its value written out with the numbers, and the first upstream
gradient δ of the output (δO = O − T for ½‖O − T‖², δz = p − onehot for softmax + CE …).

Value and gradient come from :mod:`convcalc.compute.losses`; the δ shown is recomputed
from the rule and must agree.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from convcalc.compute.losses import make_loss
from convcalc.compute.scalars import constant
from convcalc.trace.context import Context, require_agreement
from convcalc.trace.model import Entry, Matrix, Step
from convcalc.trace.spec import Loss


def evaluate(loss: Loss, y: np.ndarray) -> tuple[Any, np.ndarray]:
    """(L, δy) — L is None for ``upstream``."""
    options = {"reduction": loss.reduction} if loss.kind == "cross_entropy" else {}
    fn = make_loss(loss.kind, **options)
    target = loss.grad if loss.kind == "upstream" else loss.target
    result = fn.evaluate(y, target)
    return result.value, result.grad


def _float_target(loss: Loss, y: np.ndarray):
    return loss.target.astype(np.float64) if y.dtype != object and loss.target is not None else loss.target


def loss_step(ctx: Context, loss: Loss, out_name: str, y: np.ndarray, value: Any, grad: np.ndarray, show=None) -> Step:
    if show is None:
        show = ctx.show

        def label(name: str, index: tuple[int, ...]) -> str:
            return ctx.label(name, index, y.shape)
    else:

        def label(name: str, index: tuple[int, ...]) -> str:
            return f"{name}[{','.join(map(str, index))}]" if index else name

    d = f"δ{out_name}"
    kind = loss.kind
    matrices: list[Matrix] = []
    entries: list[Entry] = []
    notes: list[str] = []
    if kind in ("mse_half_sum", "mse", "sse"):
        t = _float_target(loss, y)
        diff = y - t
        scale = {
            "mse_half_sum": constant(Fraction(1, 2), y),
            "sse": 1,
            "mse": constant(Fraction(1, y.size), y) if y.dtype == object else 1.0 / y.size,
        }[kind]
        formula = {
            "mse_half_sum": f"L = ½·‖{out_name} − T‖² = ½·Σ ({out_name} − T)²",
            "mse": f"L = (1/n)·Σ ({out_name} − T)²  (mean over the n = {y.size} entries, nn.MSELoss)",
            "sse": f"L = Σ ({out_name} − T)²  (sum of squared errors)",
        }[kind]
        rule = {
            "mse_half_sum": f"{d} = {out_name} − T",
            "mse": f"{d} = 2·({out_name} − T)/n",
            "sse": f"{d} = 2·({out_name} − T)",
        }[kind]
        shown = {"mse_half_sum": diff, "sse": diff * 2, "mse": diff * 2 * scale}[kind]
        entries.append(
            Entry(
                "L",
                "squares",
                value,
                candidates=tuple(diff.flat),
                divisor=scale,
                labels=tuple(f"({label(out_name, i)} − {label('T', i)})" for i in np.ndindex(*y.shape)),
            )
        )
        matrices += [Matrix("T", show(t), caption="target"), Matrix(f"{out_name} − T", show(diff))]
        rules = (formula, rule)
    elif kind == "sum":
        shown = np.ones(y.shape, dtype=y.dtype) if y.dtype != object else np.full(y.shape, 1, dtype=object)
        entries.append(
            Entry(
                "L",
                "value",
                value,
                candidates=tuple(y.flat),
                text=f"Σ {out_name}",
                labels=tuple(label(out_name, i) for i in np.ndindex(*y.shape)),
            )
        )
        rules = (f"L = Σ {out_name}", f"{d} = 1 for every entry")
    elif kind == "upstream":
        shown = loss.grad
        rules = (f"{d} is given (the upstream gradient): L itself is not needed to run the backward pass",)
        notes.append("the finite-difference check uses L = Σ δ⊙output, whose gradient is exactly the given δ")
    else:
        p = _softmax_probabilities(y)
        n = y.shape[0]
        q = _one_hot(loss, y)
        shown = (p - q) * (constant(Fraction(1, n), y) if loss.reduction == "mean" else 1)
        if y.dtype != object and loss.reduction == "mean":
            shown = (p - q) / n
        picks = []
        for row in range(n):
            for cls in range(y.shape[1]):
                if q[row, cls] != 0:
                    picks.append((q[row, cls], p[row, cls], (row, cls)))
        entries.append(
            Entry(
                "L",
                "neglog",
                value,
                candidates=tuple(pr for _, pr, _ in picks),
                terms=tuple((w, pr) for w, pr, _ in picks),
                divisor=n if loss.reduction == "mean" else 1,
            )
        )
        matrices += [Matrix("p = softmax(" + out_name + ")", show(p)), Matrix("onehot(target)", show(q))]
        rules = (
            f"p = softmax({out_name}) over the classes; L = −Σ log p[target]"
            + (f" / N (mean over N = {n})" if loss.reduction == "mean" else " (reduction sum)"),
            f"{d} = p − onehot(target)" + (" divided by N" if loss.reduction == "mean" else ""),
        )
    require_agreement(shown, grad, f"loss {kind} gradient")
    matrices.append(Matrix(d, show(grad)))
    heading = {
        "mse_half_sum": "loss ½·‖O − T‖²",
        "mse": "loss mse",
        "sse": "loss sse",
        "sum": "loss Σ",
        "upstream": "given upstream gradient",
        "cross_entropy": "loss softmax + cross-entropy",
    }[kind]
    return Step("loss", heading.replace("O", out_name), rules, tuple(matrices), tuple(entries), tuple(notes))


def _softmax_probabilities(z: np.ndarray) -> np.ndarray:
    from convcalc.compute.activations import forward

    p, _ = forward("softmax", z)
    return p


def _one_hot(loss: Loss, z: np.ndarray) -> np.ndarray:
    if loss.class_indices:
        q = np.zeros(z.shape, dtype=object if z.dtype == object else np.float64)
        for row, cls in enumerate(np.asarray(loss.target).reshape(-1)):
            q[row, int(cls)] = 1
        return q
    return loss.target if z.dtype == object else loss.target.astype(np.float64)
