"""Layers that keep the shape: activations, dropout, identity (PyTorch ``nn.ReLU`` …).

No parameters (PReLU: 1 shared slope or one per channel) and no MACs; one operation per
element is reported as other work (a comparison for ReLU, an evaluation for the rest).
Receptive field: unchanged (kernel 1, stride 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.engine.dims import product
from convcalc.engine.report import LayerReport, ParamCount
from convcalc.errors import InputError

ACTIVATIONS = ("relu", "relu6", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "silu", "hardswish", "hardsigmoid",
               "softmax", "log_softmax", "mish", "softplus")


def _same_shape_report(op: str, shape, batch, bytes_per_element, params=ParamCount(), other=(), hyper=None) -> LayerReport:
    shape = tuple(shape)
    return LayerReport(op=op, input=shape, output=shape, params=params, macs=0, batch=batch or 1, other_ops=other,
                       rf=None, hyper=hyper or {}, bytes_per_element=bytes_per_element)


@dataclass(frozen=True)
class Activation:
    """An element-wise activation; ``kind`` is one of ACTIVATIONS (``relu``, ``silu``, …)."""

    kind: str = "relu"
    negative_slope: float | None = None

    def __post_init__(self) -> None:
        kind = self.kind.lower().replace("-", "_")
        kind = {"swish": "silu", "hard_swish": "hardswish", "hard_sigmoid": "hardsigmoid", "leakyrelu": "leaky_relu"}.get(kind, kind)
        if kind not in ACTIVATIONS:
            raise InputError(f"unknown activation '{self.kind}': valid ones are {', '.join(ACTIVATIONS)}")
        object.__setattr__(self, "kind", kind)

    @property
    def name(self) -> str:
        return self.kind

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        n = batch or 1
        return _same_shape_report(self.kind, shape, batch, bytes_per_element,
                                  other=(("activation ops", n * product(shape)),))


@dataclass(frozen=True)
class PReLU:
    """``nn.PReLU(num_parameters)``: one learnable slope, or one per channel."""

    num_parameters: int = 1

    name = "prelu"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        n = batch or 1
        return _same_shape_report("prelu", shape, batch, bytes_per_element, params=ParamCount(self.num_parameters, 0),
                                  other=(("activation ops", n * product(shape)),))


@dataclass(frozen=True)
class Dropout:
    """Dropout (element-wise, or whole channels for ``dropout2d``); identity at inference."""

    p: float = 0.5
    kind: str = "dropout"

    def __post_init__(self) -> None:
        if not 0 <= self.p <= 1:
            raise InputError(f"dropout probability must be between 0 and 1; got {self.p}")

    @property
    def name(self) -> str:
        return self.kind

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        return _same_shape_report(self.kind, shape, batch, bytes_per_element, hyper={"p": self.p})


@dataclass(frozen=True)
class Identity:
    name = "identity"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        return _same_shape_report("identity", shape, batch, bytes_per_element)
