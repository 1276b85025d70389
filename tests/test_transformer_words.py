"""The transformers' layer types written by hand: inline-chain words and spec-file types give the
same shapes, parameters and MACs as the zoo's torchvision builds of the same layers (ViT-B/16,
Swin-T, MaxViT-T), bad options give one clear message with exit 2, the front ends that do not
take them say why, and ``convcalc run`` computes them forward and backward (against torch).

Published totals: tests/reference/torchvision_meta.json (torchvision's model metadata)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convcalc import zoo
from convcalc.network.spec import parse_chain, parse_spec
from convcalc.network.walk import describe_rf, walk

META = json.loads((Path(__file__).parent / "reference" / "torchvision_meta.json").read_text(encoding="utf-8"))["models"]


def _rows(report) -> dict:
    found = {}

    def visit(row):
        found[row.name] = row
        for child in row.children:
            visit(child)

    for row in report.rows:
        visit(row)
    return found


def _sums(rows) -> tuple[int, int]:
    return sum(r.params.total for r in rows), sum(r.macs for r in rows)


# --- ViT-B/16 ------------------------------------------------------------------------------------

def test_a_chain_spelling_one_vit_b_16_encoder_block_counts_what_the_zoo_block_counts():
    zoo_block = _rows(walk(zoo.get("vit_b_16")))["encoder.layers.encoder_layer_0"]
    chain = walk(parse_chain("197x768 | ln | mhsa 12 | dropout | ln | fc 3072 | gelu | dropout | fc 768 | dropout"))
    assert chain.output == zoo_block.output == (197, 768)
    assert _sums(chain.rows) == (zoo_block.params.total, zoo_block.macs)
    assert zoo_block.params.total == 4 * 768 * 768 + 4 * 768 + 2 * 2 * 768 + 2 * 768 * 3072 + 3072 + 768
    attention = chain.rows[1]
    assert attention.report.hyper["projection_macs"] == 4 * 197 * 768 * 768
    assert attention.report.hyper["attention_matmul_macs"] == 2 * 197 * 197 * 768


def test_the_patch_embedding_is_the_zoo_conv_proj_read_as_tokens():
    rows = _rows(walk(zoo.get("vit_b_16")))
    patch = walk(parse_chain("3x224x224 | patch 768 p16")).rows[0]
    assert patch.output == rows["tokens"].output == (196, 768)
    assert (patch.params.total, patch.macs) == (rows["conv_proj"].params.total, rows["conv_proj"].macs)
    assert describe_rf(patch.rf) == "16x16" and patch.rf[0].jump == 16


def _vit_b_16_spec() -> dict:
    block = [
        {"type": "residual", "body": [{"type": "layernorm"}, {"type": "self_attention", "num_heads": 12},
                                      {"type": "dropout", "p": 0.0}]},
        {"type": "residual", "body": [{"type": "ln"}, {"type": "linear", "out": 3072}, "gelu",
                                      {"type": "dropout", "p": 0.0}, {"type": "fc", "out": 768},
                                      {"type": "dropout", "p": 0.0}]},
    ]
    return {"name": "vit_b_16_by_hand", "input": "3x224x224", "layers": [
        {"type": "patch_embed", "dim": 768, "patch_size": 16}, {"type": "cls_token"},
        {"type": "pos_embedding"}, {"type": "dropout", "p": 0.0},
        {"type": "repeat", "times": 12, "layers": block},
        {"type": "ln"}, {"type": "token", "index": 0}, {"type": "fc", "out": 1000}]}


def test_a_spec_file_writing_vit_b_16_out_gives_the_published_counts():
    ours = walk(parse_spec(_vit_b_16_spec()))
    built = walk(zoo.get("vit_b_16"))
    assert ours.output == built.output == (1000,)
    assert ours.totals.params == built.totals.params == META["vit_b_16"]["num_params"]
    assert ours.totals.macs == built.totals.macs
    assert round(ours.totals.macs / 1e9, 3) == META["vit_b_16"]["gmacs"]


def test_the_receptive_field_after_global_attention_is_the_whole_input(cli):
    report = walk(parse_chain("3x224x224 | patch 768 p16 | cls | pos | mhsa 12 | token | fc 10"))
    fields = [describe_rf(row.rf) for row in report.rows]
    assert fields == ["16x16", "16x16", "16x16", "all", "all", "all"]  # tokens keep their patch until attention
    # a token sequence given as the input: the attention row still says the whole input
    assert describe_rf(walk(parse_chain("197x768 | ln | mhsa 12")).rows[1].rf) == "all"
    r = cli("arch", "3x224x224 | patch 768 p16 | cls | pos | mhsa 12 | token | fc 10")
    assert r.code == 0
    assert "note: 3: global attention — every output reads every input position" in r.out
    assert "the whole input" in " ".join(r.out.split())


# --- Swin-T and MaxViT-T -------------------------------------------------------------------------

@pytest.mark.parametrize("block,chain", [
    ("features.1.0", "96x56x56 | ln2d | wmsa 3 w7 | droppath | ln2d | conv 384 k1 | gelu | conv 96 k1"),
    ("features.1.1", "96x56x56 | ln2d | wmsa 3 w7 shift3 | droppath 0.018 | ln2d | conv 384 k1 | gelu | conv 96 k1"),
])
def test_a_chain_spelling_a_swin_t_block_counts_what_the_zoo_block_counts(block, chain):
    zoo_block = _rows(walk(zoo.get("swin_t")))[block]
    ours = walk(parse_chain(chain))
    assert ours.output == zoo_block.output
    assert _sums(ours.rows) == (zoo_block.params.total, zoo_block.macs)
    assert sum(r.buffers for r in ours.rows) == zoo_block.buffers


def test_swin_v2_window_attention_from_a_spec_entry_counts_its_position_bias_mlp():
    rows = _rows(walk(zoo.get("swin_v2_t")))
    built = rows["features.1.0.attn"]
    ours = walk(parse_spec({"input": "96x64x64", "layers": [
        {"type": "shifted_window_attention", "num_heads": 3, "window_size": 8, "v2": True}]})).rows[0]
    assert (ours.params.total, ours.macs, ours.buffers) == (built.params.total, built.macs, built.buffers)


def test_a_chain_spelling_a_maxvit_partition_layer_counts_what_the_zoo_layer_counts():
    rows = _rows(walk(zoo.get("maxvit_t")))
    name = next(n for n, r in rows.items() if r.type == "PartitionAttentionLayer" and r.input == (64, 56, 56))
    window = rows[name]
    ours = walk(parse_chain("64x56x56 | partition 7 | ln | relattn 32 | ln | fc 256 | gelu | fc 64 | departition 7"))
    assert ours.output == window.output == (64, 56, 56)
    assert _sums(ours.rows) == (window.params.total, window.macs)
    grid = walk(parse_chain("64x56x56 | partition 7 grid | ln | relattn | departition 7 grid"))
    assert grid.rows[0].type == "grid-partition" and grid.output == (64, 56, 56)


def test_layer_scale_and_stochastic_depth_from_a_chain():
    report = walk(parse_chain("96x56x56 | layer_scale 1e-6 | stochastic_depth 0.1 | drop_path"))
    assert report.rows[0].params.total == 96 and report.rows[0].report.hyper["init"] == 1e-6
    assert [r.type for r in report.rows[1:]] == ["stochastic_depth", "stochastic_depth"]
    assert report.rows[1].report.hyper["p"] == 0.1


def test_stochastic_depth_drops_whole_samples_when_training():
    import numpy as np

    from convcalc.layers.elementwise import Dropout

    x = np.ones((64, 3, 4, 4))
    y = Dropout(0.5, kind="stochastic_depth").forward(x, training=True, rng=np.random.default_rng(1)).output
    per_sample = {tuple(np.unique(sample)) for sample in y}
    assert per_sample <= {(0.0,), (2.0,)} and len(per_sample) == 2  # each sample kept whole (×2) or dropped


# --- bad input: one message, exit 2 ---------------------------------------------------------------

@pytest.mark.parametrize("chain,message", [
    ("197x768 | mhsa", "self_attention needs heads"),
    ("197x768 | mhsa 5", "5 heads must divide the 768 features"),
    ("197x768 | mhsa 0", "heads must be a whole number ≥ 1"),
    ("3x225x224 | patch 768 p16", "H = 225 is not a multiple of the patch size 16"),
    ("3x224x224 | patch p16", "patch_embed needs dim"),
    ("96x56x56 | wmsa 3 shift7", "shift must be 0 to 6"),
    ("96x56x56 | wmsa 5", "5 heads must divide the 96 channels"),
    ("3x224x224 | cls", "class token takes a token sequence L x D"),
    ("64x56x56 | partition 5", "H = 56 is not a multiple of the partition size 5"),
    ("12x49x8 | departition 7", "12 groups are not a square grid"),
    ("4x49x64 | relattn 5", "head_dim 5 must divide the 64 features"),
    ("4x48x64 | relattn", "48 tokens a group are not a square window"),
    ("197x768 | mhsa 12 bogus", "'bogus' is not an option of self_attention"),
])
def test_bad_transformer_chains_say_what_is_wrong_in_one_line(cli, chain, message):
    r = cli("arch", chain)
    assert r.code == 2
    assert r.err.startswith("convcalc: error:") and r.err.count("\n") == 1, r.err
    assert message in r.err, r.err


def test_a_bad_spec_entry_names_its_json_path(cli, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"input": "197x768", "layers": [{"type": "ln"}, {"type": "mhsa", "heads": 0}]}))
    r = cli("arch", str(path))
    assert r.code == 2 and "layers[1].heads must be a whole number ≥ 1" in r.err, r.err


def test_the_front_ends_without_them_say_why(cli, tmp_path):
    r = cli("shape", "--op", "mhsa", "--in", "197x768")
    assert r.code == 2 and "'mhsa' (self_attention) is a layer of networks, not a convcalc shape op" in r.err
    spec = tmp_path / "trace.json"
    spec.write_text(json.dumps({"input": [[1, 2], [3, 4]], "layers": [{"type": "wmsa", "heads": 1}]}))
    r = cli("backprop", str(spec))
    assert r.code == 2 and '"wmsa" (window_attention) is not a backprop trace type' in r.err
    assert "convcalc run NETWORK --backward" in r.err
    r = cli("run", "96x16x16 | wmsa 3 w8 v2")
    assert r.code == 2 and "Swin V2 window attention is analysed, not run on numbers yet" in r.err


# --- forward and backward on numbers --------------------------------------------------------------

@pytest.mark.torch
@pytest.mark.parametrize("chain", [
    "3x32x32 | patch 16 p8 | cls | pos | ln | mhsa 2 | token | fc 10",
    "8x8x8 | wmsa 2 w4 shift2 | partition 4 | relattn 4 | departition 4 | partition 2 grid | relattn 4 "
    "| departition 2 grid | layer_scale 0.1 | droppath 0.2",
])
def test_convcalc_run_computes_them_as_torch_does(cli, chain):
    pytest.importorskip("torch")
    r = cli("run", chain, "--compare", "--backward", "--dtype", "float64", "--json")
    assert r.code == 0, r.err
    compare = r.json()["compare"]
    assert len(compare["layers"]) == len(chain.split("|")) - 1
    for key in ("max_output_diff", "max_grad_diff", "max_param_grad_diff"):
        assert compare[key] < 1e-9, (key, compare[key])


@pytest.mark.torch
def test_arch_verify_builds_the_transformer_chain_in_torch(cli):
    pytest.importorskip("torch")
    r = cli("arch", "3x32x32 | patch 16 p8 | cls | pos | ln | mhsa 2 | token | fc 10", "--verify")
    assert r.code == 0, r.err
    r = cli("arch", "16x8x8 | wmsa 2 w4 shift2 | partition 4 | relattn 8 | departition 4", "--verify")
    assert r.code == 0, r.err


# --- the patch embedding is a conv for every convention ---------------------------------------------

@pytest.mark.parametrize("tool", ["torchinfo", "fvcore", "ptflops", "thop", "ultralytics-thop", "calflops",
                                  "flop_counter"])
def test_every_tool_counts_the_patch_embedding_as_the_conv_it_is(tool):
    from convcalc.network.tools import as_tool

    ours = as_tool(walk(parse_chain("3x32x32 | patch 16 p8 | ln | fc 10")), tool)
    spelled = as_tool(walk(parse_chain("3x32x32 | conv 16 k8 s8 | tokens | ln | fc 10")), tool)
    assert (ours.value, ours.parts) == (spelled.value, spelled.parts)


def test_training_counts_the_patch_embedding_backward_as_a_conv():
    from convcalc.network.training import training

    ours = training(walk(parse_chain("3x32x32 | conv 4 k3 | patch 16 p2 | fc 10")))
    spelled = training(walk(parse_chain("3x32x32 | conv 4 k3 | conv 16 k2 s2 | tokens | fc 10")))
    assert (ours.dx_macs, ours.dw_macs) == (spelled.dx_macs, spelled.dw_macs)
    assert ours.dx_macs > 0


def test_every_name_and_key_the_readme_table_documents_is_accepted():
    import re

    from convcalc.layers.descriptor import lookup

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| chain | spec type"):]
    rows = table[:table.index("\n\n")].splitlines()[2:]
    assert len(rows) >= 11
    for row in rows:
        chain, names, _ = (cell.strip() for cell in row.strip("|").split("|"))
        described = [lookup("spec", words.split()[0]) for words in re.findall(r"`([^`]+)`", chain)]
        assert described and None not in described, row
        types, _, keys = names.partition("keys")
        for word in re.findall(r"`([^`]+)`", types):
            assert lookup("spec", word) in described, f"README names {word!r} for {chain}"
        for key in re.findall(r"`([^`]+)`", keys):
            assert any(d.option(key) for d in described if d), f"README names key {key!r} for {chain}"
