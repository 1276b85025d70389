"""Errors as data: a layer names the setting it refuses (``field``), with the value and what
would be valid; each front end spells the field its own way — ``--padding-mode`` on the
command line, ``padding_mode`` in a backprop spec, ``layers[1].padding_mode`` in an arch spec."""

from __future__ import annotations

import json
import pickle

import pytest
from typer.testing import CliRunner

from convcalc.cli.app import app
from convcalc.errors import InputError, cli_flag
from convcalc.layers.conv import Conv
from convcalc.layers.pool import MaxPool

runner = CliRunner()


def test_the_old_constructor_still_works():
    error = InputError("plain message")
    assert str(error) == "plain message" and error.field is None


def test_a_layer_error_carries_field_value_and_valid():
    with pytest.raises(InputError) as caught:
        Conv(out_channels=2, kernel_size=3, padding_mode="bogus")
    error = caught.value
    assert (error.field, error.value) == ("padding_mode", "bogus")
    assert error.valid == "zeros, reflect, replicate, circular"
    assert str(error) == "--padding-mode 'bogus' is not one of zeros, reflect, replicate, circular"
    assert str(error.spelled("layers[3].padding_mode")).startswith("layers[3].padding_mode 'bogus'")
    assert str(pickle.loads(pickle.dumps(error.spelled("x")))) == str(error.spelled("x"))


@pytest.mark.parametrize("make, field", [
    (lambda: Conv(out_channels=2, kernel_size=0), "kernel_size"),
    (lambda: Conv(out_channels=2, kernel_size=3, stride=(1, 2, 3)), "stride"),
    (lambda: Conv(out_channels=0, kernel_size=3), "out_channels"),
    (lambda: Conv(out_channels=2, kernel_size=3, padding=-1), "padding"),
    (lambda: MaxPool(kernel_size=2, dilation=0), "dilation"),
])
def test_no_layer_message_names_a_command_line_flag_itself(make, field):
    with pytest.raises(InputError) as caught:
        make()
    assert caught.value.field == field
    assert "--" not in str(caught.value.spelled(field))
    assert str(caught.value).startswith(cli_flag(field))


def test_command_line_spelling():
    result = runner.invoke(app, ["shape", "--in", "3x32x32", "--k", "3", "--padding-mode", "bogus"])
    assert result.exit_code == 2
    assert "--padding-mode 'bogus'" in result.output


def test_arch_spec_spelling_is_the_json_path(tmp_path):
    spec = {"input": "3x32x32", "layers": [{"type": "conv", "out": 4, "k": 3},
                                           {"type": "conv", "out": 4, "kernel_size": [3, 3, 3]},
                                           ]}
    path = tmp_path / "net.json"
    path.write_text(json.dumps(spec))
    result = runner.invoke(app, ["arch", str(path)])
    assert result.exit_code == 2
    assert "layers[1].kernel_size has 3 values for a 2-d layer" in result.output  # the key as written
    spec["layers"][1] = {"type": "conv", "out": 4, "k": 3, "padding_mode": "bogus"}
    path.write_text(json.dumps(spec))
    result = runner.invoke(app, ["arch", str(path)])
    assert "layers[1].padding_mode 'bogus' is not one of" in result.output
    assert "--" not in result.output


def test_backprop_spec_spelling_is_the_key(tmp_path):
    spec = {"input": [[1, 2, 3], [4, 5, 6], [7, 8, 9]],
            "layers": [{"type": "conv2d", "weight": [[1, 0], [0, 1]], "padding_mode": "bogus"}]}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    result = runner.invoke(app, ["backprop", str(path)])
    assert result.exit_code == 2
    assert "layer 1 (conv2d): padding_mode 'bogus' is not one of zeros" in result.output
    assert "--" not in result.output
