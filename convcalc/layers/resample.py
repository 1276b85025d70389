"""Layers that move data without learning: upsampling, channel shuffle, and the
"option A" shortcut of He et al. (subsample by the stride, zero-pad the new channels).

Receptive field (Distill appendix): nearest upsampling reads 1 input per output
(kernel 1, jump 1/scale); bilinear ×s reads 2.

Forward and backward (x batched, (N, C, *spatial)): upsampling is linear, y = A·x along each
spatial axis with an interpolation matrix A (out × in), so dx = Aᵀ·dy; the shuffle and the
shortcut move entries, and their backward moves the gradient back (zeros where nothing came
from: the shortcut's padded channels and skipped positions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from convcalc.dims import ceil_div, product
from convcalc.engine import support
from convcalc.engine.report import AxisRF, LayerReport, ParamCount
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.descriptor import LayerDescriptor, Option, register_hook

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward

BICUBIC_A = Fraction(-3, 4)  # PyTorch's cubic convolution coefficient


@dataclass(frozen=True)
class Upsample(base.NoParameters):
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
        taps = (support.nearest(self.scale) if self.mode == "nearest"
                else support.interpolated(self.scale, 2, 2) if self.mode == "bicubic"
                else support.interpolated(self.scale, 1, 1))
        ops = (("interpolation ops", n * product(out)),) if self.mode != "nearest" else ()
        return LayerReport(op=f"upsample-{self.mode}", input=shape, output=out, params=ParamCount(), macs=0, batch=n,
                           other_ops=ops, rf=tuple(AxisRF(kernel, Fraction(1, self.scale), 0, taps) for _ in spatial),
                           hyper={"scale_factor": self.scale, "mode": self.mode}, bytes_per_element=bytes_per_element)

    def _check(self, x: np.ndarray) -> None:
        if x.ndim < 3:
            raise InputError(f"upsample takes a (N, C, *spatial) input with 1 to 3 spatial axes; got {x.ndim}-d")
        if self.mode == "bicubic" and x.ndim != 4:
            raise InputError(f"bicubic upsampling is 2-d only (PyTorch): it needs (N, C, H, W); got {x.ndim}-d")

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """nn.Upsample(scale_factor=s, mode, align_corners=False). Nearest: output i reads input
        ⌊i/s⌋ (each entry repeated s times). Linear modes, per axis: source position
        src = (i + ½)/s − ½, clamped at 0; y = (1 − λ)·x[⌊src⌋] + λ·x[⌊src⌋ + 1] with λ = src − ⌊src⌋
        (the last input repeats at the edge); bilinear and trilinear apply it along each axis.
        Bicubic: cubic convolution (A = −3/4) over ⌊src⌋ − 1 … ⌊src⌋ + 2, indices clamped.
        The weights are exact fractions for exact arrays."""
        import numpy as np

        from convcalc.compute import Forward

        self._check(x)
        s = self.scale
        if self.mode == "nearest":
            y = x
            for axis in range(2, x.ndim):
                y = np.repeat(y, s, axis=axis)
            return Forward(y, x.shape)
        matrices = [_interpolation_matrix(n, s, self.mode, x.dtype) for n in x.shape[2:]]
        y = x
        for axis, matrix in enumerate(matrices, start=2):
            y = _along(y, matrix, axis)
        return Forward(y, matrices)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = Aᵀ·dy along each axis; for nearest, the sum of the s (per axis) copies."""
        from convcalc.compute import Backward

        dy = grad_output
        if self.mode == "nearest":
            shape = cache
            split = dy.shape[:2]
            for n in shape[2:]:
                split += (n, self.scale)
            dx = dy.reshape(split).sum(axis=tuple(range(3, len(split), 2)))
            return Backward(dx)
        dx = dy
        for axis, matrix in enumerate(cache, start=2):
            dx = _along(dx, matrix.T, axis)
        return Backward(dx)


@dataclass(frozen=True)
class ChannelShuffle(base.NoParameters):
    """``nn.ChannelShuffle(groups)`` (ShuffleNet): a permutation of the channels."""

    groups: int = 2

    name = "channel-shuffle"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if isinstance(shape[0], int) and shape[0] % self.groups:
            raise InputError(f"channel shuffle: {self.groups} groups must divide the {shape[0]} channels")
        return LayerReport(op="channel-shuffle", input=shape, output=shape, params=ParamCount(), macs=0,
                           batch=batch or 1, hyper={"groups": self.groups}, bytes_per_element=bytes_per_element)

    def _order(self, channels: int) -> list[int]:
        """Output channel a·g + b reads input channel b·(C/g) + a (view (g, C/g), transpose, flatten)."""
        per_group = channels // self.groups
        return [b * per_group + a for a in range(per_group) for b in range(self.groups)]

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """nn.ChannelShuffle(g): y[:, i] = x[:, order[i]] (a permutation of dim 1)."""
        from convcalc.compute import Forward

        if x.ndim < 2:
            raise InputError(f"channel shuffle needs a batched (N, C, …) input; got {x.ndim}-d")
        self.analyze(tuple(x.shape[1:]))  # groups must divide the channels
        order = self._order(x.shape[1])
        return Forward(x[:, order], order)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx[:, order[i]] = dy[:, i] (the inverse permutation)."""
        import numpy as np

        from convcalc.compute import Backward

        dx = np.empty_like(grad_output)
        dx[:, cache] = grad_output
        return Backward(dx)


@dataclass(frozen=True)
class ShortcutA(base.NoParameters):
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

    def _places(self, x_shape: tuple[int, ...]) -> tuple[tuple, tuple]:
        """(the strided positions read from x, the output channels they fill)."""
        if len(x_shape) < 3:
            raise InputError(f"option-A shortcut takes a (N, C, *spatial) input; got {len(x_shape)}-d")
        self.analyze(tuple(x_shape[1:]))  # cannot shrink the channels
        c = x_shape[1]
        before = (self.out_channels - c) // 2
        read = (slice(None), slice(None)) + (slice(None, None, self.stride),) * (len(x_shape) - 2)
        return read, (slice(None), slice(before, before + c))

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = x[:, :, ::s, ::s] with (out − C)//2 zero channels before and the rest after
        (as the CIFAR ResNets' ``F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p))``)."""
        import numpy as np

        from convcalc.compute import Forward

        read, fill = self._places(x.shape)
        taken = x[read]
        y = np.zeros((x.shape[0], self.out_channels) + taken.shape[2:], dtype=x.dtype)  # object: int zeros
        y[fill] = taken
        return Forward(y, x.shape)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = dy's real channels at the strided positions, 0 elsewhere."""
        import numpy as np

        from convcalc.compute import Backward

        read, fill = self._places(cache)
        dx = np.zeros(cache, dtype=grad_output.dtype)
        dx[read] = grad_output[fill]
        return Backward(dx)


def _along(x: np.ndarray, matrix: np.ndarray, axis: int) -> np.ndarray:
    """Apply ``matrix`` (out × in) to dimension ``axis`` of x."""
    import numpy as np

    return np.moveaxis(np.tensordot(x, matrix, axes=([axis], [1])), -1, axis)


def _interpolation_matrix(size: int, scale: int, mode: str, dtype) -> np.ndarray:
    """The (size·scale × size) matrix of PyTorch's interpolation weights along one axis
    (align_corners=False); exact Fractions for object arrays, else floats of ``dtype``."""
    import numpy as np

    out = size * scale
    weights: dict[tuple[int, int], Fraction] = {}

    def add(i: int, j: int, w: Fraction) -> None:
        weights[i, j] = weights.get((i, j), 0) + w

    for i in range(out):
        src = Fraction(2 * i + 1, 2 * scale) - Fraction(1, 2)
        if mode == "bicubic":
            base = math.floor(src)
            t = src - base
            taps = (_cubic_far(t + 1), _cubic_near(t), _cubic_near(1 - t), _cubic_far(2 - t))
            for offset, w in zip((-1, 0, 1, 2), taps):
                add(i, min(max(base + offset, 0), size - 1), w)
        else:
            src = max(src, Fraction(0))
            base = math.floor(src)
            lam = src - base
            add(i, base, 1 - lam)
            add(i, min(base + 1, size - 1), lam)
    matrix = np.zeros((out, size), dtype=dtype)  # object: Python int zeros
    for (i, j), w in weights.items():
        matrix[i, j] = (int(w) if w.denominator == 1 else w) if dtype == object else float(w)  # noqa: E721 (a numpy dtype equals object)
    return matrix


def _cubic_near(t: Fraction) -> Fraction:
    """Cubic convolution weight for |t| ≤ 1: ((A + 2)|t| − (A + 3))·t² + 1."""
    return ((BICUBIC_A + 2) * t - (BICUBIC_A + 3)) * t * t + 1


def _cubic_far(t: Fraction) -> Fraction:
    """For 1 < |t| < 2: ((A·|t| − 5A)·|t| + 8A)·|t| − 4A."""
    return ((BICUBIC_A * t - 5 * BICUBIC_A) * t + 8 * BICUBIC_A) * t - 4 * BICUBIC_A


# --- descriptors ------------------------------------------------------------------------------

def _spec_shortcut_a(out_channels: int, stride: int = 2) -> ShortcutA:
    return ShortcutA(out_channels=out_channels, stride=stride)


DESCRIPTORS = (
    LayerDescriptor(
        "upsample", "nearest or (bi/tri)linear/bicubic upsampling by an integer factor", ("Upsample",), build=Upsample,
        options=(Option("scale", "count", aliases=("scale_factor",), positional=True),
                 Option("mode", "word", chain_words=("nearest", "bilinear", "bicubic"))),
        aliases=("up",), chain_help="upsample [S] [bilinear]", torch=("Upsample",), onnx=("Resize", "Upsample"),
        keras=("UpSampling2D",),
        label=("upsample-", "up-"),
    ),
    LayerDescriptor(
        "channel_shuffle", "ShuffleNet's channel shuffle", ("ChannelShuffle",), build=ChannelShuffle,
        options=(Option("groups", "count", required=True, positional=True),), aliases=("shuffle",),
        chain_help="shuffle G", torch=("ChannelShuffle",), label=("channel-shuffle", "shuffle"),
    ),
    LayerDescriptor(
        "shortcut_a", "ResNet option-A shortcut (subsample, zero-pad the channels)", ("ShortcutA",),
        build=_spec_shortcut_a,
        options=(Option("out", "count", keyword="out_channels", required=True, positional=True),
                 Option("stride", "count")),
        aliases=("option_a",), chain_help="shortcut_a OUT",
    ),
)


# --- the torch.nn layer (``--verify torch``): torch is imported by the caller, handed in as ``nn``


@register_hook("torch", Upsample)
def _torch_upsample(layer: Upsample, nn: Any, shape: tuple) -> Any:
    rank = len(shape) - 1
    linear = layer.mode in ("linear", "bilinear", "trilinear")
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[rank] if linear else layer.mode
    return nn.Upsample(scale_factor=layer.scale, mode=mode)


@register_hook("torch", ChannelShuffle)
def _torch_channel_shuffle(layer: ChannelShuffle, nn: Any, shape: tuple) -> Any:
    return nn.ChannelShuffle(layer.groups)


@register_hook("torch", ShortcutA)
def _torch_shortcut_a(layer: ShortcutA, nn: Any, shape: tuple) -> Any:
    import torch.nn.functional as F

    out_channels, stride = layer.out_channels, layer.stride

    class ShortcutA(nn.Module):
        def forward(self, x):
            x = x[(slice(None), slice(None)) + (slice(None, None, stride),) * (x.dim() - 2)]
            extra = out_channels - x.shape[1]
            pad = [0, 0] * (x.dim() - 2) + [extra // 2, extra - extra // 2]
            return F.pad(x, pad)

    return ShortcutA()
