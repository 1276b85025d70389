"""Initial parameters and buffers: PyTorch's defaults, or a chosen scheme for the weights.

fan_in = shape[1]·Π shape[2:] and fan_out = shape[0]·Π shape[2:] of a weight with two or more
axes (torch.nn.init's rule; for a transposed conv, whose weight is (C_in, C_out/g, *k), this
is what PyTorch uses too).

=================  =========================================================  =============
scheme             weight (two or more axes)                                  bias
=================  =========================================================  =============
pytorch (default)  kaiming_uniform(a=√5): U(−b, b), b = 1/√fan_in             U(±1/√fan_in)
xavier-uniform     course form (lecture 003): U(±√(3/fan_in)), variance 1/fan_in   0
xavier-normal      course form (lecture 000): N(0, 1/fan_in)                   0
glorot-uniform     Glorot & Bengio (torch xavier_uniform_): U(±√(6/(fan_in+fan_out)))   0
glorot-normal      torch xavier_normal_: N(0, 2/(fan_in+fan_out))              0
kaiming-uniform    He et al. (ReLU gain √2): U(±√(6/fan_in))                   0
kaiming-normal     He et al.: N(0, 2/fan_in)                                   0
uniform[:A]        U(−A, A), A = 0.05 unless given (Keras' RandomUniform)      0
normal[:S]         N(0, S²), S = 1 unless given (the course's np.random.randn)  0
=================  =========================================================  =============

Every scheme keeps PyTorch's values for the rest: one-axis weights (batch/group/layer norm γ)
1, their biases (β) 0, PReLU slopes 0.25, layer-scale γ its ``init``; buffers ``running_var``
1, the others (running mean, ``num_batches_tracked``) 0. Values are drawn in float64 from
the generator in ``state_dict`` order, weight before bias, then cast: the same seed gives the
same network in float32 and float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convcalc.errors import InputError
from convcalc.executor.graph import Graph, TensorSpec

SCHEMES = ("pytorch", "xavier-uniform", "xavier-normal", "glorot-uniform", "glorot-normal", "kaiming-uniform",
           "kaiming-normal", "uniform", "normal")


@dataclass(frozen=True)
class InitScheme:
    name: str
    scale: float | None = None  # uniform's A, normal's S

    def describe(self) -> str:
        return f"{self.name}:{self.scale:g}" if self.name in ("uniform", "normal") else self.name


MAX_UNIFORM_BOUND = 1e38  # float32's largest finite value is 3.4e38


def parse_scheme(text: str) -> InitScheme:
    """``pytorch``, ``xavier-uniform``, … or ``uniform:0.1``; ``_`` may stand for ``-``."""
    raw = text.strip().lower().replace("_", "-")
    name, _, arg = raw.partition(":")
    name = {"default": "pytorch", "torch": "pytorch", "xavier": "xavier-uniform", "he": "kaiming-normal",
            "kaiming": "kaiming-normal", "glorot": "glorot-uniform"}.get(name, name)
    if name not in SCHEMES:
        raise InputError(f"--init '{text}' is not one of {', '.join(SCHEMES)} (uniform takes :A, e.g. uniform:0.1)")
    if name in ("uniform", "normal"):
        what = "bound" if name == "uniform" else "standard deviation"
        try:
            scale = float(arg) if arg else (0.05 if name == "uniform" else 1.0)
        except ValueError:
            raise InputError(f"--init {text}: the {what} after '{name}:' must be a number, e.g. {name}:0.1") from None
        if not math.isfinite(scale) or scale <= 0 or scale > MAX_UNIFORM_BOUND:
            raise InputError(f"--init {text}: the {what} must be a positive number up to {MAX_UNIFORM_BOUND:g} "
                             "(larger weights do not fit float32)")
        return InitScheme(name, scale)
    if arg:
        raise InputError(f"--init {name} takes no ':' argument")
    return InitScheme(name)


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) as torch.nn.init computes them."""
    receptive = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _weight(shape: tuple[int, ...], scheme: InitScheme, rng: np.random.Generator) -> np.ndarray:
    fan_in, fan_out = fans(shape)
    fan_in, fan_out = max(fan_in, 1), max(fan_out, 1)
    name = scheme.name
    if name == "pytorch":
        bound = 1 / math.sqrt(fan_in)  # gain √(2/(1+5)) · √(3/fan_in)
        return rng.uniform(-bound, bound, shape)
    if name == "xavier-uniform":
        bound = math.sqrt(3 / fan_in)
        return rng.uniform(-bound, bound, shape)
    if name == "xavier-normal":
        return rng.normal(0.0, math.sqrt(1 / fan_in), shape)
    if name == "glorot-uniform":
        bound = math.sqrt(6 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, shape)
    if name == "glorot-normal":
        return rng.normal(0.0, math.sqrt(2 / (fan_in + fan_out)), shape)
    if name == "kaiming-uniform":
        bound = math.sqrt(6 / fan_in)
        return rng.uniform(-bound, bound, shape)
    if name == "kaiming-normal":
        return rng.normal(0.0, math.sqrt(2 / fan_in), shape)
    if name == "normal":
        return rng.normal(0.0, scheme.scale, shape)
    return rng.uniform(-scheme.scale, scheme.scale, shape)


def _sibling_weight(spec: TensorSpec, by_name: dict[str, TensorSpec]) -> TensorSpec | None:
    stem = spec.name[: -len("bias")]
    return by_name.get(stem + "weight")


def initial_parameters(graph: Graph, scheme: InitScheme, rng: np.random.Generator, dtype) -> dict[str, np.ndarray]:
    """Every parameter of ``graph``, drawn from ``rng`` in ``state_dict`` order (see the module doc)."""
    by_name = {p.name: p for p in graph.parameters}
    layers = {leaf.name: leaf.layer for leaf in graph.leaves}
    values: dict[str, np.ndarray] = {}
    for spec in graph.parameters:
        layer = layers[spec.layer]
        constant = getattr(layer, "initial_value", None)  # layers PyTorch starts at a constant (PReLU, layer scale)
        if constant is not None:
            value = np.full(spec.shape, constant)
        elif len(spec.shape) >= 2:
            value = _weight(spec.shape, scheme, rng)
        elif spec.local.endswith("bias"):
            weight = _sibling_weight(spec, by_name)
            if weight is not None and len(weight.shape) >= 2 and scheme.name == "pytorch":
                bound = 1 / math.sqrt(max(fans(weight.shape)[0], 1))
                value = rng.uniform(-bound, bound, spec.shape)
            else:
                value = np.zeros(spec.shape)
        else:  # one-axis scales: norm γ
            value = np.ones(spec.shape)
        values[spec.name] = value.astype(dtype)
    return values


def initial_buffers(graph: Graph, dtype) -> dict[str, np.ndarray]:
    """Buffers as PyTorch starts them: running_var 1, running_mean 0, num_batches_tracked 0 (int64)."""
    values: dict[str, np.ndarray] = {}
    for spec in graph.buffers:
        if spec.local == "num_batches_tracked":
            values[spec.name] = np.zeros(spec.shape, dtype=np.int64)
        elif spec.local == "running_var":
            values[spec.name] = np.ones(spec.shape, dtype=dtype)
        else:
            values[spec.name] = np.zeros(spec.shape, dtype=dtype)
    return values
