"""Layers that keep the shape: activations, dropout, identity (PyTorch ``nn.ReLU`` …).

No parameters (PReLU: 1 shared slope or one per channel) and no MACs; one operation per
element is reported as other work (a comparison for ReLU, an evaluation for the rest).
Receptive field: unchanged (kernel 1, stride 1).

Forward and backward (contract in :mod:`convcalc.compute`; x is batched, (N, C, …)):
activations in :mod:`convcalc.compute.activations`; PReLU y = x for x > 0, w·x otherwise
(w per channel of dim 1, or one shared); dropout in training multiplies by a mask / (1 − p)
(inverted dropout, PyTorch), identity in eval mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.dims import product
from convcalc.engine.report import LayerReport, ParamCount
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.descriptor import LayerDescriptor, Option, register_hook

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward

ACTIVATIONS = ("relu", "relu6", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "silu", "hardswish", "hardsigmoid",
               "softmax", "log_softmax", "mish", "softplus")


@dataclass(frozen=True)
class Activation(base.NoParameters):
    """An element-wise activation; ``kind`` is one of ACTIVATIONS (``relu``, ``silu``, …)."""

    kind: str = "relu"
    negative_slope: float | None = None

    def __post_init__(self) -> None:
        kind = self.kind.lower().replace("-", "_")
        kind = {"swish": "silu", "hard_swish": "hardswish", "hard_sigmoid": "hardsigmoid",
                "leakyrelu": "leaky_relu"}.get(kind, kind)
        if kind not in ACTIVATIONS:
            raise InputError(f"unknown activation '{self.kind}': valid ones are {', '.join(ACTIVATIONS)}")
        object.__setattr__(self, "kind", kind)

    @property
    def name(self) -> str:
        return self.kind

    @property
    def type_name(self) -> str:
        return self.kind

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        return base.same_shape_report(self.kind, shape, batch, bytes_per_element,
                                      other_ops=(("activation ops", (batch or 1) * product(shape)),))

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = f(x) element-wise (softmax/log_softmax over dim 1); formulas in compute.activations."""
        from convcalc.compute import Forward, activations

        y, cache = activations.forward(self.kind, x, self.negative_slope)
        return Forward(y, cache)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = dy·f′(x) (the Jacobian-vector product for softmax)."""
        from convcalc.compute import Backward, activations

        return Backward(activations.backward(self.kind, grad_output, cache))


@dataclass(frozen=True)
class PReLU(base.NoBuffers):
    """``nn.PReLU(num_parameters)``: one learnable slope, or one per channel."""

    num_parameters: int = 1

    name = "prelu"
    initial_value = 0.25  # PyTorch's nn.PReLU(init=0.25): the slope every run starts from

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        return base.same_shape_report("prelu", shape, batch, bytes_per_element,
                                      params=ParamCount(self.num_parameters, 0),
                                      other_ops=(("activation ops", (batch or 1) * product(shape)),))

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``weight`` (num_parameters,): one slope, or one per channel (dim 1), as nn.PReLU."""
        if self.num_parameters != 1:
            channels = input_shape[1] if len(input_shape) >= 2 else None
            if channels != self.num_parameters:
                raise InputError(
                    f"prelu with {self.num_parameters} slopes needs {self.num_parameters} channels in dim 1; "
                    f"the input {'x'.join(map(str, input_shape))} has {channels if channels is not None else 'none'} "
                    "(use num_parameters=1 for one shared slope)"
                )
        return {"weight": (self.num_parameters,)}

    def _slopes(self, weight: np.ndarray, ndim: int) -> np.ndarray:
        # one shared slope broadcasts as a scalar; per-channel slopes line up with dim 1
        return weight.reshape(()) if self.num_parameters == 1 else weight.reshape((1, -1) + (1,) * (ndim - 2))

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = x for x > 0, w·x for x ≤ 0."""
        import numpy as np

        from convcalc.compute import Forward
        from convcalc.compute.params import require

        weight = require("prelu", params, self.parameter_shapes(x.shape))["weight"]
        slopes = self._slopes(weight, x.ndim)
        positive = x > 0
        return Forward(np.where(positive, x, slopes * x), (x, positive, slopes))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = dy for x > 0, w·dy otherwise; dw = Σ dy·x over x ≤ 0 (per channel, or over all)."""
        import numpy as np

        from convcalc.compute import Backward

        x, positive, slopes = cache
        dy = grad_output
        contribution = np.where(positive, 0, dy * x)
        axes = tuple(range(x.ndim)) if self.num_parameters == 1 else (0,) + tuple(range(2, x.ndim))
        grad_weight = contribution.sum(axis=axes, keepdims=True).reshape(self.num_parameters)
        return Backward(np.where(positive, dy, slopes * dy), {"weight": grad_weight})


@dataclass(frozen=True)
class Dropout(base.NoParameters):
    """Dropout (element-wise, or whole channels for ``dropout2d``); identity at inference."""

    p: float = 0.5
    kind: str = "dropout"

    def __post_init__(self) -> None:
        if not 0 <= self.p <= 1:
            raise InputError(f"dropout probability must be between 0 and 1; got {self.p}")

    @property
    def name(self) -> str:
        return self.kind

    @property
    def type_name(self) -> str:  # stochastic depth is a type of its own (descriptors tell it apart by this)
        return self.kind

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        return base.same_shape_report(self.kind, shape, batch, bytes_per_element, hyper={"p": self.p})

    @property
    def channelwise(self) -> bool:
        """Dropout1d/2d/3d drop whole channels (one draw per (n, c)); plain dropout drops elements."""
        return self.kind.lower().replace("_", "") in ("dropout1d", "dropout2d", "dropout3d")

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """Training: y = x·m/(1 − p) with m ~ Bernoulli(1 − p) drawn from ``rng`` (a seeded
        ``numpy.random.Generator``; seed 0 when none is given, so runs repeat); p = 1 drops
        everything. Eval mode (or p = 0): y = x. The cache is the mask times 1/(1 − p)
        (exact for object arrays: p = 0.5 scales by 2), or None for the identity. A given
        ``params["mask"]`` (1 keep, 0 drop; broadcast over the batch) replaces the draw: the
        backprop trace's "mask", so a hand calculation can be repeated exactly."""
        import numpy as np

        from convcalc.compute import Forward
        from convcalc.compute.scalars import constant

        given = None if params is None else params.get("mask")
        if not training or (self.p == 0 and given is None):
            return Forward(x, None)
        if given is not None:
            p = constant(self.p, x)
            scale = 0 if p == 1 else 1 / (1 - p)
            mask = np.where(np.broadcast_to(np.asarray(given) != 0, x.shape), scale, 0)
            if x.dtype != object:
                mask = mask.astype(x.dtype)
            return Forward(x * mask, mask)
        if rng is None:
            rng = np.random.default_rng(0)
        if self.channelwise and x.ndim < 2:
            raise InputError(f"{self.kind} drops whole channels: it needs a batched (N, C, …) input, got {x.ndim}-d")
        shape = x.shape[:2] + (1,) * (x.ndim - 2) if self.channelwise else x.shape
        if self.kind == "stochastic_depth":  # torchvision's StochasticDepth(mode="row"): one draw per sample
            shape = x.shape[:1] + (1,) * (x.ndim - 1)
        keep = rng.random(shape) < 1 - self.p
        p = constant(self.p, x)
        scale = 0 if p == 1 else 1 / (1 - p)
        mask = np.where(keep, scale, 0)
        if x.dtype != object:
            mask = mask.astype(x.dtype)
        return Forward(x * mask, mask)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = dy·m/(1 − p) with the forward's mask (dy unchanged in eval mode)."""
        from convcalc.compute import Backward

        return Backward(grad_output if cache is None else grad_output * cache)


@dataclass(frozen=True)
class Identity(base.NoParameters):
    name = "identity"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        return base.same_shape_report("identity", shape, batch, bytes_per_element)

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = x."""
        from convcalc.compute import Forward

        return Forward(x, None)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = dy."""
        from convcalc.compute import Backward

        return Backward(grad_output)


# --- descriptors ------------------------------------------------------------------------------

#: per activation: (torch.nn class, ONNX operator, more spec words, backprop trace output name)
_ACTIVATION_NAMES: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "relu": ("ReLU", "Relu", (), "R"),
    "relu6": ("ReLU6", "Clip", (), ""),  # ONNX writes ReLU6 as Clip(0, 6)
    "leaky_relu": ("LeakyReLU", "LeakyRelu", ("leakyrelu",), "R"),
    "elu": ("ELU", "Elu", (), "E"),
    "gelu": ("GELU", "Gelu", (), ""),
    "sigmoid": ("Sigmoid", "Sigmoid", (), "S"),
    "tanh": ("Tanh", "Tanh", (), "T"),
    "silu": ("SiLU", "", ("swish",), ""),
    "hardswish": ("Hardswish", "HardSwish", ("hard_swish",), ""),
    "hardsigmoid": ("Hardsigmoid", "HardSigmoid", ("hard_sigmoid",), ""),
    "softmax": ("Softmax", "Softmax", (), "Q"),
    "log_softmax": ("LogSoftmax", "LogSoftmax", (), ""),
    "mish": ("Mish", "Mish", (), ""),
    "softplus": ("Softplus", "Softplus", (), ""),
}
_ACTIVATION_WORK = {"activation ops": "activation"}
#: the Keras layer classes that are one activation (the others come as Activation("name"))
_KERAS_ACTIVATION_LAYERS = {"relu": ("ReLU",), "softmax": ("Softmax",)}


def _activation(kind: str) -> LayerDescriptor:
    torch_name, onnx, aliases, trace_output = _ACTIVATION_NAMES[kind]

    def build() -> Activation:
        return Activation(kind)

    return LayerDescriptor(
        kind, f"{kind} activation (element-wise)", ("Activation",), build=build, aliases=aliases,
        trace=kind if trace_output else None, trace_output=trace_output, torch=(torch_name,),
        onnx=(onnx,) if onnx else (), keras=_KERAS_ACTIVATION_LAYERS.get(kind, ()), work=_ACTIVATION_WORK,
    )


def _stochastic_depth(p: float = 0.0) -> Dropout:
    """torchvision's ``StochasticDepth(p, mode="row")`` (timm's ``DropPath``)."""
    return Dropout(p, kind="stochastic_depth")


DESCRIPTORS = (
    *(_activation(kind) for kind in ACTIVATIONS),
    LayerDescriptor(
        "prelu", "PReLU: one learned slope, or one per channel", ("PReLU",), build=PReLU,
        options=(Option("num_parameters", "count", positional=True),), chain_help="prelu [N]", torch=("PReLU",),
        onnx=("PRelu",), work=_ACTIVATION_WORK,
    ),
    LayerDescriptor(
        "dropout", "dropout (identity at inference)", ("Dropout",), build=Dropout, trace="dropout",
        trace_output="D",
        options=(Option("p", "prob", positional=True),), aliases=("drop",), chain_help="dropout [P]",
        torch=("Dropout", "Dropout1d", "Dropout2d", "Dropout3d"), onnx=("Dropout",),
        keras=("Dropout", "SpatialDropout2D"),
    ),
    LayerDescriptor(
        "stochastic_depth", "stochastic depth: drops a sample's whole residual branch (identity at inference)",
        ("Dropout",), build=_stochastic_depth, options=(Option("p", "prob", positional=True),),
        aliases=("droppath", "drop_path"), chain_help="stochastic_depth [P]",
    ),
    LayerDescriptor(
        "identity", "identity", ("Identity",), build=Identity, aliases=("id",), chain_help="identity",
        torch=("Identity",), onnx=("Identity", "Cast"),
    ),
)


# --- the torch.nn layer (``--verify torch``): torch is imported by the caller, handed in as ``nn``

_TORCH_ACTIVATIONS = {"relu": "ReLU", "relu6": "ReLU6", "leaky_relu": "LeakyReLU", "elu": "ELU", "gelu": "GELU",
                      "sigmoid": "Sigmoid", "tanh": "Tanh", "silu": "SiLU", "hardswish": "Hardswish",
                      "hardsigmoid": "Hardsigmoid", "mish": "Mish", "softplus": "Softplus"}


@register_hook("torch", Activation)
def _torch_activation(layer: Activation, nn: Any, shape: tuple) -> Any:
    if layer.kind in ("softmax", "log_softmax"):
        return nn.Softmax(dim=1) if layer.kind == "softmax" else nn.LogSoftmax(dim=1)
    if layer.kind == "leaky_relu" and layer.negative_slope is not None:
        return nn.LeakyReLU(layer.negative_slope)
    return getattr(nn, _TORCH_ACTIVATIONS[layer.kind])()


@register_hook("torch", PReLU)
def _torch_prelu(layer: PReLU, nn: Any, shape: tuple) -> Any:
    return nn.PReLU(layer.num_parameters)


@register_hook("torch", Dropout)
def _torch_dropout(layer: Dropout, nn: Any, shape: tuple) -> Any:
    names = {"dropout": "Dropout", "dropout2d": "Dropout2d", "dropout3d": "Dropout3d", "dropout1d": "Dropout1d"}
    return getattr(nn, names.get(layer.kind, "Dropout"))(layer.p)


@register_hook("torch", Identity)
def _torch_identity(layer: Identity, nn: Any, shape: tuple) -> Any:
    return nn.Identity()
