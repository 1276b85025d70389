"""Keras EfficientNet B0–B7, EfficientNetV2, MobileNetV3 and ConvNeXt (keras.* zoo names): Keras's
layer order, names and padding, the Normalization layer's weights in --as keras, and the
Rescaling/Normalization layer types. The parameter counts against keras.io's table are in
tests/test_zoo_keras.py (tests/reference/keras_applications.json)."""

from __future__ import annotations

import numpy as np
import pytest

from convcalc import zoo
from convcalc.errors import InputError
from convcalc.layers.preprocess import Normalization, Rescaling
from convcalc.network.keras_weights import keras_total_params, keras_weights
from convcalc.network.walk import walk

NEW = ([f"keras.efficientnetb{i}" for i in range(8)]
       + [f"keras.efficientnetv2{v}" for v in ("b0", "b1", "b2", "b3", "s", "m", "l")]
       + ["keras.mobilenetv3small", "keras.mobilenetv3large"]
       + [f"keras.convnext{s}" for s in ("tiny", "small", "base", "large", "xlarge")])


def _rows(name: str, **options) -> dict:
    return {row.name: row for row in walk(zoo.get(name, **options)).leaves()}


@pytest.mark.parametrize("name,size", [("keras.efficientnetb0", 224), ("keras.efficientnetb2", 260),
                                       ("keras.efficientnetb7", 600), ("keras.efficientnetv2b3", 300),
                                       ("keras.efficientnetv2s", 384), ("keras.efficientnetv2l", 480),
                                       ("keras.mobilenetv3small", 224), ("keras.convnextxlarge", 224)])
def test_default_input_sizes_are_keras_default_size(name, size):
    net = zoo.get(name)
    assert net.input == (3, size, size)
    assert walk(net).output == (1000,)


def test_efficientnet_layout_names_and_padding():
    rows = _rows("keras.efficientnetb0")
    names = list(rows)
    assert names[:6] == ["rescaling", "normalization", "rescaling_1", "stem_conv", "stem_bn", "stem_activation"]
    assert names[-6:] == ["top_activation", "avg_pool", "flatten", "top_dropout", "predictions", "predictions_softmax"]
    assert rows["stem_conv"].output == (32, 112, 112) and rows["stem_conv"].params.total == 3 * 3 * 3 * 32  # no bias
    # block1a: no expansion (ratio 1), SE squeezing to int(32/4) = 8 with bias, no skip (32 -> 16 channels)
    assert "block1a.expand_conv" not in rows and "block1a.add" not in rows
    assert rows["block1a.se_reduce"].output == (8, 1, 1) and rows["block1a.se_reduce"].params.total == 32 * 8 + 8
    # block2a: expand 16 -> 96, a stride-2 depthwise conv after correct_pad (0, 1) on the even side 112
    assert rows["block2a.expand_conv"].output == (96, 112, 112)
    assert rows["block2a.dwconv"].report.hyper["padding"] == [[0, 1], [0, 1]]
    assert rows["block2a.dwconv"].output == (96, 56, 56) and rows["block2a.dwconv"].params.total == 96 * 9
    assert rows["block2a.se_reduce"].output == (4, 1, 1)  # int(16 · 0.25): the block's input, not its expansion
    # the first block with a skip has Keras's drop (rate 0.2·b/blocks, b = 2 of 16) before the add
    assert rows["block2b.drop"].report.hyper["p"] == pytest.approx(0.2 * 2 / 16)
    assert "block2b.add" in rows and "block1a.drop" not in rows
    assert rows["top_conv"].output == (1280, 7, 7)


def test_efficientnet_correct_pad_on_an_odd_side_is_symmetric():
    rows = _rows("keras.efficientnetb3")  # 300 -> 150 -> 75: block3a's 5x5 stride-2 conv meets an odd side
    assert rows["block3a.dwconv"].input[1:] == (75, 75)
    assert rows["block3a.dwconv"].report.hyper["padding"] == [[2, 2], [2, 2]]
    assert rows["block3a.dwconv"].output[1:] == (38, 38)
    assert rows["stem_conv"].output == (40, 150, 150)  # round_filters(32 · 1.2) = 40
    assert rows["top_conv"].output[0] == 1536  # round_filters(1280 · 1.2)


def test_efficientnet_b_layers_are_torchvisions_plus_the_normalization_weights():
    # Keras's trainable weights are torchvision's EfficientNet-B0/B1 (the same layers); what --as keras
    # adds is the moving statistics and the adapted Normalization's mean (3), variance (3) and count (1)
    for keras_name, torch_name in (("keras.efficientnetb0", "efficientnet_b0"),
                                   ("keras.efficientnetb1", "efficientnet_b1")):
        ours, theirs = walk(zoo.get(keras_name)), walk(zoo.get(torch_name))
        assert ours.totals.params == theirs.totals.params
        assert keras_weights(ours).normalization == 2 * 3 + 1
    # B2: Keras's default size is 260 (torchvision's crop is 288); the layers do not depend on it
    assert walk(zoo.get("keras.efficientnetb2")).totals.params == walk(zoo.get("efficientnet_b2")).totals.params


def test_efficientnet_v2_blocks():
    rows = _rows("keras.efficientnetv2b0")
    # B0-B3: rescaling, then a Normalization given ImageNet's mean and variance: constants, no weights
    assert (rows["normalization"].buffers == 0
            and keras_weights(walk(zoo.get("keras.efficientnetv2b0"))).normalization == 0)
    # fused block without expansion: one k x k project_conv with its activation
    assert rows["block1a.project_conv"].report.hyper["kernel_size"] == [3, 3]
    assert "block1a.project_activation" in rows and "block1a.expand_conv" not in rows
    # fused block with expansion: k x k stride-2 expand_conv (SAME), 1x1 projection, no SE
    assert (rows["block2a.expand_conv"].output == (64, 56, 56)
            and rows["block2a.expand_conv"].report.hyper["kernel_size"] == [3, 3])
    assert rows["block2a.project_conv"].report.hyper["kernel_size"] == [1, 1]
    assert not any(name.startswith("block2a.se_") for name in rows)
    # MBConv with SE from stage 4: dwconv2, squeeze to int(48 · 0.25)
    assert rows["block4a.dwconv2"].output == (192, 14, 14) and rows["block4a.se_reduce"].output == (12, 1, 1)
    s = _rows("keras.efficientnetv2s")
    assert "normalization" not in s and s["rescaling"].report.hyper == {"scale": 1 / 128, "offset": -1.0}
    assert s["stem_conv"].output == (24, 192, 192)


def test_mobilenet_v3_layout_and_head():
    rows = _rows("keras.mobilenetv3small")
    assert list(rows)[:4] == ["rescaling", "conv", "conv_bn", "conv_hard_swish"]
    # block 0 of Small: stride 2 with SE (squeeze to _depth(16/4) = 8), no expansion
    assert rows["expanded_conv.depthwise"].output == (16, 56, 56)
    assert rows["expanded_conv.depthwise"].report.hyper["padding"] == [[0, 1], [0, 1]]
    assert rows["expanded_conv.squeeze_excite_conv"].output == (8, 1, 1)
    assert rows["expanded_conv_1.expand"].output == (72, 56, 56)  # 16 · 72/16
    assert rows["expanded_conv_3.depthwise"].report.hyper["kernel_size"] == [5, 5]
    # the head: 1x1 convs with bias on the pooled 1x1 map, then flatten and softmax
    assert rows["conv_1"].output == (576, 7, 7)
    assert rows["conv_2"].output == (1024, 1, 1) and rows["conv_2"].params.total == 576 * 1024 + 1024
    assert rows["logits"].output == (1000, 1, 1) and rows["logits"].params.total == 1024 * 1000 + 1000
    assert rows["predictions"].output == (1000,)
    for keras_name, torch_name in (("keras.mobilenetv3small", "mobilenet_v3_small"),
                                   ("keras.mobilenetv3large", "mobilenet_v3_large")):
        assert walk(zoo.get(keras_name)).totals.params == walk(zoo.get(torch_name)).totals.params


def test_mobilenet_v3_width_is_keras_alpha():
    thin, default = walk(zoo.get("keras.mobilenetv3large", width=0.75)), walk(zoo.get("keras.mobilenetv3large"))
    rows = {row.name: row for row in thin.leaves()}
    assert rows["conv"].output[0] == 16  # Keras keeps the first conv at 16 filters
    assert rows["expanded_conv_12.project"].output[0] == 120  # _depth(160 · 0.75)
    assert rows["conv_2"].output[0] == 1280  # last_point_ch widens only for alpha > 1
    assert thin.totals.params < default.totals.params


def test_convnext_layout():
    rows = _rows("keras.convnexttiny")
    assert rows["convnext_tiny_prestem_normalization"].buffers == 0  # constant mean and variance
    assert rows["convnext_tiny_stem.stem_conv"].output == (96, 56, 56)
    block = "convnext_tiny_stage_0_block_0"
    assert rows[f"{block}.depthwise_conv"].params.total == 96 * 49 + 96
    assert rows[f"{block}.pointwise_conv_1"].output == (384, 56, 56)
    assert rows[f"{block}.layer_scale"].params.total == 96  # Keras's gamma: a counted parameter
    assert rows["convnext_tiny_downsampling_block_2.downsampling_conv_2"].output == (768, 7, 7)
    assert rows["convnext_tiny_head_layernorm"].params.total == 2 * 768
    assert rows["convnext_tiny_head_dense"].output == (1000,)
    assert walk(zoo.get("keras.convnexttiny")).totals.params == walk(zoo.get("convnext_tiny")).totals.params
    assert walk(zoo.get("keras.convnextlarge")).totals.params == walk(zoo.get("convnext_large")).totals.params
    xl = _rows("keras.convnextxlarge")
    assert xl["convnext_xlarge_stage_3_block_2.pointwise_conv_2"].output == (2048, 7, 7)


def test_classes_option_changes_only_the_classifier():
    for name in ("keras.efficientnetb0", "keras.efficientnetv2b0", "keras.mobilenetv3small", "keras.convnexttiny"):
        ten, full = walk(zoo.get(name, classes=10)), walk(zoo.get(name))
        assert ten.output == (10,)
        head_in = {"keras.mobilenetv3small": 1024, "keras.convnexttiny": 768}.get(name, 1280)
        assert full.totals.params - ten.totals.params == (head_in + 1) * 990


def test_as_keras_counts_the_normalization_weights(cli):
    r = cli("arch", "keras.efficientnetb0", "--as", "keras")
    assert r.code == 0
    text = " ".join(r.out.split())
    assert "Total params 5,330,571 = our 5,288,548 parameters + 42,016 batch-norm moving statistics" in text
    assert "+ 7 Normalization statistics (mean, variance, count" in text
    r = cli("arch", "keras.convnexttiny", "--as", "keras")
    assert r.code == 0 and "Total params 28,589,128 = our 28,589,128 parameters + 0" in " ".join(r.out.split())
    assert "Normalization" not in r.out.split("as keras:")[1]


def test_list_and_search_show_them(cli):
    r = cli("arch", "--list")
    assert r.code == 0
    listed = {line.split()[0] for line in r.out.splitlines()
              if line and not line.startswith(" ") and not line.endswith(":")}
    assert set(NEW) <= listed
    assert "Keras applications: EfficientNet (B0-B7, V2):" in r.out.splitlines()
    r = cli("arch", "--search", "keras.efficientnetv2")
    names = {line.split()[0] for line in r.out.splitlines()
             if line and not line.startswith(" ") and not line.endswith(":")}
    assert names == {n for n in NEW if n.startswith("keras.efficientnetv2")}


def test_every_new_entry_has_a_reference_figure():
    from tests.test_zoo_keras import _reference

    assert set(NEW) <= set(_reference())


# --- the layer types -------------------------------------------------------------------------------


def test_rescaling_and_normalization_shape_and_counts():
    r = Rescaling(1 / 127.5, offset=-1.0).analyze((3, 8, 8), batch=2)
    assert r.output == (3, 8, 8) and r.params.total == 0 and r.buffers == 0
    assert dict(r.other_ops) == {"rescale ops": 2 * 2 * 3 * 8 * 8}  # a multiply and an add per element
    assert dict(Rescaling(0.5).analyze((3, 8, 8)).other_ops) == {"rescale ops": 3 * 8 * 8}
    adapted = Normalization().analyze((3, 8, 8))
    assert adapted.buffers == 7 and adapted.params.total == 0
    assert Normalization((1.0,), (4.0,)).analyze((3, 8, 8)).buffers == 0
    assert Normalization().buffer_shapes((1, 5, 4, 4)) == {"mean": (5,), "variance": (5,), "count": ()}


def test_bad_settings_are_refused():
    with pytest.raises(InputError, match="one per channel"):
        Rescaling((1.0, 2.0)).analyze((3, 8, 8))
    with pytest.raises(InputError, match="both mean and variance"):
        Normalization(mean=(1.0,))
    with pytest.raises(InputError, match="unknown parameter"):
        Normalization().forward(np.zeros((1, 3, 2, 2)), {"gamma": np.ones(3)})


def test_forward_and_backward_exact():
    from fractions import Fraction

    from convcalc.compute.numbers import to_array

    x = to_array([[[[1, 3]], [[5, 9]]]], "x")  # (1, 2, 1, 2)
    f = Normalization((1, 3), (4, 9)).forward(x)
    assert f.output.tolist() == [[[[0, 1]], [[Fraction(2, 3), 2]]]]
    assert Normalization().backward(to_array([[[[1, 1]], [[1, 1]]]], "dy"),
                                    Normalization().forward(x, {"variance": to_array([4, 1], "v")}).cache
                                    ).grad_input.tolist() == [[[[Fraction(1, 2)] * 2], [[1, 1]]]]
    r = Rescaling((Fraction(1, 2), 2)).forward(x)
    assert r.output.tolist() == [[[[Fraction(1, 2), Fraction(3, 2)]], [[10, 18]]]]
    assert Rescaling((Fraction(1, 2), 2)).backward(
        to_array([[[[1, 1]], [[1, 1]]]], "dy"), r.cache).grad_input.tolist() == [[[[Fraction(1, 2)] * 2], [[2, 2]]]]


@pytest.mark.torch
def test_layers_match_their_torch_modules():
    torch = pytest.importorskip("torch")
    from torch import nn

    from convcalc.layers.descriptor import find_hook

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 5))
    for layer in (Rescaling((0.5, 1.5, -2.0), offset=0.25), Rescaling(1 / 255),
                  Normalization((1.0, 2.0, 3.0), (4.0, 0.5, 9.0))):
        ours = layer.forward(x).output
        module = find_hook("torch", layer)(layer, nn, (3, 4, 5))
        theirs = module(torch.tensor(x)).detach().numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    adapted = Normalization()
    module = find_hook("torch", adapted)(adapted, nn, (3, 4, 5))
    assert sum(b.numel() for b in module.buffers()) == 7 and not list(module.parameters())
    mean, variance = rng.normal(size=3), rng.uniform(0.5, 2.0, size=3)
    module.mean.copy_(torch.tensor(mean))
    module.variance.copy_(torch.tensor(variance))
    np.testing.assert_allclose(adapted.forward(x, {"mean": mean, "variance": variance}).output,
                               module(torch.tensor(x)).numpy(), rtol=1e-6)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["keras.efficientnetb0", "keras.efficientnetv2b0", "keras.mobilenetv3small",
                                  "keras.convnexttiny"])
def test_torch_build_of_the_keras_entries(name):
    torch = pytest.importorskip("torch")
    from convcalc.network.torch_build import build_torch

    net = zoo.get(name)
    model = build_torch(net)
    report = walk(net)
    assert sum(p.numel() for p in model.parameters()) == report.totals.params
    # buffers: BN's running mean/var/count and the adapted Normalization's mean, variance, count
    assert sum(b.numel() for b in model.buffers()) == report.totals.buffers
    with torch.no_grad():
        assert tuple(model(torch.zeros((1, *net.input))).shape) == (1, 1000)
    buffers_keras_counts = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    assert report.totals.params + buffers_keras_counts == keras_total_params(report)
