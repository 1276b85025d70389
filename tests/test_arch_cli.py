"""convcalc arch through the CLI: contract keys, formats, folding, inputs, errors, checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from convcalc import zoo
from tests.conftest import golden

EXAMPLES = Path(__file__).parent.parent / "examples"
LENET_CHAIN = ("3x32x32 | conv 6 k5 | relu | maxpool k2 | conv 16 k5 | relu | maxpool k2 | flatten | "
               "fc 120 | fc 84 | fc 10")


def test_json_contract_keys(cli):
    r = cli("arch", "alexnet", "--json")
    assert r.code == 0
    doc = r.json()
    assert doc["schema"] == "convcalc/arch/v1"
    for key in ("schema", "name", "input", "output", "layers", "totals"):
        assert key in doc
    for layer in doc["layers"]:
        assert {"name", "type", "output", "params", "macs", "rf"} <= set(layer)
    totals = doc["totals"]
    assert {"params", "trainable", "macs", "flops"} <= set(totals)
    assert totals["params"] == 61_100_840  # docs/arithmetic.md §4
    assert totals["macs"] == 714_188_480  # docs/arithmetic.md §5.5: conv + linear only
    assert totals["flops"] == 2 * totals["macs"]
    assert doc["input"] == [3, 224, 224] and doc["output"] == [1000]
    assert doc["layers"][0]["rf"] == {"size": [11, 11], "jump": [4, 4], "start": [3, 3]}


def test_batchnorm_stats_are_buffers(cli):
    doc = cli("arch", str(EXAMPLES / "resnet_block.json"), "--json").json()
    bn = next(l for l in doc["layers"] if l["type"] == "batchnorm")
    assert bn["params"] == 128 and bn["buffers"] == 129
    assert doc["totals"]["buffers"] > 0 and doc["totals"]["trainable"] == doc["totals"]["params"]


def test_list_shows_every_zoo_network(cli):
    r = cli("arch", "--list")
    assert r.code == 0
    assert max(len(line) for line in r.out.splitlines()) <= 80
    for entry in zoo.entries():
        assert entry.name in r.out.split()
    listed = {n["name"]: n["source"] for n in cli("arch", "--list", "--json").json()["networks"]}
    assert listed == {e.name: e.source for e in zoo.entries()}


def test_depth_folds_blocks(cli):
    full = cli("arch", "alexnet", "--json").json()
    folded = cli("arch", "alexnet", "--depth", "1", "--json").json()
    names = [l["name"] for l in folded["layers"]]
    assert names == ["features", "avgpool", "flatten", "classifier"]
    features = folded["layers"][0]
    assert features["params"] == sum(l["params"] for l in full["layers"] if l["name"].startswith("features."))
    assert features["output"] == [256, 6, 6]
    assert folded["totals"] == full["totals"]


def test_new_input_size_follows_the_walk(cli):
    if zoo.has("resnet50"):
        doc = cli("arch", "resnet50", "--in", "3x160x160", "--json").json()
        assert doc["output"] == [1000] and doc["totals"]["params"] == 25_557_032
        assert any(l["output"] == [2048, 5, 5] for l in doc["layers"])
    else:
        doc = cli("arch", "alexnet", "--in", "3x160x160", "--json").json()
        assert doc["output"] == [1000]


def test_alexnet_too_small_names_the_layer(cli):
    r = cli("arch", "alexnet", "--in", "3x32x32")
    assert r.code == 2
    assert "features.12" in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_unknown_network_suggests(cli):
    r = cli("arch", "alexnt")
    assert r.code == 2 and "alexnet" in r.err


def test_dash_and_underscore(cli):
    if not zoo.has("resnet50"):
        pytest.skip("no networks with dashes yet")
    assert cli("arch", "wide-resnet50-2" if zoo.has("wide_resnet50_2") else "resnet50", "--json").code == 0


def test_expect_params(cli):
    assert cli("arch", "alexnet", "--expect-params", "61,100,840").code == 0
    r = cli("arch", "alexnet", "--expect-params", "61100841")
    assert r.code == 1 and "61,100,840" in r.err


def test_csv_and_markdown(cli):
    rows = cli("arch", "alexnet", "--csv").out.strip().splitlines()
    assert rows[0].split(",")[:5] == ["name", "type", "output", "params", "macs"]
    assert len(rows) == 1 + 22
    assert rows[1].startswith("features.0,conv2d,64x55x55,23296,70276800")
    md = cli("arch", "alexnet", "--markdown").out.splitlines()
    assert md[0].startswith("| name | type | output |")
    assert set(md[1]) <= set("|-:")
    assert sum(1 for line in md if line.startswith("| ")) == 1 + 22


def test_text_fits_80_columns(cli):
    for name in ("alexnet", "densenet121") if zoo.has("densenet121") else ("alexnet",):
        out = cli("arch", name).out
        assert max(len(line) for line in out.splitlines()) <= 80


def test_golden_alexnet(cli):
    golden("arch_alexnet.txt", cli("arch", "alexnet").out)


def test_inline_chain_golden(cli):
    doc = cli("arch", LENET_CHAIN, "--json").json()
    assert doc["output"] == [10]
    expected = 456 + 2_416 + 48_120 + 10_164 + 850  # conv 3→6 k5, conv 6→16 k5, fc 400→120, 120→84, 84→10
    assert doc["totals"]["params"] == expected == 62_006
    assert [l["output"] for l in doc["layers"][:3]] == [[6, 28, 28], [6, 28, 28], [6, 14, 14]]
    # LeNet-5's classic 61,706 is the same chain on a 1-channel input.
    assert cli("arch", LENET_CHAIN.replace("3x32x32", "1x32x32"), "--expect-params", "61706").code == 0


def test_inline_chain_with_in(cli):
    doc = cli("arch", "conv 8 k3 p1 nobias | bn | relu | gap | flatten | fc 2", "--in", "3x16x16", "--json").json()
    assert doc["output"] == [2]
    assert doc["totals"]["params"] == 8 * 3 * 9 + 16 + 8 * 2 + 2


@pytest.mark.parametrize("chain, fragment", [
    ("3x32x32 | conv 6 k5 | conv 16 k0", "at token 3 'conv 16 k0': kernel must be ≥ 1"),
    ("3x32x32 | conv 6 q5", "at token 2 'conv 6 q5'"),
    ("3x32x32 | convv 6 k3", "did you mean"),
    ("3x32x32 || relu", "at token 2"),
    ("conv 6 k3 | relu", "input shape"),
    ("3x32x32 | dropout 1.5", "between 0 and 1"),
])
def test_inline_chain_errors(cli, chain, fragment):
    r = cli("arch", chain)
    assert r.code == 2, r.out
    assert fragment in r.err


@pytest.mark.parametrize("name", ["lenet5.json", "resnet_block.json", "inception_block.json"])
def test_examples_parse_and_walk(cli, name):
    doc = cli("arch", str(EXAMPLES / name), "--json").json()
    assert doc["layers"] and doc["totals"]["params"] > 0


def test_example_numbers(cli):
    assert cli("arch", str(EXAMPLES / "lenet5.json"), "--json").json()["totals"]["params"] == 61_706
    inc = cli("arch", str(EXAMPLES / "inception_block.json"), "--json").json()
    assert inc["output"] == [256, 28, 28]  # 64 + 128 + 32 + 32
    block = cli("arch", str(EXAMPLES / "resnet_block.json"), "--json").json()
    names = [l["name"] for l in block["layers"]]
    assert "layer1.0.conv1" in names and "layer2.downsample.0" in names and "layer3.shortcut" in names


def test_malformed_json_line_and_column(cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"input": "3x8x8",\n "layers": [\n  {"type": "conv", "out": 4 "k": 3}\n ]}\n')
    r = cli("arch", str(bad))
    assert r.code == 2 and "line 3, column" in r.err


def test_bad_entry_json_path(cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"input": "3x8x8", "layers": [{"type": "conv", "out": 4, "k": 3}, {"type": "maxpool", "k": "x"}]}')
    r = cli("arch", str(bad))
    assert r.code == 2 and "layers[1].k" in r.err


def test_residual_mismatch_names_both_branches(cli, tmp_path):
    spec = tmp_path / "mismatch.json"
    spec.write_text('{"input": "16x8x8", "layers": [{"name": "block", "type": "residual",'
                    ' "body": [{"type": "conv", "out": 32, "k": 3, "p": 1}]}]}')
    r = cli("arch", str(spec))
    assert r.code == 2
    assert "the body" in r.err and "shortcut" in r.err and "32x8x8" in r.err and "16x8x8" in r.err


def test_dtype_and_batch(cli):
    f32 = cli("arch", "alexnet", "--json").json()["totals"]
    f16 = cli("arch", "alexnet", "--json", "--dtype", "float16", "--batch", "2").json()["totals"]
    assert f16["param_bytes"] * 2 == f32["param_bytes"]
    assert f16["activation_bytes"] == f32["activation_bytes"]  # half the bytes, twice the batch
    assert f16["macs"] == 2 * f32["macs"]
    assert cli("arch", "alexnet", "--dtype", "float7").code == 2


def test_training(cli):
    doc = cli("arch", "alexnet", "--training", "--optimizer", "adam", "--json").json()
    tr = doc["training"]
    first_conv = doc["layers"][0]["macs"]
    assert tr["dw_macs"] == doc["totals"]["macs"]
    assert tr["dx_macs"] == doc["totals"]["macs"] - first_conv
    assert tr["optimizer_bytes"] == 2 * doc["totals"]["param_bytes"]
    assert tr["layers"][0]["dx_macs"] == 0


def test_count_adds_categories(cli):
    doc = cli("arch", "alexnet", "--count", "bias,activation", "--json").json()
    assert doc["count"]["value"] == 714_188_480 + 494_184 + 493_184
    assert cli("arch", "alexnet", "--count", "cats").code == 2


def test_no_heavy_imports():
    code = ("import sys; from typer.testing import CliRunner; from convcalc.cli.app import app;"
            "r = CliRunner().invoke(app, ['arch', 'alexnet', '--json']); assert r.exit_code == 0;"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'numpy', 'sympy'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- folding, 80 columns, training table


def test_depth_shows_block_kinds(cli):
    layers = {l["name"]: l for l in cli("arch", "resnet50", "--depth", "1", "--json").json()["layers"]}
    assert layers["layer1"]["type"] == "3×Bottleneck" and layers["layer1"]["folded_layers"] == 3 * 10 + 2
    assert layers["layer3"]["type"] == "6×Bottleneck"
    assert layers["conv1"]["type"] == "conv2d" and "folded_layers" not in layers["conv1"]
    dense = {l["name"]: l["type"] for l in cli("arch", "densenet121", "--depth", "2", "--json").json()["layers"]}
    assert dense["features.denseblock1"] == "DenseBlock" and dense["features.transition1"] == "Transition"
    deeper = {l["name"]: l["type"] for l in cli("arch", "densenet121", "--depth", "3", "--json").json()["layers"]}
    assert deeper["features.denseblock1.denselayer1"] == "DenseLayer"
    text = cli("arch", "densenet121", "--depth", "2").out
    assert "DenseBlock" in text and "Transition" in text


def test_depth_folding_keeps_totals_and_follows_the_tree(cli):
    full = cli("arch", "inception_v3", "--json").json()
    for depth in ("1", "2", "3"):
        folded = cli("arch", "inception_v3", "--depth", depth, "--json").json()
        assert sum(l["params"] for l in folded["layers"]) == full["totals"]["params"]
        assert sum(l["macs"] for l in folded["layers"]) == full["totals"]["macs"]
        assert sum(l.get("folded_layers", 1) for l in folded["layers"]) == len(full["layers"])
    whole = cli("arch", "alexnet", "--depth", "0", "--json").json()["layers"]
    assert len(whole) == 1 and whole[0]["params"] == 61_100_840 and whole[0]["folded_layers"] == 22


def test_training_table_shows_backward_columns(cli):
    out = cli("arch", "alexnet", "--training").out
    header = out.splitlines()[0].split()
    assert header[:5] == ["name", "type", "output", "params", "MACs"] and "dX" in header and "dW" in header
    first = out.splitlines()[2].split()
    assert first[0] == "features.0" and first[5] == "0" and first[6] == "70.3M"  # no dX for the first layer
    csv_rows = cli("arch", "alexnet", "--training", "--csv").out.splitlines()
    assert csv_rows[0].endswith("dx_macs,dw_macs")
    assert csv_rows[1].endswith(",0,70276800")
    folded = cli("arch", "alexnet", "--training", "--depth", "1", "--csv").out.splitlines()
    layers = cli("arch", "alexnet", "--training", "--json").json()["training"]["layers"]
    dx = sum(l["dx_macs"] for l in layers if l["name"].startswith("features."))
    dw = sum(l["dw_macs"] for l in layers if l["name"].startswith("features."))
    assert folded[1].startswith("features,Sequential,") and folded[1].endswith(f",{dx},{dw}")


@pytest.mark.parametrize("args", [
    ("resnet50",), ("densenet121", "--depth", "2"), ("alexnet", "--training"), ("inception_v3",),
    ("resnet50", "--as", "ptflops"), ("googlenet", "--depth", "2", "--training", "--optimizer", "adam"),
])
def test_text_fits_80_columns_everywhere(cli, args):
    out = cli("arch", *args).out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_shortened_names_keep_their_ends():
    from convcalc.render.network import shorten_name

    assert shorten_name("layer1.0.conv1", 20) == "layer1.0.conv1"
    assert shorten_name("layer1.0.downsample.0", 17) == "…1.0.downsample.0"
    assert shorten_name("features.denseblock1", 15) == "…denseblock1"  # a cut word fragment is dropped
    assert len(shorten_name("Mixed_7b.branch3x3dbl_3a.conv", 16)) == 16


@pytest.mark.parametrize("golden_name, args", [
    ("arch_lenet5.txt", ("lenet5",)),
    ("arch_alexnet_paper.txt", ("alexnet_paper",)),
    ("arch_densenet121_depth2.txt", ("densenet121", "--depth", "2")),
    ("arch_alexnet_training_depth1.txt", ("alexnet", "--training", "--depth", "1", "--optimizer", "adam")),
    ("arch_resnet18_as_ptflops.txt", ("resnet18", "--depth", "1", "--as", "ptflops")),
])
def test_goldens(cli, golden_name, args):
    golden(golden_name, cli("arch", *args).out)


def test_spec_kind_names_folded_blocks(cli, tmp_path):
    spec = tmp_path / "kinds.json"
    spec.write_text(json.dumps({"input": "8x8x8", "layers": [
        {"name": "stage", "type": "repeat", "times": 2, "layers": [
            {"type": "residual", "kind": "BasicBlock", "body": [{"type": "conv", "out": 8, "k": 3, "p": 1}, "relu"]}]},
        {"name": "head", "type": "sequence", "kind": "Head", "layers": ["gap", "flatten", {"type": "fc", "out": 2}]}]}))
    layers = {l["name"]: l["type"] for l in cli("arch", str(spec), "--depth", "1", "--json").json()["layers"]}
    assert layers == {"stage": "2×BasicBlock", "head": "Head"}
    bad = tmp_path / "bad_kind.json"
    bad.write_text(json.dumps({"input": "8x8x8", "layers": [{"type": "sequence", "kind": 3, "layers": ["relu"]}]}))
    r = cli("arch", str(bad))
    assert r.code == 2 and "layers[0].kind" in r.err
