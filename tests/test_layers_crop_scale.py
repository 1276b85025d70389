"""The crop layer (Keras's Cropping2D) and the constant scale (Inception-ResNet's residual
scaling): shape rules, receptive field, forward and backward against torch, bad input; the
channel slice NASNet's cells read their inputs with, and TensorFlow's SAME pooling in torch."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from convcalc.errors import InputError
from convcalc.layers.crop import Crop
from convcalc.layers.pool import AvgPool, MaxPool
from convcalc.layers.scale import ConstantScale
from convcalc.layers.tensor import Slice
from convcalc.network.spec import parse_chain
from convcalc.network.walk import walk


def test_crop_shape_and_receptive_field():
    report = Crop(cropping=((1, 0), (2, 1))).analyze((3, 7, 9))
    assert report.output == (3, 6, 6)
    assert report.params.total == 0 and report.macs == 0
    assert [(a.kernel, a.stride, a.pad) for a in report.rf] == [(1, 1, -1), (1, 1, -2)]
    assert Crop(cropping=1).analyze((2, 5, 5)).output == (2, 3, 3)


def test_crop_in_a_chain_moves_the_receptive_field_centre():
    report = walk(parse_chain("1x8x8 | pad 0:1x0:1 | crop 1:0x1:0"))
    assert report.output == (1, 8, 8)
    crop = report.leaves()[-1]
    assert crop.type == "crop2d"
    # NASNet's shifted path: output unit 0 is input unit 1 (pad then crop by one pixel)
    assert [s.start for s in crop.rf] == [1, 1]


@pytest.mark.parametrize("bad", [-1, ((1, -1), (0, 0)), "same", (True, 0), ((1, 2, 3),)])
def test_crop_refuses_bad_amounts(bad):
    with pytest.raises(InputError):
        Crop(cropping=bad)


def test_crop_that_leaves_nothing_is_refused():
    with pytest.raises(InputError, match="leaves nothing"):
        Crop(cropping=((2, 2), (0, 0))).analyze((3, 4, 4))


def test_crop_forward_and_backward_exact():
    x = np.arange(2 * 1 * 4 * 5, dtype=object).reshape(2, 1, 4, 5)
    layer = Crop(cropping=((1, 0), (1, 2)))
    fwd = layer.forward(x)
    np.testing.assert_array_equal(fwd.output, x[:, :, 1:, 1:3])
    dy = np.ones(fwd.output.shape, dtype=object)
    dx = layer.backward(dy, fwd.cache).grad_input
    assert dx.shape == x.shape and dx.sum() == dy.size and dx[:, :, 0, :].sum() == 0 and dx[:, :, :, 3:].sum() == 0


@pytest.mark.torch
def test_crop_matches_torch():
    import torch

    from convcalc.layers.descriptor import find_hook

    layer = Crop(cropping=((1, 0), (0, 2)))
    x = torch.arange(2 * 3 * 5 * 6, dtype=torch.float64).reshape(2, 3, 5, 6).requires_grad_()
    module = find_hook("torch", layer)(layer, torch.nn, (3, 5, 6))
    y = module(x)
    assert tuple(y.shape[1:]) == layer.analyze((3, 5, 6)).output
    ours = layer.forward(x.detach().numpy())
    np.testing.assert_allclose(ours.output, y.detach().numpy())
    g = torch.cos(torch.arange(y.numel(), dtype=torch.float64)).reshape(y.shape)
    y.backward(g)
    np.testing.assert_allclose(layer.backward(g.numpy(), ours.cache).grad_input, x.grad.numpy())


def test_scale_counts_one_multiply_per_element():
    report = ConstantScale(0.17).analyze((320, 35, 35), batch=2)
    assert report.output == (320, 35, 35) and report.params.total == 0 and report.macs == 0
    assert dict(report.other_ops) == {"scale mults": 2 * 320 * 35 * 35}
    assert report.hyper == {"factor": 0.17}


def test_scale_exact_and_float():
    layer = ConstantScale(0.17)
    x = np.array([[[1, 2], [3, 100]]], dtype=object).reshape(1, 1, 2, 2)
    fwd = layer.forward(x)
    assert fwd.output[0, 0, 1, 1] == 17 and fwd.output[0, 0, 0, 0] == Fraction(17, 100)
    assert layer.backward(np.ones((1, 1, 2, 2), dtype=object), fwd.cache).grad_input[0, 0, 0, 1] == Fraction(17, 100)
    xf = np.linspace(-1, 1, 8).reshape(1, 2, 2, 2)
    np.testing.assert_allclose(layer.forward(xf).output, 0.17 * xf)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, "0.1"])
def test_scale_refuses_a_factor_that_is_not_a_finite_number(bad):
    with pytest.raises(InputError):
        ConstantScale(bad)


def test_scale_in_a_chain():
    report = walk(parse_chain("8x4x4 | conv 8 k1 | scale 0.1"))
    assert report.leaves()[-1].type == "scale" and report.leaves()[-1].report.hyper["factor"] == 0.1


@pytest.mark.torch
def test_scale_matches_torch():
    import torch

    from convcalc.layers.descriptor import find_hook

    layer = ConstantScale(0.2)
    module = find_hook("torch", layer)(layer, torch.nn, (2, 3, 3))
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64)
    np.testing.assert_allclose(module(x).numpy(), layer.forward(x.numpy()).output)


def test_channel_slice_forward_and_backward():
    layer = Slice(0, 2, 5)
    assert layer.analyze((6, 3, 3)).output == (3, 3, 3)
    x = np.arange(2 * 6 * 3 * 3, dtype=object).reshape(2, 6, 3, 3)
    fwd = layer.forward(x)
    np.testing.assert_array_equal(fwd.output, x[:, 2:5])
    dx = layer.backward(np.ones((2, 3, 3, 3), dtype=object), fwd.cache).grad_input
    assert dx.shape == x.shape and dx[:, 2:5].sum() == 54 and dx[:, :2].sum() == dx[:, 5:].sum() == 0


@pytest.mark.torch
@pytest.mark.parametrize("layer", [MaxPool(kernel_size=3, stride=2, padding="tf-same"),
                                   AvgPool(kernel_size=3, stride=2, padding="tf-same", count_include_pad=False),
                                   AvgPool(kernel_size=3, stride=1, padding="tf-same", count_include_pad=False),
                                   AvgPool(kernel_size=3, stride=2, padding="tf-same", count_include_pad=True)],
                         ids=["max", "avg-real", "avg-real-s1", "avg-all"])
def test_tensorflow_same_pooling_in_torch_matches_ours(layer):
    # on an even input TensorFlow's SAME pads (0, 1) — the extra row after, which torch.nn pools
    # cannot do; the torch builder pads in front of the pool
    import torch

    from convcalc.layers.descriptor import find_hook

    shape = (2, 6, 6)
    assert layer.analyze(shape).hyper["padding"][0] in ([0, 1], [1, 1])
    module = find_hook("torch", layer)(layer, torch.nn, shape)
    x = torch.randn((1,) + shape, dtype=torch.float64) - 3  # negative: a zero-padded max would differ
    with torch.no_grad():
        ours = layer.forward(x.numpy()).output
        np.testing.assert_allclose(module(x).numpy(), ours)
