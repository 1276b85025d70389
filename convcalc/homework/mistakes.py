"""The common mistakes ``convcalc grade`` names, each a *mistaken variant* of a computation.

A variant recomputes an answer under one wrong rule, built from the engine's own pieces
(the size rules of :mod:`convcalc.engine.axis`, :func:`~convcalc.layers.analyze_layer`
with one option changed, the backprop trace with a flipped kernel, …) so that the right rule
and the wrong one differ in exactly the place the mistake is about.

``CATALOG`` lists every mistake in *priority order*: when two wrong rules give the same wrong
number, the feedback names both, the first of them in this order first (see
:func:`convcalc.homework.grade.diagnose`). A variant that gives the correct answer for a
question is dropped for that question, so a correct answer is never flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convcalc.dims import ceil_div
from convcalc.engine.axis import conv_output_size, effective_kernel, pool_output_size


@dataclass(frozen=True)
class Mistake:
    """A named wrong rule: ``says`` tells the student what they did and what the right rule is."""

    name: str
    title: str
    says: str


CATALOG: tuple[Mistake, ...] = (
    Mistake(
        "forgot-bias",
        "forgot the bias",
        "you left out the bias: each output channel (or feature) has one, so add C_out",
    ),
    Mistake(
        "added-bias", "counted a bias that is not there", "the layer has no bias (bias=False), so it has weights only"
    ),
    Mistake(
        "counted-pool-params",
        "counted pooling parameters",
        "pooling layers have no parameters (a max or average has nothing to learn)",
    ),
    Mistake("ignored-groups", "ignored the groups", "each filter of a grouped conv sees only C_in/g input channels"),
    Mistake("forgot-plus-one", "forgot the +1", "you forgot the +1: the first window sits at position 0"),
    Mistake("no-padding", "left out the padding", "you used (W − F)/S + 1 without the padding: W + 2P − F"),
    Mistake("ceil-not-floor", "used ceil instead of floor", "you used ceil; PyTorch floors"),
    Mistake(
        "floor-not-ceil",
        "used floor in ceil mode",
        "you floored; with ceil_mode=True PyTorch rounds up (keeping a last window that starts inside the input)",
    ),
    Mistake("ignored-dilation", "ignored the dilation", "you used k instead of the dilated span k_eff = d·(k − 1) + 1"),
    Mistake(
        "transposed-as-conv",
        "computed a transposed conv as a conv",
        "a transposed conv goes the other way: o = (i − 1)·s − 2p + d·(k − 1) + output_padding + 1",
    ),
    Mistake("flops-for-macs", "gave FLOPs for MACs", "you gave FLOPs (2 × MACs); the question asks for MACs"),
    Mistake(
        "ignored-stride-rf",
        "ignored the strides in the receptive field",
        "each layer adds (k_eff − 1)·jump, and the jump multiplies by every stride before it",
    ),
    Mistake("forgot-channels", "flattened without the channels", "flatten keeps every channel: C·H·W values, not H·W"),
    Mistake(
        "flipped-kernel",
        "took convolution for cross-correlation",
        "you flipped the kernel (true convolution); CNN layers (PyTorch conv2d) compute cross-correlation",
    ),
    Mistake(
        "unflipped-kernel", "did not flip the kernel in δI", "δI = pad(δJ) * flip(K): the kernel is rotated by 180°"
    ),
    Mistake(
        "tie-all",
        "sent the max-pool gradient to every tied entry",
        "you sent the gradient to every tied maximum; PyTorch routes it to the first maximum (row-major) only",
    ),
    Mistake("relu-prime-zero-one", "took ReLU′(0) = 1", "you took ReLU′(0) = 1; PyTorch uses ReLU′(0) = 0"),
    Mistake(
        "unbiased-variance",
        "used the unbiased variance",
        "you divided by M − 1 (unbiased); batch norm normalises with the biased variance Σ(x − μ)²/M",
    ),
)
MISTAKES = {m.name: m for m in CATALOG}
PRIORITY = {m.name: index for index, m in enumerate(CATALOG)}


# --- output sizes, one axis at a time (the engine's rule with one piece wrong) ---------------------


def size_without_plus_one(i: int, k: int, s: int, pl: int, pr: int, d: int = 1) -> int:
    """floor((i + pl + pr − k_eff)/s), the +1 left out."""
    return conv_output_size(i, k, s, pl, pr, d) - 1


def size_without_padding(i: int, k: int, s: int, pl: int, pr: int, d: int = 1) -> int:
    """floor((i − k_eff)/s) + 1: the padding left out."""
    return conv_output_size(i, k, s, 0, 0, d)


def size_with_ceil(i: int, k: int, s: int, pl: int, pr: int, d: int = 1) -> int:
    """ceil((i + pl + pr − k_eff)/s) + 1: rounding up where PyTorch's conv (and floor-mode pooling) floors."""
    return ceil_div(i + pl + pr - effective_kernel(k, d), s) + 1


def size_floor_in_ceil_mode(i: int, k: int, s: int, pl: int, pr: int, d: int = 1) -> int:
    """The pool size with ceil_mode forgotten: the floor rule."""
    return pool_output_size(i, k, s, pl, pr, d, ceil_mode=False)[0]


def size_without_dilation(i: int, k: int, s: int, pl: int, pr: int, d: int = 1) -> int:
    """The conv rule with the undilated kernel (k_eff = k)."""
    return conv_output_size(i, k, s, pl, pr, 1)


def transposed_size_as_conv(i: int, k: int, s: int, pl: int, pr: int, d: int = 1) -> int:
    """A transposed conv's size computed with the (forward) conv rule."""
    return conv_output_size(i, k, s, pl, pr, d)


# --- matrices ------------------------------------------------------------------------------------


def relu_grad_with_one_at_zero(x: np.ndarray, upstream: np.ndarray) -> np.ndarray:
    """δx = δR ⊙ [x ≥ 0]: ReLU′(0) taken as 1 (the right mask is [x > 0])."""
    return np.where(x >= 0, upstream, 0).astype(object)


def maxpool_grad_to_every_tie(pool_entries, upstream: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """Max-pool backward with each window's δ added to *every* entry equal to the window's
    maximum (PyTorch routes it to the first maximum in row-major order only).

    ``pool_entries`` are :class:`convcalc.calculator.pool.PoolEntry` of an unpadded pool
    (cells in input coordinates); ``upstream`` is δP (oh x ow).
    """
    grad = np.zeros(input_shape, dtype=object)
    for entry in pool_entries:
        _, row, col = entry.index
        for (_, r, c), value in entry.cells:
            if value is not None and value == entry.value:
                grad[r, c] += upstream[row, col]
    return grad
