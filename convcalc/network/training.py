"""The cost of training: the backward pass and the memory a training step holds.

Backward MACs (CS231n's ``dx, dw = backward(dout, cache)``), per conv / linear layer:
* dW = (upstream gradient) ⋆ (layer input): the same multiply-accumulates as the forward pass;
* dX = (upstream gradient) convolved with the flipped kernel (a transposed conv): again the
  same count — except for the first such layer, whose input needs no gradient.
So a training step costs about 3× the forward MACs (2× for a one-layer net).

Memory of a step (docs/arithmetic.md §5.4): the weights, their gradients (1× params), the optimizer state
(SGD 0, SGD with momentum 1×, Adam 2× — its two moment estimates) and the activations saved
for the backward pass (every layer's output, plus the input).
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.dims import Dim, product
from convcalc.errors import InputError
from convcalc.network.conventions import is_gemm
from convcalc.network.walk import NetworkReport

OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}


@dataclass(frozen=True)
class BackwardRow:
    name: str
    dx_macs: Dim
    dw_macs: Dim


@dataclass(frozen=True)
class TrainingReport:
    optimizer: str
    rows: tuple[BackwardRow, ...]
    forward_macs: Dim
    dx_macs: Dim
    dw_macs: Dim
    param_bytes: Dim
    gradient_bytes: Dim
    optimizer_bytes: Dim
    saved_activation_bytes: Dim

    @property
    def backward_macs(self) -> Dim:
        return self.dx_macs + self.dw_macs

    @property
    def step_macs(self) -> Dim:
        return self.forward_macs + self.backward_macs

    @property
    def total_bytes(self) -> Dim:
        return self.param_bytes + self.gradient_bytes + self.optimizer_bytes + self.saved_activation_bytes


def training(report: NetworkReport, optimizer: str = "sgd") -> TrainingReport:
    key = optimizer.strip().lower()
    if key not in OPTIMIZER_STATE:
        raise InputError(f"{{field}} '{optimizer}' is not one of {', '.join(OPTIMIZER_STATE)}", field="optimizer",
                         value=optimizer, valid=", ".join(OPTIMIZER_STATE))
    rows = []
    first = True
    for row in report.leaves():
        if not is_gemm(row):
            continue
        rows.append(BackwardRow(row.name, 0 if first else row.macs, row.macs))
        first = False
    t = report.totals
    bpe = t.bytes_per_element
    saved = (t.activation_elements + product(report.input) * report.batch) * bpe
    return TrainingReport(
        key, tuple(rows), t.macs, sum((r.dx_macs for r in rows), 0), sum((r.dw_macs for r in rows), 0),
        t.params * bpe, t.trainable * bpe, OPTIMIZER_STATE[key] * t.trainable * bpe, saved,
    )
