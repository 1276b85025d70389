"""The modern zoo families: MobileNet V1/V2/V3, ShuffleNet V2, MNASNet, DenseNet, GoogLeNet,
Inception v3, EfficientNet-B0, RegNet 400MF, ConvNeXt-T — and the channel layers they use.

Totals are checked against tests/reference/models.json (torchvision's parameter counts
and conv+linear MACs) and, for networks not in it, against published figures cited at each test.
Shapes are the ones printed in the papers' tables and torchvision's source comments.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convcalc.errors import InputError
from convcalc.layers.channels import ChannelChunk, LayerScale
from convcalc.network.walk import NetworkReport, describe_rf, walk
from convcalc.zoo import entries, get

REFERENCE = Path(__file__).resolve().parent / "reference" / "models.json"

MODERN = [
    "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "shufflenet_v2_x1_0", "mnasnet1_0",
    "densenet121", "densenet161", "densenet169", "densenet201", "googlenet", "inception_v3",
    "efficientnet_b0", "regnet_x_400mf", "regnet_y_400mf", "convnext_tiny",
]
IN_REFERENCE = [
    "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "shufflenet_v2_x1_0", "mnasnet1_0",
    "densenet121", "densenet169", "googlenet", "inception_v3", "efficientnet_b0", "regnet_x_400mf",
    "regnet_y_400mf", "convnext_tiny",
]

_reports: dict[str, NetworkReport] = {}


def report(name: str) -> NetworkReport:
    if name not in _reports:
        _reports[name] = walk(get(name))
    return _reports[name]


def output_of(name: str, module: str) -> tuple:
    """The output shape of ``module`` (a layer, a block, or a Sequential: its last row)."""
    rows = [row for row in report(name).leaves() if row.name == module or row.name.startswith(module + ".")]
    assert rows, f"{name} has no module {module}"
    return tuple(rows[-1].output)


def row_named(name: str, module: str):
    found = []

    def visit(row):
        if row.name == module:
            found.append(row)
        for child in row.children:
            visit(child)

    for row in report(name).rows:
        visit(row)
    assert found, f"{name} has no row {module}"
    return found[0]


def load_reference() -> dict:
    return json.loads(REFERENCE.read_text())["models"]  # a missing file fails, never skips


# ---------------------------------------------------------------- registry


def test_all_modern_networks_registered_with_source_and_summary():
    registered = {e.name: e for e in entries()}
    for name in MODERN:
        assert name in registered, name
        assert registered[name].source and registered[name].summary
    assert registered["mobilenet_v1"].source.startswith("Howard et al. 2017")
    assert registered["densenet121"].source == "torchvision"


@pytest.mark.parametrize("name", MODERN)
def test_default_input_and_output(name):
    net = get(name)
    assert net.input == ((3, 299, 299) if name == "inception_v3" else (3, 224, 224))
    assert report(name).output == (1000,)


# ---------------------------------------------------------------- reference totals


@pytest.mark.parametrize("name", IN_REFERENCE)
def test_totals_match_reference(name):
    expected = load_reference()[name]
    result = report(name)
    assert tuple(get(name).input) == tuple(expected["input"])
    assert result.output == tuple(expected["output"])
    assert result.totals.params == expected["params"]
    assert round(result.totals.macs / 1e6, 1) == expected["mmacs"]


@pytest.mark.parametrize("name, params, gmacs", [
    # torchvision's weight metadata (DenseNet161_Weights / DenseNet201_Weights: num_params, GFLOPS)
    ("densenet161", 28_681_000, 7.73),
    ("densenet201", 20_013_928, 4.29),
])
def test_densenet_totals_match_torchvision_metadata(name, params, gmacs):
    assert report(name).totals.params == params
    assert round(report(name).totals.macs / 1e9, 2) == gmacs


# ---------------------------------------------------------------- MobileNet V1 (Howard et al. 2017)

# Table 1 of the paper: (input side, input channels, output channels, depthwise stride)
_V1_TABLE = [(112, 32, 64, 1), (112, 64, 128, 2), (56, 128, 128, 1), (56, 128, 256, 2), (28, 256, 256, 1),
             (28, 256, 512, 2)] + [(14, 512, 512, 1)] * 5 + [(14, 512, 1024, 2), (7, 1024, 1024, 1)]


def test_mobilenet_v1_matches_paper_and_keras():
    result = report("mobilenet_v1")
    # Exact count: conv weights (no bias) + BN γ, β + FC 1024·1000 + 1000. Keras' MobileNet(alpha=1.0)
    # reports 4,253,864 parameters of which 21,888 are BN moving statistics: 4,231,976 learnable.
    assert result.totals.params == 4_231_976
    assert round(result.totals.params / 1e6, 1) == 4.2  # the paper's "4.2 million"
    # MACs from Table 1 by hand: the standard conv, then each depthwise (3·3·C per output
    # pixel) and pointwise (C·C_out) pair, then the FC layer.
    macs = 112 * 112 * 32 * 3 * 3 * 3
    for side, c_in, c_out, stride in _V1_TABLE:
        out = side // stride
        macs += out * out * c_in * 9 + out * out * c_in * c_out
    macs += 1024 * 1000
    assert macs == 568_740_352
    assert result.totals.macs == macs
    assert round(result.totals.macs / 1e6) == 569  # the paper's "569 million mult-adds"


def test_mobilenet_v1_shapes():
    assert output_of("mobilenet_v1", "features.0") == (32, 112, 112)
    assert output_of("mobilenet_v1", "features.1") == (64, 112, 112)
    assert output_of("mobilenet_v1", "features.6") == (512, 14, 14)
    assert output_of("mobilenet_v1", "features.13") == (1024, 7, 7)
    # each depthwise-separable block is dw (conv·BN·ReLU) then pw (conv·BN·ReLU)
    assert row_named("mobilenet_v1", "features.2.dw.0").params.total == 64 * 9
    assert row_named("mobilenet_v1", "features.2.pw.0").params.total == 64 * 128


# ---------------------------------------------------------------- MobileNet V2 / V3, ShuffleNet, MNASNet


def test_mobilenet_v2_shapes_and_names():
    assert output_of("mobilenet_v2", "features.0") == (32, 112, 112)
    assert output_of("mobilenet_v2", "features.1") == (16, 112, 112)
    assert output_of("mobilenet_v2", "features.3") == (24, 56, 56)
    assert output_of("mobilenet_v2", "features.17") == (320, 7, 7)
    assert output_of("mobilenet_v2", "features.18") == (1280, 7, 7)
    # features.1 has no expansion: conv.0 is the depthwise ConvBNReLU6
    assert row_named("mobilenet_v2", "features.1.conv.0.0").params.total == 32 * 9
    # features.2 expands 16 → 96, depthwise, projects to 24
    assert row_named("mobilenet_v2", "features.2.conv.0.0").output == (96, 112, 112)
    assert row_named("mobilenet_v2", "features.2.conv.1.0").output == (96, 56, 56)
    assert row_named("mobilenet_v2", "features.2.conv.2").output == (24, 56, 56)
    # a stride-1 block with equal widths is residual
    assert row_named("mobilenet_v2", "features.3").type == "InvertedResidual"
    assert row_named("mobilenet_v2", "features.3.add").output == (24, 56, 56)


def test_mobilenet_v3_shapes_and_squeeze_excitation():
    assert output_of("mobilenet_v3_large", "features.16") == (960, 7, 7)
    assert output_of("mobilenet_v3_large", "classifier.0") == (1280,)
    assert output_of("mobilenet_v3_small", "features.12") == (576, 7, 7)
    assert output_of("mobilenet_v3_small", "classifier.0") == (1024,)
    # large features.4: 24 → 72, 5×5 depthwise stride 2, SE squeezing 72 to 24, project to 40
    se = row_named("mobilenet_v3_large", "features.4.block.2")
    assert se.type == "SqueezeExcitation"
    assert row_named("mobilenet_v3_large", "features.4.block.2.fc1").output == (24, 1, 1)
    assert row_named("mobilenet_v3_large", "features.4.block.2.fc2").params.total == 24 * 72 + 72
    assert se.output == (72, 28, 28)
    assert output_of("mobilenet_v3_large", "features.4") == (40, 28, 28)
    # small features.1 is the SE block at stride 2 without expansion: 16 → 8 → 16
    assert row_named("mobilenet_v3_small", "features.1.block.1.fc1").output == (8, 1, 1)


def test_shufflenet_v2_stage_shapes():
    # Ma et al. 2018, Table 5 (1×): stage2 116×28², stage3 232×14², stage4 464×7², conv5 1024×7²
    assert output_of("shufflenet_v2_x1_0", "maxpool") == (24, 56, 56)
    assert output_of("shufflenet_v2_x1_0", "stage2") == (116, 28, 28)
    assert output_of("shufflenet_v2_x1_0", "stage3") == (232, 14, 14)
    assert output_of("shufflenet_v2_x1_0", "stage4") == (464, 7, 7)
    assert output_of("shufflenet_v2_x1_0", "conv5") == (1024, 7, 7)
    # a stride-1 unit keeps half the channels and transforms the other half
    assert row_named("shufflenet_v2_x1_0", "stage2.1.x1").output == (58, 28, 28)
    assert row_named("shufflenet_v2_x1_0", "stage2.1.branch2.0").params.total == 58 * 58
    # the first unit's branch1: 3×3 depthwise stride 2 on all 24 channels, then 1×1 to 58
    assert row_named("shufflenet_v2_x1_0", "stage2.0.branch1.0").output == (24, 28, 28)
    assert row_named("shufflenet_v2_x1_0", "stage2.0.branch1.2").output == (58, 28, 28)


def test_mnasnet_shapes():
    # torchvision's _get_depths(1.0) = [32, 16, 24, 40, 80, 96, 192, 320] with the strides of its _stack calls
    # (2, 2, 2, 1, 2, 1) after the stride-2 stem: 16@112², 24@56², 40@28², 80@14², 96@14², 192@7², 320@7²
    expected = {"layers.7": (16, 112, 112), "layers.8": (24, 56, 56), "layers.9": (40, 28, 28),
                "layers.10": (80, 14, 14), "layers.11": (96, 14, 14), "layers.12": (192, 7, 7),
                "layers.13": (320, 7, 7), "layers.16": (1280, 7, 7)}
    for module, shape in expected.items():
        assert output_of("mnasnet1_0", module) == shape, module
    assert row_named("mnasnet1_0", "layers.8.0.layers.0").output == (48, 112, 112)  # 16 · expansion 3


# ---------------------------------------------------------------- DenseNet


def test_densenet121_shapes():
    assert output_of("densenet121", "features.pool0") == (64, 56, 56)
    assert output_of("densenet121", "features.denseblock1") == (256, 56, 56)  # 64 + 6·32
    assert output_of("densenet121", "features.transition1") == (128, 28, 28)
    assert output_of("densenet121", "features.denseblock2") == (512, 28, 28)  # 128 + 12·32
    assert output_of("densenet121", "features.transition3") == (512, 7, 7)
    assert output_of("densenet121", "features.norm5") == (1024, 7, 7)
    layer = "features.denseblock1.denselayer1"
    assert row_named("densenet121", layer).type == "DenseLayer"
    # torchvision's module names: the new-features branch adds no name segment
    assert row_named("densenet121", f"{layer}.conv1").output == (128, 56, 56)  # bn_size 4 · growth 32
    assert row_named("densenet121", f"{layer}.conv2").output == (32, 56, 56)
    assert row_named("densenet121", f"{layer}.concat").output == (96, 56, 56)
    assert row_named("densenet121", layer).output == (96, 56, 56)


@pytest.mark.parametrize("name, features", [("densenet161", 2208), ("densenet169", 1664), ("densenet201", 1920)])
def test_densenet_classifier_width(name, features):
    # torchvision's classifier in_features for each variant
    assert output_of(name, "features") == (features, 7, 7)
    assert row_named(name, "classifier").params.total == features * 1000 + 1000


def test_densenet_receptive_field():
    # conv0 7×7/2 → 7 (jump 2); pool0 3×3/2 → 7 + 2·2 = 11 (jump 4); six 3×3 convs → 11 + 6·2·4 = 59
    assert describe_rf(row_named("densenet121", "features.denseblock1.denselayer6").rf) == "59x59"


# ---------------------------------------------------------------- GoogLeNet, Inception v3


def test_googlenet_shapes():
    # Szegedy et al. 2015, Table 1 output sizes
    expected = {"maxpool1": (64, 56, 56), "maxpool2": (192, 28, 28), "inception3a": (256, 28, 28),
                "inception3b": (480, 28, 28), "maxpool3": (480, 14, 14), "inception4a": (512, 14, 14),
                "inception4e": (832, 14, 14), "maxpool4": (832, 7, 7), "inception5a": (832, 7, 7),
                "inception5b": (1024, 7, 7)}
    for module, shape in expected.items():
        assert output_of("googlenet", module) == shape, module
    assert row_named("googlenet", "inception3a").type == "Inception"
    assert row_named("googlenet", "inception3a.branch2.1.conv").output == (128, 28, 28)
    assert row_named("googlenet", "inception3a.branch4.1.conv").output == (32, 28, 28)


def test_inception_v3_shapes():
    # torchvision's inception.py comments (N x C x H x W) for a 299×299 input
    expected = {"Conv2d_1a_3x3": (32, 149, 149), "Conv2d_2a_3x3": (32, 147, 147), "Conv2d_2b_3x3": (64, 147, 147),
                "maxpool1": (64, 73, 73), "Conv2d_3b_1x1": (80, 73, 73), "Conv2d_4a_3x3": (192, 71, 71),
                "maxpool2": (192, 35, 35), "Mixed_5b": (256, 35, 35), "Mixed_5c": (288, 35, 35),
                "Mixed_5d": (288, 35, 35), "Mixed_6a": (768, 17, 17), "Mixed_6e": (768, 17, 17),
                "Mixed_7a": (1280, 8, 8), "Mixed_7b": (2048, 8, 8), "Mixed_7c": (2048, 8, 8)}
    for module, shape in expected.items():
        assert output_of("inception_v3", module) == shape, module
    assert row_named("inception_v3", "Mixed_5b.branch1x1.conv").params.total == 192 * 64
    assert row_named("inception_v3", "Mixed_5b.branch_pool.conv").output == (32, 35, 35)
    # the factorised 7×7 of Mixed_6b: 1×7 then 7×1, 128 channels
    assert row_named("inception_v3", "Mixed_6b.branch7x7_2.conv").params.total == 128 * 128 * 7
    # Inception-E's 1×3 / 3×1 fork
    assert row_named("inception_v3", "Mixed_7b.branch3x3_2b.conv").output == (384, 8, 8)
    assert row_named("inception_v3", "Mixed_7b.branch3x3_2.concat").output == (768, 8, 8)


# ---------------------------------------------------------------- EfficientNet, RegNet, ConvNeXt


def test_efficientnet_b0_stage_shapes():
    # Tan & Le 2019, Table 1: resolution and channels of each stage
    expected = {"features.0": (32, 112, 112), "features.1": (16, 112, 112), "features.2": (24, 56, 56),
                "features.3": (40, 28, 28), "features.4": (80, 14, 14), "features.5": (112, 14, 14),
                "features.6": (192, 7, 7), "features.7": (320, 7, 7), "features.8": (1280, 7, 7)}
    for module, shape in expected.items():
        assert output_of("efficientnet_b0", module) == shape, module
    # SE squeezes to a quarter of the block's input channels: features.2.0 has 16 in, 96 expanded
    assert row_named("efficientnet_b0", "features.2.0.block.2.fc1").output == (4, 1, 1)
    assert row_named("efficientnet_b0", "features.2.1").type == "MBConv"  # residual, with stochastic depth


@pytest.mark.parametrize("name, widths, depths", [
    # Radosavovic et al. 2020 / pycls configs: RegNetX-400MF and RegNetY-400MF
    ("regnet_x_400mf", (32, 64, 160, 400), (1, 2, 7, 12)),
    ("regnet_y_400mf", (48, 104, 208, 440), (1, 3, 6, 6)),
])
def test_regnet_stages(name, widths, depths):
    side = 56
    for stage, (width, depth) in enumerate(zip(widths, depths), start=1):
        assert output_of(name, f"trunk_output.block{stage}") == (width, side, side)
        last = f"trunk_output.block{stage}.block{stage}-{depth - 1}"
        assert row_named(name, last).type == "ResBottleneckBlock"
        with pytest.raises(AssertionError):
            row_named(name, f"trunk_output.block{stage}.block{stage}-{depth}")
        side //= 2
    assert output_of(name, "stem") == (32, 112, 112)


def test_regnet_block_details():
    # RegNetX-400MF block1-0: 32 → 32, group width 16 → 2 groups, stride 2 → projection shortcut
    assert row_named("regnet_x_400mf", "trunk_output.block1.block1-0.f.b.0").params.total == 32 * 16 * 9
    assert row_named("regnet_x_400mf", "trunk_output.block1.block1-0.proj.0").output == (32, 56, 56)
    # RegNetY-400MF SE squeezes to round(0.25 · block input): block2-0 has 48 in → 12
    assert row_named("regnet_y_400mf", "trunk_output.block2.block2-0.f.se.fc1").output == (12, 1, 1)
    assert row_named("regnet_y_400mf", "trunk_output.block2.block2-1.f.se.fc1").output == (26, 1, 1)


def test_convnext_tiny_shapes_and_layer_scale():
    # Liu et al. 2022: stem 4×4/4 → 96×56², stages 96/192/384/768 at 56/28/14/7
    expected = {"features.0": (96, 56, 56), "features.1": (96, 56, 56), "features.3": (192, 28, 28),
                "features.5": (384, 14, 14), "features.7": (768, 7, 7)}
    for module, shape in expected.items():
        assert output_of("convnext_tiny", module) == shape, module
    assert row_named("convnext_tiny", "features.1.0.layer_scale").params.total == 96
    assert row_named("convnext_tiny", "features.1.0.block.3").output == (384, 56, 56)
    assert row_named("convnext_tiny", "features.1.0.block.0").params.total == 96 * 49 + 96
    # stem RF 4 (jump 4), then a 7×7 depthwise conv: 4 + 6·4 = 28
    assert describe_rf(row_named("convnext_tiny", "features.1.0.block.0").rf) == "28x28"


# ---------------------------------------------------------------- channel layers


def test_channel_chunk():
    result = ChannelChunk(2, 1).analyze((116, 28, 28))
    assert result.output == (58, 28, 28)
    assert result.params.total == 0 and result.macs == 0
    assert [(a.kernel, a.stride, a.pad) for a in result.rf] == [(1, 1, 0), (1, 1, 0)]
    with pytest.raises(InputError):
        ChannelChunk(2, 0).analyze((5, 8, 8))
    with pytest.raises(InputError):
        ChannelChunk(2, 2)


def test_layer_scale():
    result = LayerScale().analyze((96, 56, 56), batch=2)
    assert result.output == (96, 56, 56)
    assert result.params.total == 96 and result.macs == 0
    assert dict(result.other_ops)["scale mults"] == 2 * 96 * 56 * 56
