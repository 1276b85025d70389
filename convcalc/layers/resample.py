"""Layers that move data without learning: upsampling, channel shuffle, and the
"option A" shortcut of He et al. (subsample by the stride, zero-pad the new channels).

Receptive field (Distill appendix): nearest upsampling reads 1 input per output
(kernel 1, jump 1/scale); bilinear ×s reads 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from convcalc.engine.dims import ceil_div, product
from convcalc.engine.report import AxisRF, LayerReport, ParamCount
from convcalc.errors import InputError


@dataclass(frozen=True)
class Upsample:
    """``nn.Upsample(scale_factor=s, mode=...)`` on (C, *spatial): each axis × s (integer)."""

    scale: int = 2
    mode: str = "nearest"

    name = "upsample"

    def __post_init__(self) -> None:
        if self.mode not in ("nearest", "bilinear", "linear", "trilinear", "bicubic"):
            raise InputError(f"upsample mode '{self.mode}' is not one of nearest, bilinear, linear, trilinear, bicubic")
        if not isinstance(self.scale, int) or self.scale < 1:
            raise InputError(f"upsample scale must be a whole number ≥ 1; got {self.scale!r}")

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        c, spatial = shape[0], shape[1:]
        out = (c,) + tuple(i * self.scale for i in spatial)
        n = batch or 1
        kernel = 1 if self.mode == "nearest" else 2
        ops = (("interpolation ops", n * product(out)),) if self.mode != "nearest" else ()
        return LayerReport(op=f"upsample-{self.mode}", input=shape, output=out, params=ParamCount(), macs=0, batch=n,
                           other_ops=ops, rf=tuple(AxisRF(kernel, Fraction(1, self.scale), 0) for _ in spatial),
                           hyper={"scale_factor": self.scale, "mode": self.mode}, bytes_per_element=bytes_per_element)


@dataclass(frozen=True)
class ChannelShuffle:
    """``nn.ChannelShuffle(groups)`` (ShuffleNet): a permutation of the channels."""

    groups: int = 2

    name = "channel-shuffle"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if isinstance(shape[0], int) and shape[0] % self.groups:
            raise InputError(f"channel shuffle: {self.groups} groups must divide the {shape[0]} channels")
        return LayerReport(op="channel-shuffle", input=shape, output=shape, params=ParamCount(), macs=0,
                           batch=batch or 1, hyper={"groups": self.groups}, bytes_per_element=bytes_per_element)


@dataclass(frozen=True)
class ShortcutA:
    """He et al. 2016 option A: ``x[:, :, ::s, ::s]`` then zero-pad the channels to ``out_channels``."""

    out_channels: int
    stride: int = 2

    name = "shortcut-a"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        c, spatial = shape[0], shape[1:]
        if isinstance(c, int) and self.out_channels < c:
            raise InputError(f"option-A shortcut cannot shrink {c} channels to {self.out_channels}")
        out = (self.out_channels,) + tuple(ceil_div(i, self.stride) for i in spatial)
        return LayerReport(op="shortcut-a", input=shape, output=out, params=ParamCount(), macs=0, batch=batch or 1,
                           rf=tuple(AxisRF(1, self.stride, 0) for _ in spatial),
                           hyper={"out_channels": self.out_channels, "stride": self.stride},
                           bytes_per_element=bytes_per_element)
