"""batchnorm2d (training mode) on the board: each channel's mean and variance — biased
(÷M, PyTorch) or unbiased (÷(M − 1), as one lecture writes it) — x̂, y = γ·x̂ + β, the
running statistics' update, and the backward pass

    δβ = Σ δy,  δγ = Σ δy·x̂,  δx = (γ/√(σ² + ε))·(δy − mean(δy) − x̂·Σ(δy·x̂)/D),  D = M or M − 1.
"""

from __future__ import annotations

import numpy as np

from convcalc.compute.scalars import constant, divide_exact, sqrt
from convcalc.trace.context import Context, require_agreement, total
from convcalc.trace.model import Entry, Matrix, Step
from convcalc.trace.spec import LayerStep


def _stats(x: np.ndarray, unbiased: bool, eps):
    """Per channel: μ, σ² (÷D), 1/√(σ² + ε), with M = N·H·W values."""
    c = x.shape[1]
    m = x.size // c
    d = m - 1 if unbiased else m
    mean = np.empty(c, dtype=object)
    var = np.empty(c, dtype=object)
    inv = np.empty(c, dtype=object)
    for ch in range(c):
        values = list(x[:, ch].flat)
        mean[ch] = divide_exact(total(values), m)
        var[ch] = divide_exact(total((v - mean[ch]) * (v - mean[ch]) for v in values), d)
        root = sqrt(var[ch] + constant(eps, x))
        inv[ch] = 1 / root if not isinstance(root, int) else divide_exact(1, root) if root != 0 else float("inf")
    return mean, var, inv, m, d


def _per_channel(values: np.ndarray, ndim: int) -> np.ndarray:
    return values.reshape((1, -1) + (1,) * (ndim - 2))


def batchnorm_forward(
    ctx: Context, step: LayerStep, params, x_name: str, x: np.ndarray, y: np.ndarray, cache, buffers
) -> Step:
    unbiased = step.options["variance"] == "unbiased"
    eps = step.options["eps"]
    mean, var, inv, m, d = _stats(x, unbiased, eps)
    x_hat = (x - _per_channel(mean, x.ndim)) * _per_channel(inv, x.ndim)
    require_agreement(x_hat, cache[0], f"{step.label} x̂")
    gamma = params.get("weight")
    beta = params.get("bias")
    shown = x_hat * _per_channel(gamma, x.ndim) + _per_channel(beta, x.ndim) if gamma is not None else x_hat
    require_agreement(shown, y, f"{step.label} forward")
    entries = []
    for ch in range(x.shape[1]):
        values = tuple(x[:, ch].flat)
        entries.append(Entry(f"μ[{ch}]", "mean", mean[ch], candidates=values, divisor=m))
        entries.append(
            Entry(
                f"σ²[{ch}]",
                "squares",
                var[ch],
                candidates=tuple(v - mean[ch] for v in values),
                divisor=divide_exact(1, d) if x.dtype == object else 1.0 / d,
            )
        )
    which = (
        "unbiased: σ² = Σ(x − μ)²/(M − 1), as one lecture writes it (PyTorch normalises with the biased one)"
        if unbiased
        else "biased: σ² = Σ(x − μ)²/M, PyTorch's choice in training"
    )
    rules = (
        f"per channel c over the M = N·H·W = {m} values: μ = Σx/M, σ² = Σ(x − μ)²/{'(M − 1)' if unbiased else 'M'}",
        f"x̂ = ({x_name} − μ)/√(σ² + ε) with ε = {_num(eps)};  {step.output} = γ·x̂ + β",
        f"variance {which}",
    )
    notes = ["γ and β are learnable (2C parameters); running_mean and running_var are buffers, not parameters"]
    if buffers:
        mom = step.options["momentum"]
        notes.append(
            f"running statistics (momentum {_num(mom)}; the variance uses the unbiased estimate, as PyTorch): "
            f"running_mean ← {_list(buffers['running_mean'])}, running_var ← {_list(buffers['running_var'])}"
        )
    if x.dtype == object and any(isinstance(v, float) for v in np.asarray(inv).flat):
        notes.append("√(σ² + ε) is irrational here: x̂ and what follows are floats")
    matrices = [Matrix("x̂", ctx.show(x_hat))]
    if gamma is not None:
        matrices += [Matrix(step.params["weight"].name, gamma), Matrix(step.params["bias"].name, beta)]
    matrices.append(Matrix(step.output, ctx.show(y)))
    heading = (
        f"{step.index}. {step.name if step.name != step.kind else 'batchnorm2d'}: {step.output} = batchnorm({x_name})"
    )
    return Step("forward", heading, rules, tuple(matrices), tuple(entries), tuple(notes), step.index)


def _num(v) -> str:
    from fractions import Fraction

    if isinstance(v, Fraction):
        return f"{v.numerator}/{v.denominator}"
    return str(v)


def _list(a) -> str:
    return "[" + ", ".join(_num(v) if not isinstance(v, float) else f"{v:.6g}" for v in np.asarray(a).flat) + "]"


def batchnorm_backward(
    ctx: Context,
    step: LayerStep,
    params,
    x_name: str,
    x: np.ndarray,
    dy: np.ndarray,
    grads: dict[str, np.ndarray],
    dx: np.ndarray,
    cache,
) -> Step:
    unbiased = step.options["variance"] == "unbiased"
    _, _, inv, m, d = _stats(x, unbiased, step.options["eps"])
    x_hat = cache[0]
    gamma = params.get("weight")
    out, dX = f"δ{step.output}", f"δ{x_name}"
    c = x.shape[1]
    g = dy * _per_channel(gamma, x.ndim) if gamma is not None else dy
    shown = np.empty(x.shape, dtype=object)
    for ch in range(c):
        gs = g[:, ch]
        mean_g = divide_exact(total(gs.flat), m)
        proj = divide_exact(total((gs * x_hat[:, ch]).flat), d)
        shown[:, ch] = (gs - mean_g - x_hat[:, ch] * proj) * inv[ch]
    require_agreement(shown, dx, f"{step.label} {dX}")
    rules = []
    matrices = [Matrix(out, ctx.show(dy))]
    if gamma is not None:
        G, B = step.params["weight"], step.params["bias"]
        dgamma = np.array([total((dy[:, ch] * x_hat[:, ch]).flat) for ch in range(c)], dtype=object)
        dbeta = np.array([total(dy[:, ch].flat) for ch in range(c)], dtype=object)
        require_agreement(dgamma, grads["weight"], f"{step.label} δ{G.name}")
        require_agreement(dbeta, grads["bias"], f"{step.label} δ{B.name}")
        rules += [f"δ{B.name} = Σ {out} (per channel)", f"δ{G.name} = Σ {out}·x̂ (per channel)"]
        matrices += [Matrix(f"δ{G.name}", grads["weight"]), Matrix(f"δ{B.name}", grads["bias"])]
    rules.append(
        f"{dX} = (γ/√(σ² + ε))·({out} − mean({out}) − x̂·Σ({out}·x̂)/{'(M − 1)' if unbiased else 'M'})"
        + ("   (the unbiased variance changes the last divisor)" if unbiased else "")
    )
    matrices.append(Matrix(dX, ctx.show(dx)))
    heading = f"{step.index}. {step.name if step.name != step.kind else 'batchnorm2d'} backward"
    return Step("backward", heading, tuple(rules), tuple(matrices), (), (), step.index)
