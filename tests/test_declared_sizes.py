"""Declared input sizes in spec files (``"in"``/``"in_channels"``/``"in_features"``) and inline
chains (``fc 120 in=400``): a size that agrees changes nothing; one that disagrees is listed by
the shape debugger with the layer's name, what it declares, what it receives and the fix, the
walk goes on with the declared size, and ``arch`` exits 2 at the end. LeNet-5's numbers:
3x32x32 → conv5 → pool2 → conv5 → pool2 gives 16x5x5 = 400 features; 3x28x28 gives 16x4x4 = 256.
"""

from __future__ import annotations

import json

import pytest

from convcalc.errors import InputError
from convcalc.network.spec import parse_chain, parse_spec
from convcalc.network.walk import walk

LENET = "conv 6 k5 in=3 | relu | maxpool k2 | conv 16 k5 in=6 | maxpool k2 | flatten | fc 120 in=400 | fc 84 in=120"


def _declared(report):
    return [(r.name, r.report.comparison["declared"]) for r in report.leaves()
            if r.report is not None and "declared" in r.report.comparison]


def test_sizes_that_agree_change_nothing():
    declared = walk(parse_chain(f"3x32x32 | {LENET}"))
    plain = walk(parse_chain("3x32x32 | " + LENET.replace(" in=3", "").replace(" in=6", "")
                             .replace(" in=400", "").replace(" in=120", "")))
    assert declared.totals == plain.totals and declared.output == plain.output == (84,)
    assert not _declared(declared)


def test_a_disagreeing_in_features_is_found_and_the_walk_goes_on_with_it():
    report = walk(parse_chain(f"3x28x28 | {LENET}"))
    ((name, found),) = _declared(report)
    assert name == "6" and found["what"] == "in_features" and (found["declared"], found["received"]) == (400, 256)
    fc = [r for r in report.leaves() if r.type == "linear"]
    assert fc[0].params.total == 400 * 120 + 120  # the declared size, as the model's author meant it


def test_spec_file_keys_name_the_layer(cli, tmp_path):
    spec = {"name": "bug", "input": "3x28x28", "layers": [
        {"type": "conv", "out": 6, "k": 5, "in_channels": 3}, {"type": "maxpool", "k": 2},
        {"type": "conv", "out": 16, "k": 5, "in": 6}, {"type": "maxpool", "k": 2}, {"type": "flatten"},
        {"type": "linear", "out": 120, "in": 400, "name": "fc1"}, {"type": "batchnorm", "in": 100, "name": "bn"}]}
    path = tmp_path / "bug.json"
    path.write_text(json.dumps(spec))
    result = cli("arch", str(path))
    assert result.code == 2 and "Traceback" not in result.err
    assert "fc1 (linear) declares in_features=400 but receives 256 features" in result.err
    assert "fix: in_features=256" in result.err
    assert "bn (batchnorm) declares num_features=100 but receives 120" in result.err
    assert "2 layers of bug declare sizes" in result.err


def test_a_disagreeing_channel_count_is_an_error_naming_the_layer(cli):
    result = cli("arch", "3x32x32 | conv 6 k5 in=1 | relu")
    assert result.code == 2
    assert "0 (conv2d) declares in_channels=1 but receives 3 (the input 3x32x32)" in result.err
    assert "fix: in_channels=3" in result.err


def test_the_input_size_fix_is_offered(cli):
    result = cli("arch", f"3x28x28 | {LENET}")
    assert result.code == 2 and "the input size that gives 400: 3x32x32" in result.err


@pytest.mark.parametrize("chain,needle", [
    ("3x32x32 | relu in=3", "relu declares no input size"),
    ("3x32x32 | conv 6 in=x", "in must be a whole number"),
    ("3x32x32 | conv 6 in=0", "in must be a whole number"),
    ("3x32x32 | conv 6 in=3 in_channels=3", "once"),
    ("3x32x32 | conv 6 in_features=3", "once, as 'in' or 'in_channels'"),
])
def test_bad_declared_sizes_are_refused(chain, needle):
    with pytest.raises(InputError, match=needle):
        parse_chain(chain)


def test_spec_bad_value_names_the_layer():
    with pytest.raises(InputError, match=r"layers\[0\]"):
        parse_spec({"input": "3x8x8", "layers": [{"type": "conv", "out": 4, "k": 3, "in": "three"}]})
