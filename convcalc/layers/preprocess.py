"""Keras's preprocessing layers inside a model: ``Rescaling`` and ``Normalization`` (the first
layers of Keras's EfficientNet, EfficientNetV2, MobileNetV3 and ConvNeXt applications).

Rescaling: y = scale·x + offset, ``scale`` one number or one per channel (C, 1, …); no
weights of any kind; one multiply (and one add with an offset) per element, other work.
Normalization: y = (x − mean)/√variance per channel (Keras's ``Normalization(axis=channels)``).
A Keras layer built without ``mean=``/``variance=`` (to be ``adapt()``-ed: EfficientNet B0–B7)
keeps ``mean`` (C), ``variance`` (C) and ``count`` (a scalar) as non-trainable weights, which
``model.summary()``'s "Total params" counts — 2C + 1 numbers; here they are buffers (not
learned), as batch norm's running statistics are. Given constants (``mean=``, ``variance=``: the
ImageNet mean and variance of EfficientNetV2-B*, ConvNeXt) the layer has no weights at all.
Shape unchanged; receptive field unchanged (kernel 1, stride 1).

Forward and backward (x batched, (N, C, …)): Rescaling dx = scale·dy; Normalization
dx = dy/√variance (mean and variance are statistics, not parameters: no gradients). A missing
mean/variance is Keras's initial state (mean 0, variance 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.dims import product
from convcalc.engine.report import AxisRF, LayerReport
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.descriptor import LayerDescriptor, register_hook

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward

_STATISTICS = ("mean", "variance", "count")


def _identity_rf(shape: tuple) -> tuple[AxisRF, ...]:
    return tuple(AxisRF(1, 1, 0) for _ in shape[1:])


@dataclass(frozen=True)
class Rescaling(base.NoParameters):
    """Keras ``Rescaling(scale, offset)``: y = scale·x + offset (``scale`` a number or a tuple,
    one per channel)."""

    scale: float | tuple[float, ...] = 1.0
    offset: float = 0.0

    name = "rescaling"

    def _check_scales(self, channels) -> None:
        """A tuple of scales has one per channel."""
        if isinstance(self.scale, tuple) and isinstance(channels, int) and len(self.scale) != channels:
            raise InputError(f"rescaling has {len(self.scale)} scales for {channels} channels; give one per channel "
                             "or a single number")

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if len(shape) < 1:
            raise InputError("rescaling needs a channel dimension")
        self._check_scales(shape[0])
        n = batch or 1
        per_element = 2 if self.offset else 1
        hyper = {"scale": list(self.scale) if isinstance(self.scale, tuple) else self.scale, "offset": self.offset}
        return base.same_shape_report("rescaling", shape, batch, bytes_per_element,
                                      other_ops=(("rescale ops", per_element * n * product(shape)),),
                                      rf=_identity_rf(shape), hyper=hyper)

    def _factor(self, x: np.ndarray) -> Any:
        import numpy as np

        from convcalc.compute.scalars import constant

        if not isinstance(self.scale, tuple):
            return constant(self.scale, x)
        self._check_scales(x.shape[1])
        values = np.array([constant(s, x) for s in self.scale], dtype=x.dtype if x.dtype.kind == "f" else object)
        return values.reshape((1, -1) + (1,) * (x.ndim - 2))

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = scale·x + offset."""
        from convcalc.compute import Forward
        from convcalc.compute.scalars import constant

        factor = self._factor(x)
        y = x * factor
        if self.offset:
            y = y + constant(self.offset, x)
        return Forward(y, factor)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = scale·dy."""
        from convcalc.compute import Backward

        return Backward(grad_output * cache)


@dataclass(frozen=True)
class Normalization(base.NoParameters):
    """Keras ``Normalization(axis=channels)``: y = (x − mean)/√variance per channel. Without
    ``mean``/``variance`` (an adapted layer) they are, with ``count``, (non-trainable) weights;
    given (one number per channel, or one for all) they are constants."""

    mean: tuple[float, ...] | None = None
    variance: tuple[float, ...] | None = None

    name = "normalization"

    def __post_init__(self) -> None:
        if (self.mean is None) != (self.variance is None):
            raise InputError("normalization: give both mean and variance, or neither (an adapted layer)")

    @property
    def adapted(self) -> bool:
        """True when mean, variance and count are the layer's weights (Keras builds them for ``adapt``)."""
        return self.mean is None

    def _constants(self, channels) -> None:
        for what in (self.mean, self.variance):
            if what is not None and len(what) not in (1, channels) and isinstance(channels, int):
                raise InputError(f"normalization has {len(what)} means/variances for {channels} channels")

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if len(shape) < 1:
            raise InputError("normalization needs a channel dimension")
        self._constants(shape[0])
        n = batch or 1
        hyper: dict[str, Any] = {"num_features": shape[0], "adapted": self.adapted}
        if not self.adapted:
            hyper.update(mean=list(self.mean or ()), variance=list(self.variance or ()))
        return base.same_shape_report("normalization", shape, batch, bytes_per_element,
                                      other_ops=(("norm ops", 2 * n * product(shape)),), rf=_identity_rf(shape),
                                      buffers=2 * shape[0] + 1 if self.adapted else 0, hyper=hyper)

    def buffer_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``mean`` and ``variance`` (C,) and ``count`` (a scalar) when adapted; none otherwise."""
        if len(input_shape) < 2:
            raise InputError(f"normalization needs a batched (N, C, …) input; got {len(input_shape)}-d")
        c = input_shape[1]
        return {"mean": (c,), "variance": (c,), "count": ()} if self.adapted else {}

    def _statistic(self, x: np.ndarray, name: str, given: Mapping[str, Any], initial: int) -> np.ndarray:
        """One per channel, shaped to broadcast over (N, C, …): the layer's constants, the buffer
        given, or Keras's initial value (mean 0, variance 1)."""
        import numpy as np

        from convcalc.compute.params import as_array
        from convcalc.compute.scalars import constant

        c, view = x.shape[1], (1, -1) + (1,) * (x.ndim - 2)
        kind = x.dtype if x.dtype.kind == "f" else object
        fixed = self.mean if name == "mean" else self.variance
        if fixed is not None:
            values = np.array([constant(v, x) for v in fixed] * (c if len(fixed) == 1 else 1), dtype=kind)
        elif name in given:
            values = as_array(given[name], f"normalization {name}")
        else:
            values = np.array([initial] * c, dtype=kind)
        return values.reshape(view)

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = (x − mean)/√variance, per channel; the same in training and inference (an adapted
        layer's statistics come from ``adapt``, not from the batch)."""
        from convcalc.compute import Forward
        from convcalc.compute.params import require
        from convcalc.compute.scalars import reciprocal, sqrt

        given = {k: v for k, v in (params or {}).items() if k in _STATISTICS and v is not None}
        require(self.name, params, {k: v for k, v in self.buffer_shapes(x.shape).items() if k in given},
                also=_STATISTICS if self.adapted else ())
        inverse = reciprocal(sqrt(self._statistic(x, "variance", given, 1)))
        return Forward((x - self._statistic(x, "mean", given, 0)) * inverse, inverse)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = dy/√variance."""
        from convcalc.compute import Backward

        return Backward(grad_output * cache)


# --- descriptors (the zoo builds these; spec files do not name them) ------------------------------

DESCRIPTORS = (
    LayerDescriptor("rescaling", "y = scale·x + offset (Keras Rescaling; no weights)", ("Rescaling",),
                    work={"rescale ops": "other"}),
    LayerDescriptor("normalization", "y = (x − mean)/√variance per channel (Keras Normalization; an adapted "
                    "layer's mean, variance and count are non-trainable weights)", ("Normalization",),
                    work={"norm ops": "norm"}, torch=("Normalization",)),
)


# --- the torch.nn layer (``--verify torch``): torch is imported by the caller, handed in as ``nn``


@register_hook("torch", Rescaling)
def _torch_rescaling(layer: Rescaling, nn: Any, shape: tuple) -> Any:
    import torch

    rank = len(shape) - 1
    scale = torch.tensor(layer.scale if isinstance(layer.scale, tuple) else (layer.scale,)).reshape(
        (1, -1) + (1,) * rank)
    offset = float(layer.offset)

    class Rescaling(nn.Module):
        def forward(self, x):
            return x * scale.to(x.dtype) + offset

    return Rescaling()


@register_hook("torch", Normalization)
def _torch_normalization(layer: Normalization, nn: Any, shape: tuple) -> Any:
    import torch

    channels, view = shape[0], (1, -1) + (1,) * (len(shape) - 1)

    def per_channel(values: tuple[float, ...] | None) -> Any:
        values = values or (0.0,)
        return torch.tensor(values * (channels if len(values) == 1 else 1)).reshape(view)

    class Normalization(nn.Module):
        def __init__(self):
            super().__init__()
            if layer.adapted:  # Keras's non-trainable weights: buffers in torch
                self.register_buffer("mean", torch.zeros(channels))
                self.register_buffer("variance", torch.ones(channels))
                self.register_buffer("count", torch.zeros((), dtype=torch.int64))
            else:  # constants: neither parameters nor buffers
                self.fixed = (per_channel(layer.mean), per_channel(layer.variance))

        def forward(self, x):
            if layer.adapted:
                mean, variance = self.mean.reshape(view), self.variance.reshape(view)
            else:
                mean, variance = self.fixed
            return (x - mean.to(x.dtype)) / variance.to(x.dtype).sqrt()

    return Normalization()
