"""One kernel reading rule for ``convcalc conv``/``conv-transpose`` and backprop specs
(:func:`convcalc.compute.params.conv_weight`): a C x kh x kw kernel is one filter over C input
channels; on a one-channel input its C matrices are C output channels, with a note."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from convcalc.cli.app import app
from convcalc.compute.params import conv_weight

runner = CliRunner()
TWO = np.arange(8).reshape(2, 2, 2)


@pytest.mark.parametrize("transposed, in_channels, shape, noted", [
    (False, 2, (1, 2, 2, 2), False),  # one filter over the two input channels
    (False, 1, (2, 1, 2, 2), True),  # two output channels of a one-channel input
    (True, 2, (2, 1, 2, 2), False),  # ConvTranspose: C_in x C_out
    (True, 1, (1, 2, 2, 2), True),
])
def test_the_rule(transposed, in_channels, shape, noted):
    weight, note = conv_weight(TWO, in_channels, transposed)
    assert weight.shape == shape
    assert (note is not None) == noted
    assert list(weight.reshape(-1)) == list(range(8))  # a reading, never a reordering


def test_refused_where_no_reading_applies():
    assert conv_weight(TWO, 3) == (None, None)
    assert conv_weight(np.zeros((1, 1, 1, 2, 2)), 1) == (None, None)


def test_conv_and_backprop_read_the_same_kernel_the_same_way(tmp_path):
    image, kernel = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[[1, 0], [0, 1]], [[0, 1], [1, 0]]]
    conv = runner.invoke(app, ["conv", "1 2 3; 4 5 6; 7 8 9", "1 0; 0 1 | 0 1; 1 0", "--json"])
    assert conv.exit_code == 0, conv.output
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"input": image, "layers": [{"type": "conv2d", "weight": kernel}],
                                "loss": {"type": "sum"}}))
    traced = runner.invoke(app, ["backprop", str(spec), "--json"])
    assert traced.exit_code == 0, traced.output
    out = json.loads(traced.stdout)["activations"][0]  # the one layer's output, batched
    conv_doc = json.loads(conv.stdout)
    assert np.array(out).reshape(-1).tolist() == np.array(conv_doc["output"]).reshape(-1).tolist() \
        == [6, 8, 12, 14, 6, 8, 12, 14]
    text = runner.invoke(app, ["backprop", str(spec), "--format", "text"]).stdout
    assert "the 2 kernel matrices are read as 2 output channels (weight 2x1x2x2)" in text
