"""Layers that act on the channel dimension alone: a channel chunk (``x.chunk(n, dim=1)[i]``,
ShuffleNetV2's channel split) and a per-channel learnable scale (ConvNeXt's layer scale).

ChannelChunk: C → C/n channels, spatial unchanged; no parameters, no arithmetic; receptive
field unchanged (kernel 1, stride 1 on every spatial axis, so the walk keeps it).
LayerScale: ``γ · x`` with γ of shape (C, 1, …): C parameters, no MACs, one multiply per
element reported as other work; the shape is unchanged.

Forward and backward (x batched, (N, C, …)): the chunk is a slice of dim 1, its gradient
the slice's gradient with zeros for the other channels; layer scale y = γ·x gives
dx = γ·dy and dγ = Σ dy·x over the batch and the spatial positions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.dims import product
from convcalc.engine.report import AxisRF, LayerReport, ParamCount
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.descriptor import LayerDescriptor, Option, register_hook

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward


@dataclass(frozen=True)
class ChannelChunk(base.NoParameters):
    """``x.chunk(chunks, dim=1)[index]`` on (C, *spatial), C divisible by ``chunks``."""

    chunks: int = 2
    index: int = 0

    name = "channel-chunk"

    def __post_init__(self) -> None:
        if not isinstance(self.chunks, int) or self.chunks < 1:
            raise InputError(f"channel chunk: chunks must be a whole number ≥ 1; got {self.chunks!r}")
        if not isinstance(self.index, int) or not 0 <= self.index < self.chunks:
            raise InputError(f"channel chunk: index must be 0 to {self.chunks - 1}; got {self.index!r}")

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if len(shape) < 1:
            raise InputError("channel chunk needs a channel dimension")
        c, spatial = shape[0], shape[1:]
        if isinstance(c, int) and c % self.chunks:
            raise InputError(f"channel chunk: {self.chunks} chunks must divide the {c} channels")
        out = (c // self.chunks,) + spatial
        return LayerReport(op="channel-chunk", input=shape, output=out, params=ParamCount(), macs=0, batch=batch or 1,
                           rf=tuple(AxisRF(1, 1, 0) for _ in spatial),
                           hyper={"chunks": self.chunks, "index": self.index}, bytes_per_element=bytes_per_element)

    def _channels(self, x_shape: tuple[int, ...]) -> slice:
        if len(x_shape) < 2:
            raise InputError(f"channel chunk needs a batched (N, C, …) input; got {len(x_shape)}-d")
        size = self.analyze(tuple(x_shape[1:])).output[0]
        return slice(self.index * size, (self.index + 1) * size)

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = x[:, i·C/n : (i + 1)·C/n]."""
        from convcalc.compute import Forward

        return Forward(x[:, self._channels(x.shape)], x.shape)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = dy in the chunk's channels, 0 in the others."""
        import numpy as np

        from convcalc.compute import Backward

        dx = np.zeros(cache, dtype=grad_output.dtype)  # object: Python int zeros
        dx[:, self._channels(cache)] = grad_output
        return Backward(dx)


@dataclass(frozen=True)
class LayerScale(base.NoBuffers):
    """A learnable per-channel scale ``γ · x``, γ of shape (C, 1, …) (ConvNeXt, CaiT)."""

    init: float = 1e-6

    name = "layer-scale"

    @property
    def initial_value(self) -> float:
        """γ starts at ``init`` everywhere (torchvision's ConvNeXt: 1e-6)."""
        return float(self.init)

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if len(shape) < 1:
            raise InputError("layer scale needs a channel dimension")
        n = batch or 1
        return LayerReport(op="layer-scale", input=shape, output=shape, params=ParamCount(shape[0], 0), macs=0, batch=n,
                           other_ops=(("scale mults", n * product(shape)),), rf=None, hyper={"init": self.init},
                           bytes_per_element=bytes_per_element)

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``gamma`` (C, 1, …): one scale per channel, broadcast over the spatial axes."""
        if len(input_shape) < 2:
            raise InputError(f"layer scale needs a batched (N, C, …) input; got {len(input_shape)}-d")
        return {"gamma": (input_shape[1],) + (1,) * (len(input_shape) - 2)}

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = γ·x, γ per channel."""
        from convcalc.compute import Forward
        from convcalc.compute.params import require

        gamma = require("layer scale", params, self.parameter_shapes(x.shape))["gamma"]
        return Forward(x * gamma, (x, gamma))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = γ·dy; dγ = Σ dy·x over the batch and the spatial axes."""
        from convcalc.compute import Backward

        x, gamma = cache
        axes = (0,) + tuple(range(2, x.ndim))
        grad_gamma = (grad_output * x).sum(axis=axes, keepdims=True).reshape(gamma.shape)
        return Backward(grad_output * gamma, {"gamma": grad_gamma})


# --- descriptors (layer scale is a spec type; the channel chunk only the zoo builds) ---------------

DESCRIPTORS = (
    LayerDescriptor("channel_chunk", "one chunk of the channels (torch.chunk)", ("ChannelChunk",)),
    LayerDescriptor("layer_scale", "a learned per-channel scale γ·x, γ of C values on C x spatial (ConvNeXt)",
                    ("LayerScale",), build=LayerScale,
                    options=(Option("init", "float", aliases=("init_values", "layer_scale"), positional=True),),
                    aliases=("layerscale", "ls"), chain_help="layer_scale [G]", work={"scale mults": "other"}),
)


# --- the torch.nn layer (``--verify torch``): torch is imported by the caller, handed in as ``nn``


@register_hook("torch", ChannelChunk)
def _torch_channel_chunk(layer: ChannelChunk, nn: Any, shape: tuple) -> Any:
    chunks, index = layer.chunks, layer.index

    class ChannelChunk(nn.Module):
        def forward(self, x):
            return x.chunk(chunks, dim=1)[index]

    return ChannelChunk()


@register_hook("torch", LayerScale)
def _torch_layer_scale(layer: LayerScale, nn: Any, shape: tuple) -> Any:
    import torch

    channels, rank, init = shape[0], len(shape) - 1, layer.init

    class LayerScale(nn.Module):
        def __init__(self):
            super().__init__()
            self.gamma = nn.Parameter(torch.full((channels,) + (1,) * rank, float(init)))

        def forward(self, x):
            return x * self.gamma

    return LayerScale()
