"""Cropping: Keras's ``Cropping1D/2D/3D`` as a layer (the inverse of zero padding).

Each spatial axis loses ``before`` rows in front and ``after`` rows behind:
o = i − before − after, at least one row left. No parameters, no arithmetic.

Receptive field: kernel 1, stride 1, and the first output unit is input unit ``before`` (its
centre moves by +before: a padding of −before).

Forward: y = x[…, before : i − after, …]; backward: δx = δy in the kept window and 0 on the
cropped border (those inputs never reach the output).

Keras writes the amounts as ((top, bottom), (left, right)); convcalc writes them as every
padding, outermost axis first, ``1:0x1:0`` (H before:after x W before:after). torch.nn has no
cropping module: the torch builder uses ``nn.ZeroPad{rank}d`` with negative amounts, which crop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.dims import format_dim, is_symbolic
from convcalc.engine.report import AxisRF, LayerReport, ParamCount, Step
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.descriptor import LayerDescriptor, Option, register_hook
from convcalc.notation import expand, format_shape

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward


@dataclass(frozen=True)
class Crop(base.NoParameters):
    """Keras's ``Cropping{rank}D(cropping=((before, after), …))``."""

    rank: int = 2
    cropping: Any = 1

    def __post_init__(self) -> None:
        if self.rank not in (1, 2, 3):
            raise InputError(f"crop: rank must be 1, 2 or 3; got {self.rank}")
        if isinstance(self.cropping, str):
            raise InputError(f"{{field}} takes amounts (1, 1x2 or before:after per axis such as 1:0x1:0); got "
                             f"'{self.cropping}'", field="cropping", value=self.cropping,
                             valid="whole numbers ≥ 0 or before:after pairs")
        given = self.cropping if isinstance(self.cropping, (tuple, list)) else (self.cropping,)
        pairs = []
        for c in given:
            pair = (c, c) if isinstance(c, int) else tuple(c)
            if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in pair):
                raise InputError(f"{{field}} entry {c!r} is not a cropping: "
                                 "use whole numbers ≥ 0 or before:after pairs",
                                 field="cropping", value=c, valid="whole numbers ≥ 0 or before:after pairs")
            pairs.append(pair)
        object.__setattr__(self, "cropping", expand(tuple(pairs), self.rank, "cropping", field="cropping"))

    @property
    def name(self) -> str:
        return f"crop{self.rank}d"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        c, spatial = base.split_sample(tuple(shape), self.rank, self.name)
        n = batch if batch is not None else 1
        out_spatial = [i - before - after for i, (before, after) in zip(spatial, self.cropping)]
        for axis_name, i, o, (before, after) in zip(base.axis_names(self.rank), spatial, out_spatial, self.cropping):
            if not is_symbolic(o) and o < 1:
                raise InputError(f"cropping {before}:{after} leaves nothing of the {format_dim(i)} "
                                 f"{axis_name} of {format_shape(tuple(shape))} (at least one must remain)")
        output = base.join_feature_map(None, c, out_spatial)
        steps: tuple[Step, ...] = ()
        if explain:
            steps = tuple(
                Step(f"output {axis_name}", "o = i − before − after", f"{format_dim(i)} − {before} − {after}",
                     format_dim(o))
                for axis_name, i, (before, after), o in zip(base.axis_names(self.rank), spatial, self.cropping,
                                                            out_spatial)
            )
        return LayerReport(
            op=self.name, input=tuple(shape), output=output, params=ParamCount(), macs=0, batch=n,
            rf=tuple(AxisRF(1, 1, -before) for before, _ in self.cropping),
            hyper={"cropping": [list(p) for p in self.cropping]}, steps=steps,
            bytes_per_element=bytes_per_element,
        )

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = x[…, before : i − after, …] along each spatial axis."""
        from convcalc.compute import Forward
        from convcalc.compute.params import as_array, check_batched_shape

        x = as_array(x, f"{self.name} input")
        check_batched_shape(x.shape, self.rank, self.name)
        base.analyze_batched(self, x.shape)
        return Forward(x[self._kept(x.shape)].copy(), x.shape)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """δx = δy where the input was kept, 0 on the cropped border."""
        import numpy as np

        from convcalc.compute import Backward
        from convcalc.compute.params import check_grad_shape

        shape = cache
        dy = check_grad_shape(grad_output, base.analyze_batched(self, shape).output, self.name)
        dx = np.zeros(shape, dtype=dy.dtype)  # object: Python int zeros
        dx[self._kept(shape)] = dy
        return Backward(dx)

    def _kept(self, shape) -> tuple[slice, ...]:
        """The window of the (batched) input that the output keeps."""
        return (slice(None), slice(None)) + tuple(slice(a, n - b) for n, (a, b) in zip(shape[2:], self.cropping))


# --- descriptor -------------------------------------------------------------------------------

def _spec_crop(cropping: Any = 1, rank: int = 2) -> Crop:
    return Crop(rank=rank, cropping=cropping)


DESCRIPTORS = (
    LayerDescriptor(
        "crop", "cropping (Keras Cropping1D/2D/3D)", ("Crop",), build=_spec_crop,
        options=(Option("crop", "pad", keyword="cropping", aliases=("cropping",), required=True, chain="c",
                        positional=True),),
        aliases=("cropping", "cropping2d"),
        chain_help="crop C   cropping: 1, 1x2, 1:0x1:0 (before:after)",
        trace="crop", trace_aliases=("cropping2d", "cropping"), trace_output="C",
        keras=("Cropping1D", "Cropping2D", "Cropping3D"),
    ),
)


@register_hook("torch", Crop)
def _torch_crop(layer: Crop, nn: Any, shape: tuple = ()) -> Any:
    """``nn.ZeroPad{rank}d`` with the amounts negated (innermost axis first), which crops."""
    amounts = tuple(-v for before, after in reversed(layer.cropping) for v in (before, after))
    return getattr(nn, f"ZeroPad{layer.rank}d")(amounts)
