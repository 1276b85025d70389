"""Asking a layer's forward pass which entries it reads.

Every input entry is given a distinct tag, its 1-based row-major number (as float64:
exact up to 2⁵³, and fast). A linear layer whose kernel is one-hot at tap ``u`` (1 there,
0 elsewhere) then outputs, at every output position, the tag of the entry tap ``u`` reads
there — 0 where it reads padding. This is the layer's own forward (im2col and matmul,
or col2im for a transposed convolution), so the frames inherit its geometry exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from convcalc.animation.model import Index


def tags(spatial: Index) -> np.ndarray:
    """(1, 1, *spatial) float64 array: entry t holds 1 + its row-major number."""
    count = int(np.prod(spatial))
    return np.arange(1, count + 1, dtype=np.float64).reshape((1, 1, *spatial))


def untag(value: float, spatial: Index) -> Index | None:
    """The entry a tag names; ``None`` for 0 (padding, an inserted zero)."""
    tag = round(float(value))
    if tag == 0:
        return None
    return tuple(int(v) for v in np.unravel_index(tag - 1, spatial))


def taps(kernel_size: Index) -> Iterator[Index]:
    """Kernel taps in row-major order."""
    return itertools.product(*(range(k) for k in kernel_size))


def one_hot(weight_shape: Index, tap: Index) -> np.ndarray:
    """A (C_a, C_b, *k) kernel that is 1 at ``tap`` of channel pair (0, 0) and 0 elsewhere."""
    weight = np.zeros(weight_shape, dtype=np.float64)
    weight[(0, 0, *tap)] = 1.0
    return weight


def reads(layer, spatial: Index, kernel_size: Index) -> dict[Index, np.ndarray]:
    """tap → (*o) array of the tags the layer's forward reads at that tap (0 = none)."""
    x = tags(spatial)
    weight_shape = layer.parameter_shapes(x.shape)["weight"]
    out = {}
    for tap in taps(kernel_size):
        out[tap] = layer.forward(x, {"weight": one_hot(weight_shape, tap)}).output[0, 0]
    return out
