"""A constant scale: y = s·x, s a fixed number (not learnt) — the residual scaling of
Inception-ResNet (Szegedy et al. 2017, §3.3: x + s·r with s between 0.1 and 0.3; Keras's
InceptionResNetV2 writes it as a Lambda layer ``block35_N``, a ``CustomScaleLayer`` in Keras 3).

No parameters; one multiply per element, reported as other work ("scale mults"); the shape
and the receptive field are unchanged (kernel 1, stride 1 on every spatial axis).

Forward y = s·x; backward δx = s·δy. Exact arrays (Python ints and Fractions) are scaled by
the factor as written (0.17 is 17/100, not the nearest binary float).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from convcalc.dims import product
from convcalc.engine.report import AxisRF
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.descriptor import LayerDescriptor, Option, register_hook

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward
    from convcalc.engine.report import LayerReport


@dataclass(frozen=True)
class ConstantScale(base.NoParameters):
    """y = factor·x, element-wise."""

    factor: float = 1.0

    name = "scale"

    def __post_init__(self) -> None:
        if isinstance(self.factor, bool) or not isinstance(self.factor, int | float) or not math.isfinite(self.factor):
            raise InputError("{field} must be a finite number; got " + repr(self.factor), field="factor",
                             value=self.factor, valid="a finite number")

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if len(shape) < 1:
            raise InputError("scale needs a shape")
        n = batch or 1
        return base.same_shape_report("scale", shape, batch, bytes_per_element,
                                      other_ops=(("scale mults", n * product(shape)),),
                                      rf=tuple(AxisRF(1, 1, 0) for _ in shape[1:]), hyper={"factor": self.factor})

    def _factor_for(self, x: np.ndarray) -> Any:
        return Fraction(str(self.factor)) if x.dtype == object else x.dtype.type(self.factor)

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = s·x."""
        from convcalc.compute import Forward
        from convcalc.compute.params import as_array

        x = as_array(x, "scale input")
        return Forward(x * self._factor_for(x), x.shape)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """δx = s·δy."""
        from convcalc.compute import Backward
        from convcalc.compute.params import check_grad_shape

        dy = check_grad_shape(grad_output, cache, self.name)
        return Backward(dy * self._factor_for(dy))


# --- descriptor -------------------------------------------------------------------------------

DESCRIPTORS = (
    LayerDescriptor(
        "scale", "multiply by a constant (Inception-ResNet's residual scaling)", ("ConstantScale",),
        build=ConstantScale, options=(Option("factor", "float", required=True, positional=True),),
        aliases=("constant_scale", "mul_const"), chain_help="scale S   multiply by the constant S (no parameters)",
        work={"scale mults": "other"},
    ),
)


@register_hook("torch", ConstantScale)
def _torch_scale(layer: ConstantScale, nn: Any, shape: tuple = ()) -> Any:
    factor = layer.factor

    class ConstantScale(nn.Module):
        def forward(self, x):
            return x * factor

    return ConstantScale()
