"""The classic, ResNet and SqueezeNet zoo networks against independent figures:
tests/reference/models.json (torchvision / course totals), the worked examples of the
course seeds, the papers' layer tables, and torch itself running the tutorial's own code."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from convcalc import zoo
from convcalc.network.build import conv, maxpool, seq
from convcalc.network.model import Network
from convcalc.network.walk import walk

REFERENCE = Path(__file__).resolve().parent / "reference" / "models.json"
FAMILIES = ("classic", "resnet", "squeezenet")

MINE = [
    "alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
    "lenet5", "alexnet_paper", "cifar_cnn", "zfnet", "nin",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2",
    "resnet20", "resnet32", "resnet56", "se_resnet50",
    "squeezenet1_0", "squeezenet1_1",
]


def build(name: str) -> Network:
    """Build a network of these three families without importing the other (independently edited) families."""
    for family in FAMILIES:
        importlib.import_module(f"convcalc.zoo.{family}")
    return zoo._REGISTRY[name].build()


def rows(name: str, input_shape=None) -> dict:
    return {row.name: row for row in walk(build(name), input_shape).flat()}


def _reference() -> dict:
    return json.loads(REFERENCE.read_text())["models"]  # a missing file fails, never skips


def _reference_names() -> list[str]:
    models = _reference()
    return [name for name in MINE if name in models]


# ----------------------------------------------------------------------------- registry

def test_all_registered_with_source_and_summary():
    build("alexnet")
    for name in MINE:
        entry = zoo._REGISTRY[name]
        assert entry.source and entry.summary
        network = entry.build()
        assert network.name == name


# ----------------------------------------------------------------------------- totals vs models.json

@pytest.mark.parametrize("name", _reference_names())
def test_reference_totals(name):
    ref = _reference()[name]
    report = walk(build(name))
    assert list(report.input) == ref["input"]
    assert list(report.output) == ref["output"]
    assert report.totals.params == ref["params"]
    assert round(report.totals.macs / 1e6, 1) == ref["mmacs"]


# torchvision's published parameter counts for the VGG-BN models (its weights table).
@pytest.mark.parametrize("name, params", [
    ("vgg11_bn", 132_868_840), ("vgg13_bn", 133_053_736), ("vgg16_bn", 138_365_992), ("vgg19_bn", 143_678_248),
])
def test_vgg_bn_published_params(name, params):
    report = walk(build(name))
    assert report.totals.params == params
    # BatchNorm adds 2 parameters per conv channel and no MACs: same MACs as plain VGG
    assert report.totals.macs == walk(build(name[:-3])).totals.macs


# ----------------------------------------------------------------------------- worked example 5 (AlexNet, ZF Net)

def test_alexnet_paper_worked_example_5():
    report = walk(build("alexnet_paper"))
    assert report.input == (3, 227, 227)
    main = [r for r in report.flat() if r.type.startswith(("conv", "maxpool", "linear"))]
    expected = [
        (96, 55, 55), (96, 27, 27), (256, 27, 27), (256, 13, 13), (384, 13, 13), (384, 13, 13),
        (256, 13, 13), (256, 6, 6), (4096,), (4096,), (1000,),
    ]
    assert [r.output for r in main] == expected
    assert report.totals.params == 62_378_344
    # the paper's neuron counts 186,624-64,896-64,896-43,264 for CONV2-CONV5 (its first figure, 253,440,
    # is not 55·55·96 = 290,400 and is left out)
    counts = [r.output[0] * r.output[1] * r.output[2] for r in main if r.type.startswith("conv")]
    assert counts[1:] == [186_624, 64_896, 64_896, 43_264]
    # NORM1/NORM2 (LRN) of the notes keep the shape and add no parameters
    by_name = {r.name: r for r in report.flat()}
    assert by_name["features.norm1"].output == (96, 27, 27) and by_name["features.norm1"].params.total == 0
    assert by_name["features.norm2"].output == (256, 13, 13)


def test_zfnet_changes_and_map_sizes():
    r = rows("zfnet")
    # Zeiler & Fergus 2014 Fig. 3: 224 -> 110 -> 55 -> 26 -> 13 -> 13 -> 13 -> 6
    assert r["features.conv1"].output == (96, 110, 110)
    assert r["features.pool1"].output == (96, 55, 55)
    assert r["features.conv2"].output == (256, 26, 26)
    assert r["features.pool2"].output == (256, 13, 13)
    # CS231n: CONV3,4,5 with 512, 1024, 512 filters
    assert [r[f"features.conv{i}"].output for i in (3, 4, 5)] == [(512, 13, 13), (1024, 13, 13), (512, 13, 13)]
    assert r["features.pool5"].output == (512, 6, 6)
    assert r["flatten"].output == (6 * 6 * 512,)
    # 7x7x3 CONV1 weights
    assert r["features.conv1"].params.total == 96 * (7 * 7 * 3 + 1)
    expected = (96 * (7 * 7 * 3 + 1) + 256 * (5 * 5 * 96 + 1) + 512 * (9 * 256 + 1) + 1024 * (9 * 512 + 1)
                + 512 * (9 * 1024 + 1) + 4096 * (18432 + 1) + 4096 * (4096 + 1) + 1000 * (4096 + 1))
    assert walk(build("zfnet")).totals.params == expected == 107_627_624


# ----------------------------------------------------------------------------- worked example 6 (CIFAR-10 CNN)

def test_cifar_cnn_worked_example_6():
    report = walk(build("cifar_cnn"))
    r = {row.name: row for row in report.flat()}
    assert r["conv_layer.18"].output == (256, 4, 4)  # the tutorial's conv_layer(dummy) -> [1, 256, 4, 4]
    assert r["flatten"].output == (4096,)
    assert report.output == (10,)
    assert report.totals.params == 5_852_170
    # the seed's printed module list: BN at 1, 7, 14; pools at 5, 11, 18; Dropout2d(0.05) at 12
    assert [r[f"conv_layer.{i}"].params.total for i in (1, 7, 14)] == [2 * 32, 2 * 128, 2 * 256]
    assert all(r[f"conv_layer.{i}"].type.startswith("maxpool") for i in (5, 11, 18))
    assert r["conv_layer.12"].type == "dropout2d"


def test_cifar_cnn_matches_torch_running_the_seed_code():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    # verbatim from seed 004 (CifarCNN.conv_layer / fc_layer)
    conv_layer = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.Conv2d(128, 128, 3, padding=1),
        nn.ReLU(), nn.MaxPool2d(2, 2), nn.Dropout2d(p=0.05),
        nn.Conv2d(128, 256, 3, padding=1), nn.BatchNorm2d(256), nn.ReLU(), nn.Conv2d(256, 256, 3, padding=1),
        nn.ReLU(), nn.MaxPool2d(2, 2),
    )
    fc_layer = nn.Sequential(nn.Dropout(0.1), nn.Linear(4096, 1024), nn.ReLU(), nn.Linear(1024, 512), nn.ReLU(),
                             nn.Dropout(0.1), nn.Linear(512, 10))
    r = rows("cifar_cnn")
    with torch.no_grad():
        x = torch.zeros(1, 3, 32, 32)
        for index, module in enumerate(conv_layer):
            x = module(x)
            assert r[f"conv_layer.{index}"].output == tuple(x.shape[1:]), index
    total = sum(p.numel() for m in (conv_layer, fc_layer) for p in m.parameters())
    assert walk(build("cifar_cnn")).totals.params == total


# ----------------------------------------------------------------------------- LeNet-5

def test_lenet5_layer_shapes():
    report = walk(build("lenet5"))
    assert report.input == (1, 32, 32)
    main = [r.output for r in report.flat() if r.type.startswith(("conv", "avgpool", "linear", "flatten"))]
    # LeCun et al. 1998: C1 6@28x28, S2 6@14x14, C3 16@10x10, S4 16@5x5, C5 120 (1x1), F6 84, output 10
    assert main == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1), (120,), (84,), (10,)]
    # C1 156 and F6 10,164 trainable parameters, as the paper states; C3 fully connected: 16·(6·25+1)
    r = {row.name: row for row in report.flat()}
    assert r["features.c1"].params.total == 156
    assert r["classifier.f6"].params.total == 10_164
    assert r["features.c3"].params.total == 16 * (6 * 25 + 1)
    assert all(row.type in ("tanh",) for row in report.flat() if row.name.split(".")[-1].startswith("tanh"))


# ----------------------------------------------------------------------------- NiN

def test_nin_cifar10():
    report = walk(build("nin"))
    r = {row.name: row for row in report.flat()}
    assert report.input == (3, 32, 32) and report.output == (10,)
    # three mlpconv blocks at 32, 16 and 8 (Caffe ceil-mode 3x3/2 pools), global average pool over 10 maps
    assert r["features.4"].output == (96, 32, 32)
    assert r["features.6"].output == (96, 16, 16)
    assert r["features.14"].output == (192, 8, 8)
    assert r["features.20"].output == (10, 8, 8)
    expected = (192 * (75 + 1) + 160 * 193 + 96 * 161 + 192 * (96 * 25 + 1) + 192 * 193 + 192 * 193
                + 192 * (192 * 9 + 1) + 192 * 193 + 10 * 193)
    assert report.totals.params == expected == 966_986  # ~0.97M as published for the CIFAR-10 NiN


# ----------------------------------------------------------------------------- receptive fields (§6.3)

def test_rf_torchvision_alexnet_features():
    rf = rows("alexnet")["features.12"].rf
    assert rf is not None
    for axis in rf:
        assert (axis.size, axis.jump, axis.start) == (195, 32, 31)


@pytest.mark.parametrize("n, size", [(1, 3), (2, 5), (3, 7)])
def test_rf_stacked_3x3(n, size):
    net = Network("stack", (1, 32, 32), seq(*[conv(1, 3, pad=1) for _ in range(n)]))
    last = walk(net).flat()[-1]
    assert [axis.size for axis in last.rf] == [size, size]


def test_rf_conv_then_pool():
    # CS231n-style check: 3x3 conv then 2x2/2 pool -> 4, jump 2
    net = Network("cp", (1, 32, 32), seq(conv(1, 3), maxpool(2, 2)))
    last = walk(net).flat()[-1]
    assert [(a.size, a.jump) for a in last.rf] == [(4, 2), (4, 2)]


# ----------------------------------------------------------------------------- ResNets

def test_resnet50_layer_shapes():
    r = rows("resnet50")
    # He et al. 2016 Table 1: conv2_x 56x56, conv3_x 28x28, conv5_x 7x7; torchvision channel widths
    assert r["conv1"].output == (64, 112, 112)
    assert r["maxpool"].output == (64, 56, 56)
    assert r["layer1.0.conv1"].output == (64, 56, 56)
    assert r["layer1.0.downsample.0"].output == (256, 56, 56)
    assert r["layer2.0.conv2"].output == (128, 28, 28)  # v1.5: stride on the 3x3
    assert r["layer2.0.conv1"].output == (128, 56, 56)
    assert r["layer2.0.downsample.0"].output == (512, 28, 28)
    assert r["layer4.2.conv3"].output == (2048, 7, 7)
    assert r["avgpool"].output == (2048, 1, 1)
    assert r["fc"].output == (1000,)
    assert r["fc"].params.total == 2048 * 1000 + 1000


def test_resnext_grouped_conv():
    r = rows("resnext50_32x4d")
    # 32 groups x 4 channels = 128 in stage 1; weight 128·(128/32)·9
    assert r["layer1.0.conv2"].output == (128, 56, 56)
    assert r["layer1.0.conv2"].params.total == 128 * 4 * 9


def _cifar_resnet_params(n: int) -> int:
    """He et al. 2016 Sec. 4.2 by hand: bias-free 3x3 convs + BN (2 per channel), option A, FC 64->10."""
    stem = 3 * 16 * 9 + 2 * 16
    stage1 = n * 2 * (16 * 16 * 9 + 2 * 16)
    stage2 = (16 * 32 * 9 + 32 * 32 * 9 + 4 * 32) + (n - 1) * 2 * (32 * 32 * 9 + 2 * 32)
    stage3 = (32 * 64 * 9 + 64 * 64 * 9 + 4 * 64) + (n - 1) * 2 * (64 * 64 * 9 + 2 * 64)
    return stem + stage1 + stage2 + stage3 + 64 * 10 + 10


@pytest.mark.parametrize("name, n, exact, published_m", [
    ("resnet20", 3, 269_722, 0.27), ("resnet32", 5, 464_154, 0.46), ("resnet56", 9, 853_018, 0.85),
])
def test_cifar_resnet_params(name, n, exact, published_m):
    total = walk(build(name)).totals.params
    assert total == _cifar_resnet_params(n) == exact
    assert round(total / 1e6, 2) == published_m  # the paper's Table 6


def test_resnet20_shapes():
    report = walk(build("resnet20"))
    r = {row.name: row for row in report.flat()}
    assert report.input == (3, 32, 32)
    # Sec. 4.2: feature maps 32, 16, 8 with 16, 32, 64 filters
    assert r["conv1"].output == (16, 32, 32)
    assert r["layer1.2.relu"].output == (16, 32, 32)
    assert r["layer2.0.conv1"].output == (32, 16, 16)
    assert r["layer2.0.shortcut"].output == (32, 16, 16)
    assert r["layer2.0.shortcut"].params.total == 0  # option A is parameter-free
    assert r["layer3.2.relu"].output == (64, 8, 8)
    assert r["fc"].output == (10,)
    convs = [row for row in report.flat() if row.type.startswith("conv")]
    assert len(convs) + 1 == 20  # 6n + 1 convs and the FC layer


def test_se_resnet50():
    ref = _reference()["resnet50"]["params"]
    # SE block on c channels, reduction 16, 1x1-conv "FC" layers with bias: c·c/16 + c/16 + c/16·c + c
    def se(c):
        return 2 * c * (c // 16) + c // 16 + c
    extra = 3 * se(256) + 4 * se(512) + 6 * se(1024) + 3 * se(2048)
    report = walk(build("se_resnet50"))
    assert report.totals.params == ref + extra == 28_088_024  # Hu et al. 2018: ~28.1M
    r = {row.name: row for row in report.flat()}
    assert r["layer1.0.se.fc1"].output == (16, 1, 1)
    assert r["layer1.0.se.fc2"].output == (256, 1, 1)
    assert r["layer1.0.se.scale"].output == (256, 56, 56)
    assert report.output == (1000,)


# ----------------------------------------------------------------------------- SqueezeNet

def test_squeezenet_fire_and_ceil_pools():
    r = rows("squeezenet1_0")
    assert r["features.0"].output == (96, 109, 109)
    assert r["features.2"].output == (96, 54, 54)  # ceil_mode: floor would give 53
    assert r["features.3.squeeze"].output == (16, 54, 54)
    assert r["features.3.expand.concat"].output == (128, 54, 54)
    assert r["features.11"].output == (512, 13, 13)  # third ceil-mode pool: 27 -> 13
    assert r["features.12.expand_activation"].output == (512, 13, 13)
    assert r["classifier.1"].output == (1000, 13, 13)
    assert r["flatten"].output == (1000,)
    # Fire(96, 16, 64, 64): 96·16+16 + 16·64+64 + 16·64·9+64
    fire2 = sum(r[f"features.3.{n}"].params.total for n in ("squeeze", "expand.expand1x1", "expand.expand3x3"))
    assert fire2 == 96 * 16 + 16 + 16 * 64 + 64 + 16 * 64 * 9 + 64


def test_option_error_agrees_in_number_with_the_networks_named():
    """One network named takes the singular verb, several the plural."""
    import pytest

    from convcalc import zoo
    from convcalc.errors import InputError

    entries = list(zoo.entries())
    option, users = next((o, [e for e in entries if o in e.options]) for e in entries for o in e.options
                         if sum(o in f.options for f in entries) == 1)
    other = next(e for e in entries if option not in e.options)
    with pytest.raises(InputError, match=f"only {users[0].name} takes it"):
        zoo.check_options(other, {option: None})
