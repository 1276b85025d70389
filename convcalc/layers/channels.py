"""Layers that act on the channel dimension alone: a channel chunk (``x.chunk(n, dim=1)[i]``,
ShuffleNetV2's channel split) and a per-channel learnable scale (ConvNeXt's layer scale).

ChannelChunk: C → C/n channels, spatial unchanged; no parameters, no arithmetic; receptive
field unchanged (kernel 1, stride 1 on every spatial axis, so the walk keeps it).
LayerScale: ``γ · x`` with γ of shape (C, 1, …): C parameters, no MACs, one multiply per
element reported as other work; the shape is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.engine.dims import product
from convcalc.engine.report import AxisRF, LayerReport, ParamCount
from convcalc.errors import InputError


@dataclass(frozen=True)
class ChannelChunk:
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


@dataclass(frozen=True)
class LayerScale:
    """A learnable per-channel scale ``γ · x``, γ of shape (C, 1, …) (ConvNeXt, CaiT)."""

    init: float = 1e-6

    name = "layer-scale"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if len(shape) < 1:
            raise InputError("layer scale needs a channel dimension")
        n = batch or 1
        return LayerReport(op="layer-scale", input=shape, output=shape, params=ParamCount(shape[0], 0), macs=0, batch=n,
                           other_ops=(("scale mults", n * product(shape)),), rf=None, hyper={"init": self.init},
                           bytes_per_element=bytes_per_element)
