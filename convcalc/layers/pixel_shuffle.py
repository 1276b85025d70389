"""Pixel shuffle and unshuffle: PyTorch's ``nn.PixelShuffle(r)`` and ``nn.PixelUnshuffle(r)``.

Shuffle (sub-pixel convolution, ESPCN) moves channels into space:
(C·r², H, W) → (C, H·r, W·r), with y[c, h·r + i, w·r + j] = x[c·r² + i·r + j, h, w].
Unshuffle is its inverse: (C, H, W) → (C·r², H/r, W/r); H and W must be multiples of r.
No parameters, no arithmetic (a permutation of the entries).

Receptive field: an output pixel of a shuffle reads one input pixel, ⌊o/r⌋ (kernel 1, jump
1/r, as nearest upsampling); an output pixel of an unshuffle gathers an r×r block into its
channels (kernel r, stride r).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar

from convcalc.dims import format_dim, is_symbolic
from convcalc.engine import support
from convcalc.engine.report import AxisRF, LayerReport, ParamCount, Step
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.descriptor import LayerDescriptor, Option, register_hook

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward


@dataclass(frozen=True)
class PixelShuffle(base.NoParameters):
    """``nn.PixelShuffle(factor)``, or ``nn.PixelUnshuffle(factor)`` when ``inverse``."""

    factor: int = 2
    inverse: bool = False

    rank: ClassVar[int] = 2  # PyTorch's pixel shuffle is 2-d: (C, H, W) per sample

    def __post_init__(self) -> None:
        if isinstance(self.factor, bool) or not isinstance(self.factor, int) or self.factor < 1:
            raise InputError(f"{self.name}: {{field}} must be a whole number ≥ 1; got {self.factor!r}", field="factor",
                             value=self.factor, valid="a whole number ≥ 1")

    @property
    def name(self) -> str:
        return "pixel-unshuffle" if self.inverse else "pixel-shuffle"

    @property
    def type_name(self) -> str:
        return "pixel_unshuffle" if self.inverse else "pixel_shuffle"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        c, spatial = base.split_sample(tuple(shape), 2, self.name)
        if c is None:
            raise InputError(f"{self.name} needs the channels: give C x H x W (or N x C x H x W)")
        n = batch if batch is not None else 1
        r = self.factor
        r2 = r * r
        if self.inverse:
            for axis_name, i in zip(("H", "W"), spatial):
                if not is_symbolic(i) and i % r:
                    raise InputError(f"{self.name}: {axis_name} = {i} is not a multiple of the factor {r}")
            c_out, out_spatial = c * r2, tuple(i // r for i in spatial)
            rf = tuple(AxisRF(r, r, 0) for _ in spatial)
        else:
            if not is_symbolic(c) and c % r2:
                raise InputError(
                    f"{self.name}: the {c} input channels are not a multiple of factor² = {r2}; "
                    f"use {max(r2, c - c % r2)} or {c - c % r2 + r2} channels"
                )
            c_out, out_spatial = c // r2, tuple(i * r for i in spatial)
            rf = tuple(AxisRF(1, Fraction(1, r), 0, support.nearest(r)) for _ in spatial)
        steps: tuple[Step, ...] = ()
        if explain:
            rule = "C·r², H/r, W/r" if self.inverse else "C/r², H·r, W·r"
            steps = (Step("output", rule, f"r = {r}", "x".join(format_dim(d) for d in (c_out, *out_spatial))),)
        return LayerReport(
            op=self.name, input=tuple(shape), output=base.join_feature_map(None, c_out, out_spatial),
            params=ParamCount(), macs=0, batch=n, rf=rf, steps=steps,
            hyper={"downscale_factor" if self.inverse else "upscale_factor": r},
            bytes_per_element=bytes_per_element,
        )

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """A reshape and a transpose: shuffle (N, C, r, r, H, W) → (N, C, H, r, W, r); unshuffle the inverse."""
        from convcalc.compute import Forward
        from convcalc.compute.params import as_array, check_batched_shape

        x = as_array(x, f"{self.name} input")
        check_batched_shape(x.shape, 2, self.name)
        out = base.analyze_batched(self, x.shape).output
        return Forward(self._permute(x, out, self.inverse), x.shape)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """δx is δy moved back: the inverse permutation."""
        from convcalc.compute import Backward
        from convcalc.compute.params import check_grad_shape

        shape = cache
        dy = check_grad_shape(grad_output, base.analyze_batched(self, shape).output, self.name)
        return Backward(self._permute(dy, shape, not self.inverse))

    def _permute(self, x: np.ndarray, out_shape, inverse: bool) -> np.ndarray:
        n, c, h, w = x.shape
        r = self.factor
        if inverse:  # (N, C, H, W) → (N, C, H/r, r, W/r, r) → (N, C, r, r, H/r, W/r)
            y = x.reshape(n, c, h // r, r, w // r, r).transpose(0, 1, 3, 5, 2, 4)
        else:  # (N, C·r², H, W) → (N, C, r, r, H, W) → (N, C, H, r, W, r)
            y = x.reshape(n, c // (r * r), r, r, h, w).transpose(0, 1, 4, 2, 5, 3)
        return y.reshape(tuple(out_shape))


# --- descriptors ------------------------------------------------------------------------------

def _spec(inverse: bool):
    def build(factor: int = 2) -> PixelShuffle:
        return PixelShuffle(factor=factor, inverse=inverse)

    def cli_build(rank: int | None, o: dict) -> PixelShuffle:
        if "factor" not in o:
            raise InputError(f"pixel-{'un' if inverse else ''}shuffle needs {{field}} (e.g. {{field}} 2)",
                             field="factor",
                             valid="a whole number ≥ 1")
        return PixelShuffle(factor=o["factor"], inverse=inverse)

    return build, cli_build


_FACTOR = Option("factor", "count", aliases=("upscale_factor", "downscale_factor", "r"), positional=True,
                 required=True)
_SHUFFLE, _CLI_SHUFFLE = _spec(False)
_UNSHUFFLE, _CLI_UNSHUFFLE = _spec(True)
DESCRIPTORS = (
    LayerDescriptor(
        "pixel_shuffle", "channels into space: (C·r², H, W) → (C, H·r, W·r)", ("PixelShuffle",), build=_SHUFFLE,
        options=(_FACTOR,), aliases=("pixelshuffle", "subpixel"),
        chain_help="pixel_shuffle R   (C·r², H, W) → (C, H·r, W·r)",
        cli="pixel-shuffle", cli_aliases=("subpixel",), cli_options=("factor",), cli_build=_CLI_SHUFFLE, spatial=False,
        trace="pixel_shuffle", trace_output="Y", torch=("PixelShuffle",), onnx=("DepthToSpace",),
        label=("pixel-shuffle", "pxshuf"),
    ),
    LayerDescriptor(
        "pixel_unshuffle", "space into channels: (C, H, W) → (C·r², H/r, W/r)", ("PixelShuffle",), build=_UNSHUFFLE,
        options=(_FACTOR,), aliases=("pixelunshuffle",), chain_help="pixel_unshuffle R   (C, H, W) → (C·r², H/r, W/r)",
        cli="pixel-unshuffle", cli_options=("factor",), cli_build=_CLI_UNSHUFFLE, spatial=False,
        trace="pixel_unshuffle", trace_output="Y", torch=("PixelUnshuffle",), onnx=("SpaceToDepth",),
        label=("pixel-unshuffle", "pxunshuf"),
    ),
)


@register_hook("torch", PixelShuffle)
def _torch_pixel_shuffle(layer: PixelShuffle, nn: Any, shape: tuple = ()) -> Any:
    return nn.PixelUnshuffle(layer.factor) if layer.inverse else nn.PixelShuffle(layer.factor)
