"""Whole zoo networks run by the NumPy executor against the same networks built in torch.nn
(convcalc.network.torch_build) with our parameters copied in: forward outputs, running
statistics and every gradient (input and all parameters), float64, training mode, batch 2.

Errors are measured against the scale of what is compared: max |Δ| ≤ 1e-9 · max(max |torch|,
the largest parameter gradient of the network). A gradient that is mathematically zero (the
β of a batch norm whose output only feeds another training-mode batch norm) is rounding noise
in both backends, so its own maximum is no scale to measure by.

Dropout is set to p = 0 in both builds (each backend draws its own masks). mobilenet_v3 is
left out of the 1e-9 check: torch's float64 hardsigmoid backward multiplies by a float32 1/6
(ATen's ``1.0f / 6.0f``), an error of ~1e-8 relative that our exact 1/6 does not have.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from convcalc import zoo
from convcalc.executor import init
from convcalc.executor.graph import backward, build_graph, forward
from convcalc.layers.elementwise import Dropout
from convcalc.network.model import Gate, Leaf, Parallel, Residual, Sequential

pytestmark = pytest.mark.torch

NETWORKS = [
    ("lenet5", None),
    ("resnet18", (3, 64, 64)),
    ("resnet20", None),
    ("mobilenet_v2", (3, 64, 64)),
    ("squeezenet1_0", (3, 64, 64)),
    ("densenet121", (3, 64, 64)),
    ("googlenet", (3, 64, 64)),
    ("efficientnet_b0", (3, 64, 64)),
    ("shufflenet_v2_x1_0", (3, 64, 64)),
]
# 25-60 M parameters each: about 4 s apiece for float64 gradients on this 2-core machine.
SLOW_NETWORKS = [
    ("se_resnet50", (3, 64, 64)),
    ("convnext_tiny", (3, 32, 32)),
    ("alexnet_paper", (3, 67, 67)),
]
CASES = NETWORKS + SLOW_NETWORKS


def without_dropout(module):
    """The same module tree with every dropout at p = 0."""
    if isinstance(module, Leaf):
        return Leaf(dataclasses.replace(module.layer, p=0.0)) if isinstance(module.layer, Dropout) else module
    if isinstance(module, Sequential):
        return Sequential(tuple((n, without_dropout(c)) for n, c in module.children), module.kind)
    if isinstance(module, Residual):
        shortcut = None if module.shortcut is None else (module.shortcut[0], without_dropout(module.shortcut[1]))
        return Residual(without_dropout(module.body), shortcut, tuple((n, without_dropout(c)) for n, c in module.post),
                        module.kind)
    if isinstance(module, Parallel):
        return Parallel(tuple((n, without_dropout(c)) for n, c in module.branches), module.merge, module.kind)
    if isinstance(module, Gate):
        return Gate(without_dropout(module.gate), module.kind)
    raise TypeError(module)


def _check(label, ours, theirs, scale):
    ours64, theirs64 = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert ours64.shape == theirs64.shape, label
    worst = np.max(np.abs(ours64 - theirs64)) if ours64.size else 0.0
    bound = 1e-9 * max(np.max(np.abs(theirs64)) if theirs64.size else 0.0, scale)
    assert worst <= bound, f"{label}: max |Δ| {worst:.3g} > {bound:.3g}"


@pytest.mark.parametrize("name, shape", CASES, ids=[n for n, _ in NETWORKS + SLOW_NETWORKS])
def test_whole_network_matches_torch(name, shape):
    pytest.importorskip("torch")
    from convcalc.executor import torch_backend

    net = zoo.get(name)
    net = dataclasses.replace(net, body=without_dropout(net.body))
    graph = build_graph(net, shape)
    rng = np.random.default_rng(0)
    params = init.initial_parameters(graph, init.parse_scheme("pytorch"), rng, np.float64)
    buffers = init.initial_buffers(graph, np.float64)
    x = rng.standard_normal((2,) + graph.input)
    delta = rng.standard_normal((2,) + graph.output)

    passed = forward(graph, x, params, buffers, training=True)
    grads = backward(graph, passed, delta)
    theirs = torch_backend.run(graph, x, params, buffers, training=True, grad_output=lambda output: delta)

    scale = max(float(np.max(np.abs(g))) for g in theirs.param_grads.values())
    _check("output", passed.output, theirs.output, 0.0)
    _check("input gradient", grads.input, theirs.grad_input, 0.0)
    assert set(grads.params) == set(theirs.param_grads) == {p.name for p in graph.parameters}
    for key, value in grads.params.items():
        _check(key, value, theirs.param_grads[key], scale)
    for key, value in passed.buffers.items():
        _check(key, value, theirs.buffers[key], 1.0)


def test_parameter_names_are_torch_state_dict_keys():
    pytest.importorskip("torch")
    from convcalc.network.torch_build import build_torch

    net = zoo.get("resnet18")
    graph = build_graph(net, (3, 64, 64))
    model = build_torch(net, (3, 64, 64))
    assert [p.name for p in graph.parameters] == [name for name, _ in model.named_parameters()]
    assert [b.name for b in graph.buffers] == [name for name, _ in model.named_buffers()]


def test_layer_outputs_and_gradients_per_layer_match_torch():
    """Every layer's output and δ(output), as the hooks of ``--compare`` see them."""
    pytest.importorskip("torch")
    from convcalc.executor import torch_backend

    graph = build_graph(zoo.get("resnet20"))
    rng = np.random.default_rng(3)
    params = init.initial_parameters(graph, init.parse_scheme("kaiming-normal"), rng, np.float64)
    buffers = init.initial_buffers(graph, np.float64)
    x = rng.standard_normal((2,) + graph.input)
    outputs, deltas = {}, {}
    passed = forward(graph, x, params, buffers, training=False, observe=outputs.__setitem__)
    backward(graph, passed, np.ones_like(passed.output), observe=deltas.__setitem__)
    theirs = torch_backend.run(graph, x, params, buffers, training=False, grad_output=np.ones_like)
    leaves = [leaf.name for leaf in graph.leaves]
    assert set(theirs.layer_outputs) == set(leaves)
    for name in leaves:
        _check(name, outputs[name], theirs.layer_outputs[name], 0.0)
        _check(f"δ {name}", deltas[name], theirs.layer_grads[name], 0.0)


@pytest.mark.parametrize("channels_first, dims", [(False, 1), (False, 2), (True, 1)])
def test_a_layer_norm_without_its_affine_part_is_torchs(channels_first, dims):
    """elementwise_affine=False: y = x̂, no parameters, dx as F.layer_norm's autograd gives it."""
    torch = pytest.importorskip("torch")
    from convcalc.layers.norm import LayerNorm

    x = np.random.default_rng(0).normal(size=(2, 5, 6))
    layer = LayerNorm(dims=dims, channels_first=channels_first, affine=False)
    assert layer.parameter_shapes(x.shape) == {} and layer.analyze(x.shape[1:]).params.total == 0
    out = layer.forward(x, {})
    dy = np.random.default_rng(1).normal(size=out.output.shape)
    back = layer.backward(dy, out.cache)
    t = torch.tensor(x, requires_grad=True)
    y = (torch.nn.functional.layer_norm(t.movedim(1, -1), (5,)).movedim(-1, 1) if channels_first
         else torch.nn.functional.layer_norm(t, x.shape[-dims:]))
    y.backward(torch.tensor(dy))
    np.testing.assert_allclose(out.output, y.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(back.grad_input, t.grad.numpy(), atol=1e-12)
    assert back.grads == {}


def test_the_torch_module_of_a_beta_only_batch_norm_adds_beta_once():
    """Keras's scale=False in torch (--verify, the importers' round trips): the affine-free norm,
    then β — the base class's forward must not add the β a second time as its own bias."""
    torch = pytest.importorskip("torch")
    from convcalc.layers.descriptor import find_hook
    from convcalc.layers.norm import BatchNorm

    layer = BatchNorm(affine=True, scale=False, eps=1e-3)
    hook = find_hook("torch", layer)
    assert hook is not None
    module = hook(layer, torch.nn, (4, 5, 5)).eval()
    beta = torch.tensor([1.0, 2.0, 3.0, 4.0])
    with torch.no_grad():
        module.bias.copy_(beta)
        module.running_mean.fill_(0.5)
        module.running_var.fill_(2.0)
        x = torch.randn(2, 4, 5, 5, generator=torch.Generator().manual_seed(0))
        expected = (x - 0.5) / (2.0 + 1e-3) ** 0.5 + beta.reshape(1, -1, 1, 1)
        assert torch.allclose(module(x), expected, atol=1e-5)
    assert sum(p.numel() for p in module.parameters()) == 4  # β alone
