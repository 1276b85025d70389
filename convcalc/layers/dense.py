"""Fully connected layers and flattening (PyTorch ``Linear``, ``Flatten``).

Linear acts on the last dimension: params in·out + out, MACs (Π leading dims)·in·out
(bias adds reported separately). Flatten merges dims start_dim..end_dim (negative counted
from the end, as PyTorch counts them); it has no parameters and no arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.engine.dims import format_dim, product, simplify
from convcalc.engine.report import LayerReport, ParamCount, Step
from convcalc.errors import InputError
from convcalc.notation import format_shape


@dataclass(frozen=True)
class Linear:
    """``torch.nn.Linear(in_features, out_features, bias)``: y = x·Wᵀ + b on the last dimension."""

    out_features: int | None = None
    bias: bool = True

    name = "linear"

    def __post_init__(self) -> None:
        if self.out_features is None:
            raise InputError("linear needs --out (the number of output features), e.g. --in 9216 --out 4096")
        if isinstance(self.out_features, bool) or not isinstance(self.out_features, int) or self.out_features < 1:
            raise InputError(f"--out (output features) must be a whole number ≥ 1; got {self.out_features!r}")

    def analyze(self, shape, *, batch: int | None = None, explain: bool = False, bytes_per_element: int = 4) -> LayerReport:
        shape = tuple(shape)
        if not shape:
            raise InputError("linear needs an input with at least one dimension (the features), e.g. --in 9216")
        in_features = shape[-1]
        leading = shape[:-1]
        notes = []
        # Linear applies to the last dimension; every leading dimension (and the batch, when it
        # is given apart from the shape) multiplies the work, as in PyTorch.
        n = simplify(product(leading) * (batch if batch is not None else 1))
        if len(shape) >= 3:
            notes.append(
                f"linear acts on the last dimension ({format_dim(in_features)} features); to flatten "
                f"{format_shape(shape)} first, use --op flatten"
            )
        params = ParamCount(simplify(in_features * self.out_features), self.out_features if self.bias else 0)
        macs = simplify(n * in_features * self.out_features)
        other = (("bias adds", simplify(n * self.out_features)),) if self.bias else ()
        steps = []
        if explain:
            steps = [
                Step("output", "the last dimension becomes out_features", f"{format_shape(shape)} → ", format_shape(leading + (self.out_features,))),
                Step("parameters", "in·out + out", f"{format_dim(in_features)}·{self.out_features} + {params.bias}", format_dim(params.total)),
                Step("MACs", "N·in·out (bias not counted; FLOPs = 2·MACs)", f"{format_dim(n)}·{format_dim(in_features)}·{self.out_features}", format_dim(macs)),
            ]
        return LayerReport(
            op="linear", input=shape, output=leading + (self.out_features,), params=params, macs=macs,
            batch=batch if batch is not None else 1, other_ops=other, rf=None,
            hyper={"in_features": in_features, "out_features": self.out_features, "bias": self.bias},
            notes=tuple(notes), steps=tuple(steps), output_has_batch=False, bytes_per_element=bytes_per_element,
        )


@dataclass(frozen=True)
class Flatten:
    """``torch.nn.Flatten(start_dim=1, end_dim=-1)``, counted over the shape given."""

    start_dim: int = 1
    end_dim: int = -1
    start_given: bool = True

    name = "flatten"

    def _index(self, value: int, ndim: int, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{what} must be a whole number; got {value!r}")
        if not -ndim <= value < ndim:
            raise InputError(
                f"{what} {value} is out of range for a {ndim}-d input: use {-ndim} to {ndim - 1} "
                "(negative counts from the end)"
            )
        return value % ndim

    def analyze(self, shape, *, batch: int | None = None, explain: bool = False, bytes_per_element: int = 4) -> LayerReport:
        shape = tuple(shape)
        ndim = len(shape)
        start = self._index(self.start_dim, ndim, "--start-dim")
        end = self._index(self.end_dim, ndim, "--end-dim")
        if start > end:
            raise InputError(
                f"--start-dim {self.start_dim} comes after --end-dim {self.end_dim} on a {ndim}-d input "
                "(PyTorch: start_dim cannot come after end_dim)"
            )
        merged = simplify(product(shape[start:end + 1]))
        output = shape[:start] + (merged,) + shape[end + 1:]
        notes = []
        if not self.start_given and ndim > 1:
            notes.append("nn.Flatten starts at dim 1 (dim 0 is taken as the batch); use --start-dim 0 to flatten everything")
        steps = []
        if explain:
            dims = "·".join(format_dim(x) for x in shape[start:end + 1])
            steps = [Step("output", f"merge dims {start}..{end}", f"{dims}", format_shape(output))]
        return LayerReport(
            op="flatten", input=shape, output=output, params=ParamCount(), macs=0, batch=batch if batch is not None else 1,
            rf=None, hyper={"start_dim": self.start_dim, "end_dim": self.end_dim}, notes=tuple(notes), steps=tuple(steps),
            output_has_batch=False, bytes_per_element=bytes_per_element,
        )
