"""Normalisation layers: batch norm, layer norm over channels, group norm, LRN.

BatchNorm (PyTorch ``BatchNorm{1,2,3}d``): 2C learnable (γ, β) when affine; C (β alone) with
``scale=False`` (Keras's ``BatchNormalization(scale=False)``: γ fixed at 1, as in Keras's
Inception applications); the running mean and variance (C each) and ``num_batches_tracked``
(1) are buffers, not parameters.
GroupNorm and channel LayerNorm: 2C. LRN: none. Shape unchanged; no MACs; inference
batch norm costs 2 operations per element (a multiply and an add), reported as other work.

Forward and backward (x batched, (N, C, …)): the three standardising layers share
x̂ = (x − μ)/√(σ² + ε) over their axes (M values each) with the biased σ² = Σ(x − μ)²/M,
and its gradient (g = ∂L/∂x̂ = dy·γ)

    dx = (g − Σg/M − x̂·Σ(g·x̂)/D)/√(σ² + ε),   D = M (D = M − 1 for an unbiased σ²),
    dγ = Σ dy·x̂,   dβ = Σ dy   (summed over every axis but the parameter's).

BatchNorm (docs/arithmetic.md §7.6) normalises per channel over (N, *spatial), GroupNorm per sample and
group, LayerNorm per sample over the channels (ConvNeXt's LayerNorm2d) or over the last
``dims`` dimensions (nn.LayerNorm). LRN follows F.local_response_norm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.dims import product
from convcalc.engine.report import LayerReport, ParamCount
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.descriptor import LayerDescriptor, Option, register_hook

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward

VARIANCES = ("biased", "unbiased")
_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")  # batch norm's buffers


def _channels(shape, op: str):
    if len(shape) < 1:
        raise InputError(f"{op} needs a channel dimension")
    return shape[0]


def _norm_report(op: str, shape, batch, bytes_per_element: int, params: ParamCount, ops_per_element: int, **fields):
    n = batch or 1
    return base.same_shape_report(op, shape, batch, bytes_per_element, params=params,
                                  other_ops=(("norm ops", ops_per_element * n * product(shape)),), **fields)


@dataclass(frozen=True)
class BatchNorm:
    """``nn.BatchNorm{1,2,3}d(C)``; the input is (C, *spatial) — the batch is separate."""

    affine: bool = True
    track_running_stats: bool = True
    eps: float = 1e-5
    momentum: float | None = 0.1
    variance: str = "biased"  # the σ² that normalises in training: PyTorch's biased (÷M) or "unbiased" (÷(M−1))
    scale: bool = True  # with affine: a learnt γ; False is Keras's scale=False (γ = 1, β alone learnt)

    name = "batchnorm"

    def __post_init__(self) -> None:
        if self.variance not in VARIANCES:
            raise InputError(f"batchnorm variance must be 'biased' (PyTorch) or 'unbiased'; got {self.variance!r}")

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        c = _channels(shape, "batchnorm")
        shift = c if self.affine else 0
        weights = shift if self.scale else 0
        hyper = {"num_features": c, "eps": self.eps, "momentum": self.momentum, "affine": self.affine}
        if not self.scale:
            hyper["scale"] = False
        return _norm_report("batchnorm", shape, batch, bytes_per_element, ParamCount(weights, shift), 2, hyper=hyper,
                            buffers=2 * c + 1 if self.track_running_stats else 0)

    def _check_rank(self, ndim: int) -> None:
        if not 2 <= ndim <= 5:
            raise InputError(
                "batchnorm takes (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W) (BatchNorm1d/2d/3d); got "
                f"a {ndim}-d input"
            )

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``weight`` (γ) and ``bias`` (β), one per channel (dim 1), when affine (β alone with scale=False)."""
        self._check_rank(len(input_shape))
        c = input_shape[1]
        if not self.affine:
            return {}
        return {"weight": (c,), "bias": (c,)} if self.scale else {"bias": (c,)}

    def buffer_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``running_mean`` and ``running_var`` (C,) and ``num_batches_tracked`` (a single count)."""
        self._check_rank(len(input_shape))
        c = input_shape[1]
        return {"running_mean": (c,), "running_var": (c,),
                "num_batches_tracked": ()} if self.track_running_stats else {}

    def _statistics(self, params: Mapping[str, Any] | None, x: np.ndarray) -> dict[str, Any] | None:
        """The running statistics given, or PyTorch's initial ones (mean 0, variance 1, count 0);
        None when the layer does not track them."""
        from convcalc.compute import norm_kernels
        from convcalc.compute.params import require

        if not self.track_running_stats:
            return None
        given = {k: v for k, v in (params or {}).items() if k in _STATISTICS}
        shapes = {k: v for k, v in self.buffer_shapes(x.shape).items() if k in given}
        return norm_kernels.initial_statistics(require(self.name, given, shapes), x.shape[1], x)

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """Training (or no running statistics): x̂ from the batch's mean and variance per channel
        over M = N·Πspatial values; y = γ·x̂ + β. The running statistics are updated with the
        UNBIASED variance, r ← (1 − m)·r + m·stat (m = momentum; a cumulative average 1/n when
        momentum is None) and returned in ``Forward.buffers``. Eval mode: x̂ from the running
        statistics. Missing running statistics start at PyTorch's initial values.
        """
        from convcalc.compute import Forward, norm_kernels
        from convcalc.compute.params import require

        p = require(self.name, params, self.parameter_shapes(x.shape), also=_STATISTICS)
        y, cache, updated = norm_kernels.batch_norm_forward(
            x, p.get("weight"), p.get("bias"), self._statistics(params, x), training=training, eps=self.eps,
            momentum=self.momentum, unbiased=self.variance == "unbiased")
        return Forward(y, cache, updated)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """Training: the batch-statistics gradient of the module docstring (D = M, or M − 1 with
        the unbiased option); eval: dx = dy·γ/√(running_var + ε). dγ = Σ dy·x̂, dβ = Σ dy."""
        from convcalc.compute import Backward, norm_kernels

        dx, grads = norm_kernels.batch_norm_backward(grad_output, cache, self.affine)
        return Backward(dx, grads if self.scale else {k: v for k, v in grads.items() if k == "bias"})


@dataclass(frozen=True)
class GroupNorm(base.NoBuffers):
    groups: int = 32
    affine: bool = True
    eps: float = 1e-5

    name = "groupnorm"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        c = _channels(shape, "groupnorm")
        if isinstance(c, int) and c % self.groups:
            raise InputError(f"groupnorm: {self.groups} groups must divide the {c} channels")
        weights = c if self.affine else 0
        return _norm_report("groupnorm", shape, batch, bytes_per_element, ParamCount(weights, weights), 2,
                            hyper={"groups": self.groups})

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``weight`` and ``bias`` (C,) when affine (nn.GroupNorm)."""
        if len(input_shape) < 2:
            raise InputError(f"groupnorm needs a batched (N, C, …) input; got {len(input_shape)}-d")
        self.analyze(tuple(input_shape[1:]))  # groups must divide the channels
        c = input_shape[1]
        return {"weight": (c,), "bias": (c,)} if self.affine else {}

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """x̂ per sample and group of C/G channels (with their spatial values); y = γ·x̂ + β per channel."""
        from convcalc.compute import Forward
        from convcalc.compute.norm_kernels import per_channel, scale_shift, standardize
        from convcalc.compute.params import require

        p = require(self.name, params, self.parameter_shapes(x.shape))
        grouped = x.reshape(x.shape[0], self.groups, -1)
        count = grouped.shape[2]
        x_hat_grouped, _, _, inv_std = standardize(grouped, (2,), count, count, self.eps)
        gamma = per_channel(p.get("weight"), x.ndim)
        y = scale_shift(x_hat_grouped.reshape(x.shape), gamma, per_channel(p.get("bias"), x.ndim))
        return Forward(y, (x_hat_grouped, inv_std, gamma, count, x.shape))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx per group as in the module docstring (D = M); dγ, dβ summed over batch and space."""
        from convcalc.compute import Backward
        from convcalc.compute.norm_kernels import scale_shift_grads, standardize_backward

        x_hat_grouped, inv_std, gamma, count, shape = cache
        dy = grad_output
        g = dy * gamma if gamma is not None else dy
        dx = standardize_backward(g.reshape(x_hat_grouped.shape), x_hat_grouped, inv_std, (2,), count, count)
        axes = (0,) + tuple(range(2, dy.ndim))
        grads = scale_shift_grads(dy, x_hat_grouped.reshape(shape), axes) if self.affine else {}
        return Backward(dx.reshape(shape), grads)


@dataclass(frozen=True)
class LayerNorm(base.NoBuffers):
    """Layer norm over the channel dimension (ConvNeXt's ``LayerNorm2d``) or over the last
    ``dims`` dimensions (``nn.LayerNorm(normalized_shape)``): 2·Π(normalized shape) parameters,
    none without its affine γ and β (``elementwise_affine=False``: y = x̂)."""

    dims: int = 1
    channels_first: bool = True
    eps: float = 1e-5
    affine: bool = True

    name = "layernorm"

    @property
    def type_name(self) -> str:
        """Over the channels of a feature map (ConvNeXt's LayerNorm2d) or over the last dims."""
        return "layernorm2d" if self.channels_first else "layernorm"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        normalized = (shape[0],) if self.channels_first else tuple(shape)[-self.dims:]
        size = product(normalized)
        hyper: dict[str, Any] = {"normalized_shape": list(normalized)}
        if not self.affine:
            hyper["elementwise_affine"] = False
        return _norm_report("layernorm", shape, batch, bytes_per_element,
                            ParamCount(size, size) if self.affine else ParamCount(), 2, hyper=hyper)

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
        """``weight`` and ``bias`` of the normalised shape: (C,), or the last ``dims`` sizes (none
        without the affine part)."""
        axes = self._axes(len(input_shape))
        normalized = tuple(input_shape[a] for a in axes)
        return {"weight": normalized, "bias": normalized} if self.affine else {}

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """x̂ per sample (and per position, for channels) over the normalised axes; y = γ·x̂ + β."""
        from convcalc.compute import Forward
        from convcalc.compute.norm_kernels import per_channel, scale_shift, standardize
        from convcalc.compute.params import require

        p = require(self.name, params, self.parameter_shapes(x.shape))
        axes = self._axes(x.ndim)
        count = product(x.shape[a] for a in axes)
        x_hat, _, _, inv_std = standardize(x, axes, count, count, self.eps)
        if not self.affine:
            return Forward(x_hat, (x_hat, inv_std, 1.0, axes, count))
        gamma, beta = p["weight"], p["bias"]
        if self.channels_first:
            gamma, beta = per_channel(gamma, x.ndim), per_channel(beta, x.ndim)
        return Forward(scale_shift(x_hat, gamma, beta), (x_hat, inv_std, gamma, axes, count))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx as in the module docstring (D = M); dγ, dβ summed over the other axes."""
        from convcalc.compute import Backward
        from convcalc.compute.norm_kernels import scale_shift_grads, standardize_backward

        x_hat, inv_std, gamma, axes, count = cache
        dy = grad_output
        dx = standardize_backward(dy * gamma, x_hat, inv_std, axes, count, count)
        if not self.affine:
            return Backward(dx, {})
        others = tuple(a for a in range(dy.ndim) if a not in axes)
        return Backward(dx, scale_shift_grads(dy, x_hat, others))


@dataclass(frozen=True)
class LocalResponseNorm(base.NoParameters):
    """``nn.LocalResponseNorm(size)`` (AlexNet): no parameters."""

    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0

    name = "lrn"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        return _norm_report("lrn", shape, batch, bytes_per_element, ParamCount(), self.size, hyper={"size": self.size})

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """PyTorch's F.local_response_norm: y_c = x_c·D_c^(−β) with D_c = k + (α/n)·Σ x_{c'}², the
        sum over channels c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋ that exist (n = size; the average divides by
        n even at the borders)."""
        from convcalc.compute import Forward, norm_kernels

        if x.ndim < 3:
            raise InputError(f"lrn takes a (N, C, …) input with at least one spatial axis (as PyTorch); got {x.ndim}-d")
        return Forward(*norm_kernels.lrn_forward(x, self.size, self.alpha, self.beta, self.k))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx_j = dy_j·D_j^(−β) − (2αβ/n)·x_j·Σ_{c: j in window(c)} dy_c·x_c·D_c^(−β−1)."""
        from convcalc.compute import Backward, norm_kernels

        return Backward(norm_kernels.lrn_backward(grad_output, cache, self.size, self.alpha, self.beta))


# --- descriptors ------------------------------------------------------------------------------

def _spec_batchnorm(affine: bool = True, eps: float = 1e-5, momentum: float = 0.1) -> BatchNorm:
    return BatchNorm(affine=affine, eps=eps, momentum=momentum)


def _spec_layernorm2d(eps: float = 1e-5) -> LayerNorm:
    return LayerNorm(channels_first=True, eps=eps)


def _spec_layernorm(dims: int = 1, affine: bool = True) -> LayerNorm:
    return LayerNorm(dims=dims, channels_first=False, affine=affine)


_NORM_WORK = {"*": "norm"}
DESCRIPTORS = (
    LayerDescriptor(
        "batchnorm", "batch normalisation (running statistics are buffers)", ("BatchNorm",), build=_spec_batchnorm,
        options=(Option("affine", "bool"), Option("eps", "float"), Option("momentum", "float")),
        aliases=("bn", "batchnorm2d"), chain_help="bn", trace="batchnorm2d", trace_aliases=("batchnorm", "bn"),
        trace_output="B", trace_params={"weight": "γ", "bias": "β"},
        torch=("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"), onnx=("BatchNormalization",),
        keras=("BatchNormalization",),
        label=("batchnorm", "bn"), work=_NORM_WORK,
    ),
    LayerDescriptor(
        "groupnorm", "group normalisation", ("GroupNorm",), build=GroupNorm,
        options=(Option("groups", "count", required=True, positional=True),), aliases=("gn",), chain_help="gn G",
        torch=("GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"), onnx=("InstanceNormalization",),
        label=("groupnorm", "gn"), work=_NORM_WORK,
    ),
    LayerDescriptor(
        "layernorm2d", "layer normalisation over the channels of a feature map (ConvNeXt)", ("LayerNorm",),
        build=_spec_layernorm2d, aliases=("ln2d",), chain_help="ln2d", label=("layernorm", "ln"), work=_NORM_WORK,
    ),
    LayerDescriptor(
        "layernorm", "layer normalisation over the last dims", ("LayerNorm",), build=_spec_layernorm,
        options=(Option("dims", "count"), Option("affine", "bool", aliases=("elementwise_affine",))),
        aliases=("ln",), chain_help="ln", torch=("LayerNorm",),
        onnx=("LayerNormalization",), work=_NORM_WORK,
    ),
    LayerDescriptor(
        "lrn", "local response normalisation (AlexNet)", ("LocalResponseNorm",), build=LocalResponseNorm,
        options=(Option("size", "count"), Option("alpha", "float"), Option("beta", "float"),
                 Option("k", "float", chain="k")),
        aliases=("localresponsenorm",), chain_help="lrn", torch=("LocalResponseNorm",), onnx=("LRN",),
        work=_NORM_WORK, trace="lrn", trace_aliases=("localresponsenorm", "local_response_norm"), trace_output="N",
    ),
)


# --- the torch.nn layer (``--verify torch``): torch is imported by the caller, handed in as ``nn``


@register_hook("torch", BatchNorm)
def _torch_batchnorm(layer: BatchNorm, nn: Any, shape: tuple) -> Any:
    base_class = getattr(nn, f"BatchNorm{max(len(shape) - 1, 1)}d")
    if layer.affine and not layer.scale:
        return _torch_shift_only(base_class, nn, layer, shape[0]).eval()
    return base_class(shape[0], eps=layer.eps, momentum=layer.momentum, affine=layer.affine,
                      track_running_stats=layer.track_running_stats).eval()


def _torch_shift_only(base_class: Any, nn: Any, layer: BatchNorm, channels: int) -> Any:
    """torch.nn has no batch norm with β but no γ (Keras's scale=False): the affine-free batch
    norm, then a learnt β per channel."""
    import torch
    import torch.nn.functional as F

    class BatchNormShift(base_class):
        def __init__(self) -> None:
            super().__init__(channels, eps=layer.eps, momentum=layer.momentum, affine=False,
                             track_running_stats=layer.track_running_stats)
            self.bias = nn.Parameter(torch.zeros(channels))

        def forward(self, x):
            # the affine-free norm itself (the base forward would add the β set here as its own bias)
            if self.training and self.track_running_stats:
                self.num_batches_tracked.add_(1)
            use_batch = self.training or not self.track_running_stats
            y = F.batch_norm(x, self.running_mean, self.running_var, None, None, use_batch,
                             self.momentum if self.momentum is not None else 0.0, self.eps)
            return y + self.bias.reshape((1, -1) + (1,) * (x.dim() - 2))

    return BatchNormShift()


@register_hook("torch", GroupNorm)
def _torch_groupnorm(layer: GroupNorm, nn: Any, shape: tuple) -> Any:
    return nn.GroupNorm(layer.groups, shape[0], eps=layer.eps, affine=layer.affine)


@register_hook("torch", LayerNorm)
def _torch_layernorm(layer: LayerNorm, nn: Any, shape: tuple) -> Any:
    if layer.channels_first:
        class LayerNorm2d(nn.LayerNorm):
            def forward(self, x):
                return super().forward(x.movedim(1, -1)).movedim(-1, 1)

        return LayerNorm2d(shape[0], eps=layer.eps, elementwise_affine=layer.affine)
    return nn.LayerNorm(tuple(layer.analyze(shape, batch=1).hyper["normalized_shape"]), eps=layer.eps,
                        elementwise_affine=layer.affine)


@register_hook("torch", LocalResponseNorm)
def _torch_lrn(layer: LocalResponseNorm, nn: Any, shape: tuple) -> Any:
    return nn.LocalResponseNorm(layer.size, layer.alpha, layer.beta, layer.k)
