"""Depthwise-separable convolution (MobileNet v1): a depthwise conv (groups = C_in) then a
1×1 pointwise conv, compared against the standard convolution it replaces.

Cost (Howard et al. 2017): Dk²·M·Df² + M·N·Df² against Dk²·M·N·Df², a ratio of
1/N + 1/Dk² (N output channels, Dk the kernel size, M input channels).

Forward and backward run the two convolutions' own kernels (:class:`Conv`) in turn; the
parameters are named as in ``nn.Sequential(OrderedDict(depthwise=…, pointwise=…))``:
``depthwise.weight`` (M·mult, 1, *k), ``depthwise.bias``, ``pointwise.weight`` (N, M·mult, 1, …),
``pointwise.bias``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from convcalc.dims import format_dim, is_symbolic, product
from convcalc.engine.report import LayerReport, Step
from convcalc.errors import InputError, Note
from convcalc.layers import base
from convcalc.layers.conv import Conv
from convcalc.layers.descriptor import LayerDescriptor, find_hook, register_hook, required

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward

_PARTS = ("depthwise", "pointwise")


@dataclass(frozen=True)
class DepthwiseSeparable:
    rank: int = 2
    out_channels: int | None = None
    kernel_size: tuple[int, ...] = (3,)
    stride: tuple[int, ...] = (1,)
    padding: object = 0
    dilation: tuple[int, ...] = (1,)
    bias: bool = True
    padding_mode: str = "zeros"
    multiplier: int = 1

    @property
    def name(self) -> str:
        return f"depthwise-separable{self.rank}d"

    def _parts(self, c_in: int, c_out: int) -> tuple[Conv, Conv, Conv]:
        common: dict[str, Any] = {"rank": self.rank, "kernel_size": self.kernel_size, "stride": self.stride,
                                  "padding": self.padding, "dilation": self.dilation, "bias": self.bias,
                                  "padding_mode": self.padding_mode}
        depthwise = Conv(out_channels=c_in * self.multiplier, groups=c_in, **common)
        pointwise = Conv(rank=self.rank, out_channels=c_out, kernel_size=(1,), bias=self.bias)
        standard = Conv(out_channels=c_out, **common)
        return depthwise, pointwise, standard

    def analyze(self, shape, *, batch: int | None = None, explain: bool = False,
                bytes_per_element: int = 4) -> LayerReport:
        c_in, _ = base.split_sample(shape, self.rank, self.name)
        if c_in is None or is_symbolic(c_in):
            raise InputError(f"{self.name} needs a number of input channels in {{field:input}} (e.g. 32x112x112)")
        notes = []
        c_out = self.out_channels
        if c_out is None:
            c_out = c_in
            notes.append(Note(f"no {{field:out}} given: assuming {c_in} output channels (as many as the input)"))
        depthwise_layer, pointwise_layer, standard_layer = self._parts(c_in, c_out)
        kw: dict[str, Any] = {"batch": batch, "explain": explain, "bytes_per_element": bytes_per_element}
        dw = depthwise_layer.analyze(shape, **kw)
        pw = pointwise_layer.analyze(dw.output, **kw)
        std = standard_layer.analyze(shape, **kw)
        # c_in is known here, so every part counts its parameters and MACs
        assert dw.params is not None and pw.params is not None and std.params is not None
        assert dw.macs is not None and pw.macs is not None
        params = dw.params + pw.params
        macs = dw.macs + pw.macs
        # the depthwise conv holds the per-axis values (a 2-d "--k 3" is 3x3: Dk² = 9, not 3)
        kernel, stride, dilation = depthwise_layer.kernel_size, depthwise_layer.stride, depthwise_layer.dilation
        k_prod = product(kernel)
        comparison = {
            "standard_params": std.params.total,
            "standard_macs": std.macs,
            "params_ratio": _ratio(params.total, std.params.total),
            "macs_ratio": _ratio(macs, std.macs),
            "formula": "1/N + 1/Dk²",
        }
        if not is_symbolic(c_out):
            comparison["formula_value"] = Fraction(1, c_out) + Fraction(1, k_prod)
        steps = []
        if explain:
            k_text = "·".join(map(str, kernel))
            steps = [
                Step("depthwise", f"a {k_text} conv per input channel (groups = {c_in})", f"{dw.params.total} params",
                     f"{format_dim(dw.macs)} MACs"),
                Step("pointwise", f"1×1 conv {c_in * self.multiplier} → {c_out}", f"{pw.params.total} params",
                     f"{format_dim(pw.macs)} MACs"),
                Step("standard conv", f"{k_text} conv {c_in} → {c_out}", f"{std.params.total} params",
                     f"{format_dim(std.macs)} MACs"),
                Step("cost ratio", "(Dk²·M·Df² + M·N·Df²) / (Dk²·M·N·Df²) = 1/N + 1/Dk²",
                     f"1/{c_out} + 1/{k_prod}" if "formula_value" in comparison else "",
                     _ratio_text(comparison["macs_ratio"])),
            ]
        return LayerReport(
            op=self.name, input=tuple(shape), output=pw.output, params=params, macs=macs, batch=dw.batch,
            other_ops=_sum_other(dw.other_ops, pw.other_ops), rf=dw.rf,
            hyper={"kernel_size": list(kernel), "stride": list(stride), "padding": dw.hyper["padding"],
                   "dilation": list(dilation), "out_channels": c_out, "bias": self.bias, "multiplier": self.multiplier},
            warnings=dw.warnings, notes=tuple(notes) + dw.notes, steps=tuple(steps), parts=(dw, pw),
            comparison=comparison, output_has_batch=pw.output_has_batch, bytes_per_element=bytes_per_element,
        )

    # ---- running on numbers (contract of convcalc.compute) -------------------------------

    def _convs(self, input_shape) -> tuple[Conv, Conv, tuple[int, ...]]:
        """The depthwise and pointwise convs for this batched input, and the shape between them."""
        from convcalc.compute.params import check_batched_shape

        input_shape = check_batched_shape(input_shape, self.rank, self.name)
        c_in = input_shape[1]
        depthwise, pointwise, _ = self._parts(c_in, self.out_channels if self.out_channels is not None else c_in)
        return depthwise, pointwise, tuple(base.analyze_batched(depthwise, input_shape).output)

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        depthwise, pointwise, middle = self._convs(input_shape)
        shapes = {f"depthwise.{k}": v for k, v in depthwise.parameter_shapes(tuple(input_shape)).items()}
        shapes.update({f"pointwise.{k}": v for k, v in pointwise.parameter_shapes(middle).items()})
        return shapes

    def buffer_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        self._convs(input_shape)
        return {}

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = pointwise(depthwise(x)), each by Conv.forward."""
        from convcalc.compute import Forward
        from convcalc.compute.params import require

        depthwise, pointwise, _ = self._convs(x.shape)
        given = require(self.name, params, self.parameter_shapes(x.shape))
        part_params = {part: {k.split(".", 1)[1]: v for k, v in given.items() if k.startswith(part + ".")}
                       for part in _PARTS}
        first = depthwise.forward(x, part_params["depthwise"], training=training, rng=rng)
        second = pointwise.forward(first.output, part_params["pointwise"], training=training, rng=rng)
        return Forward(second.output, (depthwise, pointwise, first.cache, second.cache, first.output))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """Back through the pointwise conv, then the depthwise conv (the chain rule)."""
        from convcalc.compute import Backward

        depthwise, pointwise, first_cache, second_cache, _ = cache
        second = pointwise.backward(grad_output, second_cache)
        first = depthwise.backward(second.grad_input, first_cache)
        grads = {f"depthwise.{k}": v for k, v in first.grads.items()}
        grads.update({f"pointwise.{k}": v for k, v in second.grads.items()})
        return Backward(first.grad_input, grads)


def _ratio(a, b):
    if is_symbolic(a) or is_symbolic(b):
        from convcalc.dims import simplify

        return simplify(a / b)
    return Fraction(a, b)


def _ratio_text(value) -> str:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator} ≈ {float(value):.4f}"
    return format_dim(value)


def _sum_other(*groups):
    totals: dict[str, object] = {}
    for group in groups:
        for name, count in group:
            totals[name] = totals.get(name, 0) + count
    return tuple(totals.items())


# --- descriptor -------------------------------------------------------------------------------

def _cli_separable(rank: int, o: dict) -> DepthwiseSeparable:
    return DepthwiseSeparable(rank=rank, out_channels=o.get("out"), kernel_size=required(o, "k", "depthwise-separable"),
                              stride=o.get("stride", (1,)), padding=o.get("pad", 0), dilation=o.get("dilation", (1,)),
                              bias=not o.get("no-bias", False), padding_mode=o.get("padding-mode", "zeros"),
                              multiplier=o.get("multiplier", 1))


DESCRIPTORS = (
    LayerDescriptor(
        "depthwise_separable", "depthwise conv + 1x1 pointwise conv, against a standard conv", ("DepthwiseSeparable",),
        cli="depthwise-separable", cli_aliases=("separable", "sepconv", "separableconv", "dwsep"),
        cli_options=("out", "k", "stride", "pad", "dilation", "padding-mode", "no-bias", "multiplier"),
        cli_build=_cli_separable, label=("depthwise-separable", "dwsep"), work={"bias adds": "bias"},
        keras=("SeparableConv2D",),
    ),
)


# --- the torch.nn layer (``--verify torch``): torch is imported by the caller, handed in as ``nn``


@register_hook("torch", DepthwiseSeparable)
def _torch_separable(layer: DepthwiseSeparable, nn: Any, shape: tuple) -> Any:
    """``nn.Sequential(OrderedDict(depthwise=…, pointwise=…))``: each part the torch.nn conv its own hook builds."""
    from collections import OrderedDict

    depthwise, pointwise, _ = layer._parts(shape[0], layer.out_channels if layer.out_channels is not None else shape[0])
    conv_hook = find_hook("torch", depthwise)
    assert conv_hook is not None  # conv.py registers it
    middle = tuple(depthwise.analyze(tuple(shape), batch=1).output)
    return nn.Sequential(OrderedDict(depthwise=conv_hook(depthwise, nn, tuple(shape)),
                                     pointwise=conv_hook(pointwise, nn, middle)))
