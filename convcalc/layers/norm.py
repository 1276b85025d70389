"""Normalisation layers: batch norm, layer norm over channels, group norm, LRN.

BatchNorm (PyTorch ``BatchNorm{1,2,3}d``): 2C learnable (γ, β) when affine; the running
mean and variance (C each) and ``num_batches_tracked`` (1) are buffers, not parameters.
GroupNorm and channel LayerNorm: 2C. LRN: none. Shape unchanged; no MACs; inference
batch norm costs 2 operations per element (a multiply and an add), reported as other work.

Forward and backward (x batched, (N, C, …)): the three standardising layers share
x̂ = (x − μ)/√(σ² + ε) over their axes (M values each) with the biased σ² = Σ(x − μ)²/M,
and its gradient (g = ∂L/∂x̂ = dy·γ)

    dx = (g − Σg/M − x̂·Σ(g·x̂)/D)/√(σ² + ε),   D = M (D = M − 1 for an unbiased σ²),
    dγ = Σ dy·x̂,   dβ = Σ dy   (summed over every axis but the parameter's).

BatchNorm (spec §7.6) normalises per channel over (N, *spatial), GroupNorm per sample and
group, LayerNorm per sample over the channels (ConvNeXt's LayerNorm2d) or over the last
``dims`` dimensions (nn.LayerNorm). LRN follows F.local_response_norm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from convcalc.engine.dims import product
from convcalc.engine.report import LayerReport, ParamCount
from convcalc.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward

VARIANCES = ("biased", "unbiased")


def _channels(shape, op: str):
    if len(shape) < 1:
        raise InputError(f"{op} needs a channel dimension")
    return shape[0] if len(shape) > 1 else shape[0]


@dataclass(frozen=True)
class BatchNorm:
    """``nn.BatchNorm{1,2,3}d(C)``; the input is (C, *spatial) — the batch is separate."""

    affine: bool = True
    track_running_stats: bool = True
    eps: float = 1e-5
    momentum: float | None = 0.1
    variance: str = "biased"  # the σ² that normalises in training: PyTorch's biased (÷M) or "unbiased" (÷(M−1))

    name = "batchnorm"

    def __post_init__(self) -> None:
        if self.variance not in VARIANCES:
            raise InputError(f"batchnorm variance must be 'biased' (PyTorch) or 'unbiased'; got {self.variance!r}")

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        c = _channels(shape, "batchnorm")
        n = batch or 1
        return LayerReport(
            op="batchnorm", input=shape, output=shape, params=ParamCount(c if self.affine else 0, c if self.affine else 0),
            macs=0, batch=n, other_ops=(("norm ops", 2 * n * product(shape)),), rf=None,
            hyper={"num_features": c, "eps": self.eps, "momentum": self.momentum, "affine": self.affine},
            buffers=2 * c + 1 if self.track_running_stats else 0, bytes_per_element=bytes_per_element,
        )

    def _check_rank(self, ndim: int) -> None:
        if not 2 <= ndim <= 5:
            raise InputError(
                f"batchnorm takes (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W) (BatchNorm1d/2d/3d); got a {ndim}-d input"
            )

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``weight`` (γ) and ``bias`` (β), one per channel (dim 1), when affine."""
        self._check_rank(len(input_shape))
        c = input_shape[1]
        return {"weight": (c,), "bias": (c,)} if self.affine else {}

    def buffer_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``running_mean`` and ``running_var`` (C,) and ``num_batches_tracked`` (a single count)."""
        self._check_rank(len(input_shape))
        c = input_shape[1]
        return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()} if self.track_running_stats else {}

    def _buffers(self, params: Mapping[str, Any] | None, x: np.ndarray) -> dict[str, Any]:
        """The running statistics given, or PyTorch's initial ones (mean 0, variance 1, count 0)."""
        import numpy as np

        from convcalc.compute.params import require

        c = x.shape[1]
        given = {k: v for k, v in (params or {}).items() if k in ("running_mean", "running_var", "num_batches_tracked")}
        shapes = {k: v for k, v in self.buffer_shapes(x.shape).items() if k in given}
        found = require(self.name, given, shapes)
        dtype = object if x.dtype == object else x.dtype
        found.setdefault("running_mean", np.zeros(c, dtype=dtype))
        found.setdefault("running_var", np.ones(c, dtype=dtype))
        found.setdefault("num_batches_tracked", np.array(0, dtype=np.int64))
        return found

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """Training (or no running statistics): x̂ from the batch's mean and variance per channel
        over M = N·Πspatial values; y = γ·x̂ + β. The running statistics are updated with the
        UNBIASED variance, r ← (1 − m)·r + m·stat (m = momentum; a cumulative average 1/n when
        momentum is None) and returned in ``Forward.buffers``. Eval mode: x̂ from the running
        statistics. Missing running statistics start at PyTorch's initial values.
        """
        from convcalc.compute import Forward
        from convcalc.compute.params import require
        from convcalc.compute.scalars import constant, divide_exact, reciprocal, sqrt

        p = require(self.name, params, self.parameter_shapes(x.shape))
        c = x.shape[1]
        axes = (0,) + tuple(range(2, x.ndim))
        per_channel = (1, c) + (1,) * (x.ndim - 2)
        count = x.size // c
        updated: dict[str, Any] = {}
        if training or not self.track_running_stats:
            if count == 1:
                raise InputError(
                    f"batchnorm in training mode needs more than one value per channel (PyTorch refuses it); the input "
                    f"{'x'.join(map(str, x.shape))} has 1. Use a batch of 2 or more, or eval mode"
                )
            denominator = count - 1 if self.variance == "unbiased" else count
            x_hat, mean, squares, inv_std = _standardize(x, axes, count, denominator, self.eps)
            if training and self.track_running_stats:
                updated = self._updated_buffers(self._buffers(params, x), mean.reshape(c),
                                                divide_exact(squares.reshape(c), count - 1), x)
        else:
            buffers = self._buffers(params, x)
            denominator = None  # the statistics are constants: dx = dy·γ/√(running_var + ε)
            inv_std = reciprocal(sqrt(buffers["running_var"].reshape(per_channel) + constant(self.eps, x)))
            x_hat = (x - buffers["running_mean"].reshape(per_channel)) * inv_std
        gamma = p["weight"].reshape(per_channel) if self.affine else None
        y = x_hat * gamma + p["bias"].reshape(per_channel) if self.affine else x_hat
        return Forward(y, (x_hat, inv_std, gamma, axes, count, denominator), updated)

    def _updated_buffers(self, buffers: dict[str, Any], mean: np.ndarray, unbiased_var: np.ndarray,
                         x: np.ndarray) -> dict[str, Any]:
        import numpy as np

        from convcalc.compute.scalars import constant

        tracked = int(np.asarray(buffers["num_batches_tracked"])) + 1
        if self.momentum is None:
            m = constant(1, x) / tracked if x.dtype != object else Fraction(1, tracked)
        else:
            m = constant(self.momentum, x)
        return {
            "running_mean": buffers["running_mean"] * (1 - m) + mean * m,
            "running_var": buffers["running_var"] * (1 - m) + unbiased_var * m,
            "num_batches_tracked": np.array(tracked, dtype=np.int64),
        }

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """Training: the batch-statistics gradient of the module docstring (D = M, or M − 1 with
        the unbiased option); eval: dx = dy·γ/√(running_var + ε). dγ = Σ dy·x̂, dβ = Σ dy."""
        from convcalc.compute import Backward

        x_hat, inv_std, gamma, axes, count, denominator = cache
        dy = grad_output
        g = dy * gamma if gamma is not None else dy
        if denominator is None:
            dx = g * inv_std
        else:
            dx = _standardize_backward(g, x_hat, inv_std, axes, count, denominator)
        grads = {"weight": (dy * x_hat).sum(axis=axes), "bias": dy.sum(axis=axes)} if self.affine else {}
        return Backward(dx, grads)


@dataclass(frozen=True)
class GroupNorm:
    groups: int = 32
    affine: bool = True
    eps: float = 1e-5

    name = "groupnorm"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        c = _channels(shape, "groupnorm")
        if isinstance(c, int) and c % self.groups:
            raise InputError(f"groupnorm: {self.groups} groups must divide the {c} channels")
        n = batch or 1
        return LayerReport(op="groupnorm", input=shape, output=shape,
                           params=ParamCount(c if self.affine else 0, c if self.affine else 0), macs=0, batch=n,
                           other_ops=(("norm ops", 2 * n * product(shape)),), hyper={"groups": self.groups},
                           bytes_per_element=bytes_per_element)

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``weight`` and ``bias`` (C,) when affine (nn.GroupNorm)."""
        if len(input_shape) < 2:
            raise InputError(f"groupnorm needs a batched (N, C, …) input; got {len(input_shape)}-d")
        self.analyze(tuple(input_shape[1:]))  # groups must divide the channels
        c = input_shape[1]
        return {"weight": (c,), "bias": (c,)} if self.affine else {}

    def buffer_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        return {}

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """x̂ per sample and group of C/G channels (with their spatial values); y = γ·x̂ + β per channel."""
        from convcalc.compute import Forward
        from convcalc.compute.params import require

        p = require(self.name, params, self.parameter_shapes(x.shape))
        grouped = x.reshape(x.shape[0], self.groups, -1)
        count = grouped.shape[2]
        x_hat_grouped, _, _, inv_std = _standardize(grouped, (2,), count, count, self.eps)
        x_hat = x_hat_grouped.reshape(x.shape)
        per_channel = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        gamma = p["weight"].reshape(per_channel) if self.affine else None
        y = x_hat * gamma + p["bias"].reshape(per_channel) if self.affine else x_hat
        return Forward(y, (x_hat_grouped, inv_std, gamma, count, x.shape))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx per group as in the module docstring (D = M); dγ, dβ summed over batch and space."""
        from convcalc.compute import Backward

        x_hat_grouped, inv_std, gamma, count, shape = cache
        dy = grad_output
        g = dy * gamma if gamma is not None else dy
        dx = _standardize_backward(g.reshape(x_hat_grouped.shape), x_hat_grouped, inv_std, (2,), count, count)
        axes = (0,) + tuple(range(2, dy.ndim))
        grads = {}
        if self.affine:
            grads = {"weight": (dy * x_hat_grouped.reshape(shape)).sum(axis=axes), "bias": dy.sum(axis=axes)}
        return Backward(dx.reshape(shape), grads)


@dataclass(frozen=True)
class LayerNorm:
    """Layer norm over the channel dimension (ConvNeXt's ``LayerNorm2d``) or over the last
    ``dims`` dimensions (``nn.LayerNorm(normalized_shape)``): 2·Π(normalized shape) parameters."""

    dims: int = 1
    channels_first: bool = True
    eps: float = 1e-5

    name = "layernorm"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        normalized = (shape[0],) if self.channels_first else shape[-self.dims:]
        size = product(normalized)
        n = batch or 1
        return LayerReport(op="layernorm", input=shape, output=shape, params=ParamCount(size, size), macs=0, batch=n,
                           other_ops=(("norm ops", 2 * n * product(shape)),), hyper={"normalized_shape": list(normalized)},
                           bytes_per_element=bytes_per_element)

    def _axes(self, ndim: int) -> tuple[int, ...]:
        """The normalised axes of a batched input: the channels, or the last ``dims``."""
        if self.channels_first:
            if ndim < 2:
                raise InputError(f"layernorm over channels needs a batched (N, C, …) input; got {ndim}-d")
            return (1,)
        if not 1 <= self.dims <= ndim - 1:
            raise InputError(
                f"layernorm over the last {self.dims} dimensions needs at least {self.dims + 1} (the batch first); "
                f"got a {ndim}-d input"
            )
        return tuple(range(ndim - self.dims, ndim))

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``weight`` and ``bias`` of the normalised shape: (C,), or the last ``dims`` sizes."""
        axes = self._axes(len(input_shape))
        normalized = tuple(input_shape[a] for a in axes)
        return {"weight": normalized, "bias": normalized}

    def buffer_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        return {}

    def _broadcast(self, ndim: int) -> tuple[int, ...] | None:
        return (1, -1) + (1,) * (ndim - 2) if self.channels_first else None

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """x̂ per sample (and per position, for channels) over the normalised axes; y = γ·x̂ + β."""
        from convcalc.compute import Forward
        from convcalc.compute.params import require

        p = require(self.name, params, self.parameter_shapes(x.shape))
        axes = self._axes(x.ndim)
        count = 1
        for a in axes:
            count *= x.shape[a]
        x_hat, _, _, inv_std = _standardize(x, axes, count, count, self.eps)
        shape = self._broadcast(x.ndim)
        gamma = p["weight"] if shape is None else p["weight"].reshape(shape)
        beta = p["bias"] if shape is None else p["bias"].reshape(shape)
        return Forward(x_hat * gamma + beta, (x_hat, inv_std, gamma, axes, count))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx as in the module docstring (D = M); dγ, dβ summed over the other axes."""
        from convcalc.compute import Backward

        x_hat, inv_std, gamma, axes, count = cache
        dy = grad_output
        dx = _standardize_backward(dy * gamma, x_hat, inv_std, axes, count, count)
        others = tuple(a for a in range(dy.ndim) if a not in axes)
        return Backward(dx, {"weight": (dy * x_hat).sum(axis=others), "bias": dy.sum(axis=others)})


@dataclass(frozen=True)
class LocalResponseNorm:
    """``nn.LocalResponseNorm(size)`` (AlexNet): no parameters."""

    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0

    name = "lrn"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        n = batch or 1
        return LayerReport(op="lrn", input=shape, output=shape, params=ParamCount(), macs=0, batch=n,
                           other_ops=(("norm ops", n * self.size * product(shape)),), hyper={"size": self.size},
                           bytes_per_element=bytes_per_element)

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        return {}

    def buffer_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        return {}

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """PyTorch's F.local_response_norm: y_c = x_c·D_c^(−β) with D_c = k + (α/n)·Σ x_{c'}², the
        sum over channels c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋ that exist (n = size; the average divides by
        n even at the borders)."""
        from convcalc.compute import Forward
        from convcalc.compute.scalars import constant, divide_exact, power

        if x.ndim < 3:
            raise InputError(f"lrn takes a (N, C, …) input with at least one spatial axis (as PyTorch); got {x.ndim}-d")
        sums = _channel_window_sum(x * x, self.size // 2, (self.size - 1) // 2)
        denominator = divide_exact(sums, self.size) * constant(self.alpha, x) + constant(self.k, x)
        scale = power(denominator, -constant(self.beta, x))
        if x.dtype != object:
            scale = scale.astype(x.dtype, copy=False)
        return Forward(x * scale, (x, denominator, scale))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx_j = dy_j·D_j^(−β) − (2αβ/n)·x_j·Σ_{c: j in window(c)} dy_c·x_c·D_c^(−β−1)."""
        from convcalc.compute import Backward
        from convcalc.compute.scalars import constant, divide_exact, reciprocal

        x, denominator, scale = cache
        dy = grad_output
        inner = _channel_window_sum(dy * x * scale * reciprocal(denominator), (self.size - 1) // 2, self.size // 2)
        coefficient = divide_exact(constant(self.alpha, x) * constant(self.beta, x) * 2, self.size)
        return Backward(dy * scale - x * inner * coefficient)


def _standardize(x: np.ndarray, axes: tuple[int, ...], count: int, denominator: int, eps: float):
    """x̂ = (x − μ)/√(σ² + ε) over ``axes`` (``count`` values), σ² = Σ(x − μ)²/denominator.

    Returns x̂, μ, Σ(x − μ)² and 1/√(σ² + ε), all with the reduced axes kept (size 1).
    Exact arrays keep μ exact; the square root gives floats unless σ² + ε is a square.
    """
    from convcalc.compute.scalars import constant, divide_exact, reciprocal, sqrt

    mean = divide_exact(x.sum(axis=axes, keepdims=True), count)
    centered = x - mean
    squares = (centered * centered).sum(axis=axes, keepdims=True)
    inv_std = reciprocal(sqrt(divide_exact(squares, denominator) + constant(eps, x)))
    return centered * inv_std, mean, squares, inv_std


def _standardize_backward(g: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, axes: tuple[int, ...], count: int,
                          denominator: int) -> np.ndarray:
    """dx = (g − Σg/M − x̂·Σ(g·x̂)/D)/√(σ² + ε) for g = ∂L/∂x̂ (M = count, D = denominator)."""
    from convcalc.compute.scalars import divide_exact

    mean_g = divide_exact(g.sum(axis=axes, keepdims=True), count)
    projection = divide_exact((g * x_hat).sum(axis=axes, keepdims=True), denominator)
    return (g - mean_g - x_hat * projection) * inv_std


def _channel_window_sum(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """s_c = Σ a_{c'} for c' = c − before … c + after along dim 1 (missing channels count 0)."""
    import numpy as np

    c = a.shape[1]
    padded_shape = (a.shape[0], c + before + after) + a.shape[2:]
    padded = np.zeros(padded_shape, dtype=a.dtype)  # dtype=object: Python int zeros, exact
    padded[:, before:before + c] = a
    total = padded[:, 0:c]
    for offset in range(1, before + after + 1):
        total = total + padded[:, offset:offset + c]
    return total
