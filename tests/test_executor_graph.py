"""The executor's graph walk without torch: finite differences through every kind of container,
names as the walk gives them, buffers, caches, initialisation, optimizers and weights files."""

from __future__ import annotations

import re

import numpy as np
import pytest

from convcalc import zoo
from convcalc.errors import InputError
from convcalc.executor import init, weights
from convcalc.executor.graph import backward, build_graph, forward
from convcalc.executor.optim import Optimizer, OptimizerState
from convcalc.network.build import (
    act,
    avgpool,
    bn,
    conv,
    flatten,
    gate,
    global_avgpool,
    linear,
    maxpool,
    parallel,
    residual,
    seq,
)
from convcalc.network.model import Network
from convcalc.network.walk import walk


def tiny_network() -> Network:
    """Every container: sequence, residual (identity and projection), concat, add and mul branches, a gate."""
    body = seq(
        ("conv1", conv(4, 3, pad=1)), ("bn1", bn()), ("act1", act("tanh")),
        ("block",
         residual(("conv1", conv(4, 3, pad=1)), ("bn1", bn()), ("act", act("tanh")), ("conv2", conv(4, 3, pad=1)),
                           post=[("out", act("tanh"))])),
        ("down", residual(("conv", conv(6, 3, stride=2, pad=1)), shortcut=conv(6, 1, stride=2))),
        ("mix", parallel(("a", conv(2, 1)), ("b", seq(conv(3, 3, pad=1), act("sigmoid"))), merge="concat")),
        ("sum", parallel(("a", conv(5, 1)), ("b", act("tanh")), merge="add")),
        ("prod", parallel(("a", conv(5, 1)), ("b", act("tanh")), merge="mul")),
        ("se", gate(("pool", global_avgpool()), ("fc1", conv(2, 1)), ("act", act("tanh")), ("fc2", conv(5, 1)),
                    ("gate", act("sigmoid")))),
        ("pool", maxpool(2)), ("avg", avgpool(1)), ("flatten", flatten()), ("fc", linear(3)),
    )
    return Network("tiny", (3, 8, 8), body)


def _setup(network, dtype=np.float64, seed=0, batch=2):
    graph = build_graph(network)
    rng = np.random.default_rng(seed)
    params = init.initial_parameters(graph, init.parse_scheme("pytorch"), rng, dtype)
    # make the norms' γ and β non-trivial so their gradients are tested at a generic point
    for spec in graph.parameters:
        if len(spec.shape) == 1:
            params[spec.name] = (params[spec.name] + rng.normal(0, 0.3, spec.shape)).astype(dtype)
    buffers = init.initial_buffers(graph, dtype)
    x = rng.standard_normal((batch,) + graph.input).astype(dtype)
    weights_out = rng.standard_normal((batch,) + graph.output).astype(dtype)
    return graph, params, buffers, x, weights_out


def test_names_follow_the_walk_and_torch_state_dict_keys():
    graph = build_graph(tiny_network())
    rows = [row.name for row in walk(tiny_network()).leaves()]
    assert [name for name, _, _ in graph.rows] == rows
    names = [p.name for p in graph.parameters]
    assert "block.conv1.weight" in names and "down.downsample.weight" in names and "se.fc2.bias" in names
    assert "mix.b.0.weight" in names
    assert [b.name for b in graph.buffers][:3] == ["bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"]
    assert "block.add" in rows and "mix.concat" in rows and "prod.mul" in rows and "se.scale" in rows


@pytest.mark.parametrize("training", [True, False])
def test_finite_differences_through_every_container(training):
    graph, params, buffers, x, w = _setup(tiny_network())

    def loss(p, inp):
        out = forward(graph, inp, p, buffers, training=training, keep=False).output
        return float(np.sum(out * w))

    passed = forward(graph, x, params, buffers, training=training)
    grads = backward(graph, passed, w)
    rng = np.random.default_rng(1)
    eps = 1e-6
    checked = 0
    for name, value in params.items():
        for flat in rng.choice(value.size, size=min(3, value.size), replace=False):
            index = np.unravel_index(flat, value.shape)
            plus, minus = dict(params), dict(params)
            plus[name], minus[name] = value.copy(), value.copy()
            plus[name][index] += eps
            minus[name][index] -= eps
            numeric = (loss(plus, x) - loss(minus, x)) / (2 * eps)
            assert grads.params[name][index] == pytest.approx(numeric, rel=1e-5, abs=1e-7), (name, index)
            checked += 1
    for flat in rng.choice(x.size, size=10, replace=False):
        index = np.unravel_index(flat, x.shape)
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric = (loss(params, plus) - loss(params, minus)) / (2 * eps)
        assert grads.input[index] == pytest.approx(numeric, rel=1e-5, abs=1e-7), index
    assert checked > 60


def test_fan_out_gradients_are_summed():
    """y = x + x through an empty-bodied residual (identity shortcut): δx = 2·δy."""
    net = Network("double", (2, 3, 3), seq(("r", residual(("id", act("relu")))), ("flatten", flatten())))
    graph = build_graph(net)
    x = np.abs(np.random.default_rng(0).standard_normal((2, 2, 3, 3))) + 0.1
    passed = forward(graph, x, {}, {})
    np.testing.assert_array_equal(passed.output, (2 * x).reshape(2, -1))
    delta = np.random.default_rng(1).standard_normal(passed.output.shape)
    np.testing.assert_allclose(backward(graph, passed, delta).input, 2 * delta.reshape(x.shape))


def test_gate_gradient_sums_the_direct_and_the_gate_path():
    """y = x·σ(mean x): one channel, finite differences on the input."""
    net = Network("se", (1, 2, 2), seq(("se", gate(("pool", global_avgpool()), ("gate", act("sigmoid"))))))
    graph = build_graph(net)
    x = np.array([[[[0.5, -1.0], [2.0, 0.25]]]])
    passed = forward(graph, x, {}, {})
    s = 1 / (1 + np.exp(-x.mean()))
    np.testing.assert_allclose(passed.output, x * s)
    grad = backward(graph, passed, np.ones_like(x)).input
    expected = s + x.sum() * s * (1 - s) / 4  # ∂(Σ x·σ(m))/∂x_i = σ + Σx · σ' · 1/4
    np.testing.assert_allclose(grad, np.full_like(x, expected))


def test_training_mode_returns_new_running_statistics_and_leaves_the_old():
    graph, params, buffers, x, _ = _setup(tiny_network())
    before = {k: v.copy() for k, v in buffers.items()}
    passed = forward(graph, x, params, buffers, training=True)
    assert not np.allclose(passed.buffers["bn1.running_mean"], 0)
    assert int(passed.buffers["bn1.num_batches_tracked"]) == 1
    for k in buffers:
        np.testing.assert_array_equal(buffers[k], before[k])
    evaluated = forward(graph, x, params, buffers, training=False)
    for k in buffers:
        np.testing.assert_array_equal(evaluated.buffers[k], before[k])


def test_inference_keeps_no_caches():
    graph, params, buffers, x, w = _setup(tiny_network())
    passed = forward(graph, x, params, buffers, keep=False)
    assert passed.tape is None
    with pytest.raises(ValueError, match="keep=True"):
        backward(graph, passed, w)


def test_float32_stays_float32_end_to_end():
    graph, params, buffers, x, w = _setup(tiny_network(), dtype=np.float32)
    seen = []
    passed = forward(graph, x, params, buffers, training=True, observe=lambda n, a: seen.append(a.dtype))
    grads = backward(graph, passed, w, observe=lambda n, a: seen.append(a.dtype))
    assert set(seen) == {np.dtype(np.float32)}
    assert passed.output.dtype == np.float32 and grads.input.dtype == np.float32
    assert {g.dtype for g in grads.params.values()} == {np.dtype(np.float32)}


def test_input_of_the_wrong_shape_is_refused():
    graph = build_graph(zoo.get("lenet5"))
    with pytest.raises(InputError, match="1x32x32"):
        forward(graph, np.zeros((2, 1, 28, 28), np.float32), {}, {})


# --------------------------------------------------------------------------- initialisation

def test_pytorch_default_initialisation_bounds_and_constants():
    graph = build_graph(tiny_network())
    params = init.initial_parameters(graph, init.parse_scheme("pytorch"), np.random.default_rng(0), np.float64)
    w = params["conv1.weight"]  # fan_in 3·3·3 = 27
    assert np.abs(w).max() <= 1 / np.sqrt(27) and np.abs(w).max() > 0.8 / np.sqrt(27)
    assert np.abs(params["conv1.bias"]).max() <= 1 / np.sqrt(27)
    np.testing.assert_array_equal(params["bn1.weight"], 1)
    np.testing.assert_array_equal(params["bn1.bias"], 0)
    buffers = init.initial_buffers(graph, np.float32)
    np.testing.assert_array_equal(buffers["bn1.running_var"], 1)
    assert buffers["bn1.num_batches_tracked"].dtype == np.int64


@pytest.mark.parametrize("scheme, std", [
    ("xavier-normal", lambda fi, fo: np.sqrt(1 / fi)),
    ("xavier-uniform", lambda fi, fo: np.sqrt(1 / fi)),
    ("glorot-normal", lambda fi, fo: np.sqrt(2 / (fi + fo))),
    ("glorot-uniform", lambda fi, fo: np.sqrt(2 / (fi + fo))),
    ("kaiming-normal", lambda fi, fo: np.sqrt(2 / fi)),
    ("kaiming-uniform", lambda fi, fo: np.sqrt(2 / fi)),
    ("pytorch", lambda fi, fo: np.sqrt(1 / (3 * fi))),
    ("uniform:0.1", lambda fi, fo: 0.1 / np.sqrt(3)),
])
def test_schemes_have_their_variance(scheme, std):
    net = Network("fc", (400,), seq(("fc", linear(300))))
    graph = build_graph(net)
    params = init.initial_parameters(graph, init.parse_scheme(scheme), np.random.default_rng(0), np.float64)
    w = params["fc.weight"]
    assert w.std() == pytest.approx(std(400, 300), rel=0.02)
    if scheme != "pytorch":
        np.testing.assert_array_equal(params["fc.bias"], 0)


def test_same_seed_same_weights_in_both_dtypes():
    graph = build_graph(zoo.get("lenet5"))
    scheme = init.parse_scheme("pytorch")
    a = init.initial_parameters(graph, scheme, np.random.default_rng(7), np.float64)
    b = init.initial_parameters(graph, scheme, np.random.default_rng(7), np.float32)
    c = init.initial_parameters(graph, scheme, np.random.default_rng(8), np.float64)
    for name in a:
        np.testing.assert_array_equal(a[name].astype(np.float32), b[name])
    assert not np.array_equal(a["features.c1.weight"], c["features.c1.weight"])


def test_unknown_scheme_is_refused():
    with pytest.raises(InputError, match="xavier-uniform"):
        init.parse_scheme("lecun")


# --------------------------------------------------------------------------- optimizers

def test_optimizer_steps_by_hand():
    p = {"w": np.array([1.0, -2.0])}
    g = {"w": np.array([0.5, 0.25])}
    sgd, _ = Optimizer("sgd", lr=0.1).step(p, g, OptimizerState())
    np.testing.assert_allclose(sgd["w"], [0.95, -2.025])
    momentum = Optimizer("momentum", lr=0.1, momentum=0.9)
    p1, s1 = momentum.step(p, g, OptimizerState())
    p2, _ = momentum.step(p1, g, s1)  # v = 0.9·g + g
    np.testing.assert_allclose(p2["w"], p["w"] - 0.1 * g["w"] - 0.1 * 1.9 * g["w"])
    adam = Optimizer("adam", lr=0.01)
    a1, _ = adam.step(p, g, OptimizerState())  # first Adam step moves every weight by ≈ lr
    np.testing.assert_allclose(a1["w"], p["w"] - 0.01 * np.sign(g["w"]), rtol=1e-6)
    assert p["w"].tolist() == [1.0, -2.0]  # inputs untouched


@pytest.mark.parametrize("bad", [{"name": "rmsprop"}, {"lr": 0}, {"lr": float("nan")}, {"momentum": 1.0}])
def test_bad_optimizer_settings(bad):
    with pytest.raises(InputError):
        Optimizer(**{"name": "sgd", "lr": 0.1, **bad})


# --------------------------------------------------------------------------- weights files

def test_weights_round_trip_and_checks(tmp_path):
    graph, params, buffers, _, _ = _setup(tiny_network(), dtype=np.float32)
    path = tmp_path / "w.npz"
    weights.save(str(path), params, buffers, {"network": "tiny"})
    loaded, loaded_buffers, meta = weights.load(str(path), graph, np.float32)
    assert meta["network"] == "tiny"
    for k in params:
        np.testing.assert_array_equal(loaded[k], params[k])
    for k in buffers:
        np.testing.assert_array_equal(loaded_buffers[k], buffers[k])
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no temporary left behind

    other = build_graph(zoo.get("lenet5"))
    with pytest.raises(InputError, match=r"does not match lenet5.*missing"):
        weights.load(str(path), other, np.float32)
    wider = build_graph(Network("tiny", (3, 8, 8), tiny_network().body), (3, 16, 16))
    with pytest.raises(InputError, match=re.escape("fc.weight has shape 3x20; tiny at input 3x16x16 needs 3x80")):
        weights.load(str(path), wider, np.float32)
    narrow = build_graph(Network("tiny", (1, 8, 8), tiny_network().body))
    with pytest.raises(InputError, match=re.escape("conv1.weight has shape 4x3x3x3")):
        weights.load(str(path), narrow, np.float32)


def test_corrupt_or_missing_weights_file(tmp_path):
    graph = build_graph(tiny_network())
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(InputError, match=re.escape("is not a .npz weights file")):
        weights.load(str(bad), graph, np.float32)
    with pytest.raises(InputError, match="no such file"):
        weights.load(str(tmp_path / "missing.npz"), graph, np.float32)


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "w.npz"
    target.write_bytes(b"the old file")

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(InputError, match=r"disk full.*nothing was written"):  # one message, exit 2
        weights.save(str(target), {"a": np.zeros(2)}, {}, {})
    assert target.read_bytes() == b"the old file"
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]


def test_parameter_free_layers_may_share_a_name():
    """torchvision reuses one ReLU module in a block: the walk shows two rows with one name."""
    from convcalc.executor.inspection import inspect

    body = seq(("r", residual(("act", act("relu")), ("conv", conv(2, 1)), post=[("act", act("tanh"))])),
               ("flatten", flatten()))
    graph = build_graph(Network("shared", (2, 3, 3), body))
    assert [name for name, _, _ in graph.rows] == ["r.act", "r.conv", "r.add", "r.act", "flatten"]
    params = init.initial_parameters(graph, init.parse_scheme("pytorch"), np.random.default_rng(0), np.float64)
    x = np.random.default_rng(1).standard_normal((2, 2, 3, 3))
    report = inspect(graph, x, params, {}, loss=None)
    first, second = report.rows[0], report.rows[3]
    assert first.type == "relu" and first.stats.min == 0 and first.stats.zeros > 0
    passed = forward(graph, x, params, {})
    np.testing.assert_allclose(second.stats.mean, passed.output.mean())  # the tanh after the add
    from convcalc.executor.losses import parse_loss

    with_grads = inspect(graph, x, params, {}, loss=parse_loss("sum"))
    assert with_grads.rows[3].grad_norm == pytest.approx(6.0)  # δ of Σ over 2·18 outputs: all ones
    assert with_grads.rows[0].grad_norm != pytest.approx(6.0)


def test_layers_with_parameters_need_their_own_names():
    body = seq(("block", residual(("conv", conv(2, 1)), post=[("conv", conv(2, 1))])))
    with pytest.raises(InputError, match=re.escape("both named 'block.conv'")):
        build_graph(Network("clash", (2, 3, 3), body))
