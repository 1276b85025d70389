"""One shape convention for every layer type (``compute.LayerType``): ``analyze`` reads an
UNBATCHED shape (C x spatial; features for linear) with the batch as a keyword, while
``parameter_shapes``/``buffer_shapes`` and forward/backward take the BATCHED shape. So
``analyze(shape)`` and ``parameter_shapes((N,) + shape)`` must describe the same layer:
``BatchNorm().analyze((3, 4, 4))`` has num_features 3 and weight (3,)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.dense import Linear
from convcalc.layers.norm import BatchNorm, GroupNorm
from convcalc.layers.pool import AvgPool, MaxPool

CASES = [
    (Conv(out_channels=4, kernel_size=(3,)), (3, 8, 8)),
    (Conv(out_channels=4, kernel_size=(3,), groups=1, bias=False), (2, 5, 5)),
    (ConvTranspose(out_channels=2, kernel_size=(2,), stride=(2,)), (3, 4, 4)),
    (MaxPool(kernel_size=(2,)), (3, 4, 4)),
    (AvgPool(kernel_size=(2,)), (3, 4, 4)),
    (Linear(out_features=5), (7,)),
    (BatchNorm(), (3, 4, 4)),
    (BatchNorm(), (3, 4)),
    (GroupNorm(groups=2), (4, 3, 3)),
]


@pytest.mark.parametrize("layer, shape", CASES, ids=lambda v: type(v).__name__ if not isinstance(v, tuple) else "")
def test_analysis_and_parameters_read_the_same_channels(layer, shape):
    report = layer.analyze(shape, batch=2)
    params = layer.parameter_shapes((2,) + shape)
    buffers = layer.buffer_shapes((2,) + shape)
    assert report.params.total == sum(math.prod(s) for s in params.values())
    assert getattr(report, "buffers", 0) in (0, sum(math.prod(s) for s in buffers.values()))
    out = layer.forward(np.zeros((2,) + shape), {k: np.zeros(s) for k, s in {**params, **buffers}.items()},
                        training=False)
    assert tuple(out.output.shape[1:]) == tuple(int(d) for d in report.output[-len(shape):]) or \
        tuple(out.output.shape) == tuple(int(d) for d in report.output)


def test_batchnorm_num_features_is_the_channel_of_the_unbatched_shape():
    assert BatchNorm().analyze((3, 4, 4), batch=2).hyper["num_features"] == 3
    assert BatchNorm().parameter_shapes((2, 3, 4, 4))["weight"] == (3,)
