"""Losses: the number a network is trained to lower, and its gradient with respect to the
prediction — the first upstream δ of every backward pass.

Each loss has ``forward(prediction, target) -> LossForward(value, cache)`` and
``backward(cache) -> dL/dprediction`` (same shape and dtype as the prediction), side by side:

=================  ==============================  ==================================
name               value L                         dL/dy
=================  ==============================  ==================================
``mse_half_sum``   ½·Σ(y − t)²  (the course's)     y − t
``mse``            Σ(y − t)²/n  (nn.MSELoss)       2(y − t)/n, n = number of entries
``sse``            Σ(y − t)²                       2(y − t)
``sum``            Σ y  (no target)                1
``cross_entropy``  −Σ q·log softmax(z) over dim 1  (softmax(z) − q)/N for ``mean``,
                   per position, then mean or sum  softmax(z) − q for ``sum`` (docs/arithmetic.md §7.5)
``upstream``       undefined (None)                the target itself: δ given directly
=================  ==============================  ==================================

Cross-entropy (nn.CrossEntropyLoss): logits z of shape (N, C, …); the target is class
indices (N, …) or probabilities / one-hot rows of z's shape; q is the one-hot (or given)
distribution, with ``label_smoothing`` ε: q ← (1 − ε)·q + ε/C; ``mean`` divides by the
number of positions N·Π(…). The squared losses and ``sum`` are exact on ints/Fractions;
cross-entropy's softmax makes floats.

A target may leave out a leading batch of 1 (target [7, 10] for a prediction of shape 1x2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from convcalc.compute import scalars
from convcalc.compute.params import shape_text
from convcalc.compute.scalars import constant, divide_exact
from convcalc.errors import InputError
from convcalc.notation import format_shape


@dataclass(frozen=True)
class LossForward:
    """The loss value (None for ``upstream``) and what the backward step needs."""

    value: Any
    cache: Any = None


@dataclass(frozen=True)
class LossResult:
    """A loss's value and dL/dprediction together."""

    value: Any
    grad: np.ndarray


class _Loss:
    name = ""

    def forward(self, prediction: np.ndarray, target: Any) -> LossForward:  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, cache: Any) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def evaluate(self, prediction: np.ndarray, target: Any = None) -> LossResult:
        """Value and gradient in one call."""
        result = self.forward(prediction, target)
        return LossResult(result.value, self.backward(result.cache))


@dataclass(frozen=True)
class MSEHalfSum(_Loss):
    """L = ½·Σ(y − t)², dL/dy = y − t (the course's squared error)."""

    name = "mse_half_sum"

    def forward(self, prediction: np.ndarray, target: Any) -> LossForward:
        diff = prediction - _match(target, prediction, self.name)
        return LossForward(divide_exact((diff * diff).sum(), 2), diff)

    def backward(self, cache: Any) -> np.ndarray:
        return cache


@dataclass(frozen=True)
class MSE(_Loss):
    """L = Σ(y − t)²/n over all n entries (nn.MSELoss, reduction='mean'); dL/dy = 2(y − t)/n."""

    name = "mse"

    def forward(self, prediction: np.ndarray, target: Any) -> LossForward:
        diff = prediction - _match(target, prediction, self.name)
        return LossForward(divide_exact((diff * diff).sum(), diff.size), diff)

    def backward(self, cache: Any) -> np.ndarray:
        return divide_exact(cache * 2, cache.size)


@dataclass(frozen=True)
class SSE(_Loss):
    """L = Σ(y − t)² (nn.MSELoss, reduction='sum'); dL/dy = 2(y − t)."""

    name = "sse"

    def forward(self, prediction: np.ndarray, target: Any) -> LossForward:
        diff = prediction - _match(target, prediction, self.name)
        return LossForward((diff * diff).sum(), diff)

    def backward(self, cache: Any) -> np.ndarray:
        return cache * 2


@dataclass(frozen=True)
class Sum(_Loss):
    """L = Σ y; dL/dy = 1 everywhere. Takes no target."""

    name = "sum"

    def forward(self, prediction: np.ndarray, target: Any = None) -> LossForward:
        if target is not None:
            raise InputError("the 'sum' loss takes no target (L = Σ y); drop the target or use mse/sse")
        return LossForward(prediction.sum(), prediction)

    def backward(self, cache: Any) -> np.ndarray:
        return np.ones(cache.shape, dtype=cache.dtype)  # object: Python int ones


@dataclass(frozen=True)
class Upstream(_Loss):
    """No loss: the gradient of the output is given (the target), as in "given δJ, find δK"."""

    name = "upstream"

    def forward(self, prediction: np.ndarray, target: Any) -> LossForward:
        return LossForward(None, _match(target, prediction, "upstream gradient"))

    def backward(self, cache: Any) -> np.ndarray:
        return cache


@dataclass(frozen=True)
class CrossEntropy(_Loss):
    """nn.CrossEntropyLoss(reduction, label_smoothing): softmax over dim 1, then the negative
    log-likelihood of the target distribution q; dL/dz = softmax(z) − q (÷ positions for mean)."""

    reduction: str = "mean"
    label_smoothing: float = 0.0

    name = "cross_entropy"

    def __post_init__(self) -> None:
        if self.reduction not in ("mean", "sum"):
            raise InputError("cross_entropy reduction must be 'mean' (PyTorch's default) or 'sum'; got "
                             f"{self.reduction!r}")
        if isinstance(self.label_smoothing, bool) or not 0 <= self.label_smoothing <= 1:
            raise InputError(f"cross_entropy label_smoothing must be between 0 and 1; got {self.label_smoothing!r}")

    def forward(self, prediction: np.ndarray, target: Any) -> LossForward:
        z = prediction
        if z.ndim < 2:
            raise InputError(
                "cross_entropy needs logits of shape (N, C) or (N, C, …); got "
                f"{format_shape(z.shape) or 'a single number'}"
            )
        q = self._distribution(target, z)
        shifted = z - (z.max(axis=1, keepdims=True) if _all_real(z) else 0)
        e = scalars.exp(shifted)
        total = e.sum(axis=1, keepdims=True)
        log_p = shifted - scalars.log(total)
        positions = z.size // z.shape[1]
        value = -(q * log_p).sum()
        if self.reduction == "mean":
            value = divide_exact(value, positions)
        return LossForward(value, (e / total, q, positions))

    def backward(self, cache: Any) -> np.ndarray:
        p, q, positions = cache
        grad = p - q
        return divide_exact(grad, positions) if self.reduction == "mean" else grad

    def _distribution(self, target: Any, z: np.ndarray) -> np.ndarray:
        """q: one-hot rows from class indices, or the probabilities given; then label smoothing."""
        classes = z.shape[1]
        target = _as_array(target, self.name)
        index_shape = (z.shape[0],) + z.shape[2:]
        # PyTorch's rule: a target of the logits' shape holds probabilities, otherwise class indices
        if target.shape == z.shape:
            q = _match(target, z, self.name)
        elif target.shape == index_shape or (z.shape[0] == 1 and target.shape == index_shape[1:]):
            indices = _class_indices(target.reshape(index_shape), classes)
            q = np.zeros(z.shape, dtype=z.dtype)  # object: Python ints, so q stays exact
            np.put_along_axis(q, np.expand_dims(indices, 1), 1, axis=1)
        elif z.shape[0] == 1 and target.shape == z.shape[1:]:
            q = _match(target, z, self.name)
        else:
            raise InputError(
                f"cross_entropy: the target has shape {shape_text(target.shape)}; "
                f"for logits {shape_text(z.shape)} give class indices of shape {shape_text(index_shape)} "
                f"or probabilities of shape {shape_text(z.shape)}"
            )
        if self.label_smoothing:
            eps = constant(self.label_smoothing, z)
            q = q * (1 - eps) + eps / classes  # exact Fractions for exact logits
        return q


LOSSES: dict[str, type[_Loss]] = {
    "mse_half_sum": MSEHalfSum,
    "mse": MSE,
    "sse": SSE,
    "cross_entropy": CrossEntropy,
    "sum": Sum,
    "upstream": Upstream,
}


def make_loss(name: str, **options: Any) -> _Loss:
    """The loss called ``name`` (options: ``reduction`` and ``label_smoothing`` for cross_entropy)."""
    key = name.strip().lower().replace("-", "_")
    if key not in LOSSES:
        raise InputError(f"unknown loss '{name}': valid losses are {', '.join(LOSSES)}")
    cls = LOSSES[key]
    allowed = {"reduction", "label_smoothing"} if cls is CrossEntropy else set()
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise InputError(f"loss {key} takes no option {', '.join(unknown)}"
                         + (f" (it takes {', '.join(sorted(allowed))})" if allowed else ""))
    return cls(**options)


# --- targets -----------------------------------------------------------------------------------

def _as_array(target: Any, what: str) -> np.ndarray:
    if target is None:
        raise InputError(f"{what} needs a target")
    if isinstance(target, np.ndarray):
        return target.astype(object) if target.dtype.kind in "iu" else target
    from convcalc.compute.numbers import to_array

    return to_array(target, f"{what} target")


def _match(target: Any, prediction: np.ndarray, what: str) -> np.ndarray:
    """The target as an array of the prediction's shape (a missing leading batch of 1 is
    added) and, for float predictions, its dtype (a float32 prediction stays float32)."""
    t = _as_array(target, what)
    if t.shape != prediction.shape:
        if prediction.shape[:1] == (1,) and t.shape == prediction.shape[1:]:
            t = t.reshape(prediction.shape)
        else:
            raise InputError(
                f"{what}: the target has shape {shape_text(t.shape)} "
                f"but the prediction has {shape_text(prediction.shape)}; "
                f"give a target of shape {shape_text(prediction.shape)}"
            )
    if prediction.dtype.kind == "f":
        t = t.astype(prediction.dtype)
    return t


def _class_indices(target: np.ndarray, classes: int) -> np.ndarray:
    """Whole numbers 0 … C−1, as an int64 array; anything else is refused."""
    out = np.empty(target.shape, dtype=np.int64)
    for index, value in np.ndenumerate(target):
        if isinstance(value, bool) or not scalars.is_real(value) or float(value) != int(value):
            raise InputError(f"cross_entropy: target class {value!r} at {list(index)} is not a whole number")
        if not 0 <= int(value) < classes:
            raise InputError(
                f"cross_entropy: target class {int(value)} at {list(index)} is out of range for {classes} classes "
                f"(use 0 to {classes - 1})"
            )
        out[index] = int(value)
    return out


def _all_real(z: np.ndarray) -> bool:
    return z.dtype.kind == "f" or all(scalars.is_real(v) for v in z.flat)
