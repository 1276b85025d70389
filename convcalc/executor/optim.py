"""Optimizers, in PyTorch's forms (``torch.optim.SGD`` and ``Adam`` with their defaults).

With L2 weight decay λ the gradient first becomes g ← g + λ·K. Then, for every parameter K:

* sgd:       K ← K − lr·g                                             (the course's update)
* momentum:  v ← g on the first step, else v ← μ·v + g;  K ← K − lr·v  (PyTorch's form: lr
             multiplies the velocity, not the gradient inside it; μ = 0.9)
* adam:      m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  t ← t + 1
             K ← K − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)   (β₁ 0.9, β₂ 0.999, ε 1e-8)

``step`` returns new arrays and a new state; it never changes what it was given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from convcalc.errors import InputError

OPTIMIZERS = ("sgd", "momentum", "adam")
DEFAULT_LR = {"sgd": 0.01, "momentum": 0.01, "adam": 0.001}


@dataclass(frozen=True)
class OptimizerState:
    step: int = 0
    first: Mapping[str, np.ndarray] = field(default_factory=dict)   # momentum's v, Adam's m
    second: Mapping[str, np.ndarray] = field(default_factory=dict)  # Adam's v


@dataclass(frozen=True)
class Optimizer:
    name: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise InputError(f"--optimizer '{self.name}' is not one of {', '.join(OPTIMIZERS)}")
        if not math.isfinite(self.lr) or self.lr <= 0:
            raise InputError(f"--lr must be a positive number; got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise InputError(f"--momentum must be in [0, 1); got {self.momentum}")
        if not math.isfinite(self.weight_decay) or self.weight_decay < 0:
            raise InputError(f"--weight-decay must be ≥ 0; got {self.weight_decay}")

    def describe(self) -> str:
        extra = {"sgd": "", "momentum": f", μ {self.momentum:g}",
                 "adam": f", β₁ {self.beta1:g}, β₂ {self.beta2:g}, ε {self.eps:g}"}[self.name]
        decay = f", weight decay {self.weight_decay:g}" if self.weight_decay else ""
        return f"{self.name} (lr {self.lr:g}{extra}{decay})"

    def as_dict(self) -> dict:
        out = {"name": self.name, "lr": self.lr, "weight_decay": self.weight_decay}
        if self.name == "momentum":
            out["momentum"] = self.momentum
        if self.name == "adam":
            out.update(beta1=self.beta1, beta2=self.beta2, eps=self.eps)
        return out

    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray],
             state: OptimizerState) -> tuple[dict[str, np.ndarray], OptimizerState]:
        """One update of every parameter; returns the new parameters and optimizer state."""
        t = state.step + 1
        new_params: dict[str, np.ndarray] = {}
        first: dict[str, np.ndarray] = {}
        second: dict[str, np.ndarray] = {}
        for name, value in params.items():
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * value
            if self.name == "sgd":
                new_params[name] = value - self.lr * g
            elif self.name == "momentum":
                v = g if name not in state.first else self.momentum * state.first[name] + g
                first[name] = v
                new_params[name] = value - self.lr * v
            else:
                m = ((1 - self.beta1) * g if name not in state.first
                     else self.beta1 * state.first[name] + (1 - self.beta1) * g)
                v = (1 - self.beta2) * (g * g) if name not in state.second else \
                    self.beta2 * state.second[name] + (1 - self.beta2) * (g * g)
                first[name], second[name] = m, v
                step_size = self.lr / (1 - self.beta1 ** t)
                denom = np.sqrt(v) / math.sqrt(1 - self.beta2 ** t) + self.eps
                new_params[name] = value - step_size * (m / denom)
        return new_params, OptimizerState(t, first, second)
