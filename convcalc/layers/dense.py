"""Fully connected layers and flattening (PyTorch ``Linear``, ``Flatten``).

Linear acts on the last dimension: params in·out + out, MACs (Π leading dims)·in·out
(bias adds reported separately). Flatten merges dims start_dim..end_dim (negative counted
from the end, as PyTorch counts them); it has no parameters and no arithmetic.

Forward and backward (CS231n ``affine_forward``/``affine_backward``), x batched:
Linear y = x·Wᵀ + b, dx = dy·W, dW = Σ dyᵀ·x over every leading dim, db = Σ dy.
Flatten reshapes, and its backward reshapes the gradient back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.dims import format_dim, product, simplify
from convcalc.engine.report import LayerReport, ParamCount, Step
from convcalc.errors import InputError, Note
from convcalc.layers import base
from convcalc.layers.descriptor import BIAS, LayerDescriptor, Option, out_option, register_hook
from convcalc.notation import format_shape

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward


@dataclass(frozen=True)
class Linear(base.NoBuffers):
    """``torch.nn.Linear(in_features, out_features, bias)``: y = x·Wᵀ + b on the last dimension."""

    out_features: int = None  # type: ignore[assignment]  # required: None is refused in __post_init__
    bias: bool = True

    name = "linear"

    def __post_init__(self) -> None:
        if self.out_features is None:
            raise InputError("linear needs {field} (the number of output features), "
                             "e.g. {field:in} 9216 {field:out} 4096",
                             field="out_features", value=None, valid="a whole number ≥ 1")
        if isinstance(self.out_features, bool) or not isinstance(self.out_features, int) or self.out_features < 1:
            raise InputError(f"{{field}} (output features) must be a whole number ≥ 1; got {self.out_features!r}",
                             field="out_features", value=self.out_features, valid="a whole number ≥ 1")

    def analyze(self, shape, *, batch: int | None = None, explain: bool = False,
                bytes_per_element: int = 4) -> LayerReport:
        shape = tuple(shape)
        if not shape:
            raise InputError("linear needs an input with at least one dimension (the features), "
                             "e.g. {field:input} 9216")
        in_features = shape[-1]
        leading = shape[:-1]
        notes = []
        warnings = []
        # Linear applies to the last dimension; every leading dimension (and the batch, when it
        # is given apart from the shape) multiplies the work, as in PyTorch.
        n = simplify(product(leading) * (batch if batch is not None else 1))
        if len(shape) >= 3:
            notes.append(Note(
                f"linear acts on the last dimension ({format_dim(in_features)} features); to flatten "
                f"{format_shape(shape)} first, use {{field:op}} flatten"
            ))
            # a feature map (C x H x W, N x C x H x W) into a linear layer is almost always a missing flatten
            warnings.append(f"linear on the {len(shape)}-d input {format_shape(shape)} applies to its last axis only "
                            f"({format_dim(in_features)} features, PyTorch's rule): a flatten is probably missing")
        params = ParamCount(simplify(in_features * self.out_features), self.out_features if self.bias else 0)
        macs = simplify(n * in_features * self.out_features)
        other = (("bias adds", simplify(n * self.out_features)),) if self.bias else ()
        steps = []
        if explain:
            steps = [
                Step("output", "the last dimension becomes out_features", f"{format_shape(shape)} → ",
                     format_shape(leading + (self.out_features,))),
                Step("parameters", "in·out + out", f"{format_dim(in_features)}·{self.out_features} + {params.bias}",
                     format_dim(params.total)),
                Step("MACs", "N·in·out (bias not counted; FLOPs = 2·MACs)",
                     f"{format_dim(n)}·{format_dim(in_features)}·{self.out_features}", format_dim(macs)),
            ]
        return LayerReport(
            op="linear", input=shape, output=leading + (self.out_features,), params=params, macs=macs,
            batch=batch if batch is not None else 1, other_ops=other, rf=None,
            hyper={"in_features": in_features, "out_features": self.out_features, "bias": self.bias},
            notes=tuple(notes), warnings=tuple(warnings), steps=tuple(steps), output_has_batch=False,
            bytes_per_element=bytes_per_element,
        )

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """PyTorch layouts: ``weight`` (out_features, in_features), ``bias`` (out_features,)."""
        if len(input_shape) < 1:
            raise InputError("linear needs an input with at least one dimension (the features)")
        shapes: dict[str, tuple[int, ...]] = {"weight": (self.out_features, input_shape[-1])}
        if self.bias:
            shapes["bias"] = (self.out_features,)
        return shapes

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = x·Wᵀ + b over the last dimension (every leading dimension is a batch)."""
        from convcalc.compute import Forward, blas_threads, windows
        from convcalc.compute.params import require

        p = require("linear", params, self.parameter_shapes(x.shape))
        if x.dtype.kind == "f" and x.ndim == 2:  # shared over threads as a convolution's product
            y = windows.grouped_matmul(x, p["weight"].T, 1, images=x.shape[0])
        else:
            if x.dtype.kind == "f":  # BLAS threads by the product's size and the batch
                blas_threads.for_product(x.size // x.shape[-1], x.shape[-1], self.out_features, images=x.shape[0])
            y = x @ p["weight"].T
        if self.bias:
            y = y + p["bias"]
        return Forward(y, (x, p["weight"]))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = dy·W; dW = dyᵀ·x and db = Σ dy, summed over every leading dimension."""
        from convcalc.compute import Backward, blas_threads, windows

        x, weight = cache
        dy = grad_output
        rows_dy = dy.reshape(-1, dy.shape[-1])
        if dy.dtype.kind == "f" and dy.ndim == 2:  # shared over threads as in the forward
            images = dy.shape[0]
            grads = {"weight": windows.grouped_matmul(rows_dy, x, 1, transpose_a=True, images=images)}
            grad_input = windows.grouped_matmul(dy, weight, 1, images=images)
        else:
            if dy.dtype.kind == "f":  # dW and dx: each as many multiply-adds as the forward
                blas_threads.for_product(rows_dy.shape[0], weight.shape[1], weight.shape[0], images=dy.shape[0])
            grads = {"weight": rows_dy.T @ x.reshape(-1, x.shape[-1])}
            grad_input = dy @ weight
        if self.bias:
            grads["bias"] = rows_dy.sum(axis=0)
        return Backward(grad_input, grads)


@dataclass(frozen=True)
class Flatten(base.NoParameters):
    """``torch.nn.Flatten(start_dim=1, end_dim=-1)``, counted over the shape given."""

    start_dim: int = 1
    end_dim: int = -1
    start_given: bool = True

    name = "flatten"

    def _index(self, value: int, ndim: int, field: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{{field}} must be a whole number; got {value!r}", field=field, value=value,
                             valid="a whole number")
        if not -ndim <= value < ndim:
            raise InputError(
                f"{{field}} {value} is out of range for a {ndim}-d input: use {-ndim} to {ndim - 1} "
                "(negative counts from the end)", field=field, value=value, valid=f"{-ndim} to {ndim - 1}"
            )
        return value % ndim

    def analyze(self, shape, *, batch: int | None = None, explain: bool = False,
                bytes_per_element: int = 4) -> LayerReport:
        shape = tuple(shape)
        ndim = len(shape)
        start = self._index(self.start_dim, ndim, "start_dim")
        end = self._index(self.end_dim, ndim, "end_dim")
        if start > end:
            raise InputError(
                f"{{field}} {self.start_dim} comes after {{field:end_dim}} {self.end_dim} on a {ndim}-d input "
                "(PyTorch: start_dim cannot come after end_dim)", field="start_dim", value=self.start_dim,
                valid=f"a dim at or before end_dim {self.end_dim}",
            )
        merged = simplify(product(shape[start:end + 1]))
        output = shape[:start] + (merged,) + shape[end + 1:]
        notes = []
        if not self.start_given and ndim > 1:
            notes.append(Note("nn.Flatten starts at dim 1 (dim 0 is taken as the batch); use {field:start_dim} 0 "
                              "to flatten everything"))
        steps = []
        if explain:
            dims = "·".join(format_dim(x) for x in shape[start:end + 1])
            steps = [Step("output", f"merge dims {start}..{end}", f"{dims}", format_shape(output))]
        return LayerReport(
            op="flatten", input=shape, output=output, params=ParamCount(), macs=0,
            batch=batch if batch is not None else 1,
            rf=None, hyper={"start_dim": self.start_dim, "end_dim": self.end_dim}, notes=tuple(notes),
            steps=tuple(steps),
            output_has_batch=False, bytes_per_element=bytes_per_element,
        )

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """Merge dims start_dim..end_dim of each sample.

        The dims count over the sample's shape ``x.shape[1:]``, exactly as :meth:`analyze`
        counts them over the network's (batch-free) shapes: start_dim 0 here is
        ``nn.Flatten(start_dim=1)`` on the batched tensor, start_dim d ≥ 0 is torch's d + 1,
        and negative dims are the same in both. The output is (N,) + analyze's output.
        """
        from convcalc.compute import Forward

        if x.ndim < 2:
            raise InputError("flatten needs a batched input (N, …) with at least one dimension per "
                             f"sample; got {x.ndim}-d")
        sample = self.analyze(tuple(x.shape[1:])).output
        return Forward(x.reshape((x.shape[0],) + tuple(sample)), x.shape)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = dy reshaped to the input's shape."""
        from convcalc.compute import Backward

        return Backward(grad_output.reshape(cache))


# --- descriptors ------------------------------------------------------------------------------

def _cli_linear(rank: int | None, o: dict) -> Linear:
    # None: refused by Linear with the message of a missing --out
    return Linear(out_features=o.get("out"), bias=not o.get("no-bias", False))  # type: ignore[arg-type]


def _cli_flatten(rank: int | None, o: dict) -> Flatten:
    return Flatten(start_dim=o.get("start-dim", 1), end_dim=o.get("end-dim", -1), start_given="start-dim" in o)


def _spec_flatten(start_dim: int = 0, end_dim: int = -1) -> Flatten:
    """A network's shapes leave the batch out, so a spec's start_dim 0 is PyTorch's 1."""
    return Flatten(start_dim=start_dim, end_dim=end_dim)


DESCRIPTORS = (
    LayerDescriptor(
        "linear", "fully connected layer on the last dimension", ("Linear",), build=Linear,
        options=(out_option("out_features"), BIAS), aliases=("fc", "dense"),
        chain_help="fc N | linear N [nobias]", cli="linear", cli_aliases=("fc", "dense"),
        cli_options=("out", "no-bias"), cli_build=_cli_linear, spatial=False,
        trace="linear", trace_aliases=("fc", "dense"), trace_output="O", trace_params={"weight": "W"},
        torch=("Linear",), onnx=("Gemm", "MatMul"), keras=("Dense",), work={"bias adds": "bias"},
    ),
    LayerDescriptor(
        "flatten", "merge dimensions start..end", ("Flatten",), build=_spec_flatten,
        options=(Option("start_dim", "int"), Option("end_dim", "int")), chain_help="flatten",
        cli="flatten", cli_options=("start-dim", "end-dim"), cli_build=_cli_flatten, spatial=False,
        trace="flatten", trace_output="F", torch=("Flatten",), onnx=("Flatten",), keras=("Flatten",),
    ),
)


# --- the torch.nn layer (``--verify torch``): torch is imported by the caller, handed in as ``nn``


@register_hook("torch", Linear)
def _torch_linear(layer: Linear, nn: Any, shape: tuple) -> Any:
    return nn.Linear(shape[-1], layer.out_features, bias=layer.bias)


@register_hook("torch", Flatten)
def _torch_flatten(layer: Flatten, nn: Any, shape: tuple) -> Any:
    # Our shapes leave the batch out: torch's dims are ours + 1 (negative ones are the same).
    start = layer.start_dim + 1 if layer.start_dim >= 0 else layer.start_dim
    end = layer.end_dim + 1 if layer.end_dim >= 0 else layer.end_dim
    return nn.Flatten(start, end)
