"""Explicit padding: PyTorch's ``nn.ZeroPad1d/2d/3d`` and ``nn.ConstantPad*d`` as a layer.

Each spatial axis gets ``before`` rows in front and ``after`` rows behind, filled with
``value`` (0 for ZeroPad): o = i + before + after. No parameters, no arithmetic. Amounts are
whole numbers ≥ 0 (PyTorch's negative amounts, which crop, are refused).

Receptive field: kernel 1, stride 1, and the first output unit sits ``before`` positions in
front of the first input unit (its centre moves by −before).

Forward: y = pad(x); backward: δx = δy with the padded border cut off (the border's entries
are constants, so their gradient goes nowhere).

PyTorch writes the amounts innermost axis first, (left, right, top, bottom); convcalc writes
them outermost first like every other padding, ``1:0x1:0`` (H before:after x W before:after).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.dims import format_dim
from convcalc.engine.report import AxisRF, LayerReport, ParamCount, Step
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.descriptor import LayerDescriptor, Option, register_hook
from convcalc.notation import expand

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward


@dataclass(frozen=True)
class Pad(base.NoParameters):
    """``nn.ZeroPad2d((left, right, top, bottom))`` / ``nn.ConstantPad2d(…, value)``."""

    rank: int = 2
    padding: Any = 1
    value: float = 0

    def __post_init__(self) -> None:
        if self.rank not in (1, 2, 3):
            raise InputError(f"pad: rank must be 1, 2 or 3; got {self.rank}")
        if isinstance(self.padding, str):
            raise InputError(
                f"pad takes explicit amounts (1, 1x2 or before:after per axis such as 1:0x1:0); got '{self.padding}'"
            )
        given = self.padding if isinstance(self.padding, (tuple, list)) else (self.padding,)
        pairs = []
        for p in given:
            pair = (p, p) if isinstance(p, int) else tuple(p)
            if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in pair):
                raise InputError(f"{{field}} entry {p!r} is not a padding: use whole numbers ≥ 0 or before:after pairs",
                                 field="padding", value=p, valid="whole numbers ≥ 0 or before:after pairs")
            pairs.append(pair)
        object.__setattr__(self, "padding", expand(tuple(pairs), self.rank, "padding", field="padding"))

    @property
    def name(self) -> str:
        return f"pad{self.rank}d"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        c, spatial = base.split_sample(tuple(shape), self.rank, self.name)
        n = batch if batch is not None else 1
        out_spatial = [i + before + after for i, (before, after) in zip(spatial, self.padding)]
        output = base.join_feature_map(None, c, out_spatial)
        steps: tuple[Step, ...] = ()
        if explain:
            steps = tuple(
                Step(f"output {axis_name}", "o = i + before + after", f"{format_dim(i)} + {before} + {after}",
                     format_dim(o))
                for axis_name, i, (before, after), o in zip(base.axis_names(self.rank), spatial, self.padding,
                                                            out_spatial)
            )
        return LayerReport(
            op=self.name, input=tuple(shape), output=output, params=ParamCount(), macs=0, batch=n,
            rf=tuple(AxisRF(1, 1, before) for before, _ in self.padding),
            hyper={"padding": [list(p) for p in self.padding], "value": self.value}, steps=steps,
            bytes_per_element=bytes_per_element,
        )

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = x with ``before``/``after`` entries of ``value`` added along each spatial axis
        (negative amounts crop)."""
        import numpy as np

        from convcalc.compute import Forward
        from convcalc.compute.params import as_array, check_batched_shape

        x = as_array(x, f"{self.name} input")
        check_batched_shape(x.shape, self.rank, self.name)
        fill = self.value if x.dtype == object else x.dtype.type(self.value)
        y = np.full(base.analyze_batched(self, x.shape).output, fill, dtype=x.dtype)
        y[self._inside(x.shape)] = x
        return Forward(y, x.shape)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """δx = δy without the added border."""
        from convcalc.compute import Backward
        from convcalc.compute.params import check_grad_shape

        shape = cache
        dy = check_grad_shape(grad_output, base.analyze_batched(self, shape).output, self.name)
        return Backward(dy[self._inside(shape)])

    def _inside(self, shape) -> tuple[slice, ...]:
        """Where the input sits in the padded output."""
        return (slice(None), slice(None)) + tuple(slice(a, a + n) for n, (a, _) in zip(shape[2:], self.padding))


# --- descriptor -------------------------------------------------------------------------------

def _cli_pad(rank: int, o: dict) -> Pad:
    if "pad" not in o:
        raise InputError("pad needs {field} (e.g. {field} 1:0x1:0, before:after per axis)", field="padding",
                         valid="before:after per axis")
    return Pad(rank=rank, padding=o["pad"])


def _spec_pad(padding: Any = 1, value: float = 0, rank: int = 2) -> Pad:
    return Pad(rank=rank, padding=padding, value=value)


DESCRIPTORS = (
    LayerDescriptor(
        "pad", "explicit padding (PyTorch ZeroPad1d/2d/3d, ConstantPad*d)", ("Pad",), build=_spec_pad,
        options=(Option("pad", "pad", keyword="padding", aliases=("p", "padding"), required=True, chain="p",
                        positional=True),
                 Option("value", "float")),
        aliases=("zeropad", "zeropad2d", "constantpad", "constantpad2d", "zero_pad"),
        chain_help="pad P   zero padding: 1, 1x2, 1:0x1:0 (before:after)",
        cli="pad", cli_aliases=("zeropad", "constantpad"), cli_options=("pad",), cli_build=_cli_pad,
        trace="pad", trace_aliases=("zeropad2d", "zeropad", "constantpad2d"), trace_output="Z",
        torch=("ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d"),
    ),
)


@register_hook("torch", Pad)
def _torch_pad(layer: Pad, nn: Any, shape: tuple = ()) -> Any:
    """torch.nn.ConstantPad{rank}d takes the amounts innermost axis first: (left, right, top, bottom, …)."""
    amounts = tuple(v for before, after in reversed(layer.padding) for v in (before, after))
    return getattr(nn, f"ConstantPad{layer.rank}d")(amounts, layer.value)
