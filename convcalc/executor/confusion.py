"""The confusion matrix of a classifier on labelled samples: ``matrix[t, p]`` counts the
samples of true class t predicted as class p (the highest score, PyTorch's argmax: the first
maximum) — rows are the truth, columns the prediction, as scikit-learn's ``confusion_matrix``
lays it out. The diagonal holds the correct answers; every row sums to that class's samples and
the whole matrix to the number of samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Confusion:
    matrix: np.ndarray             # (classes, classes) int64: [true, predicted]
    class_names: tuple[str, ...]   # one per class ("" or missing: the index)
    split: str                     # which samples: "test split", "validation split", "--input x.npz"

    @property
    def samples(self) -> int:
        return int(self.matrix.sum())

    @property
    def correct(self) -> int:
        return int(np.trace(self.matrix))

    @property
    def accuracy(self) -> float:
        return self.correct / self.samples if self.samples else 0.0

    def names(self) -> list[str]:
        return [self.class_names[c] if c < len(self.class_names) and self.class_names[c] else str(c)
                for c in range(len(self.matrix))]

    def recall(self) -> list[float | None]:
        """Per true class: the fraction of its samples predicted right (None: no samples)."""
        rows = self.matrix.sum(axis=1)
        return [float(self.matrix[c, c] / rows[c]) if rows[c] else None for c in range(len(rows))]


def confusion(predicted: Sequence[int] | np.ndarray, labels: Sequence[int] | np.ndarray, classes: int,
              class_names: Sequence[str] = (), split: str = "") -> Confusion:
    """Count (true, predicted) pairs into a ``classes`` x ``classes`` matrix."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return Confusion(matrix, tuple(class_names), split)
