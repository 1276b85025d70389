"""Keras's "Total params" from a walk: the parameters plus the non-trainable weights Keras keeps
and PyTorch keeps as buffers (``--as keras``; the keras.io applications table's Parameters column).

* BatchNormalization: moving_mean and moving_variance, C each (PyTorch's ``num_batches_tracked``
  has no Keras counterpart) — :func:`convcalc.interop.keras_model.moving_statistics`;
* an adapted Normalization (EfficientNet B0–B7's input layer): mean and variance, C each, and
  ``count``, one — its buffers (a Normalization given constant mean and variance has none).

Total params = parameters + both.
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.interop.keras_model import moving_statistics
from convcalc.network.walk import NetworkReport


@dataclass(frozen=True)
class KerasWeights:
    """What Keras counts beyond our parameters."""

    moving_statistics: int
    normalization: int

    @property
    def non_trainable(self) -> int:
        return self.moving_statistics + self.normalization


def keras_weights(report: NetworkReport) -> KerasWeights:
    """The batch-norm moving statistics and adapted-Normalization weights of ``report``."""
    normalization = sum(row.buffers for row in report.leaves() if row.type == "normalization")
    return KerasWeights(moving_statistics(report), normalization)


def keras_total_params(report: NetworkReport) -> int:
    """``model.summary()``'s Total params: our parameters + Keras's non-trainable weights."""
    return report.totals.params + keras_weights(report).non_trainable
