"""What the engine returns about one layer: plain, frozen data for every renderer."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from convcalc.dims import Dim, product
from convcalc.engine.support import AxisSupport, window


@dataclass(frozen=True)
class ParamCount:
    """Learnable parameters: weight and bias elements."""

    weight: Dim = 0
    bias: Dim = 0

    @property
    def total(self) -> Dim:
        return self.weight + self.bias

    def __add__(self, other: ParamCount) -> ParamCount:
        return ParamCount(self.weight + other.weight, self.bias + other.bias)


@dataclass(frozen=True)
class AxisRF:
    """One layer's receptive-field contribution along one axis (Dang Ha The Hien / Distill).

    ``kernel`` is the effective kernel k_eff, ``stride`` the jump factor (a Fraction 1/s for a
    transposed convolution), ``pad`` the left (before) padding. ``taps``, where given, says exactly
    which input positions each output unit reads (dilation holes, transposed convolutions'
    per-unit variation); without it a unit reads the contiguous window of ``kernel`` positions.
    """

    kernel: Dim
    stride: Dim | Fraction
    pad: Dim
    taps: AxisSupport | None = None

    def support(self) -> AxisSupport | None:
        """The exact per-unit support, or None when it is not known (symbolic sizes)."""
        if self.taps is not None:
            return self.taps
        return window(self.kernel, self.stride, self.pad)


@dataclass(frozen=True)
class Step:
    """One line of an explanation: the rule, the numbers substituted, the result."""

    title: str
    formula: str = ""
    substituted: str = ""
    result: str = ""
    axis: str = ""  # the spatial axis (or axes, "H, W") the step is about

    @property
    def heading(self) -> str:
        return f"{self.title} {self.axis}" if self.axis else self.title


def merge_axis_steps(steps: list[Step]) -> list[Step]:
    """Steps identical but for their axis become one ("output H, W")."""
    merged: list[Step] = []
    for step in steps:
        for index, seen in enumerate(merged):
            if seen.axis and step.axis and (seen.title, seen.formula, seen.substituted, seen.result) == (
                step.title, step.formula, step.substituted, step.result
            ):
                merged[index] = Step(seen.title, seen.formula, seen.substituted, seen.result,
                                     f"{seen.axis}, {step.axis}")
                break
        else:
            merged.append(step)
    return merged


@dataclass(frozen=True)
class LayerReport:
    """Everything convcalc knows about one layer applied to one input shape.

    ``macs`` are the multiply-accumulates of the layer's GEMM work (bias excluded);
    FLOPs = 2 × MACs. ``other_ops`` lists the remaining work (bias adds, pooling
    comparisons, divisions, …) separately, as ``(name, count)`` pairs.
    """

    op: str
    input: tuple[Dim, ...]
    output: tuple[Dim, ...]
    params: ParamCount | None
    macs: Dim | None
    batch: Dim = 1
    other_ops: tuple[tuple[str, Dim], ...] = ()
    rf: tuple[AxisRF, ...] | None = None
    hyper: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    parts: tuple[LayerReport, ...] = ()
    comparison: dict[str, Any] = field(default_factory=dict)
    output_has_batch: bool = False
    bytes_per_element: int = 4
    buffers: Dim = 0  # non-learnable state (batch-norm running statistics)
    # every output reads every input position (global attention): the walk's receptive field becomes the whole input
    reads_whole_input: bool = False

    @property
    def flops(self) -> Dim | None:
        return None if self.macs is None else 2 * self.macs

    @property
    def activation_elements(self) -> Dim:
        """Elements of the output activation for the whole batch."""
        count = product(self.output)
        return count if self.output_has_batch else count * self.batch

    @property
    def activation_bytes(self) -> Dim:
        return self.activation_elements * self.bytes_per_element
