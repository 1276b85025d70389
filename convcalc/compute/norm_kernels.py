"""The kernels behind :mod:`convcalc.layers.norm`: standardising over some axes (batch, group
and layer norm), batch norm's running statistics, and local response normalisation.

Standardising over ``axes`` (M values each): x̂ = (x − μ)/√(σ² + ε), σ² = Σ(x − μ)²/D with
D = M (PyTorch's biased variance) or M − 1; with g = ∂L/∂x̂,

    dx = (g − Σg/M − x̂·Σ(g·x̂)/D)/√(σ² + ε).

Exact (``dtype=object``) arrays keep μ and every sum exact (:mod:`convcalc.compute.scalars`);
the square root gives floats unless σ² + ε is the square of a rational.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any, overload

import numpy as np

from convcalc.compute.scalars import constant, divide_exact, power, reciprocal, sqrt
from convcalc.errors import InputError


def standardize(x: np.ndarray, axes: tuple[int, ...], count: int, denominator: int, eps: float):
    """x̂ = (x − μ)/√(σ² + ε) over ``axes`` (``count`` values), σ² = Σ(x − μ)²/denominator.

    Returns x̂, μ, Σ(x − μ)² and 1/√(σ² + ε), all with the reduced axes kept (size 1).
    """
    mean = divide_exact(x.sum(axis=axes, keepdims=True), count)
    centered = x - mean
    squares = (centered * centered).sum(axis=axes, keepdims=True)
    inv_std = reciprocal(sqrt(divide_exact(squares, denominator) + constant(eps, x)))
    return centered * inv_std, mean, squares, inv_std


def standardize_backward(g: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, axes: tuple[int, ...], count: int,
                         denominator: int) -> np.ndarray:
    """dx = (g − Σg/M − x̂·Σ(g·x̂)/D)/√(σ² + ε) for g = ∂L/∂x̂ (M = count, D = denominator)."""
    mean_g = divide_exact(g.sum(axis=axes, keepdims=True), count)
    projection = divide_exact((g * x_hat).sum(axis=axes, keepdims=True), denominator)
    return (g - mean_g - x_hat * projection) * inv_std


def scale_shift(x_hat: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None) -> np.ndarray:
    """y = γ·x̂ + β (γ, β already shaped to broadcast); x̂ + β without γ (Keras's scale=False);
    x̂ itself without an affine part."""
    if gamma is None:
        return x_hat if beta is None else x_hat + beta
    return x_hat * gamma + beta


def scale_shift_grads(dy: np.ndarray, x_hat: np.ndarray, axes: tuple[int, ...]) -> dict[str, np.ndarray]:
    """dγ = Σ dy·x̂ and dβ = Σ dy over ``axes`` (every axis but the parameter's)."""
    return {"weight": (dy * x_hat).sum(axis=axes), "bias": dy.sum(axis=axes)}


@overload
def per_channel(values: np.ndarray, ndim: int) -> np.ndarray: ...
@overload
def per_channel(values: None, ndim: int) -> None: ...
def per_channel(values: np.ndarray | None, ndim: int) -> np.ndarray | None:
    """A (C,) vector shaped (1, C, 1, …) to broadcast over a batched (N, C, …) array."""
    return None if values is None else values.reshape((1, -1) + (1,) * (ndim - 2))


def initial_statistics(given: Mapping[str, Any], channels: int, like: np.ndarray) -> dict[str, Any]:
    """The running statistics given, completed with PyTorch's initial ones (mean 0, variance 1, count 0)."""
    dtype = object if like.dtype == object else like.dtype
    found = dict(given)
    found.setdefault("running_mean", np.zeros(channels, dtype=dtype))
    found.setdefault("running_var", np.ones(channels, dtype=dtype))
    found.setdefault("num_batches_tracked", np.array(0, dtype=np.int64))
    return found


def batch_norm_forward(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None,
                       running: Mapping[str, Any] | None, *, training: bool, eps: float, momentum: float | None,
                       unbiased: bool) -> tuple[np.ndarray, tuple, dict[str, Any]]:
    """(y, cache, updated running statistics) of batch norm over (N, *spatial) per channel.

    Training (or ``running`` None): x̂ from the batch's statistics over M = N·Πspatial values
    (σ² ÷ M, or ÷ (M − 1) when ``unbiased``), and the running statistics updated with the
    unbiased variance: r ← (1 − m)·r + m·stat (m = momentum; the cumulative average 1/n when
    momentum is None). Eval: x̂ from the running statistics. y = γ·x̂ + β.
    """
    c = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))
    count = x.size // c
    updated: dict[str, Any] = {}
    if training or running is None:
        if count == 1:
            raise InputError(
                f"batchnorm in training mode needs more than one value per channel (PyTorch refuses it); the input "
                f"{'x'.join(map(str, x.shape))} has 1. Use a batch of 2 or more, or eval mode"
            )
        denominator = count - 1 if unbiased else count
        x_hat, mean, squares, inv_std = standardize(x, axes, count, denominator, eps)
        if training and running is not None:
            updated = running_update(running, mean.reshape(c), divide_exact(squares.reshape(c), count - 1), momentum, x)
    else:
        denominator = None  # the statistics are constants: dx = dy·γ/√(running_var + ε)
        inv_std = reciprocal(sqrt(per_channel(running["running_var"], x.ndim) + constant(eps, x)))
        x_hat = (x - per_channel(running["running_mean"], x.ndim)) * inv_std
    gamma = per_channel(gamma, x.ndim)
    y = scale_shift(x_hat, gamma, per_channel(beta, x.ndim))
    return y, (x_hat, inv_std, gamma, axes, count, denominator), updated


def batch_norm_backward(dy: np.ndarray, cache: tuple, affine: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Training: dx from :func:`standardize_backward` (D = M or M − 1); eval: dx = dy·γ/√(running_var + ε)."""
    x_hat, inv_std, gamma, axes, count, denominator = cache
    g = dy * gamma if gamma is not None else dy
    if denominator is None:
        dx = g * inv_std
    else:
        dx = standardize_backward(g, x_hat, inv_std, axes, count, denominator)
    return dx, scale_shift_grads(dy, x_hat, axes) if affine else {}


def running_update(buffers: Mapping[str, Any], mean: np.ndarray, unbiased_var: np.ndarray, momentum: float | None,
                   like: np.ndarray) -> dict[str, Any]:
    """r ← (1 − m)·r + m·stat for the mean and the unbiased variance; the count goes up by one."""
    tracked = int(np.asarray(buffers["num_batches_tracked"])) + 1
    if momentum is None:
        m = constant(1, like) / tracked if like.dtype != object else Fraction(1, tracked)
    else:
        m = constant(momentum, like)
    return {
        "running_mean": buffers["running_mean"] * (1 - m) + mean * m,
        "running_var": buffers["running_var"] * (1 - m) + unbiased_var * m,
        "num_batches_tracked": np.array(tracked, dtype=np.int64),
    }


def channel_window_sum(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """s_c = Σ a_{c'} for c' = c − before … c + after along dim 1 (missing channels count 0)."""
    c = a.shape[1]
    padded = np.zeros((a.shape[0], c + before + after) + a.shape[2:], dtype=a.dtype)  # object: Python int zeros
    padded[:, before:before + c] = a
    total = padded[:, 0:c]
    for offset in range(1, before + after + 1):
        total = total + padded[:, offset:offset + c]
    return total


def lrn_forward(x: np.ndarray, size: int, alpha: float, beta: float, k: float) -> tuple[np.ndarray, tuple]:
    """y_c = x_c·D_c^(−β), D_c = k + (α/n)·Σ x_{c'}² over c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋ (n = size)."""
    sums = channel_window_sum(x * x, size // 2, (size - 1) // 2)
    denominator = divide_exact(sums, size) * constant(alpha, x) + constant(k, x)
    scale = power(denominator, -constant(beta, x))
    if x.dtype != object:
        scale = scale.astype(x.dtype, copy=False)
    return x * scale, (x, denominator, scale)


def lrn_backward(dy: np.ndarray, cache: tuple, size: int, alpha: float, beta: float) -> np.ndarray:
    """dx_j = dy_j·D_j^(−β) − (2αβ/n)·x_j·Σ_{c: j in window(c)} dy_c·x_c·D_c^(−β−1)."""
    x, denominator, scale = cache
    inner = channel_window_sum(dy * x * scale * reciprocal(denominator), (size - 1) // 2, size // 2)
    coefficient = divide_exact(constant(alpha, x) * constant(beta, x) * 2, size)
    return dy * scale - x * inner * coefficient
