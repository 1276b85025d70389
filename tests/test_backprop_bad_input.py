"""``convcalc backprop`` on bad input: exit 2, one clear line on stderr naming the problem and
what would be valid — never a traceback, never a silent wrong answer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

GOOD_LAYERS = [
    {"type": "conv2d", "weight": [[1, 0], [0, -1]]},
    {"type": "relu"},
    {"type": "flatten"},
    {"type": "linear", "weight": [[1, 2, 0, 1]]},
]


def spec(**changes) -> dict:
    base = {
        "input": [[1, 2, 0], [0, 1, 3], [2, 1, 1]],
        "layers": GOOD_LAYERS,
        "loss": {"type": "mse_half_sum", "target": [3]},
    }
    base.update(changes)
    return base


BAD = {
    "unknown layer type": (spec(layers=[{"type": "convolution2d", "weight": [[1]]}]), "did you mean conv2d"),
    "unknown loss": (spec(loss={"type": "mse_half_sun"}), "did you mean mse_half_sum"),
    "unknown key suggests": (spec(layers=[{"type": "conv2d", "weigth": [[1]]}]), 'did you mean "weight"'),
    "unknown top-level key": (dict(spec(), lyers=[]), 'did you mean "layers"'),
    "no layers or nodes": ({"input": [[1]]}, '"layers" (sequential form) or "nodes"'),
    "ragged input": (spec(input=[[1, 2, 0], [0, 1], [2, 1, 1]]), "ragged"),
    "ragged weight": (spec(layers=[{"type": "conv2d", "weight": [[1, 0], [0]]}]), "ragged"),
    "string that is no number": (spec(input=[[1, "x", 0], [0, 1, 3], [2, 1, 1]]), "is not a number"),
    "boolean entry": (spec(input=[[1, True, 0], [0, 1, 3], [2, 1, 1]]), "not a number"),
    "layer shape mismatch": (
        spec(
            layers=[
                {"type": "conv2d", "weight": [[1, 0], [0, -1]]},
                {"type": "flatten"},
                {"type": "linear", "weight": [[1, 2, 3]]},
            ]
        ),
        "layer 3 (linear): weight is 1x3 (out x in), so it takes 3 features, but its input is 1x4",
    ),
    "conv channels mismatch": (
        spec(
            input=[[[1, 2], [3, 4]], [[1, 2], [3, 4]]],
            layers=[{"type": "conv2d", "weight": [[1]]}],
            loss={"type": "sum"},
        ),
        "takes 1 input channel, but its input is 1x2x2x2 (2 channels)",
    ),
    "declared key disagrees": (
        spec(layers=[{"type": "conv2d", "weight": [[1]], "in_channels": 3}], loss={"type": "sum"}),
        "in_channels is 3",
    ),
    "kernel_size disagrees": (
        spec(layers=[{"type": "conv2d", "weight": [[1, 1], [1, 1]], "kernel_size": 3}], loss={"type": "sum"}),
        "kernel_size is 3x3 but the weight's kernel is 2x2",
    ),
    "target of the wrong size": (spec(loss={"type": "mse", "target": [3, 4]}), "loss target is 2 but the output is 1"),
    "upstream of the wrong size": (
        spec(layers=[{"type": "relu"}], loss={"type": "upstream", "grad": [[1, 2]]}),
        "loss grad is 1x2 but the output is 3x3",
    ),
    "class index out of range": (spec(loss={"type": "cross_entropy", "target": 4}), "out of range"),
    "missing loss": ({"input": [[1]], "layers": [{"type": "relu"}]}, '"loss" is missing'),
    "missing weight": (spec(layers=[{"type": "linear"}]), '"weight" is missing'),
    "zero stride": (
        spec(layers=[{"type": "conv2d", "weight": [[1]], "stride": 0}], loss={"type": "sum"}),
        "layer 1 (conv2d): stride must be a whole number ≥ 1; got 0",
    ),
    "pool larger than input": (
        spec(layers=[{"type": "maxpool2d", "kernel_size": 4}], loss={"type": "sum"}),
        "larger than the padded input",
    ),
    "pool padding too large": (
        spec(layers=[{"type": "maxpool2d", "kernel_size": 2, "padding": 2}], loss={"type": "sum"}),
        "at most half the kernel",
    ),
    "bad padding word": (
        spec(layers=[{"type": "conv2d", "weight": [[1]], "padding": "full"}], loss={"type": "sum"}),
        "padding 'full' is not valid",
    ),
    "conv after flatten": (
        spec(layers=[{"type": "flatten"}, {"type": "conv2d", "weight": [[1]]}], loss={"type": "sum"}),
        "needs an image input",
    ),
    "batchnorm of one value": (
        spec(input=[[5]], layers=[{"type": "batchnorm2d"}], loss={"type": "sum"}),
        "more than one value per channel",
    ),
    "bad variance": (
        spec(layers=[{"type": "batchnorm2d", "variance": "sample"}], loss={"type": "sum"}),
        "variance must be",
    ),
    "duplicate names": (spec(layers=[{"type": "relu", "output": "x"}], loss={"type": "sum"}), "used twice"),
    "unknown graph op": (
        {"inputs": {"X": [[1]]}, "nodes": [{"name": "Y", "op": "matmult2", "inputs": ["X", "X"]}]},
        "unknown op",
    ),
    "graph undefined input": (
        {"inputs": {"X": [[1]]}, "nodes": [{"name": "Y", "op": "relu", "inputs": ["Z"]}]},
        'input "Z" is not defined',
    ),
    "graph shape mismatch": (
        {
            "inputs": {"X": [[1, 2]]},
            "params": {"W": [[1, 2]]},
            "nodes": [{"name": "Y", "op": "matmul", "inputs": ["X", "W"]}],
        },
        "node Y (matmul of X 1x2, W 1x2): matmul: the inner sizes differ",
    ),
    "graph output not scalar": (
        {"inputs": {"X": [[1, 2]]}, "nodes": [{"name": "Y", "op": "relu", "inputs": ["X"]}]},
        "not a single number",
    ),
    "graph wrong arity": (
        {"inputs": {"X": [[1]]}, "nodes": [{"name": "Y", "op": "matmul", "inputs": ["X"]}]},
        "matmul takes 2 inputs",
    ),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_spec_exits_2_with_one_line(cli, name):
    data, fragment = BAD[name]
    result = cli("backprop", "-", input=json.dumps(data))
    assert result.code == 2, (result.out, result.err)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("convcalc: error:")
    assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"input": [[1, 2]],\n "layers": [{"type": "relu"} {"type": "relu"}]}', "malformed JSON at line 2, column 30"),
        ('{"input": [[1, NaN]], "layers": [{"type": "relu"}], "loss": "sum"}', "NaN at line 1, column 16"),
        ('{"input": [[1, Infinity]], "layers": [{"type": "relu"}], "loss": "sum"}', "Infinity at line 1"),
        ('{"input": [[1, 1e999]], "layers": [{"type": "relu"}], "loss": "sum"}', "not a finite number"),
        ("[1, 2, 3]", "must be a JSON object"),
        ("", "no spec on standard input"),
    ],
)
def test_malformed_json_names_line_and_column(cli, text, fragment):
    result = cli("backprop", "-", input=text)
    assert result.code == 2
    assert fragment in result.err, result.err


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["missing.json"], "spec file 'missing.json' does not exist"),
        ([], "give a SPEC file"),
        (["--example", "nosuch"], "no example called 'nosuch'"),
        (["--example", "cours"], "did you mean course"),
        (["-", "--lr", "fast"], "is not a number"),
        (["-", "--lr", "-1"], "--lr must be positive"),
        (["-", "--verify", "jax"], "the only verifier is 'torch'"),
        (["-", "--symbolic", "Q"], "no tensor called 'Q'"),
        (["-", "--format", "yaml"], "--format 'yaml'"),
        (["-", "extra"], "unexpected argument extra"),
    ],
)
def test_bad_command_line(cli, args, fragment):
    result = cli("backprop", *args, input=json.dumps(spec()))
    assert result.code == 2, (result.out, result.err)
    assert fragment in result.err, result.err


def test_missing_torch_is_a_clean_message(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    result = cli("backprop", "-", "--verify", "torch", input=json.dumps(spec()))
    assert result.code == 2
    assert "--verify torch needs PyTorch, which is not installed" in result.err


def test_symbolic_blow_up_is_refused_unless_forced(cli, tmp_path):
    big = {
        "input": [[(i * 7 + j * 3) % 5 for j in range(8)] for i in range(8)],
        "layers": [
            {"type": "conv2d", "weight": [[1, 0, 1], [0, 1, 0], [1, 0, -1]]},
            {"type": "tanh"},
            {"type": "conv2d", "weight": [[1, 1, 0], [0, 1, 1], [1, 0, 1]]},
            {"type": "sigmoid"},
            {"type": "flatten"},
            {"type": "linear", "weight": [[1] * 16]},
        ],
        "loss": {"type": "mse", "target": [1]},
    }
    result = cli("backprop", "-", "--symbolic", input=json.dumps(big))
    assert result.code == 2
    assert "would grow too large" in result.err and "--force" in result.err


def test_real_process_prints_no_traceback(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec(layers=[{"type": "pool"}])), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "convcalc", "backprop", str(path)], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith('convcalc: error: layer 1: unknown layer type "pool"')
    assert "Traceback" not in done.stderr
