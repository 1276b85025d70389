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
    assert str(error.spelled(lambda f: f"layers[3].{f}")).startswith("layers[3].padding_mode 'bogus'")
    assert str(pickle.loads(pickle.dumps(error.spelled(lambda f: "x")))) == str(error.spelled(lambda f: "x"))


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
    assert "--" not in str(caught.value.spelled(str))
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


def _messages_in(path) -> list[tuple[int, str]]:
    """The literal text of every InputError, Note and notes/warnings entry a module writes."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
        if name in ("InputError", "Note") or (name == "append" and owner in ("notes", "warnings")):
            for arg in node.args:
                for part in ast.walk(arg):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        found.append((part.lineno, part.value))
    return found


def test_no_layer_module_writes_a_command_line_flag_into_its_messages():
    """Layers name other settings as ``{field:NAME}`` (errors.py), never as ``--flag``: a flag
    written out reads wrong in an arch spec, a chain or a backprop spec."""
    import re
    from pathlib import Path

    import convcalc.layers

    folder = Path(convcalc.layers.__file__).parent
    flags = [f"{path.name}:{line}: {text!r}" for path in sorted(folder.glob("*.py"))
             for line, text in _messages_in(path)
             if re.search(r"(^|[\s(])--[a-z]", re.sub(r"convcalc [a-z-]+ --[a-z-]+", "", text))]  # not a command
    assert not flags, "\n".join(flags)


@pytest.mark.parametrize("layer, said", [
    ({"type": "flatten", "start_dim": 2, "end_dim": 1}, "start_dim 2 comes after end_dim 1 on a 3-d input"),
    ({"type": "conv_transpose", "out": 3, "k": 3, "padding": "same"},
     "layers[0].padding (k−s)/2 with layers[0].output_padding"),
])
def test_an_arch_spec_hears_its_own_keys_for_other_settings(tmp_path, layer, said):
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"input": "3x8x8", "layers": [layer]}))
    result = runner.invoke(app, ["arch", str(path)])
    assert result.exit_code == 2
    assert said in result.output and "--" not in result.output


def test_the_same_refusals_on_the_command_line_name_its_flags():
    flatten = runner.invoke(app, ["shape", "--op", "flatten", "--in", "2x3x4x5", "--start-dim", "3",
                                  "--end-dim", "1"])
    assert flatten.exit_code == 2 and "--start-dim 3 comes after --end-dim 1 on a 4-d input" in flatten.output
    transpose = runner.invoke(app, ["shape", "--op", "conv-transpose", "--in", "3x8x8", "--k", "3",
                                    "--pad", "same"])
    assert transpose.exit_code == 2 and "use --pad (k−s)/2 with --output-padding" in transpose.output
    batch = runner.invoke(app, ["shape", "--in", "2x3x8x8", "--batch", "3", "--k", "3"])
    assert batch.exit_code == 2 and "--batch 3 disagrees with the batch 2 written in --in" in batch.output
    note = runner.invoke(app, ["shape", "--in", "8x8", "--k", "3", "--out", "4"])
    assert "write --in as CxHxW" in note.output


def test_a_chain_with_a_symbolic_input_shape_is_told_so():
    result = runner.invoke(app, ["arch", "Cx8x8 | conv 4 k=3"])
    assert result.exit_code == 2
    assert "at token 1 'Cx8x8': input shape 'Cx8x8' has the entry 'C'" in result.output
    assert "unknown layer type" not in result.output


@pytest.mark.parametrize("chain, said", [
    ("32x32 | conv 6 k5", "e.g. 3x32x32 (or 1x32x32 for one channel)"),
    ("32x32 | maxpool k2", "a 2-d layer in a network reads C×H×W (3 numbers)"),
    ("32x32 | conv 6 k5 in=3", "this one declares in_channels=3; give the input with its channels, e.g. 3x32x32"),
])
def test_a_network_input_without_channels_is_refused_not_counted_as_nothing(chain, said):
    """Spatial sizes alone would give a conv no parameters and a receptive field along one axis."""
    result = runner.invoke(app, ["arch", chain])
    assert result.exit_code == 2
    assert "its input has no channel axis" in result.output and said in result.output
