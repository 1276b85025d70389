"""The small defects of issue 11, each with a test that failed before its fix."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from convcalc.errors import InputError
from convcalc.network.spec import parse_spec_text
from convcalc.notation import parse_padding


def test_depthwise_separable_k3_is_3x3(cli):
    doc = cli("shape", "--op", "depthwise-separable", "--in", "32x112x112", "--k", "3", "--out", "64", "--json").json()
    assert doc["hyper"]["kernel_size"] == [3, 3]
    assert Fraction(doc["comparison"]["formula_value"]) == Fraction(1, 64) + Fraction(1, 9) == Fraction(73, 576)
    assert doc["comparison"]["formula_value"] == doc["comparison"]["macs_ratio"]
    out = cli("shape", "--op", "depthwise-separable", "--in", "32x112x112", "--k", "3", "--out", "64", "--explain").out
    assert "1/64 + 1/9" in out and "1/64 + 1/3" not in out


def test_conv_at_is_honoured_in_json(cli):
    doc = cli("conv", "1 2 3; 4 5 6; 7 8 9", "1 0; 0 1", "--at", "1,1", "--json").json()
    assert doc["at"] == [1, 1]
    assert [e["index"] for e in doc["entries"]] == [[1, 1]] and doc["entries"][0]["value"] == 5 + 9
    doc = cli("pool", "1 2 3; 4 5 6; 7 8 9", "--k", "2", "--stride", "1", "--at", "0,1", "--json").json()
    assert [e["index"] for e in doc["entries"]] == [[0, 1]] and doc["entries"][0]["value"] == 6
    doc = cli("conv-transpose", "1 2; 3 4", "1 2; 3 4", "--at", "1,1", "--json").json()
    assert len(doc["entries"]) == 1
    assert cli("conv", "1 2; 3 4", "1 0; 0 1", "--at", "5,5", "--json").code == 2


def test_conv_groups(cli):
    doc = cli("conv", "1 2; 3 4 | 5 6; 7 8", "1 0; 0 1 | 2 0; 0 2", "--groups", "2", "--json").json()
    assert doc["groups"] == 2 and doc["output"] == [[[1 + 4]], [[2 * 5 + 2 * 8]]]
    assert cli("conv", "1 2; 3 4 | 5 6; 7 8", "1 0; 0 1 | 2 0; 0 2", "--groups", "3").code == 2


@pytest.mark.torch
def test_conv_groups_against_torch(cli, tmp_path):
    torch = pytest.importorskip("torch")
    x = (torch.arange(4 * 5 * 5) % 7 - 3).reshape(4, 5, 5)
    w = (torch.arange(6 * 2 * 3 * 3) % 5 - 2).reshape(6, 2, 3, 3)
    (tmp_path / "x.json").write_text(json.dumps(x.tolist()))
    (tmp_path / "w.json").write_text(json.dumps(w.tolist()))
    doc = cli("conv", tmp_path / "x.json", tmp_path / "w.json", "--groups", "2", "--pad", "1", "--stride", "2",
              "--explain", "--json").json()
    expected = torch.nn.functional.conv2d(x[None].double(), w.double(), padding=1, stride=2, groups=2)[0]
    assert doc["output"] == expected.long().tolist()


def test_decimal_lr_is_read_as_written_and_documented(cli):
    spec = cli("backprop", "--example", "course").out
    out = cli("backprop", "-", "--lr", "1e-6", input=spec).out
    assert "lr = 1e-06 = 1/1000000" in out  # read as written: the update stays exact
    assert "999987/1000000" in out
    readme = (__import__("pathlib").Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert "`--lr 1e-6`" in readme and "read as the number written" in readme


def test_padding_words_lenient_on_the_cli_with_a_note(cli):
    r = cli("shape", "--op", "conv", "--in", "3x8x8", "--k", "3", "--pad", "SAME", "--padding-mode", "Zeros")
    assert r.code == 0
    assert "PyTorch requires 'same' exactly" in r.out and "PyTorch requires 'zeros' exactly" in r.out
    assert "PyTorch requires" not in cli("shape", "--op", "conv", "--in", "3x8x8", "--k", "3", "--pad", "same").out


@pytest.mark.parametrize("command",
                         [("conv", "1 2 3; 4 5 6; 7 8 9", "1 0; 0 -1"), ("pool", "1 2 3; 4 5 6; 7 8 9", "--k", "2"),
                                     ("im2col", "1 2 3; 4 5 6; 7 8 9", "--k", "2")])
def test_numeric_commands_note_a_padding_word_pytorch_would_refuse(cli, command):
    lenient = cli(*command, "--pad", "VALID", "--format", "text")
    exact = cli(*command, "--pad", "valid", "--format", "text")
    assert lenient.code == exact.code == 0 and lenient.out == exact.out  # read the same way
    assert lenient.err.count("PyTorch requires 'valid' exactly (it refuses 'VALID')") == 1
    assert "PyTorch requires" not in exact.err


def test_an_inline_chain_notes_a_padding_word_pytorch_would_refuse(cli):
    lenient = cli("arch", "3x32x32 | conv 8 k3 pSAME | relu | conv 8 k3 pSAME", "--format", "text")
    exact = cli("arch", "3x32x32 | conv 8 k3 psame | relu | conv 8 k3 psame", "--format", "text")
    assert lenient.code == exact.code == 0
    assert lenient.out.count("PyTorch requires 'same' exactly") == 1  # once, however often it is written
    assert "PyTorch requires" not in exact.out
    assert lenient.out.split("act:")[0] == exact.out.split("act:")[0]  # the same table and totals


@pytest.mark.parametrize("word", ["SAME", "Same", "valid ", "VALID"])
def test_padding_words_refused_in_spec_files(word):
    assert parse_padding(word) in ("same", "valid")
    with pytest.raises(InputError, match="PyTorch requires"):
        parse_padding(word, strict=True)
    spec = json.dumps({"input": "3x8x8", "layers": [{"type": "conv", "out": 4, "k": 3, "pad": word}]})
    with pytest.raises(InputError, match="PyTorch requires"):
        parse_spec_text(spec)


def test_adaptive_pool_to_zero_follows_pytorch(cli):
    r = cli("shape", "--op", "adaptive-avgpool", "--in", "3x7x7", "--output-size", "0x3")
    assert r.code == 0 and "3x0x3" in r.out and "empty tensor" in r.out
    r = cli("arch", "3x7x7 | aap 0")
    assert r.code == 0 and "3x0x0" in r.out and "empty tensor" in r.out


@pytest.mark.torch
def test_adaptive_pool_to_zero_matches_torch_shape(cli):
    torch = pytest.importorskip("torch")
    expected = tuple(torch.nn.AdaptiveAvgPool2d((0, 3))(torch.zeros(1, 3, 7, 7)).shape[1:])
    doc = cli("shape", "--op", "adaptive-avgpool", "--in", "3x7x7", "--output-size", "0x3", "--json").json()
    assert tuple(doc["output"]) == expected


def test_fc_on_a_feature_map_warns(cli):
    r = cli("arch", "3x8x8 | conv 4 k3 | fc 10", "--json")
    assert any("a flatten is probably missing" in w for w in r.json()["warnings"])
    r = cli("arch", "3x8x8 | conv 4 k3 | flatten | fc 10", "--json")
    assert not any("flatten" in w for w in r.json()["warnings"])


# --- backprop specs ------------------------------------------------------------------------------

def _spec(layers, **top):
    return json.dumps({"input": [[1, -2, 0], [3, -1, 2], [0, 1, -1]], "layers": layers, "loss": "sum", **top})


def test_backprop_dtype_key(cli):
    conv = [{"type": "conv2d", "weight": [[1, 0], [2, -1]]}]
    assert "exact arithmetic" in cli("backprop", "-", input=_spec(conv, dtype="exact")).out
    out = cli("backprop", "-", input=_spec(conv, dtype="float64")).out
    assert "float64 throughout" in out
    out = cli("backprop", "-", input=_spec(conv, dtype="float32")).out
    assert "float32 throughout" in out
    r = cli("backprop", "-", input=_spec(conv, dtype="int8"))
    assert r.code == 2 and "exact, float64, float32" in r.err
    decimals = json.dumps({"input": [[0.5, 1], [1, 2]], "layers": conv, "loss": "sum", "dtype": "exact"})
    r = cli("backprop", "-", input=decimals)
    assert r.code == 2 and '"1/2"' in r.err


@pytest.mark.parametrize("padding", [[[0, 2], [0, 2]], "0:2x0:2"])
def test_backprop_asymmetric_padding(cli, padding):
    """Seed 002's case: padding 0 before, 2 after, per axis (F.pad then an unpadded conv)."""
    doc = cli("backprop", "-", "--json", input=_spec([{"type": "conv2d", "padding": padding,
                                                        "weight": [[1, 0], [2, -1]]}])).json()
    assert doc["layers"][0]["shape"] == [4, 4]  # (3 + 0 + 2 − 2) + 1
    assert "padding 0:2x0:2" in json.dumps(doc["steps"][0]["rules"])


@pytest.mark.torch
@pytest.mark.parametrize("layers", [
    [{"type": "conv2d", "padding": [[0, 2], [1, 0]], "weight": [[1, 0], [2, -1]]}],
    [{"type": "conv2d", "weight": [[1, 0], [2, -1]]}, {"type": "elu"}],
    [{"type": "conv2d", "weight": [[1, 0], [2, -1]]}, {"type": "dropout", "p": 0.5, "mask": [[1, 0], [1, 1]]}],
    [{"type": "lrn", "size": 2}],
], ids=["asymmetric-padding", "elu", "dropout-mask", "lrn"])
def test_new_backprop_layers_agree_with_torch(cli, layers):
    spec = _spec(layers) if layers[0]["type"] != "lrn" else json.dumps(
        {"input": [[[1, 2], [0, 1]], [[2, 1], [1, 0]], [[0, 1], [2, 2]]], "layers": layers, "loss": "sum"})
    r = cli("backprop", "-", "--verify", "torch", input=spec)
    assert r.code == 0, r.err
    assert "agree with torch" in r.out


def test_backprop_dropout_uses_the_given_mask(cli):
    doc = cli("backprop", "-", "--json", input=_spec([
        {"type": "conv2d", "weight": [[1, 0], [2, -1]]}, {"type": "dropout", "p": 0.5, "mask": [[1, 0], [1, 1]]}
    ])).json()
    assert doc["activations"][1] == [[16, 0], [4, 4]]  # J = [[8, −6], [2, 2]] · mask / (1 − 1/2)
    assert doc["grad_input"] is not None
    r = cli("backprop", "-", input=_spec([{"type": "dropout", "p": 0.5}]))
    assert r.code == 2 and '"mask"' in r.err


@pytest.mark.torch
def test_backprop_float32_verify_runs_torch_in_float32(cli):
    spec = json.dumps({"input": [[0.1, 0.2], [0.3, 0.4]], "dtype": "float32",
                       "layers": [{"type": "conv2d", "weight": [[0.1, 0.2], [0.3, 0.7]]}], "loss": "sum"})
    pytest.importorskip("torch")
    r = cli("backprop", "-", "--verify", "torch", input=spec)
    assert r.code == 0 and "in float32" in r.out
