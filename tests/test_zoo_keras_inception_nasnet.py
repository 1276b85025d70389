"""keras.xception, keras.inceptionv3, keras.inceptionresnetv2, keras.nasnetmobile, keras.nasnetlarge:
the keras.io Parameters column (tests/reference/keras_applications.json, checked for every Keras
entry in test_zoo_keras.py) and the shapes Keras's own source states in its comments
(keras/src/applications/inception_v3.py "mixed 0: 35 x 35 x 256" …, inception_resnet_v2.py
"Mixed 5b (Inception-A block): 35 x 35 x 320" …), TensorFlow's SAME padding where it is
asymmetric, and the batch-norm rule behind --as keras (scale=False: β alone is a parameter)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from convcalc import zoo
from convcalc.interop.keras_model import moving_statistics
from convcalc.layers.norm import BatchNorm
from convcalc.network.walk import NetworkReport, walk

REFERENCE = Path(__file__).resolve().parent / "reference" / "keras_applications.json"
NAMES = ("keras.xception", "keras.inceptionv3", "keras.inceptionresnetv2", "keras.nasnetmobile", "keras.nasnetlarge")


@cache
def _report(name: str) -> NetworkReport:
    return walk(zoo.get(name))


def _rows(name: str) -> dict:
    return {row.name: row for row in _report(name).flat()}


def _reference() -> dict:
    return json.loads(REFERENCE.read_text())["models"]


@pytest.mark.parametrize("name", NAMES)
def test_total_is_parameters_plus_two_moving_statistics_per_batch_norm(name):
    ref = _reference()[name]
    report = _report(name)
    size = int(ref["input"].split("x")[0])
    assert report.input == (3, size, size) and report.output == (1000,)
    norms = [row for row in report.leaves() if row.type == "batchnorm"]
    assert moving_statistics(report) == sum(2 * row.input[0] for row in norms)
    assert report.totals.params + sum(2 * row.input[0] for row in norms) == ref["total_params"]


def test_xception_trainable_parameters_are_keras_trainable_params():
    assert _report("keras.xception").totals.params == _reference()["keras.xception"]["trainable_params"]


def test_xception_flows():
    rows = _rows("keras.xception")
    # Chollet 2017, Fig. 5: entry flow to 19x19x728, middle flow 8 times, exit flow 10x10x2048 (at 299)
    assert rows["block1.conv1"].output == (32, 149, 149)  # 3x3/2 valid
    assert rows["block1.conv2"].output == (64, 147, 147)
    assert rows["block4.add"].output == (728, 19, 19)
    assert all(rows[f"block{b}.add"].output == (728, 19, 19) for b in range(5, 13))
    assert rows["block14.sepconv2_act"].output == (2048, 10, 10)
    # 'same' max pool 3x3/2 on 74 rows: TensorFlow pads (0, 1), the extra row at the bottom
    assert rows["block3.pool"].report.hyper["padding"] == [[0, 1], [0, 1]]
    assert rows["block2.pool"].report.hyper["padding"] == [[1, 1], [1, 1]]  # 147 rows: (1, 1)
    # separable 3x3 728->728 without bias: 9·728 + 728·728
    assert rows["block5.sepconv1"].params.total == 9 * 728 + 728 * 728
    # the shortcut: Keras's unnamed 1x1/2 conv and its batch norm
    assert rows["block13.residual.conv2d_3"].output == (1024, 10, 10)
    assert rows["block13.residual.batch_normalization_3"].params.total == 2 * 1024


def test_inception_v3_shapes_from_the_keras_source():
    rows = _rows("keras.inceptionv3")
    assert rows["max_pooling2d_1"].output == (192, 35, 35)
    for block, shape in {"mixed0": (256, 35, 35), "mixed1": (288, 35, 35), "mixed2": (288, 35, 35),
                         "mixed3": (768, 17, 17), "mixed4": (768, 17, 17), "mixed7": (768, 17, 17),
                         "mixed8": (1280, 8, 8), "mixed9": (2048, 8, 8), "mixed10": (2048, 8, 8)}.items():
        assert rows[f"{block}.concat"].output == shape
    # conv2d_bn's batch norm has scale=False: β only (C), and moving mean and variance (2C)
    bn = rows["batch_normalization"]
    assert bn.params.total == 32 and bn.params.weight == 0 and bn.buffers == 2 * 32 + 1
    # Keras's automatic names count the 94 convolutions in creation order
    assert rows["mixed10.conv2d_93"].output == (192, 8, 8)
    assert rows["mixed9.mixed9_0.concat"].output == (768, 8, 8)
    assert rows["mixed10.concatenate_1.concat"].output == (768, 8, 8)
    convs = [r for r in _report("keras.inceptionv3").leaves() if r.type.startswith("conv")]
    assert len(convs) == 94


def test_inception_resnet_v2_shapes_from_the_keras_source():
    rows = _rows("keras.inceptionresnetv2")
    assert rows["max_pooling2d_1"].output == (192, 35, 35)  # "Stem block: 35 x 35 x 192"
    assert rows["mixed_5b.concat"].output == (320, 35, 35)
    assert rows["block35_10.ac"].output == (320, 35, 35)
    assert rows["mixed_6a.concat"].output == (1088, 17, 17)
    assert rows["block17_20.ac"].output == (1088, 17, 17)
    assert rows["mixed_7a.concat"].output == (2080, 8, 8)
    assert rows["conv_7b_ac"].output == (1536, 8, 8)
    # the up-projection has a bias and no batch norm; the residual scale has no parameters
    assert rows["block35_1.conv"].params.total == 128 * 320 + 320
    assert rows["block35_1.scale"].params.total == 0
    assert rows["block35_1.scale"].output == (320, 35, 35)
    scales = {name.split("_")[0]: row.report.hyper["factor"] for name, row in rows.items() if name.endswith(".scale")}
    assert scales == {"block35": 0.17, "block17": 0.1, "block8": 1.0}  # the last block8's 1.0 overwrites 0.2
    assert rows["block8_9.scale"].report.hyper["factor"] == 0.2
    # the last block8 (scale 1.0) has no activation after the add
    assert "block8_10.ac" not in rows and "block8_9.ac" in rows


@pytest.mark.parametrize(("name", "stem", "final"), [
    ("keras.nasnetmobile", (32, 111, 111), (1056, 7, 7)),
    ("keras.nasnetlarge", (96, 165, 165), (4032, 11, 11)),
])
def test_nasnet_shapes(name, stem, final):
    rows = _rows(name)
    assert rows["stem_bn1"].output == stem
    last = [r for r in _report(name).flat() if r.type == "relu"][-1]
    assert last.input == final


def test_nasnet_mobile_cells():
    rows = _rows("keras.nasnetmobile")
    f = 1056 // 24
    # reduction cells: 4 f channels at half the size; normal cells 6 f; the state carries p beside x
    cell = "reduction_A_block_stem_1.reduction_concat_stem_1.concat"
    assert rows[cell].output == (4 * f // 4, 56, 56)
    assert rows["normal_A_block_0.normal_concat_0.concat"].output == (6 * f, 28, 28)
    assert rows["normal_A_block_12.normal_concat_12.concat"].output == (6 * 4 * f, 7, 7)
    # stem_1's stride-2 separable conv on 111 rows: SAME pads (2, 2); stem_2's on 56 rows (1, 2)
    left1 = rows["reduction_A_block_stem_1.blocks.reduction_add_1_stem_1.separable_conv_1_reduction_left1_stem_1"]
    assert left1.report.hyper["padding"] == [[2, 2], [2, 2]] and left1.output == (11, 56, 56)
    left1 = rows["reduction_A_block_stem_2.blocks.reduction_add_1_stem_2.separable_conv_1_reduction_left1_stem_2"]
    assert left1.report.hyper["padding"] == [[1, 2], [1, 2]] and left1.output == (22, 28, 28)
    # the factorised reduction of normal cell 0's p (stem_1's output: 56x56, 44 channels) runs in
    # stem_2's carry: two 1x1/2 average pool + 1x1 conv 44 -> 22 paths, the second shifted by a pixel
    carry = "reduction_A_block_stem_2.carry"
    assert rows[f"{carry}.ip"].output == (44, 56, 56)
    path = f"{carry}.concatenate_1"
    assert rows[f"{path}.adjust_conv_1_0"].output == rows[f"{path}.adjust_conv_2_0"].output == (22, 28, 28)
    assert rows[f"{path}.adjust_conv_1_0"].params.total == 44 * 22
    assert rows[f"{path}.zero_padding2d_1"].output == (44, 57, 57)
    assert rows[f"{path}.cropping2d_1"].output == (44, 56, 56)
    assert rows[f"{path}.cropping2d_1"].report.hyper["cropping"] == [[1, 0], [1, 0]]
    assert rows[f"{carry}.adjust_bn_0"].output == (44, 28, 28)
    # stem_2 itself reduced stem_conv1's output (111x111, 32 channels) the same way, in stem_1's carry
    assert rows["reduction_A_block_stem_1.carry.concatenate.adjust_conv_1_stem_2"].params.total == 32 * 11
    # x2 = sep5(p) + sep3(p): one slice of p, then an unnamed pair of branches whose add is the block's
    add2 = "normal_A_block_0.normal_concat_0.normal_add_2_0"
    assert rows[f"{add2}.add"].output == (44, 28, 28) and f"{add2}..add" not in rows
    assert rows[f"{add2}.separable_conv_2_normal_left2_0"].output == (44, 28, 28)
    # normal cell 1's p (stem_2's output, 4·22 = 88 channels at 28x28) needs a projection to 44
    assert rows["normal_A_block_1.inputs.adjust_conv_projection_1"].params.total == 88 * 44


def test_nasnet_mult_adds_match_the_paper():
    # Zoph et al. 2018, Table 2: NASNet-A (4 @ 1056) 564M mult-adds, (6 @ 4032) 23.8B
    assert round(_report("keras.nasnetmobile").totals.macs / 1e6) == 564
    assert round(_report("keras.nasnetlarge").totals.macs / 1e8) == 238


def test_nasnet_large_skips_the_reduction_output():
    rows = _rows("keras.nasnetlarge")
    # skip_reduction: normal cell 7 reads reduce_6's own p — normal cell 4's output, 6·168 = 1008
    # channels at 42x42 — not reduce_6's input; its factorised reduction gives 2·168 at 21x21
    carry = "reduction_A_block_reduce_6.carry"
    assert rows[f"{carry}.p"].output == (1008, 42, 42)
    assert rows[f"{carry}.concatenate_2.adjust_conv_1_7"].params.total == 1008 * 168
    assert rows[f"{carry}.adjust_bn_7"].output == (336, 21, 21)


def test_listed_in_the_keras_family(cli):
    r = cli("arch", "--list")
    assert r.code == 0
    keras_part = r.out[r.out.index("Keras applications"):]
    for name in NAMES:
        assert name in keras_part
    assert {e.name for e in zoo.entries() if e.family == "keras"} >= set(NAMES)


def test_as_keras_cli(cli):
    r = cli("arch", "keras.xception", "--as", "keras")
    assert r.code == 0 and "Total params 22,910,480" in r.out
    r = cli("arch", "keras.nasnetmobile", "--as", "keras", "--depth", "1")
    assert r.code == 0 and "Total params 5,326,716" in r.out


def test_batchnorm_without_scale_runs_as_shift_only():
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 2, 2) / 7
    beta = np.array([0.5, -1.0, 2.0])
    shift = BatchNorm(scale=False, eps=1e-3)
    full = BatchNorm(eps=1e-3)
    assert shift.parameter_shapes(x.shape) == {"bias": (3,)}
    y = shift.forward(x, {"bias": beta})
    y_full = full.forward(x, {"weight": np.ones(3), "bias": beta})
    np.testing.assert_allclose(y.output, y_full.output)
    dy = np.cos(np.arange(24.0)).reshape(x.shape)
    back, back_full = shift.backward(dy, y.cache), full.backward(dy, y_full.cache)
    assert set(back.grads) == {"bias"}
    np.testing.assert_allclose(back.grad_input, back_full.grad_input)
    np.testing.assert_allclose(back.grads["bias"], back_full.grads["bias"])


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_the_torch_build_agrees_layer_by_layer(name):
    # our own torch.nn build of the same network (no Keras, no torchvision): every leaf's output
    # shape, parameters and buffers; InceptionV3's scale=False batch norms, Xception's SAME pools
    # (asymmetric: padded in front), NASNet's channel slices and crops, the Inception-ResNet scale
    from convcalc.network.torch_build import verify

    result = verify(zoo.get(name), _report(name))
    assert result.ok, result.text()
    assert result.checked == len(_report(name).leaves()) - sum(
        1 for row in _report(name).leaves() if row.type in ("add", "concat", "mul"))


@pytest.mark.torch
def test_torch_separable_conv():
    import torch

    from convcalc.layers.descriptor import find_hook
    from convcalc.zoo.keras_inception import separable

    layer = separable(16, 5, 2).layer
    module = find_hook("torch", layer)(layer, torch.nn, (8, 12, 12))
    assert sum(p.numel() for p in module.parameters()) == layer.analyze((8, 12, 12)).params.total == 25 * 8 + 8 * 16
    with torch.no_grad():
        assert tuple(module(torch.zeros(1, 8, 12, 12)).shape[1:]) == layer.analyze((8, 12, 12)).output == (16, 6, 6)


@pytest.mark.parametrize(("spelled", "entry"), [
    ("keras.inception_resnet_v2", "keras.inceptionresnetv2"),  # the and Keras's module spelling
    ("keras.InceptionResNetV2", "keras.inceptionresnetv2"),   # Keras's class name
    ("keras.efficientnet_b0", "keras.efficientnetb0"),
    ("keras.resnet50_v2", "keras.resnet50v2"),
    ("keras.nasnet_mobile", "keras.nasnetmobile"),
])
def test_keras_module_and_class_spellings_name_the_entry(spelled: str, entry: str) -> None:
    assert zoo.canonical(spelled) == entry
    assert zoo.get(spelled).name == zoo.get(entry).name
