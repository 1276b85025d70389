"""Every torchvision classification CNN of the zoo against torchvision's published figures
(tests/reference/torchvision_meta.json: num_params and _ops of each Weights enum), and the
builder options: --classes, --aux (the auxiliary classifiers torchvision's num_params include for
Inception v3), --width (the MobileNet V1 paper's width/resolution table)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convcalc import zoo
from convcalc.errors import InputError
from convcalc.network.walk import describe_rf, walk

REFERENCE = Path(__file__).resolve().parent / "reference" / "torchvision_meta.json"


def _reference() -> dict:
    return json.loads(REFERENCE.read_text())  # a missing file fails, never skips


def _rows(network) -> dict:
    """Every row of the walk by name: layers, merges and the blocks that hold them."""
    found = {}

    def visit(row):
        found[row.name] = row
        for child in row.children:
            visit(child)

    for row in walk(network).rows:
        visit(row)
    return found


@pytest.mark.parametrize("name", sorted(_reference()["models"]))
def test_published_params_and_macs(name):
    ref = _reference()["models"][name]
    network = zoo.get(name)
    report = walk(network)
    assert list(network.input) == ref["input"], "the default input is the weights' crop size"
    assert report.output == (1000,)
    assert report.totals.params == ref["num_params"]
    assert round(report.totals.macs / 1e9, ref.get("decimals", 3)) == ref["gmacs"]


def test_every_torchvision_classification_model_is_in_the_zoo():
    names = _reference()["list_models"]["names"]
    assert len(names) == 80
    missing = [name for name in names if not zoo.has(name)]
    assert not missing
    for name in names:
        assert zoo.get(name).name == name and zoo.get(name).source == "torchvision"


def test_every_torchvision_cnn_family_size_is_registered():
    names = set(zoo.names())
    sizes = ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")
    expected = {f"regnet_{xy}_{size}" for xy in "xy" for size in sizes}
    expected |= {"regnet_y_128gf"} | {f"efficientnet_b{i}" for i in range(8)} | {f"efficientnet_v2_{s}" for s in "sml"}
    expected |= {f"convnext_{s}" for s in ("tiny", "small", "base", "large")}
    expected |= {"resnext101_32x8d", "resnext101_64x4d", "wide_resnet101_2"}
    expected |= {f"shufflenet_v2_x{w}" for w in ("0_5", "1_0", "1_5", "2_0")}
    expected |= {f"mnasnet{a}" for a in ("0_5", "0_75", "1_0", "1_3")}
    assert expected <= names
    for name in expected:
        assert name in _reference()["models"], f"{name} has no published figure in the reference"


# ---------------------------------------------------------------- structure the published totals do not pin down


def test_efficientnet_scaling_rules():
    # B4: width 1.4 → stem make_divisible(32·1.4) = 48; depth 1.8 → stage 6 has ceil(4·1.8) = 8 blocks
    rows = _rows(zoo.get("efficientnet_b4"))
    assert rows["features.0"].output == (48, 190, 190)
    assert "features.6.7" in rows and "features.6.8" not in rows
    assert rows["features.8"].output == (4 * 448, 12, 12)  # last conv: 4 × make_divisible(320·1.4) = 4 × 448


def test_efficientnet_v2_fused_blocks():
    rows = _rows(zoo.get("efficientnet_v2_s"))
    # stage 1: FusedMBConv with expand ratio 1 is one 3×3 conv 24 → 24, residual with stochastic depth
    assert rows["features.1.0"].type == "FusedMBConv"
    assert rows["features.1.0.block.0.0"].params.total == 24 * 24 * 9
    assert "features.1.0.add" in rows
    # stage 2's first block: 3×3 stride-2 expand 24 → 96, then 1×1 projection to 48; no SE
    assert rows["features.2.0.block.0.0"].output == (96, 96, 96)
    assert rows["features.2.0.block.1.0"].output == (48, 96, 96)
    assert not any(name.startswith("features.2.") and name.endswith("fc1") for name in rows)
    assert rows["features.7"].output == (1280, 12, 12)


def test_regnet_y_128gf_stages():
    rows = _rows(zoo.get("regnet_y_128gf"))
    # torchvision's BlockParams for depth 27, w_0 456, w_a 160.83, w_m 2.52, group width 264
    widths = [rows[f"trunk_output.block{i}"].output[0] for i in range(1, 5)]
    assert widths == [528, 1056, 2904, 7392]
    assert rows["fc"].params.total == 7392 * 1000 + 1000


# ---------------------------------------------------------------- --aux


def test_inception_v3_aux_matches_torchvision_num_params():
    ref = _reference()["aux"]["inception_v3"]
    plain, with_aux = walk(zoo.get("inception_v3")), walk(zoo.get("inception_v3", aux=True))
    assert with_aux.totals.params == ref["num_params"] == 27_161_264
    # torchvision's _ops is measured in eval mode, where the auxiliary head does not run
    assert round(plain.totals.macs / 1e9, 3) == ref["gmacs"]
    rows = _rows(zoo.get("inception_v3", aux=True))
    aux = rows["AuxLogits"]
    assert aux.type == "InceptionAux" and aux.output == (1000,)
    # InceptionAux on 768×17×17: avg pool 5/3 → 5×5, 1×1 conv 128 (+BN), 5×5 conv 768 (+BN), fc 768 → 1000
    assert rows["AuxLogits.avg_pool"].output == (768, 5, 5)
    assert rows["AuxLogits.conv1.conv"].output == (768, 1, 1)
    assert aux.params.total == (768 * 128 + 256) + (128 * 768 * 25 + 1536) + (768 * 1000 + 1000)
    assert aux.macs == 25 * 768 * 128 + 128 * 25 * 768 + 768 * 1000
    assert with_aux.totals.macs == plain.totals.macs + aux.macs
    # the main path is unchanged: Mixed_7a still reads Mixed_6e's 768×17×17
    assert rows["Mixed_7a"].input == (768, 17, 17)
    assert with_aux.output == (1000,)
    # TF-slim's published receptive field of Mixed_7c (inception_v3): 1311, effective stride 32
    assert describe_rf(rows["Mixed_7c"].rf) == "1311x1311"
    assert rows["Mixed_7c"].rf[0].jump == 32


def test_googlenet_aux_heads():
    ref = _reference()["aux"]["googlenet"]
    report = walk(zoo.get("googlenet", aux=True))
    assert report.totals.params == ref["num_params"]
    rows = _rows(zoo.get("googlenet", aux=True))
    # aux1 reads inception4a (512×14×14), aux2 inception4d (528×14×14): pool to 4×4, 1×1 conv 128
    assert rows["aux1.conv.conv"].params.total == 512 * 128
    assert rows["aux2.conv.conv"].params.total == 528 * 128
    assert rows["aux1.fc1"].input == (2048,) and rows["aux1.fc2"].output == (1000,)


# ---------------------------------------------------------------- --classes, --width


def test_classes_changes_only_the_classifier():
    base = walk(zoo.get("resnet50")).totals.params
    ten = walk(zoo.get("resnet50", classes=10))
    assert ten.output == (10,)
    assert ten.totals.params == base - 2048 * 990 - 990
    assert walk(zoo.get("inception_v3", classes=10, aux=True)).output == (10,)
    assert _rows(zoo.get("inception_v3", classes=10, aux=True))["AuxLogits.fc"].output == (10,)
    assert walk(zoo.get("squeezenet1_1", classes=10)).output == (10,)  # a conv classifier
    for entry in zoo.entries():
        assert "classes" in entry.options, entry.name


@pytest.mark.parametrize("width, size, mmacs, mparams", [
    # Howard et al. 2017, Table 6 (width multiplier, 224) and Table 7 (resolution, width 1.0):
    # million mult-adds and million parameters as printed
    (0.75, 224, 325, 2.6), (0.5, 224, 149, 1.3), (0.25, 224, 41, 0.5),
    (1.0, 192, 418, 4.2), (1.0, 160, 290, 4.2), (1.0, 128, 186, 4.2),
])
def test_mobilenet_v1_width_and_resolution_table(width, size, mmacs, mparams):
    report = walk(zoo.get("mobilenet_v1", width=width), (3, size, size))
    # the paper prints whole millions, rounding some and truncating others (160: 290.7 printed 290)
    assert abs(report.totals.macs / 1e6 - mmacs) < 1
    assert round(report.totals.params / 1e6, 1) == mparams


def test_mobilenet_v2_width_follows_torchvision():
    rows = _rows(zoo.get("mobilenet_v2", width=0.5))
    assert rows["features.0.0"].output == (16, 112, 112)  # make_divisible(32 · 0.5)
    assert rows["features.18.0"].output == (1280, 7, 7)  # 1280 · max(1, 0.5)
    # Sandler et al. 2018, Table 6 of the appendix-free paper: MobileNetV2 0.5 at 224 is 97M mult-adds
    assert round(walk(zoo.get("mobilenet_v2", width=0.5)).totals.macs / 1e6) == 97
    wide = _rows(zoo.get("mobilenet_v2", width=1.4))
    assert wide["features.18.0"].output == (1792, 7, 7)


def test_bad_options_are_refused():
    with pytest.raises(InputError, match="resnet50 has no --aux option; only googlenet, inception_v3"):
        zoo.get("resnet50", aux=True)
    with pytest.raises(InputError, match="no --width"):
        zoo.get("alexnet", width=0.5)
    with pytest.raises(InputError, match="--width must be"):
        zoo.get("mobilenet_v1", width=-1)
    with pytest.raises(InputError, match="--classes must be"):
        zoo.get("resnet18", classes=0)


# ---------------------------------------------------------------- the CLI


def test_cli_options(cli):
    doc = cli("arch", "inception_v3", "--aux", "--json").json()
    assert doc["totals"]["params"] == 27_161_264
    assert cli("arch", "resnet18", "--classes", "10", "--json").json()["output"] == [10]
    r = cli("arch", "resnet18", "--aux")
    assert r.code == 2 and "no --aux option" in r.err and "Traceback" not in r.err
    r = cli("arch", "3x32x32 | conv 6 k5 | flatten | fc 10", "--classes", "3")
    assert r.code == 2 and "only appl" in r.err
    r = cli("arch", "mobilenet_v1", "--width", "0.5", "--in", "3x160x160", "--json")
    assert r.code == 0 and r.json()["output"] == [1000]


def test_list_is_grouped_by_family(cli):
    r = cli("arch", "--list")
    assert r.code == 0
    lines = r.out.splitlines()
    assert max(len(line) for line in lines) <= 80
    titles = [line for line in lines if line.endswith(":") and not line.startswith(" ")]
    assert "RegNet (X and Y):" in titles and "EfficientNet (B0-B7, V2):" in titles
    assert lines.index("RegNet (X and Y):") < lines.index(next(l for l in lines if l.startswith("regnet_y_128gf")))
    doc = cli("arch", "--list", "--json").json()
    assert doc["schema"] == "convcalc/zoo/v1"
    by_name = {n["name"]: n for n in doc["networks"]}
    assert set(by_name) == set(zoo.names())
    assert by_name["inception_v3"]["options"] == ["classes", "aux"]
    assert by_name["regnet_x_8gf"]["family"] == "RegNet (X and Y)"


def test_search_and_suggestions(cli):
    r = cli("arch", "--search", "regnety")
    assert r.code == 0
    names = {line.split()[0] for line in r.out.splitlines()
             if line and not line.startswith(" ") and not line.endswith(":")}
    assert names == {n for n in zoo.names() if n.startswith("regnet_y")}
    r = cli("arch", "--search", "squeeze-and-excitation", "--json")
    assert "se_resnet50" in {n["name"] for n in r.json()["networks"]}
    r = cli("arch", "--search", "qqqq")
    assert r.code == 2 and "no zoo network mentions 'qqqq'" in r.err
    r = cli("arch", "efficientnet")
    assert r.code == 2 and "did you mean efficientnet_b0" in r.err
    r = cli("arch", "regnet_y_128")
    assert r.code == 2 and "regnet_y_128gf" in r.err


def test_the_generated_family_index_matches_the_registry():
    from pathlib import Path

    text = (Path(zoo.__file__).with_name("index.py")).read_text(encoding="utf-8")
    assert text == zoo.index_text(), "convcalc/zoo/index.py is stale: run python -m convcalc.zoo"
