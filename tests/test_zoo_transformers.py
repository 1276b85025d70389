"""Vision transformers (torchvision's ViT) and their token layers (convcalc.layers.attention):
published totals from tests/reference/torchvision_meta.json, the MAC split of multi-head
self-attention, and forward/backward against torch.nn.MultiheadAttention and autograd."""

from __future__ import annotations

import numpy as np
import pytest

from convcalc import zoo
from convcalc.errors import InputError
from convcalc.layers.attention import ClassToken, MultiheadSelfAttention, PositionEmbedding, Tokens, TokenSelect
from convcalc.network.walk import describe_rf, walk


def _rows(name: str) -> dict:
    found = {}

    def visit(row):
        found[row.name] = row
        for child in row.children:
            visit(child)

    for row in walk(zoo.get(name)).rows:
        visit(row)
    return found


def test_vit_b_16_layer_by_layer():
    rows = _rows("vit_b_16")
    assert rows["conv_proj"].output == (768, 14, 14)
    assert rows["tokens"].output == (196, 768)
    assert rows["class_token"].output == (197, 768) and rows["class_token"].params.total == 768
    assert rows["encoder.pos_embedding"].params.total == 197 * 768
    block = "encoder.layers.encoder_layer_0"
    attention = rows[f"{block}.self_attention"]
    assert attention.params.total == 4 * 768 * 768 + 4 * 768
    hyper = attention.report.hyper
    assert hyper["projection_macs"] == 4 * 197 * 768 * 768
    assert hyper["attention_matmul_macs"] == 2 * 197 * 197 * 768
    assert attention.macs == hyper["projection_macs"] + hyper["attention_matmul_macs"]
    assert rows[f"{block}.mlp.0"].output == (197, 3072)
    assert rows["token"].output == (768,)
    assert rows["heads.head"].output == (1000,)
    # after global attention every output token sees the whole image
    assert describe_rf(attention.rf) == "all"
    assert "encoder.layers.encoder_layer_11" in rows and "encoder.layers.encoder_layer_12" not in rows


def test_vit_options_and_bad_sizes():
    assert walk(zoo.get("vit_b_16", classes=10)).output == (10,)
    with pytest.raises(InputError, match="position embedding is sized for 197 tokens"):
        walk(zoo.get("vit_b_16"), (3, 160, 160))
    with pytest.raises(InputError, match="heads must divide"):
        MultiheadSelfAttention(10, 3).analyze((4, 10))


def test_search_finds_the_vits(cli):
    r = cli("arch", "--search", "vit", "--json")
    # the ViTs, and MaxViT, whose name contains the word
    assert {n["name"] for n in r.json()["networks"]} == {"vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14",
                                                         "maxvit_t"}
    r = cli("arch", "vit_h_14", "--json")
    assert r.code == 0 and r.json()["totals"]["params"] == 632_045_800


@pytest.mark.torch
def test_self_attention_forward_and_backward_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    n, length, dim, heads = 2, 5, 8, 2
    module = torch.nn.MultiheadAttention(dim, heads, batch_first=True).double()
    x = rng.standard_normal((n, length, dim))
    params = {name: p.detach().numpy().copy() for name, p in module.named_parameters()}
    layer = MultiheadSelfAttention(dim, heads)
    assert set(params) == set(layer.parameter_shapes((n, length, dim)))
    forward = layer.forward(x, params)
    xt = torch.tensor(x, requires_grad=True)
    yt = module(xt, xt, xt, need_weights=False)[0]
    np.testing.assert_allclose(forward.output, yt.detach().numpy(), atol=1e-10)
    dy = rng.standard_normal(yt.shape)
    yt.backward(torch.tensor(dy))
    back = layer.backward(dy, forward.cache)
    np.testing.assert_allclose(back.grad_input, xt.grad.numpy(), atol=1e-10)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(back.grads[name], p.grad.numpy(), atol=1e-10, err_msg=name)


@pytest.mark.torch
def test_token_layers_forward_and_backward_match_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    grid = rng.standard_normal((2, 3, 2, 2))
    tokens = Tokens().forward(grid)
    g = torch.tensor(grid, requires_grad=True)
    t = g.flatten(2).transpose(1, 2)
    np.testing.assert_allclose(tokens.output, t.detach().numpy())
    dy = rng.standard_normal(t.shape)
    t.backward(torch.tensor(dy))
    np.testing.assert_allclose(Tokens().backward(dy, tokens.cache).grad_input, g.grad.numpy())

    x = rng.standard_normal((2, 4, 3))
    cls = rng.standard_normal((1, 1, 3))
    pos = rng.standard_normal((1, 5, 3))
    xt, ct, pt = (torch.tensor(a, requires_grad=True) for a in (x, cls, pos))
    yt = (torch.cat([ct.expand(2, -1, -1), xt], dim=1) + pt)[:, 0]
    f1 = ClassToken(3).forward(x, {"class_token": cls})
    f2 = PositionEmbedding(5, 3).forward(f1.output, {"pos_embedding": pos})
    f3 = TokenSelect(0).forward(f2.output)
    np.testing.assert_allclose(f3.output, yt.detach().numpy())
    dy = rng.standard_normal(yt.shape)
    yt.backward(torch.tensor(dy))
    b3 = TokenSelect(0).backward(dy, f3.cache)
    b2 = PositionEmbedding(5, 3).backward(b3.grad_input, f2.cache)
    b1 = ClassToken(3).backward(b2.grad_input, f1.cache)
    np.testing.assert_allclose(b1.grad_input, xt.grad.numpy())
    np.testing.assert_allclose(b1.grads["class_token"], ct.grad.numpy())
    np.testing.assert_allclose(b2.grads["pos_embedding"], pt.grad.numpy())


# ---------------------------------------------------------------- Swin


def test_swin_t_layer_by_layer():
    rows = _rows("swin_t")
    assert rows["features.0.0"].output == (96, 56, 56)
    attn = rows["features.1.0.attn"]
    # qkv 3·96·96 + 3·96, proj 96·96 + 96, bias table (2·7 − 1)²·3 heads; index buffer 49² entries
    assert attn.params.total == 3 * 96 * 96 + 3 * 96 + 96 * 96 + 96 + 13 * 13 * 3
    assert attn.buffers == 49 * 49
    hyper = attn.report.hyper
    assert hyper["projection_macs"] == 4 * 56 * 56 * 96 * 96
    assert hyper["attention_matmul_macs"] == 2 * 56 * 56 * 49 * 96
    assert hyper["shift"] == 0 and rows["features.1.1.attn"].report.hyper["shift"] == 3
    # a 7×7 window around the 4×4/4 stem: the bound 13×13 tokens → 4 + 12·4 = 52 pixels
    assert describe_rf(attn.rf) == "52x52"
    assert rows["features.2"].type == "PatchMerging" and rows["features.2"].output == (192, 28, 28)
    assert rows["features.2.reduction"].params.total == 4 * 96 * 192
    assert rows["features.7"].output == (768, 7, 7)
    assert rows["head"].output == (1000,)


def test_swin_v2_position_bias_mlp():
    rows = _rows("swin_v2_t")
    attn = rows["features.1.0.attn"]
    assert attn.report.hyper["position_bias_macs"] == 15 * 15 * (2 * 512 + 512 * 3)
    assert attn.params.total == 4 * 96 * 96 + 4 * 96 + 3 + (2 * 512 + 512) + 512 * 3
    assert rows["features.2"].type == "PatchMergingV2"


@pytest.mark.torch
@pytest.mark.parametrize("shift, size", [(0, 6), (1, 6), (1, 5)])
def test_window_attention_forward_and_backward_match_torch(shift, size):
    torch = pytest.importorskip("torch")
    from convcalc.layers.descriptor import find_hook
    from convcalc.layers.window import WindowAttention

    layer = WindowAttention(4, 2, 3, shift)
    module = find_hook("torch", layer)(layer, torch.nn, (4, size, size)).double()
    rng = np.random.default_rng(2)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))
    params = {name: p.detach().numpy().copy() for name, p in module.named_parameters()}
    x = rng.standard_normal((2, 4, size, size))
    forward = layer.forward(x, params)
    xt = torch.tensor(x, requires_grad=True)
    yt = module(xt)
    np.testing.assert_allclose(forward.output, yt.detach().numpy(), atol=1e-10)
    dy = rng.standard_normal(yt.shape)
    yt.backward(torch.tensor(dy))
    back = layer.backward(dy, forward.cache)
    np.testing.assert_allclose(back.grad_input, xt.grad.numpy(), atol=1e-10)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(back.grads[name], p.grad.numpy(), atol=1e-10, err_msg=name)


# ---------------------------------------------------------------- MaxViT


def test_maxvit_t_layer_by_layer():
    rows = _rows("maxvit_t")
    assert rows["stem"].output == (64, 112, 112)
    layer = "blocks.0.layers.0.layers"
    assert rows[f"{layer}.MBconv"].output == (64, 56, 56)
    assert rows[f"{layer}.MBconv.proj.0"].type == "avgpool2d"  # stride 2: pooled shortcut
    assert rows[f"{layer}.MBconv.layers.squeeze_excitation.fc1"].output == (16, 1, 1)
    # 56×56 map: 64 windows of 7×7 tokens; the grid: 64 groups of 49 pixels 8 apart
    assert rows[f"{layer}.window_attention.partition_op"].output == (64, 49, 64)
    assert rows[f"{layer}.grid_attention.partition_op"].output == (64, 49, 64)
    attn = rows[f"{layer}.window_attention.attn_layer.1"]
    assert attn.params.total == 4 * 64 * 64 + 4 * 64 + 13 * 13 * 2  # two heads of width 32
    assert attn.buffers == 49 * 49
    assert attn.report.hyper["attention_matmul_macs"] == 2 * 64 * 49 * 49 * 64
    assert rows[f"{layer}.grid_attention"].output == (64, 56, 56)
    assert rows["blocks.3"].output == (512, 7, 7)
    assert rows["classifier.5"].output == (1000,) and rows["classifier.5"].params.total == 512 * 1000


@pytest.mark.torch
@pytest.mark.parametrize("grid", [False, True])
def test_partition_attention_forward_and_backward_match_torch(grid):
    torch = pytest.importorskip("torch")
    from convcalc.layers.descriptor import find_hook
    from convcalc.layers.partition import Departition, Partition, RelativePositionAttention

    rng = np.random.default_rng(3)
    cut, attention, back = Partition(2, grid), RelativePositionAttention(4, 2, 2), Departition(2, grid, 4, 6)
    shapes = ((4, 4, 6), (6, 4, 4), (6, 4, 4))  # each layer's unbatched input
    modules = [find_hook("torch", layer)(layer, torch.nn, shape).double()
               for layer, shape in zip((cut, attention, back), shapes)]
    with torch.no_grad():
        for p in modules[1].parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))
    params = {name: p.detach().numpy().copy() for name, p in modules[1].named_parameters()}
    x = rng.standard_normal((2, 4, 4, 6))
    f1 = cut.forward(x)
    assert f1.output.shape == (2, 6, 4, 4)
    f2 = attention.forward(f1.output, params)
    f3 = back.forward(f2.output)
    xt = torch.tensor(x, requires_grad=True)
    yt = modules[2](modules[1](modules[0](xt)))
    np.testing.assert_allclose(f3.output, yt.detach().numpy(), atol=1e-10)
    dy = rng.standard_normal(yt.shape)
    yt.backward(torch.tensor(dy))
    b3 = back.backward(dy, f3.cache)
    b2 = attention.backward(b3.grad_input, f2.cache)
    b1 = cut.backward(b2.grad_input, f1.cache)
    np.testing.assert_allclose(b1.grad_input, xt.grad.numpy(), atol=1e-10)
    for name, p in modules[1].named_parameters():
        np.testing.assert_allclose(b2.grads[name], p.grad.numpy(), atol=1e-10, err_msg=name)
    # a partition and its departition are inverse permutations
    np.testing.assert_array_equal(back.forward(cut.forward(x).output).output, x)


def test_maxvit_mlps_on_token_groups_are_not_taken_for_a_missing_flatten():
    """Between a partition into (G, P, D) token groups and its departition a linear is the tokens'
    MLP: no "a flatten is probably missing" warning (44 of them before); a linear on a feature map
    elsewhere still gets it."""
    from convcalc.network.spec import parse_chain

    report = walk(zoo.get("maxvit_t"))
    assert not [w for w in report.warnings if "flatten is probably missing" in w]
    assert any("flatten is probably missing" in w for w in walk(parse_chain("3x32x32 | fc 10")).warnings)
