"""Forward and backward of the non-windowed layer types, the element-wise math and the losses.

* PyTorch autograd (float64, 1e-9) for every forward, input gradient, parameter gradient
  and updated buffer, on seeded random shapes and options;
* central finite differences for every backward (torch-free);
* exact arithmetic on ints/Fractions wherever the math is rational, checked against the
  formula written out with Fractions; float32 stays float32;
* batch norm's running statistics against torch over several steps, eval mode, and the
  unbiased-variance option against its hand formula.
"""

from __future__ import annotations

import math
import zlib
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.compute import losses, scalars
from convcalc.compute.activations import RULES
from convcalc.compute.numbers import to_array
from convcalc.errors import InputError
from convcalc.layers.channels import ChannelChunk, LayerScale
from convcalc.layers.dense import Flatten, Linear
from convcalc.layers.elementwise import ACTIVATIONS, Activation, Dropout, Identity, PReLU
from convcalc.layers.norm import BatchNorm, GroupNorm, LayerNorm, LocalResponseNorm
from convcalc.layers.resample import ChannelShuffle, ShortcutA, Upsample
from convcalc.layers.separable import DepthwiseSeparable

TOL = {"rtol": 1e-9, "atol": 1e-9}
KINKS = (0.0, 3.0, -3.0, 6.0, 20.0)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def rng_for(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def away_from_kinks(x: np.ndarray) -> np.ndarray:
    """Move entries off the activations' kinks so finite differences see one smooth piece."""
    x = x.copy()
    for kink in KINKS:
        near = np.abs(x - kink) < 1e-2
        x[near] = kink + 0.05
    return x


def random_params(layer, shape, rng, dtype=np.float64) -> dict[str, np.ndarray]:
    params = {k: rng.normal(size=v).astype(dtype) for k, v in layer.parameter_shapes(shape).items()}
    for k, v in layer.buffer_shapes(shape).items():
        if k == "running_var":
            params[k] = rng.uniform(0.5, 2, size=v).astype(dtype)
        elif k == "running_mean":
            params[k] = rng.normal(size=v).astype(dtype)
        else:
            params[k] = np.array(3, dtype=np.int64)
    return params


# --------------------------------------------------------------------------------------------
# torch helpers
# --------------------------------------------------------------------------------------------


def torch_run(torch, module, x, params, dy, training=True):
    """Output, input gradient, parameter gradients and buffers of a torch module in float64."""
    module = module.double().train(training)
    with torch.no_grad():
        for name, value in params.items():
            target = dict(module.named_parameters()).get(name)
            if target is None:
                target = dict(module.named_buffers())[name]
            target.copy_(torch.as_tensor(np.asarray(value)))
    t = torch.tensor(x, requires_grad=True)
    y = module(t)
    y.backward(torch.tensor(dy))
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    buffers = {name: b.numpy().copy() for name, b in module.named_buffers()}
    return y.detach().numpy(), t.grad.numpy(), grads, buffers


def check_against_torch(torch, layer, module, x, params=None, training=True, rng=None):
    rng = rng or np.random.default_rng(0)
    params = params if params is not None else random_params(layer, x.shape, rng)
    forward = layer.forward(x, params, training=training)
    dy = rng.normal(size=forward.output.shape)
    backward = layer.backward(dy, forward.cache)
    y, dx, grads, buffers = torch_run(torch, module, x, params, dy, training)
    np.testing.assert_allclose(forward.output, y, **TOL)
    np.testing.assert_allclose(backward.grad_input, dx, **TOL)
    assert set(backward.grads) == set(grads)
    for name, grad in grads.items():
        np.testing.assert_allclose(backward.grads[name], grad, **TOL, err_msg=name)
    for name, value in forward.buffers.items():
        np.testing.assert_allclose(np.asarray(value, dtype=np.float64), buffers[name], **TOL, err_msg=name)
    return forward, backward


def module_of(torch, fn):
    class Fn(torch.nn.Module):
        def forward(self, x):
            return fn(x)

    return Fn()


def torch_activation(torch, kind):
    F = torch.nn.functional
    return {
        "relu": F.relu, "relu6": F.relu6, "leaky_relu": F.leaky_relu, "elu": F.elu, "gelu": F.gelu,
        "sigmoid": torch.sigmoid, "tanh": torch.tanh, "silu": F.silu, "hardswish": F.hardswish,
        "hardsigmoid": F.hardsigmoid, "softmax": lambda v: torch.softmax(v, 1),
        "log_softmax": lambda v: torch.log_softmax(v, 1), "mish": F.mish, "softplus": F.softplus,
    }[kind]


# --------------------------------------------------------------------------------------------
# finite differences
# --------------------------------------------------------------------------------------------


def numeric_gradient(f, array, eps=1e-6):
    grad = np.zeros_like(array, dtype=np.float64)
    for index in np.ndindex(array.shape):
        old = array[index]
        array[index] = old + eps
        plus = f()
        array[index] = old - eps
        minus = f()
        array[index] = old
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def check_finite_differences(layer, x, params=None, training=True, seed=0):
    rng = np.random.default_rng(seed)
    params = params if params is not None else random_params(layer, x.shape, rng)
    forward = layer.forward(x, params, training=training, rng=np.random.default_rng(seed))
    dy = rng.normal(size=forward.output.shape)
    backward = layer.backward(dy, forward.cache)

    def loss():
        out = layer.forward(x, params, training=training, rng=np.random.default_rng(seed)).output
        return float(np.sum(out * dy))

    np.testing.assert_allclose(backward.grad_input, numeric_gradient(loss, x), rtol=1e-5, atol=1e-7)
    for name, grad in backward.grads.items():
        np.testing.assert_allclose(grad, numeric_gradient(loss, params[name]), rtol=1e-5, atol=1e-7, err_msg=name)


# --------------------------------------------------------------------------------------------
# every layer type, on one table
# --------------------------------------------------------------------------------------------

# (label, layer, input shape)
LAYERS = [
    *[(f"act-{kind}", Activation(kind), (2, 3, 2, 2)) for kind in ACTIVATIONS],
    ("leaky-0.2", Activation("leaky_relu", negative_slope=0.2), (2, 3, 4)),
    ("prelu-shared", PReLU(1), (2, 3, 2, 2)),
    ("prelu-channels", PReLU(3), (2, 3, 2, 2)),
    ("identity", Identity(), (2, 3, 2)),
    ("dropout", Dropout(0.3), (3, 4, 2)),
    ("dropout2d", Dropout(0.5, "dropout2d"), (3, 4, 2, 2)),
    ("linear", Linear(3), (2, 5)),
    ("linear-3d", Linear(2, bias=False), (2, 3, 4)),
    ("flatten", Flatten(start_dim=0), (2, 3, 2, 2)),
    ("flatten-mid", Flatten(start_dim=1, end_dim=2), (2, 3, 2, 2, 2)),
    ("batchnorm1d", BatchNorm(), (4, 3)),
    ("batchnorm2d", BatchNorm(), (2, 3, 2, 2)),
    ("batchnorm3d", BatchNorm(momentum=None), (2, 2, 2, 2, 2)),
    ("batchnorm-unbiased", BatchNorm(variance="unbiased"), (2, 3, 2, 2)),
    ("batchnorm-plain", BatchNorm(affine=False, track_running_stats=False), (3, 2, 3)),
    ("groupnorm", GroupNorm(groups=2), (2, 4, 2, 2)),
    ("layernorm2d", LayerNorm(), (2, 3, 2, 2)),
    ("layernorm-last2", LayerNorm(dims=2, channels_first=False), (2, 3, 2, 3)),
    ("lrn", LocalResponseNorm(size=3, alpha=0.5, beta=0.75, k=1.0), (2, 5, 2, 2)),
    ("lrn-even", LocalResponseNorm(size=4, alpha=0.3, beta=0.6, k=1.5), (2, 5, 3)),
    ("upsample-nearest", Upsample(2), (1, 2, 2, 3)),
    ("upsample-bilinear", Upsample(3, "bilinear"), (1, 2, 2, 3)),
    ("upsample-linear", Upsample(2, "linear"), (2, 2, 4)),
    ("upsample-trilinear", Upsample(2, "trilinear"), (1, 1, 2, 2, 3)),
    ("upsample-bicubic", Upsample(2, "bicubic"), (1, 2, 3, 3)),
    ("shuffle", ChannelShuffle(3), (2, 6, 2)),
    ("shortcut-a", ShortcutA(out_channels=5, stride=2), (2, 2, 3, 4)),
    ("chunk", ChannelChunk(chunks=3, index=1), (2, 6, 2)),
    ("layer-scale", LayerScale(), (2, 3, 2, 2)),
]


@pytest.mark.parametrize("label,layer,shape", LAYERS, ids=[case[0] for case in LAYERS])
def test_finite_differences(label, layer, shape):
    rng = rng_for("fd", label)
    x = away_from_kinks(rng.uniform(-4, 4, size=shape))
    if label == "act-softplus":
        x = x * 6  # both sides of the threshold 20 … within one smooth piece each
        x[np.abs(x - 20) < 0.5] = 21
    check_finite_differences(layer, x, training=True)
    if isinstance(layer, (BatchNorm, Dropout)):
        check_finite_differences(layer, x, training=False)


@pytest.mark.parametrize("label,layer,shape", LAYERS, ids=[case[0] for case in LAYERS])
def test_float32_stays_float32(label, layer, shape):
    rng = rng_for("f32", label)
    x = rng.normal(size=shape).astype(np.float32)
    params = random_params(layer, shape, rng, np.float32)
    forward = layer.forward(x, params, training=True, rng=rng)
    backward = layer.backward(np.ones_like(forward.output), forward.cache)
    assert forward.output.dtype == np.float32
    assert backward.grad_input.dtype == np.float32
    assert all(g.dtype == np.float32 for g in backward.grads.values())
    assert all(v.dtype == np.float32 for k, v in forward.buffers.items() if k != "num_batches_tracked")
    assert set(backward.grads) == set(layer.parameter_shapes(shape))
    assert all(backward.grads[k].shape == v for k, v in layer.parameter_shapes(shape).items())
    assert backward.grad_input.shape == shape


@pytest.mark.parametrize("label,layer,shape", LAYERS, ids=[case[0] for case in LAYERS])
def test_output_shape_is_the_shape_rule(label, layer, shape):
    """forward's output is (N,) + analyze's output for one sample: one source of truth."""
    rng = rng_for("shape", label)
    x = rng.normal(size=shape)
    out = layer.forward(x, random_params(layer, shape, rng), training=True, rng=rng).output
    assert out.shape == (shape[0],) + tuple(layer.analyze(shape[1:]).output)


# --------------------------------------------------------------------------------------------
# torch cross-checks
# --------------------------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("kind", ACTIVATIONS)
def test_activation_matches_torch(torch, kind):
    rng = rng_for("act", kind)
    x = rng.normal(size=(3, 4, 3)) * 4
    x.flat[:len(KINKS)] = KINKS  # PyTorch's conventions exactly at the kinks
    x.flat[len(KINKS):len(KINKS) + 3] = (-25.0, 25.0, -1e-3)
    layer = Activation(kind)
    forward = layer.forward(x, {})
    dy = rng.normal(size=x.shape)
    dx = layer.backward(dy, forward.cache).grad_input
    y, dx_torch, _, _ = torch_run(torch, module_of(torch, torch_activation(torch, kind)), x, {}, dy)
    np.testing.assert_allclose(forward.output, y, **TOL)
    if kind == "hardsigmoid":
        # ATen's float64 hardsigmoid_backward multiplies by the float32 constant 1.0f/6.0f
        # (0.16666667163…), a relative error of 3e-8; ours is exactly dy/6.
        np.testing.assert_allclose(dx, dx_torch, rtol=1e-7, atol=1e-9)
        inside = (x > -3) & (x < 3)
        np.testing.assert_allclose(dx[inside], dy[inside] / 6, rtol=1e-15)
        assert np.all(dx[~inside] == 0)
    else:
        np.testing.assert_allclose(dx, dx_torch, **TOL)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_of_nan_and_infinities_matches_torch(torch, dtype):
    """relu(NaN) is NaN and its gradient passes (ATen zeroes the gradient where the output is
    ≤ 0, and NaN ≤ 0 is false); ±∞ clamp as any number."""
    x = np.array([[np.nan, -1.0, 2.0, np.inf, -np.inf, 0.0, -0.0]], dtype=dtype)
    layer = Activation("relu")
    forward = layer.forward(x, {})
    dy = np.full(x.shape, 3.0, dtype=dtype)
    y, dx, _, _ = torch_run(torch, module_of(torch, torch.relu), x, {}, dy)
    np.testing.assert_array_equal(forward.output, y)
    assert not np.signbit(forward.output[0, 6])  # relu(−0) is 0
    np.testing.assert_array_equal(layer.backward(dy, forward.cache).grad_input, dx)


@pytest.mark.torch
def test_leaky_relu_slope_and_kink_match_torch(torch):
    x = np.array([[-2.0, 0.0, 0.0, 3.0]])
    layer = Activation("leaky_relu", negative_slope=0.2)
    fn = module_of(torch, lambda v: torch.nn.functional.leaky_relu(v, 0.2))
    forward = layer.forward(x, {})
    dy = np.array([[1.0, 1.0, -2.0, 1.0]])
    y, dx, _, _ = torch_run(torch, fn, x, {}, dy)
    np.testing.assert_allclose(forward.output, y, **TOL)
    np.testing.assert_allclose(layer.backward(dy, forward.cache).grad_input, dx, **TOL)
    assert layer.backward(dy, forward.cache).grad_input[0, 1] == pytest.approx(0.2)  # the slope at 0


def _torch_module(torch, label, layer, shape):
    nn = torch.nn
    from convcalc.layers.descriptor import find_hook

    c = shape[1]
    if isinstance(layer, PReLU):
        return nn.PReLU(layer.num_parameters)
    if isinstance(layer, Linear):
        return nn.Linear(shape[-1], layer.out_features, bias=layer.bias)
    if isinstance(layer, Flatten):
        # our dims count per sample: d ≥ 0 is torch's d + 1
        return nn.Flatten(*(d + 1 if d >= 0 else d for d in (layer.start_dim, layer.end_dim)))
    if isinstance(layer, BatchNorm):
        cls = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}[len(shape)]
        return cls(c, eps=layer.eps, momentum=layer.momentum, affine=layer.affine,
                   track_running_stats=layer.track_running_stats)
    if isinstance(layer, GroupNorm):
        return nn.GroupNorm(layer.groups, c, eps=layer.eps, affine=layer.affine)
    if isinstance(layer, LayerNorm):
        if layer.channels_first:
            return find_hook("torch", layer)(layer, nn, tuple(shape[1:]))  # the layer module's own torch form
        return nn.LayerNorm(shape[-layer.dims:], eps=layer.eps)
    if isinstance(layer, LocalResponseNorm):
        return nn.LocalResponseNorm(layer.size, layer.alpha, layer.beta, layer.k)
    if isinstance(layer, Upsample):
        return nn.Upsample(scale_factor=layer.scale, mode=layer.mode)
    if isinstance(layer, ChannelShuffle):
        return nn.ChannelShuffle(layer.groups)
    if isinstance(layer, ShortcutA):
        return find_hook("torch", layer)(layer, nn, tuple(shape[1:]))  # the layer module's own torch form
    if isinstance(layer, ChannelChunk):
        return find_hook("torch", layer)(layer, nn, tuple(shape[1:]))  # the layer module's own torch form
    if isinstance(layer, LayerScale):
        return find_hook("torch", layer)(layer, nn, tuple(shape[1:]))  # the layer module's own torch form
    if isinstance(layer, Identity):
        return nn.Identity()
    raise AssertionError(label)


TORCH_LAYERS = [case for case in LAYERS
                if not case[0].startswith(("act-", "leaky", "dropout", "batchnorm-unbiased"))]


@pytest.mark.torch
@pytest.mark.parametrize("label,layer,shape", TORCH_LAYERS, ids=[case[0] for case in TORCH_LAYERS])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_layer_matches_torch(torch, label, layer, shape, training):
    rng = rng_for("torch", label, training)
    x = rng.normal(size=shape) * 2
    check_against_torch(torch, layer, _torch_module(torch, label, layer, shape), x, training=training, rng=rng)


@pytest.mark.torch
@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_random_norm_and_linear_layers_match_torch(seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    n, groups, per_group = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    c = groups * per_group
    spatial = tuple(int(s) for s in rng.integers(1, 4, size=int(rng.integers(0, 3))))
    shape = (n, c) + spatial
    eps = float(rng.choice([1e-5, 1e-3, 0.1]))
    cases = [
        ("layernorm", LayerNorm(eps=eps)),
        ("linear", Linear(int(rng.integers(1, 5)), bias=bool(rng.integers(0, 2)))),
        ("prelu", PReLU(int(rng.choice([1, c])))),
    ]
    if len(shape) > 2:
        cases.append(("shuffle", ChannelShuffle(groups)))  # torch's needs a spatial axis
        cases.append(("layernorm-last",
                      LayerNorm(dims=int(rng.integers(1, len(shape))), channels_first=False, eps=eps)))
        cases.append(("lrn", LocalResponseNorm(size=int(rng.integers(1, 6)), alpha=float(rng.uniform(0.1, 1)),
                                               beta=float(rng.uniform(0.5, 1)), k=float(rng.uniform(1, 2)))))
    if n * per_group * math.prod(spatial) > 1:  # torch's group norm refuses one value per "channel" here
        cases.append(("groupnorm", GroupNorm(groups=groups, eps=eps)))
    if n * math.prod(spatial) > 1:
        cases.append(("batchnorm", BatchNorm(eps=eps, momentum=float(rng.uniform(0.05, 0.5)))))
    x = rng.normal(size=shape) * 3
    for label, layer in cases:
        check_against_torch(torch, layer, _torch_module(torch, label, layer, shape), x, rng=rng)


@pytest.mark.torch
def test_depthwise_separable_matches_torch(torch):
    nn = torch.nn
    for seed, (rank, c_in, c_out, k, stride, pad, mult, bias) in enumerate(
        [(2, 3, 5, 3, 2, 1, 1, True), (2, 2, 4, 2, 1, 0, 2, False), (1, 3, 3, 3, 1, 1, 1, True)]
    ):
        layer = DepthwiseSeparable(rank=rank, out_channels=c_out, kernel_size=(k,) * rank, stride=(stride,) * rank,
                                   padding=pad, bias=bias, multiplier=mult)
        conv = getattr(nn, f"Conv{rank}d")
        module = nn.Sequential()
        module.add_module("depthwise", conv(c_in, c_in * mult, k, stride=stride, padding=pad, groups=c_in, bias=bias))
        module.add_module("pointwise", conv(c_in * mult, c_out, 1, bias=bias))
        x = np.random.default_rng(seed).normal(size=(2, c_in) + (6,) * rank)
        check_against_torch(torch, layer, module, x, rng=np.random.default_rng(seed))


@pytest.mark.torch
def test_dropout_matches_torch_given_the_mask(torch):
    """Training: y = x·mask/(1−p) with the layer's own mask; eval: the identity, as nn.Dropout."""
    x = np.random.default_rng(3).normal(size=(4, 3, 5))
    for layer in (Dropout(0.25), Dropout(0.5, "dropout2d")):
        forward = layer.forward(x, {}, training=True, rng=np.random.default_rng(7))
        mask = forward.cache
        dy = np.random.default_rng(8).normal(size=x.shape)
        y, dx, _, _ = torch_run(torch, module_of(torch, lambda v, mask=mask: v * torch.tensor(mask)), x, {}, dy)
        np.testing.assert_allclose(forward.output, y, **TOL)
        np.testing.assert_allclose(layer.backward(dy, forward.cache).grad_input, dx, **TOL)
        assert set(np.unique(mask)) <= {0.0, 1 / (1 - layer.p)}
        y_eval, _, _, _ = torch_run(torch, torch.nn.Dropout(layer.p), x, {}, dy, training=False)
        np.testing.assert_array_equal(layer.forward(x, {}, training=False).output, y_eval)


# --------------------------------------------------------------------------------------------
# batch norm: running statistics, eval mode, the unbiased option, refusals
# --------------------------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batchnorm_running_stats_follow_torch_over_steps(torch, momentum):
    rng = np.random.default_rng(11)
    layer = BatchNorm(momentum=momentum)
    module = torch.nn.BatchNorm2d(3, momentum=momentum).double()
    params = random_params(layer, (4, 3, 2, 2), rng)
    params.update(running_mean=np.zeros(3), running_var=np.ones(3), num_batches_tracked=np.array(0))
    with torch.no_grad():
        module.weight.copy_(torch.tensor(params["weight"]))
        module.bias.copy_(torch.tensor(params["bias"]))
    for step in range(5):
        x = rng.normal(loc=step, scale=1 + step, size=(4, 3, 2, 2))
        forward = layer.forward(x, params, training=True)
        module.train()
        y = module(torch.tensor(x))
        np.testing.assert_allclose(forward.output, y.detach().numpy(), **TOL)
        params.update(forward.buffers)
        np.testing.assert_allclose(params["running_mean"], module.running_mean.numpy(), **TOL)
        np.testing.assert_allclose(params["running_var"], module.running_var.numpy(), **TOL)
        assert int(params["num_batches_tracked"]) == int(module.num_batches_tracked) == step + 1
    x = rng.normal(size=(2, 3, 2, 2))
    evaluated = layer.forward(x, params, training=False)
    module.eval()
    np.testing.assert_allclose(evaluated.output, module(torch.tensor(x)).detach().numpy(), **TOL)
    assert evaluated.buffers == {}


def test_batchnorm_unbiased_option_by_hand():
    """variance="unbiased" normalises with Σ(x−μ)²/(M−1); running_var is updated as in PyTorch."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 2, 2, 2))
    gamma, beta = np.array([1.5, -0.5]), np.array([0.25, 2.0])
    layer = BatchNorm(variance="unbiased", eps=1e-3, momentum=0.2)
    forward = layer.forward(x, {"weight": gamma, "bias": beta}, training=True)
    for c in range(2):
        values = x[:, c].ravel()
        m = values.size
        mean = sum(values) / m
        unbiased = sum((v - mean) ** 2 for v in values) / (m - 1)
        expected = gamma[c] * (x[:, c] - mean) / math.sqrt(unbiased + 1e-3) + beta[c]
        np.testing.assert_allclose(forward.output[:, c], expected, rtol=1e-12)
        assert forward.buffers["running_mean"][c] == pytest.approx(0.8 * 0 + 0.2 * mean, rel=1e-12)
        assert forward.buffers["running_var"][c] == pytest.approx(0.8 * 1 + 0.2 * unbiased, rel=1e-12)
    biased = BatchNorm(eps=1e-3, momentum=0.2).forward(x, {"weight": gamma, "bias": beta}, training=True)
    assert not np.allclose(biased.output, forward.output)
    np.testing.assert_allclose(biased.buffers["running_var"], forward.buffers["running_var"], rtol=1e-15)
    check_finite_differences(layer, x, {"weight": gamma, "bias": beta})


@pytest.mark.torch
def test_batchnorm_refuses_one_value_per_channel_like_torch(torch):
    x = np.ones((1, 3))
    with pytest.raises(ValueError):
        torch.nn.BatchNorm1d(3).double()(torch.tensor(x))
    with pytest.raises(InputError, match="more than one value per channel"):
        BatchNorm().forward(x, {"weight": np.ones(3), "bias": np.zeros(3)}, training=True)
    # eval mode uses the running statistics: fine for one value, as in torch
    out = BatchNorm().forward(x, {"weight": np.ones(3), "bias": np.zeros(3)}, training=False).output
    np.testing.assert_allclose(out, torch.nn.BatchNorm1d(3).double().eval()(torch.tensor(x)).detach().numpy(), **TOL)


def test_batchnorm_refuses_a_bad_variance_name():
    with pytest.raises(InputError, match="unbiased"):
        BatchNorm(variance="sample")


# --------------------------------------------------------------------------------------------
# exact arithmetic
# --------------------------------------------------------------------------------------------


def exact(values) -> np.ndarray:
    return to_array(values, "test")


def all_exact(array: np.ndarray) -> bool:
    return array.dtype == object and all(isinstance(v, (int, Fraction)) for v in array.flat)


def test_piecewise_linear_activations_stay_exact():
    x = exact([[-7, "-3", "-1/2", 0, "5/2", 3, 6, 8]])
    cases = {
        "relu": lambda v: max(v, 0),
        "relu6": lambda v: min(max(v, 0), 6),
        "leaky_relu": lambda v: v if v > 0 else Fraction(1, 100) * v,
        "hardswish": lambda v: v * min(max(v + 3, 0), 6) / Fraction(6),
        "hardsigmoid": lambda v: Fraction(min(max(v + 3, 0), 6), 6),
    }
    grads = {
        "relu": lambda v: int(v > 0),
        "relu6": lambda v: int(0 < v < 6),
        "leaky_relu": lambda v: 1 if v > 0 else Fraction(1, 100),
        "hardswish": lambda v: 0 if v <= -3 else (v / Fraction(3) + Fraction(1, 2) if v < 3 else 1),
        "hardsigmoid": lambda v: Fraction(1, 6) if -3 < v < 3 else 0,
    }
    dy = exact([[1, 2, 3, 4, 5, 6, 7, "1/3"]])
    for kind, formula in cases.items():
        layer = Activation(kind)
        forward = layer.forward(x, {})
        dx = layer.backward(dy, forward.cache).grad_input
        assert all_exact(forward.output) and all_exact(dx), kind
        assert list(forward.output.flat) == [formula(v) for v in x.flat], kind
        assert list(dx.flat) == [d * grads[kind](v) for v, d in zip(x.flat, dy.flat)], kind


def test_smooth_activations_give_floats_on_exact_input():
    x = exact([[-2, "1/2", 0, 3]])
    for kind in ("sigmoid", "tanh", "gelu", "elu", "silu", "softplus", "mish", "softmax", "log_softmax"):
        forward = Activation(kind).forward(x, {})
        assert forward.output.dtype == object
        reference = Activation(kind).forward(x.astype(np.float64), {})
        np.testing.assert_allclose(forward.output.astype(np.float64), reference.output, rtol=1e-15, atol=1e-15)


def test_linear_is_exact():
    x = exact([["1/2", -1, 3], [2, 0, "-2/3"]])
    w = exact([[1, 2, "1/4"], [-3, "1/3", 1]])
    b = exact(["1/5", -1])
    layer = Linear(2)
    forward = layer.forward(x, {"weight": w, "bias": b})
    dy = exact([[1, "-1/2"], [3, 2]])
    back = layer.backward(dy, forward.cache)
    for arr in (forward.output, back.grad_input, back.grads["weight"], back.grads["bias"]):
        assert all_exact(arr)
    for n in range(2):
        for o in range(2):
            assert forward.output[n, o] == sum(x[n, i] * w[o, i] for i in range(3)) + b[o]
        for i in range(3):
            assert back.grad_input[n, i] == sum(dy[n, o] * w[o, i] for o in range(2))
    for o in range(2):
        assert back.grads["bias"][o] == dy[0, o] + dy[1, o]
        for i in range(3):
            assert back.grads["weight"][o, i] == sum(dy[n, o] * x[n, i] for n in range(2))


def test_moving_layers_are_exact():
    rng = np.random.default_rng(2)
    x = exact([[[Fraction(int(v), 3) for v in row] for row in rng.integers(-9, 9, size=(6, 4))] for _ in range(2)])
    for layer in (Flatten(0), ChannelShuffle(2), ChannelChunk(3, 2), ShortcutA(8, 2), Identity(), Upsample(2)):
        forward = layer.forward(x, {})
        back = layer.backward(forward.output, forward.cache)
        assert all_exact(forward.output) and all_exact(back.grad_input), layer
        # each moves entries: every output entry is an input entry or a padding zero
        assert set(forward.output.flat) <= set(x.flat) | {0}


def test_upsample_weights_are_exact_fractions():
    x = exact([[[[1, 2, 4], [0, "1/2", 3]]]])
    for mode in ("bilinear", "bicubic"):
        layer = Upsample(2, mode)
        forward = layer.forward(x, {})
        assert all_exact(forward.output)
        np.testing.assert_allclose(forward.output.astype(float), layer.forward(x.astype(float), {}).output, rtol=1e-15)
    # bilinear, align_corners=False: the first output column reads source −1/4 → clamped to 0;
    # the second reads 1/4: (3/4)·x0 + (1/4)·x1
    out = Upsample(2, "linear").forward(exact([[[1, 2, 4]]]), {}).output
    assert list(out.flat) == [1, Fraction(5, 4), Fraction(7, 4), Fraction(5, 2), Fraction(7, 2), 4]


def test_layer_scale_and_prelu_are_exact():
    x = exact([[[1, -2], ["1/2", -3]], [[0, 4], ["-1/3", 2]]])
    gamma = exact([["1/2"], [3]])
    forward = LayerScale().forward(x, {"gamma": gamma})
    back = LayerScale().backward(x, forward.cache)
    assert all_exact(forward.output) and all_exact(back.grad_input) and all_exact(back.grads["gamma"])
    assert back.grads["gamma"][1, 0] == sum(v * v for v in x[:, 1].flat)
    slopes = exact(["1/4", -2])
    forward = PReLU(2).forward(x, {"weight": slopes})
    back = PReLU(2).backward(x, forward.cache)
    assert all_exact(forward.output) and all_exact(back.grads["weight"])
    assert back.grads["weight"][0] == sum(v * v for v in x[:, 0].flat if v <= 0)


def test_dropout_is_exact_and_seeded():
    x = exact([[1, "1/2", 3, -4, 5, 6, 7, 8]])
    first = Dropout(0.5).forward(x, {}, rng=np.random.default_rng(4))
    again = Dropout(0.5).forward(x, {}, rng=np.random.default_rng(4))
    assert list(first.output.flat) == list(again.output.flat)
    assert all_exact(first.output)
    assert set(first.cache.flat) <= {0, 2}  # inverted dropout: kept entries scale by 1/(1 − 1/2) = 2
    assert list(first.output.flat) == [v * m for v, m in zip(x.flat, first.cache.flat)]
    assert np.all(Dropout(1.0).forward(x, {}).output == 0)


def test_dropout_statistics_and_channels():
    x = np.ones((200, 50, 3))
    out = Dropout(0.3).forward(x, {}, rng=np.random.default_rng(0)).output
    assert abs(np.mean(out == 0) - 0.3) < 0.01
    assert np.mean(out) == pytest.approx(1, abs=0.02)  # inverted scaling keeps the expectation
    channels = Dropout(0.5, "dropout2d").forward(x, {}, rng=np.random.default_rng(0)).output
    per_channel = channels.reshape(200, 50, 3)
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))  # whole channels kept or dropped
    assert set(np.unique(per_channel)) == {0.0, 2.0}


def test_batchnorm_statistics_are_exact():
    """Mean and running statistics exact; a perfect-square variance with eps=0 keeps x̂ exact."""
    x = exact([[[1, 3]], [[3, 1]]])  # channel 0: values 1, 3, 3, 1 → μ = 2, σ² = 1
    layer = BatchNorm(eps=0)
    params = {"weight": exact(["1/2"]), "bias": exact([1])}
    forward = layer.forward(x, params, training=True)
    assert all_exact(forward.output)
    assert [forward.output[0, 0, 0], forward.output[0, 0, 1]] == [Fraction(1, 2), Fraction(3, 2)]
    values = [1, 3, 3, 1]
    mean = Fraction(sum(values), 4)
    unbiased = sum((v - mean) ** 2 for v in values) / Fraction(3)
    assert forward.buffers["running_mean"][0] == Fraction(9, 10) * 0 + Fraction(1, 10) * mean
    assert forward.buffers["running_var"][0] == Fraction(9, 10) * 1 + Fraction(1, 10) * unbiased
    back = layer.backward(exact([[[1, 0]], [[2, "1/2"]]]), forward.cache)
    assert all_exact(back.grad_input) and all_exact(back.grads["weight"])
    float_params = {k: v.astype(float) for k, v in params.items()}
    float_back = layer.backward(np.array([[[1.0, 0]], [[2, 0.5]]]), layer.forward(x.astype(float), float_params).cache)
    np.testing.assert_allclose(back.grad_input.astype(float), float_back.grad_input, rtol=1e-15)
    # with the default eps the square root is irrational: floats, but the same numbers
    inexact = BatchNorm().forward(x, params, training=True)
    assert any(isinstance(v, float) for v in inexact.output.flat)


# --------------------------------------------------------------------------------------------
# flatten's dims and bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("start,end", [(0, -1), (1, -1), (0, 1), (-2, -1), (-3, 1), (2, 2)])
def test_flatten_counts_dims_per_sample_like_the_shape_rule(torch, start, end):
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    layer = Flatten(start_dim=start, end_dim=end)
    y = layer.forward(x, {}).output
    torch_dims = [d + 1 if d >= 0 else d for d in (start, end)]
    np.testing.assert_array_equal(y, torch.nn.Flatten(*torch_dims)(torch.tensor(x)).numpy())
    assert y.shape[1:] == tuple(layer.analyze((3, 4, 5)).output)


def test_bad_input_is_refused_with_the_reason():
    x = np.zeros((2, 4, 3, 3))
    with pytest.raises(InputError, match="linear: parameter 'weight' has shape"):
        Linear(2).forward(x, {"weight": np.zeros((2, 4)), "bias": np.zeros(2)})
    with pytest.raises(InputError, match="'bias' is missing"):
        Linear(2).forward(x, {"weight": np.zeros((2, 3))})
    with pytest.raises(InputError, match="groups must divide"):
        GroupNorm(groups=3).forward(x, {"weight": np.ones(4), "bias": np.zeros(4)})
    with pytest.raises(InputError, match="3 slopes"):
        PReLU(3).forward(x, {"weight": np.ones(3)})
    with pytest.raises(InputError, match="start-dim"):
        Flatten(start_dim=5).forward(x, {})
    with pytest.raises(InputError, match="bicubic"):
        Upsample(2, "bicubic").forward(np.zeros((1, 1, 4)), {})
    with pytest.raises(InputError, match="chunks must divide"):
        ChannelChunk(3).forward(x, {})
    with pytest.raises(InputError, match="shrink"):
        ShortcutA(2).forward(x, {})
    with pytest.raises(InputError, match="batchnorm takes"):
        BatchNorm().forward(np.zeros(4), {})
    with pytest.raises(InputError, match="dim 1"):
        Activation("softmax").forward(np.zeros(3), {})


# --------------------------------------------------------------------------------------------
# scalars
# --------------------------------------------------------------------------------------------


def test_scalars_keep_float_dtypes_and_make_floats_of_exact_numbers():
    for dtype in (np.float32, np.float64):
        x = np.array([-1.5, 0.0, 2.0], dtype=dtype)
        for name in ("exp", "tanh", "erf", "sigmoid", "softplus"):
            out = scalars.elementwise(name, x)
            assert out.dtype == dtype, name
            np.testing.assert_allclose(out, scalars.elementwise(name, x.astype(object)).astype(float), rtol=1e-6)
    assert scalars.exp(np.array([0, Fraction(1, 2)], dtype=object))[1] == pytest.approx(math.exp(0.5))
    assert scalars.sigmoid(np.array([-800, 800], dtype=object)).tolist() == [pytest.approx(0, abs=1e-300), 1.0]
    assert scalars.softplus(800.0) == 800.0


def test_sqrt_is_exact_for_perfect_squares():
    out = scalars.sqrt(np.array([9, Fraction(9, 4), 2, 0], dtype=object))
    assert out[0] == 3 and isinstance(out[0], int)
    assert out[1] == Fraction(3, 2) and isinstance(out[1], Fraction)
    assert isinstance(out[2], float) and out[2] == pytest.approx(math.sqrt(2))
    assert out[3] == 0
    with pytest.raises(InputError, match="undefined"):
        scalars.log(np.array([0], dtype=object))


def test_divide_exact_and_constants():
    halves = scalars.divide_exact(np.array([3, Fraction(1, 2)], dtype=object), 2)
    assert halves.tolist() == [Fraction(3, 2), Fraction(1, 4)]
    halves = scalars.divide_exact(np.array([3.0], dtype=np.float32), 2)
    assert halves.dtype == np.float32 and halves[0] == 1.5
    assert scalars.constant(0.01, np.zeros(1, dtype=object)) == Fraction(1, 100)
    assert scalars.constant(1e-5, np.zeros(1, dtype=object)) == Fraction(1, 100000)
    assert isinstance(scalars.constant(Fraction(1, 2), np.zeros(1)), float)
    assert scalars.reciprocal(np.array([4, Fraction(2, 3)], dtype=object)).tolist() == [Fraction(1, 4), Fraction(3, 2)]


def test_symbolic_elements_use_apply_or_sympy():
    class Traced:
        def __init__(self, text):
            self.text = text

        def apply(self, name):
            return Traced(f"{name}({self.text})")

    out = scalars.tanh(np.array([Traced("k")], dtype=object))
    assert out[0].text == "tanh(k)"
    sympy = pytest.importorskip("sympy")
    k = sympy.Symbol("k")
    y = Activation("sigmoid").forward(np.array([[k]], dtype=object), {}).output[0, 0]
    assert sympy.simplify(y - 1 / (1 + sympy.exp(-k))) == 0
    assert scalars.erf(np.array([k], dtype=object))[0] == sympy.erf(k)


# --------------------------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------------------------


@pytest.mark.torch
def test_squared_losses_and_sum_match_torch(torch):
    rng = np.random.default_rng(9)
    y = rng.normal(size=(3, 4))
    t = rng.normal(size=(3, 4))
    F = torch.nn.functional
    cases = {
        "mse": lambda a, b: F.mse_loss(a, b),
        "sse": lambda a, b: F.mse_loss(a, b, reduction="sum"),
        "mse_half_sum": lambda a, b: 0.5 * ((a - b) ** 2).sum(),
        "sum": lambda a, b: a.sum(),
    }
    for name, fn in cases.items():
        prediction = torch.tensor(y, requires_grad=True)
        value = fn(prediction, torch.tensor(t))
        value.backward()
        result = losses.make_loss(name).evaluate(y, None if name == "sum" else t)
        assert result.value == pytest.approx(value.item(), rel=1e-12), name
        np.testing.assert_allclose(result.grad, prediction.grad.numpy(), **TOL, err_msg=name)


@pytest.mark.torch
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4), (1, 3)])
def test_cross_entropy_matches_torch(torch, reduction, smoothing, shape):
    rng = np.random.default_rng(sum(shape))
    z = rng.normal(size=shape) * 3
    classes = rng.integers(0, shape[1], size=(shape[0],) + shape[2:])
    probabilities = rng.dirichlet(np.ones(shape[1]), size=(shape[0],) + shape[2:])
    probabilities = np.moveaxis(probabilities, -1, 1)
    loss = losses.CrossEntropy(reduction=reduction, label_smoothing=smoothing)
    for target, torch_target in ((classes.astype(object), torch.tensor(classes)),
                                 (probabilities, torch.tensor(probabilities))):
        logits = torch.tensor(z, requires_grad=True)
        value = torch.nn.functional.cross_entropy(logits, torch_target, reduction=reduction, label_smoothing=smoothing)
        value.backward()
        result = loss.evaluate(z, target)
        assert result.value == pytest.approx(value.item(), rel=1e-12)
        np.testing.assert_allclose(result.grad, logits.grad.numpy(), **TOL)


def test_squared_losses_are_exact():
    y = exact([[1, "1/2"], [3, -2]])
    t = exact([[0, 1], ["1/3", -2]])
    diffs = [y[i, j] - t[i, j] for i in range(2) for j in range(2)]
    squares = sum(d * d for d in diffs)
    half = losses.MSEHalfSum().evaluate(y, t)
    mean = losses.MSE().evaluate(y, t)
    total = losses.SSE().evaluate(y, t)
    assert half.value == squares / 2 and mean.value == squares / Fraction(4) and total.value == squares
    assert list(half.grad.flat) == diffs
    assert list(mean.grad.flat) == [d / 2 for d in diffs]
    assert list(total.grad.flat) == [2 * d for d in diffs]
    for result in (half, mean, total):
        assert isinstance(result.value, (int, Fraction)) and all_exact(result.grad)
    assert losses.Sum().evaluate(y).value == sum(y.flat)


def test_course_target_without_the_batch_and_upstream():
    y = exact([[5, 12]])
    result = losses.make_loss("mse_half_sum").evaluate(y, [7, 10])
    assert result.value == Fraction(4 + 4, 2) and list(result.grad.flat) == [-2, 2]
    given = losses.make_loss("upstream").evaluate(y, [["1/2", -1]])
    assert given.value is None and list(given.grad.flat) == [Fraction(1, 2), -1]


def test_cross_entropy_on_exact_logits_gives_softmax_minus_onehot():
    z = exact([[1, 2, 3]])
    result = losses.CrossEntropy(reduction="sum").evaluate(z, [2])
    p = np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum()
    np.testing.assert_allclose(result.grad.astype(float).ravel(), p - np.array([0, 0, 1]), rtol=1e-14)
    assert result.value == pytest.approx(-math.log(p[2]))
    smoothed = losses.CrossEntropy(label_smoothing=0.3).evaluate(z, [2])
    q = [Fraction(1, 10), Fraction(1, 10), Fraction(8, 10)]  # (1 − 0.3)·onehot + 0.3/3
    np.testing.assert_allclose(smoothed.grad.astype(float).ravel(), p - np.array(q, dtype=float), rtol=1e-14)
    float32 = losses.CrossEntropy().evaluate(np.array([[1, 2, 3]], dtype=np.float32), [2])
    assert float32.grad.dtype == np.float32


def test_losses_refuse_bad_targets():
    y = np.zeros((2, 3))
    with pytest.raises(InputError, match="target has shape 3 but the prediction has 2x3"):
        losses.MSE().evaluate(y, [1, 2, 3])
    with pytest.raises(InputError, match="out of range for 3 classes"):
        losses.CrossEntropy().evaluate(y, [0, 3])
    with pytest.raises(InputError, match="not a whole number"):
        losses.CrossEntropy().evaluate(y, ["1/2", 0])
    with pytest.raises(InputError, match="class indices of shape 2"):
        losses.CrossEntropy().evaluate(y, [[0, 1]])
    with pytest.raises(InputError, match="needs a target"):
        losses.SSE().evaluate(y, None)
    with pytest.raises(InputError, match="takes no target"):
        losses.Sum().evaluate(y, y)
    with pytest.raises(InputError, match="unknown loss"):
        losses.make_loss("hinge")
    with pytest.raises(InputError, match="reduction"):
        losses.make_loss("cross_entropy", reduction="none")


def test_every_activation_has_a_rule():
    assert set(RULES) == set(ACTIVATIONS)
