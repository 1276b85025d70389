"""The activation functions of :mod:`convcalc.layers.elementwise`, each forward written beside
its local derivative (micrograd style), with PyTorch's definitions and its conventions at the
kinks (docs/arithmetic.md §7.4):

* ReLU′(0) = 0; ReLU6 and hardsigmoid have gradient 0 at their kinks (0 and 6, ±3);
* LeakyReLU′(0) = negative_slope (the slope applies for x ≤ 0);
* hardswish′ is 0 for x ≤ −3, x/3 + 1/2 for −3 < x < 3, 1 for x ≥ 3 (torch 2.x: the
  one-sided value of the outer piece at each kink);
* ELU (α = 1), GELU in the exact erf form, Softplus with β = 1 and threshold 20 (x > 20
  passes through unchanged), Mish = x·tanh(softplus x) without a threshold;
* softmax and log_softmax over dim 1 (the channels/features of a batched tensor).

``forward(kind, x, negative_slope)`` returns ``(y, cache)``; ``backward(kind, dy, cache)``
returns ``dx = dy · ∂y/∂x`` (for softmax the full Jacobian-vector product). Piecewise-linear
functions on ints/Fractions stay exact; exp/erf/tanh-based ones give floats (see
:mod:`convcalc.compute.scalars`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from convcalc.compute import blas_threads, scalars
from convcalc.compute.scalars import constant, divide_exact
from convcalc.errors import InputError

LEAKY_RELU_SLOPE = 0.01  # PyTorch's default negative_slope
SOFTPLUS_THRESHOLD = 20  # PyTorch's default: softplus(x) = x for x > 20
_INV_SQRT2 = 1 / math.sqrt(2)  # M_SQRT1_2, as ATen writes GELU
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


# --- piecewise linear -----------------------------------------------------------------------

def _relu(x, slope):
    """y = max(x, 0); a NaN stays NaN and passes its gradient, as in PyTorch (whose backward
    zeroes where the output is ≤ 0, and NaN ≤ 0 is false)."""
    if x.dtype.kind != "f":
        positive = x > 0
        return _masked(x, positive), positive
    positive = np.empty(x.shape, dtype=bool)
    out = np.empty_like(x)

    def images(start: int, stop: int) -> None:
        np.greater(x[start:stop], 0, out=positive[start:stop])
        _masked_into(out[start:stop], x[start:stop], positive[start:stop], nan_passes=True)

    _by_images(images, x)
    return out, positive


def _relu_grad(dy, positive):
    """dx = dy·[x > 0 or x is NaN]: the gradient at exactly 0 is 0."""
    return _masked(dy, positive)


def _by_images(task: Callable[[int, int], None], x: np.ndarray) -> None:
    """An elementwise pass over a batched array, shared over threads by blocks of images
    (:func:`blas_threads.share_blocks`; each entry as computed alone)."""
    if x.ndim >= 2:
        blas_threads.share_blocks(task, x.shape[0], x.size, x.shape[0])
    else:
        task(0, x.shape[0] if x.ndim else 1)


def _masked_into(out: np.ndarray, values: np.ndarray, keep: np.ndarray, nan_passes: bool = False) -> None:
    """out = values·keep + 0 on floats — ``np.where(keep, values, 0)`` (the + 0 turns the −0 of
    a negative entry times 0 into 0) without np.where's branch per entry, which costs 5–10x more
    on a mask that is half true, as ReLU's is. A product holding a NaN (NaN or ±∞ times 0, which
    np.where writes as 0) is done by np.where, after adding the NaN entries of ``values`` to
    ``keep`` when ``nan_passes`` (ReLU's forward: a NaN input stays NaN)."""
    with np.errstate(invalid="ignore"):  # ±∞·0: NaN, handled below
        np.multiply(values, keep, out=out)
    out += 0
    if np.isnan(out).any():
        if nan_passes:
            keep |= np.isnan(values)
        out[...] = np.where(keep, values, 0)


def _masked(values, keep):
    """``np.where(keep, values, 0)``; on float arrays by :func:`_masked_into`, by blocks of images."""
    if values.dtype.kind == "f" and isinstance(keep, np.ndarray) and keep.shape == values.shape:
        out = np.empty_like(values)
        if values.ndim:
            _by_images(lambda start, stop: _masked_into(out[start:stop], values[start:stop], keep[start:stop]), values)
        else:
            _masked_into(out, values, keep)
        return out
    return np.where(keep, values, 0)


def _relu6(x, slope):
    """y = min(max(x, 0), 6) (hardtanh(0, 6))."""
    y = np.where(x <= 0, 0, np.where(x >= 6, 6, x))
    return y, (x > 0) & (x < 6)


def _relu6_grad(dy, inside):
    """dx = dy·[0 < x < 6]."""
    return np.where(inside, dy, 0)


def _leaky_relu(x, slope):
    """y = x for x > 0, slope·x for x ≤ 0."""
    slope = constant(LEAKY_RELU_SLOPE if slope is None else slope, x)
    positive = x > 0
    return np.where(positive, x, x * slope), (positive, slope)


def _leaky_relu_grad(dy, cache):
    """dx = dy for x > 0, slope·dy for x ≤ 0 (the slope at 0)."""
    positive, slope = cache
    return np.where(positive, dy, dy * slope)


def _hardswish(x, slope):
    """y = x·min(max(x + 3, 0), 6)/6."""
    clipped = np.where(x + 3 <= 0, 0, np.where(x + 3 >= 6, 6, x + 3))
    return divide_exact(x * clipped, 6), x


def _hardswish_grad(dy, x):
    """dx = 0 for x ≤ −3, dy·(x/3 + 1/2) for −3 < x < 3, dy for x ≥ 3 (ATen's boundaries)."""
    middle = dy * (divide_exact(x, 3) + constant(Fraction(1, 2), x))
    return np.where(x <= -3, 0, np.where(x < 3, middle, dy))


def _hardsigmoid(x, slope):
    """y = min(max(x + 3, 0), 6)/6."""
    clipped = np.where(x + 3 <= 0, 0, np.where(x + 3 >= 6, 6, x + 3))
    return divide_exact(clipped, 6), (x > -3) & (x < 3)


def _hardsigmoid_grad(dy, inside):
    """dx = dy/6 for −3 < x < 3, else 0."""
    return np.where(inside, divide_exact(dy, 6), 0)


# --- smooth ----------------------------------------------------------------------------------

def _elu(x, slope):
    """y = x for x > 0, eˣ − 1 for x ≤ 0 (α = 1)."""
    positive = x > 0
    e = scalars.exp(np.where(positive, 0, x))  # exp only where it is used: no overflow
    return np.where(positive, x, e - 1), (positive, e)


def _elu_grad(dy, cache):
    """dx = dy for x > 0, dy·eˣ for x ≤ 0."""
    positive, e = cache
    return np.where(positive, dy, dy * e)


def _gelu(x, slope):
    """y = x·Φ(x), Φ(x) = (1 + erf(x/√2))/2 (PyTorch's exact form, approximate='none')."""
    cdf = (scalars.erf(x * _INV_SQRT2) + 1) * 0.5
    return x * cdf, (x, cdf)


def _gelu_grad(dy, cache):
    """dx = dy·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π)."""
    x, cdf = cache
    pdf = scalars.exp(x * x * -0.5) * _INV_SQRT_2PI
    return dy * (cdf + x * pdf)


def _sigmoid(x, slope):
    """y = σ(x) = 1/(1 + e⁻ˣ)."""
    y = scalars.sigmoid(x)
    return y, y


def _sigmoid_grad(dy, y):
    """dx = dy·σ(1 − σ)."""
    return dy * y * (1 - y)


def _tanh(x, slope):
    """y = tanh x."""
    y = scalars.tanh(x)
    return y, y


def _tanh_grad(dy, y):
    """dx = dy·(1 − tanh²)."""
    return dy * (1 - y * y)


def _silu(x, slope):
    """y = x·σ(x) (swish)."""
    s = scalars.sigmoid(x)
    return x * s, (x, s)


def _silu_grad(dy, cache):
    """dx = dy·σ(x)·(1 + x·(1 − σ(x)))."""
    x, s = cache
    return dy * s * (1 + x * (1 - s))


def _softplus(x, slope):
    """y = log(1 + eˣ) for x ≤ 20, x above (PyTorch's threshold)."""
    large = x > SOFTPLUS_THRESHOLD
    return np.where(large, x, scalars.softplus(np.where(large, 0, x))), (x, large)


def _softplus_grad(dy, cache):
    """dx = dy·σ(x) for x ≤ 20, dy above."""
    x, large = cache
    return np.where(large, dy, dy * scalars.sigmoid(x))


def _mish(x, slope):
    """y = x·tanh(softplus(x))."""
    t = scalars.tanh(scalars.softplus(x))
    return x * t, (x, t)


def _mish_grad(dy, cache):
    """dx = dy·(tanh(sp) + x·σ(x)·(1 − tanh²(sp)))."""
    x, t = cache
    return dy * (t + x * scalars.sigmoid(x) * (1 - t * t))


# --- over dim 1 ----------------------------------------------------------------------------

def _channel_max(x: np.ndarray) -> Any:
    """max over dim 1 to subtract before exp (it cancels); 0 for symbolic entries."""
    if x.dtype.kind == "f" or all(scalars.is_real(v) for v in x.flat):
        return x.max(axis=1, keepdims=True)
    return 0


def _check_dim1(x: np.ndarray, kind: str) -> None:
    if x.ndim < 2:
        raise InputError(f"{kind} works over dim 1 of a batched (N, C, …) tensor; got a {x.ndim}-d input")


def _softmax(x, slope):
    """yᵢ = e^(xᵢ − m)/Σⱼ e^(xⱼ − m) over dim 1, m the maximum (for range; it cancels)."""
    _check_dim1(x, "softmax")
    e = scalars.exp(x - _channel_max(x))
    y = e / e.sum(axis=1, keepdims=True)
    return y, y


def _softmax_grad(dy, y):
    """dx = y·(dy − Σ₁ dy·y)."""
    return y * (dy - (dy * y).sum(axis=1, keepdims=True))


def _log_softmax(x, slope):
    """y = x − m − log Σ e^(x − m) over dim 1."""
    _check_dim1(x, "log_softmax")
    z = x - _channel_max(x)
    e = scalars.exp(z)
    total = e.sum(axis=1, keepdims=True)
    return z - scalars.log(total), e / total


def _log_softmax_grad(dy, probabilities):
    """dx = dy − softmax(x)·Σ₁ dy."""
    return dy - probabilities * dy.sum(axis=1, keepdims=True)


RULES: dict[str, tuple[Callable, Callable]] = {
    "relu": (_relu, _relu_grad),
    "relu6": (_relu6, _relu6_grad),
    "leaky_relu": (_leaky_relu, _leaky_relu_grad),
    "elu": (_elu, _elu_grad),
    "gelu": (_gelu, _gelu_grad),
    "sigmoid": (_sigmoid, _sigmoid_grad),
    "tanh": (_tanh, _tanh_grad),
    "silu": (_silu, _silu_grad),
    "hardswish": (_hardswish, _hardswish_grad),
    "hardsigmoid": (_hardsigmoid, _hardsigmoid_grad),
    "softmax": (_softmax, _softmax_grad),
    "log_softmax": (_log_softmax, _log_softmax_grad),
    "mish": (_mish, _mish_grad),
    "softplus": (_softplus, _softplus_grad),
}


def forward(kind: str, x: np.ndarray, negative_slope: float | None = None) -> tuple[np.ndarray, Any]:
    """``(y, cache)`` for the activation ``kind`` (a name of ``elementwise.ACTIVATIONS``)."""
    return RULES[kind][0](x, negative_slope)


def backward(kind: str, grad_output: np.ndarray, cache: Any) -> np.ndarray:
    """The gradient with respect to the activation's input."""
    return RULES[kind][1](grad_output, cache)
