"""The kernels behind :mod:`convcalc.layers.norm`: standardising over some axes (batch, group
and layer norm), batch norm's running statistics, and local response normalisation.

Standardising over ``axes`` (M values each): x̂ = (x − μ)/√(σ² + ε), σ² = Σ(x − μ)²/D with
D = M (PyTorch's biased variance) or M − 1; with g = ∂L/∂x̂,

    dx = (g − Σg/M − x̂·Σ(g·x̂)/D)/√(σ² + ε).

Exact (``dtype=object``) arrays keep μ and every sum exact (:mod:`convcalc.compute.scalars`);
the square root gives floats unless σ² + ε is the square of a rational.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any, overload

import numpy as np

from convcalc.compute.scalars import constant, divide_exact, power, reciprocal, sqrt
from convcalc.errors import InputError


def standardize(x: np.ndarray, axes: tuple[int, ...], count: int, denominator: int, eps: float,
                total: Callable[[np.ndarray], np.ndarray] | None = None):
    """x̂ = (x − μ)/√(σ² + ε) over ``axes`` (``count`` values), σ² = Σ(x − μ)²/denominator.

    Returns x̂, μ, Σ(x − μ)² and 1/√(σ² + ε), all with the reduced axes kept (size 1).
    ``total`` sums over ``axes`` keeping them (default: numpy's sum; batch norm passes
    :func:`channel_total`).
    """
    total = total or (lambda values: values.sum(axis=axes, keepdims=True))
    mean = divide_exact(total(x), count)
    centered = x - mean
    squares = total(centered * centered)
    inv_std = reciprocal(sqrt(divide_exact(squares, denominator) + constant(eps, x)))
    return centered * inv_std, mean, squares, inv_std


def standardize_backward(g: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, axes: tuple[int, ...], count: int,
                         denominator: int, total: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """dx = (g − Σg/M − x̂·Σ(g·x̂)/D)/√(σ² + ε) for g = ∂L/∂x̂ (M = count, D = denominator);
    ``total`` as in :func:`standardize`."""
    total = total or (lambda values: values.sum(axis=axes, keepdims=True))
    mean_g = divide_exact(total(g), count)
    projection = divide_exact(total(g * x_hat), denominator)
    return (g - mean_g - x_hat * projection) * inv_std


def channel_total(values: np.ndarray) -> np.ndarray:
    """Σ over every axis but the channels (axis 1) of a float (N, C, *spatial) array, kept as
    (1, C, 1, …): per image and channel along the contiguous positions, then over the images
    in order — each channel's sum the same however many channels the array holds, so batch
    norm's statistics do not depend on how its channels are shared over threads."""
    n, c = values.shape[:2]
    return values.reshape(n, c, -1).sum(axis=2).sum(axis=0).reshape((1, c) + (1,) * (values.ndim - 2))


def scale_shift(x_hat: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None) -> np.ndarray:
    """y = γ·x̂ + β (γ, β already shaped to broadcast); x̂ + β without γ (Keras's scale=False);
    x̂ itself without an affine part."""
    if gamma is None:
        return x_hat if beta is None else x_hat + beta
    return x_hat * gamma + beta


def scale_shift_grads(dy: np.ndarray, x_hat: np.ndarray, axes: tuple[int, ...],
                      total: Callable[[np.ndarray], np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """dγ = Σ dy·x̂ and dβ = Σ dy over ``axes`` (every axis but the parameter's); ``total`` as in
    :func:`standardize` (its result flattened)."""
    if total is None:
        return {"weight": (dy * x_hat).sum(axis=axes), "bias": dy.sum(axis=axes)}
    return {"weight": total(dy * x_hat).reshape(-1), "bias": total(dy).reshape(-1)}


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
        gamma, beta = per_channel(gamma, x.ndim), per_channel(beta, x.ndim)
        if x.dtype.kind == "f":
            y, x_hat, mean, squares, inv_std = _shared_batch_norm(x, gamma, beta, axes, count, denominator, eps)
        else:
            x_hat, mean, squares, inv_std = standardize(x, axes, count, denominator, eps)
            y = scale_shift(x_hat, gamma, beta)
        if training and running is not None:
            updated = running_update(running, mean.reshape(c), divide_exact(squares.reshape(c), count - 1), momentum, x)
        return y, (x_hat, inv_std, gamma, axes, count, denominator), updated
    denominator = None  # the statistics are constants: dx = dy·γ/√(running_var + ε)
    inv_std = reciprocal(sqrt(per_channel(running["running_var"], x.ndim) + constant(eps, x)))
    x_hat = (x - per_channel(running["running_mean"], x.ndim)) * inv_std
    gamma = per_channel(gamma, x.ndim)
    y = scale_shift(x_hat, gamma, per_channel(beta, x.ndim))
    return y, (x_hat, inv_std, gamma, axes, count, denominator), updated


def _channel_slice(values: np.ndarray | None, start: int, stop: int) -> np.ndarray | None:
    """Channels [start, stop) of a batched array or of a (1, C, 1, …) per-channel vector."""
    return None if values is None else values[:, start:stop]


def _shared_batch_norm(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None, axes: tuple[int, ...],
                       count: int, denominator: int, eps: float) -> tuple[np.ndarray, ...]:
    """y, x̂, μ, Σ(x − μ)² and 1/√(σ² + ε) of a float batch norm, by blocks of channels shared
    over threads (:func:`blas_threads.share_blocks`): every statistic is one channel's, summed by
    :func:`channel_total`, so each block computes its channels' numbers exactly as one block
    holding every channel would."""
    from convcalc.compute import blas_threads

    c = x.shape[1]
    x_hat = np.empty_like(x)  # x̂ keeps x's float dtype; y takes γ's and β's too, as x̂·γ + β does
    y = np.empty(x.shape, np.result_type(x, *(v for v in (gamma, beta) if v is not None)))
    statistics: list[tuple[int, tuple[np.ndarray, ...]]] = []

    def channels(start: int, stop: int) -> None:
        block_hat, mean, squares, inv_std = standardize(x[:, start:stop], axes, count, denominator, eps,
                                                        channel_total)
        x_hat[:, start:stop] = block_hat
        y[:, start:stop] = scale_shift(block_hat, _channel_slice(gamma, start, stop), _channel_slice(beta, start, stop))
        statistics.append((start, (mean, squares, inv_std)))  # list.append is atomic

    blas_threads.share_blocks(channels, c, x.size, x.shape[0])
    statistics.sort(key=lambda item: item[0])
    mean, squares, inv_std = (np.concatenate([found[i] for _, found in statistics], axis=1) for i in range(3))
    return y, x_hat, mean, squares, inv_std


def batch_norm_backward(dy: np.ndarray, cache: tuple, affine: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Training: dx from :func:`standardize_backward` (D = M or M − 1); eval: dx = dy·γ/√(running_var + ε)."""
    x_hat, inv_std, gamma, axes, count, denominator = cache
    if denominator is not None and dy.dtype.kind == "f" and x_hat.dtype.kind == "f":
        return _shared_batch_norm_backward(dy, x_hat, inv_std, gamma, axes, count, denominator, affine)
    g = dy * gamma if gamma is not None else dy
    if denominator is None:
        dx = g * inv_std
    else:
        dx = standardize_backward(g, x_hat, inv_std, axes, count, denominator)
    return dx, scale_shift_grads(dy, x_hat, axes) if affine else {}


def _shared_batch_norm_backward(dy: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, gamma: np.ndarray | None,
                                axes: tuple[int, ...], count: int, denominator: int,
                                affine: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A float training batch norm's backward by blocks of channels shared over threads, each
    channel's sums by :func:`channel_total` (see :func:`_shared_batch_norm`)."""
    from convcalc.compute import blas_threads

    dx = np.empty(np.broadcast_shapes(dy.shape, x_hat.shape),
                  np.result_type(dy, x_hat, inv_std, *(() if gamma is None else (gamma,))))
    c = dx.shape[1]
    grads = {"weight": np.empty(c, np.result_type(dy, x_hat)), "bias": np.empty(c, dy.dtype)} if affine else {}

    def channels(start: int, stop: int) -> None:
        block_dy, block_hat = dy[:, start:stop], x_hat[:, start:stop]
        block_gamma = _channel_slice(gamma, start, stop)
        g = block_dy * block_gamma if block_gamma is not None else block_dy
        dx[:, start:stop] = standardize_backward(g, block_hat, inv_std[:, start:stop], axes, count, denominator,
                                                 channel_total)
        for name, value in (scale_shift_grads(block_dy, block_hat, axes, channel_total) if affine else {}).items():
            grads[name][start:stop] = value

    blas_threads.share_blocks(channels, c, dx.size, dx.shape[0])
    return dx, grads


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
