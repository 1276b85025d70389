"""Running layers on numbers: the contract every layer type's forward and backward keep.

Each layer type in :mod:`convcalc.layers` defines, beside its shape rule (one source of
truth per layer type; micrograd / CS231n ``out, cache = forward(...)`` style)::

    parameter_shapes(input_shape) -> dict[str, tuple[int, ...]]  # trainable, PyTorch names and layouts
    buffer_shapes(input_shape)    -> dict[str, tuple[int, ...]]  # e.g. running_mean; {} when none
    forward(x, params, *, training=True, rng=None) -> Forward
    backward(grad_output, cache)  -> Backward

``input_shape`` and ``x`` are always batched: ``(N, C, *spatial)`` for spatial layers,
``(N, ..., features)`` for linear. ``params`` maps the names of ``parameter_shapes`` and
``buffer_shapes`` to arrays. ``rng`` is a ``numpy.random.Generator`` (dropout).

Arrays are float32/float64 — the fast executor — or ``dtype=object`` holding Python ints,
Fractions, floats or other number-like objects (the exact and symbolic traces). Kernels
use only arithmetic, comparisons, ``np.where``, indexing, sums and matmul/einsum, and
:mod:`convcalc.compute.scalars` for exp/log/sqrt, so one implementation serves both.

The layer classes keep their forward/backward methods (each with its formula) and import
the array work from here when they run, so the shape rules never load NumPy:
``conv_kernels`` (im2col + matmul), ``pool_kernels`` (window scans), ``norm_kernels``
(standardising, running statistics, LRN), ``activations``, ``windows`` (pad, im2col/col2im,
window tables), ``params`` (checking inputs, parameters and gradients), ``losses``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # Forward and Backward are importable without NumPy
    import numpy as np


@dataclass(frozen=True)
class Forward:
    """A layer's output, what its backward needs, and updated buffers (batch norm's running
    statistics in training mode; empty otherwise)."""

    output: np.ndarray
    cache: Any = None
    buffers: Mapping[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Backward:
    """The gradient of the loss with respect to the layer's input and to each parameter
    (keys as in ``parameter_shapes``)."""

    grad_input: np.ndarray
    grads: Mapping[str, np.ndarray] = field(default_factory=dict)


@runtime_checkable
class LayerType(Protocol):
    """What every layer type of :mod:`convcalc.layers` provides (checked over every class by a
    test): the shape rule on ONE sample (C×spatial; features for linear) with the batch as the
    keyword ``batch`` — a fixed-rank layer refuses a batched N×C×spatial shape, which front ends
    read with :func:`convcalc.layers.base.analyze_batched` — the parameter and buffer shapes of
    a batched input, and forward/backward on batched arrays."""

    def analyze(self, shape: Any, *, batch: Any = None, explain: bool = False,
                bytes_per_element: int = 4) -> Any: ...

    def parameter_shapes(self, input_shape: Any) -> dict[str, tuple[int, ...]]: ...

    def buffer_shapes(self, input_shape: Any) -> dict[str, tuple[int, ...]]: ...

    def forward(self, x: np.ndarray, params: Mapping[str, np.ndarray] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward: ...

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward: ...
