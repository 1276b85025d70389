"""Normalisation layers: batch norm, layer norm over channels, group norm, LRN.

BatchNorm (PyTorch ``BatchNorm{1,2,3}d``): 2C learnable (γ, β) when affine; the running
mean and variance (C each) and ``num_batches_tracked`` (1) are buffers, not parameters.
GroupNorm and channel LayerNorm: 2C. LRN: none. Shape unchanged; no MACs; inference
batch norm costs 2 operations per element (a multiply and an add), reported as other work.
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.engine.dims import product
from convcalc.engine.report import LayerReport, ParamCount
from convcalc.errors import InputError


def _channels(shape, op: str):
    if len(shape) < 1:
        raise InputError(f"{op} needs a channel dimension")
    return shape[0] if len(shape) > 1 else shape[0]


@dataclass(frozen=True)
class BatchNorm:
    """``nn.BatchNorm{1,2,3}d(C)``; the input is (C, *spatial) — the batch is separate."""

    affine: bool = True
    track_running_stats: bool = True
    eps: float = 1e-5
    momentum: float = 0.1

    name = "batchnorm"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        c = _channels(shape, "batchnorm")
        n = batch or 1
        return LayerReport(
            op="batchnorm", input=shape, output=shape, params=ParamCount(c if self.affine else 0, c if self.affine else 0),
            macs=0, batch=n, other_ops=(("norm ops", 2 * n * product(shape)),), rf=None,
            hyper={"num_features": c, "eps": self.eps, "momentum": self.momentum, "affine": self.affine},
            buffers=2 * c + 1 if self.track_running_stats else 0, bytes_per_element=bytes_per_element,
        )


@dataclass(frozen=True)
class GroupNorm:
    groups: int = 32
    affine: bool = True

    name = "groupnorm"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        c = _channels(shape, "groupnorm")
        if isinstance(c, int) and c % self.groups:
            raise InputError(f"groupnorm: {self.groups} groups must divide the {c} channels")
        n = batch or 1
        return LayerReport(op="groupnorm", input=shape, output=shape,
                           params=ParamCount(c if self.affine else 0, c if self.affine else 0), macs=0, batch=n,
                           other_ops=(("norm ops", 2 * n * product(shape)),), hyper={"groups": self.groups},
                           bytes_per_element=bytes_per_element)


@dataclass(frozen=True)
class LayerNorm:
    """Layer norm over the channel dimension (ConvNeXt's ``LayerNorm2d``) or over the last
    ``dims`` dimensions (``nn.LayerNorm(normalized_shape)``): 2·Π(normalized shape) parameters."""

    dims: int = 1
    channels_first: bool = True

    name = "layernorm"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        normalized = (shape[0],) if self.channels_first else shape[-self.dims:]
        size = product(normalized)
        n = batch or 1
        return LayerReport(op="layernorm", input=shape, output=shape, params=ParamCount(size, size), macs=0, batch=n,
                           other_ops=(("norm ops", 2 * n * product(shape)),), hyper={"normalized_shape": list(normalized)},
                           bytes_per_element=bytes_per_element)


@dataclass(frozen=True)
class LocalResponseNorm:
    """``nn.LocalResponseNorm(size)`` (AlexNet): no parameters."""

    size: int = 5
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 2.0

    name = "lrn"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        n = batch or 1
        return LayerReport(op="lrn", input=shape, output=shape, params=ParamCount(), macs=0, batch=n,
                           other_ops=(("norm ops", n * self.size * product(shape)),), hyper={"size": self.size},
                           bytes_per_element=bytes_per_element)
