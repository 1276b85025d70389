"""The losses the executor trains and probes with — thin handles on :mod:`convcalc.compute.losses`
(the one place each loss's value and gradient are defined)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convcalc.errors import InputError


@dataclass(frozen=True)
class Loss:
    name: str          # as the user writes it: cross-entropy, sum, …
    kernel: str        # the name in convcalc.compute.losses
    description: str   # the formula, for the reports
    mean: bool         # the value is a mean over the samples of the batch
    needs_labels: bool  # a target per sample: class labels, or (``classifies`` False) numbers
    symbol: str = "L"
    classifies: bool = True  # the target is a class index (accuracy means something)

    def value_and_grad(self, output: np.ndarray, labels: np.ndarray | None) -> tuple[float, np.ndarray]:
        """L and δL/δoutput (same shape and dtype as ``output``)."""
        from convcalc.compute.losses import make_loss

        result = make_loss(self.kernel).evaluate(output, labels if self.needs_labels else None)
        return float(result.value), np.asarray(result.grad, dtype=output.dtype)

    def check(self, output_shape: tuple[int, ...], labels: np.ndarray | None) -> None:
        """Refuse labels the loss cannot use, before anything runs."""
        if not self.needs_labels or not self.classifies:
            return
        if len(output_shape) != 1:
            raise InputError(f"--loss {self.name} needs one score per class; the network gives "
                             f"{'x'.join(map(str, output_shape))} per sample")
        classes = output_shape[0]
        if labels is not None and len(labels) and (labels.min() < 0 or labels.max() >= classes):
            bad = int(labels.min()) if labels.min() < 0 else int(labels.max())
            raise InputError(f"label {bad} is out of range: the network gives {classes} class scores, "
                             f"so labels must be in [0, {classes})")


LOSSES = {
    "sum": Loss("sum", "sum", "Σ outputs (every output's gradient is 1)", mean=False, needs_labels=False),
    "cross-entropy": Loss("cross-entropy", "cross_entropy",
                          "cross-entropy: −log softmax(scores)[label], mean over the batch",
                          mean=True, needs_labels=True),
    "mse": Loss("mse", "mse", "mean squared error Σ(y − t)²/n over the n entries (nn.MSELoss)", mean=True,
                needs_labels=True, classifies=False),
    "sse": Loss("sse", "sse", "sum of squared errors Σ(y − t)² (the course's two-layer MLP listing)", mean=False,
                needs_labels=True, classifies=False),
}
TRAINING_LOSSES = ("cross-entropy", "mse", "sse")


def parse_loss(text: str, allowed: tuple[str, ...] = ("sum", "cross-entropy")) -> Loss:
    key = text.strip().lower().replace("_", "-")
    key = {"ce": "cross-entropy", "crossentropy": "cross-entropy", "xent": "cross-entropy", "l2": "mse"}.get(key, key)
    if key not in allowed:
        raise InputError(f"--loss '{text}' is not one of {', '.join(allowed)}")
    return LOSSES[key]
