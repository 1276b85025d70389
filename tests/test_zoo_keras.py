"""Keras applications (keras.* zoo names) against the keras.io table's Parameters column
(tests/reference/keras_applications.json), which counts batch-norm moving statistics: our
parameters + 2·C per batch norm (+ 2·C + 1 for an adapted Normalization layer: what --as keras
adds) must give it exactly, or its printed rounding where the page prints only that."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convcalc import zoo
from convcalc.network.keras_weights import keras_total_params
from convcalc.network.walk import walk

REFERENCE = Path(__file__).resolve().parent / "reference" / "keras_applications.json"


def _reference() -> dict:
    return json.loads(REFERENCE.read_text())["models"]


@pytest.mark.parametrize("name", sorted(_reference()))
def test_keras_total_params(name):
    ref = _reference()[name]
    report = walk(zoo.get(name))
    assert report.output == (1000,)
    total = keras_total_params(report)
    if "total_params" in ref:  # the exact figure where the page printed one; else its rounding alone
        assert total == ref["total_params"]
    if ref.get("mparams_rounding") == "down":  # printed truncated to 0.1M (the reference file says where)
        assert total // 100_000 == round(ref["mparams"] * 10)
    else:
        assert round(total / 1e6, 1) == ref["mparams"]


def test_every_keras_entry_has_a_published_figure():
    keras = {e.name for e in zoo.entries() if e.name.startswith("keras.")}
    assert keras == set(_reference())


def test_keras_layouts_differ_from_torchvision_where_keras_does():
    rows = {row.name: row for row in walk(zoo.get("keras.resnet50")).flat()}
    # Keras ResNet v1: the stride on the block's first 1×1 conv, convolutions with bias
    assert rows["conv3_block1.1_conv"].output == (128, 28, 28)
    assert rows["conv3_block1.1_conv"].params.total == 256 * 128 + 128
    assert rows["conv3_block1.0.conv"].output == (512, 28, 28)
    # torchvision's ResNet-50 has no conv biases; Keras's 53 convs have one per output channel:
    # conv1 64 + conv2 3·(64+64+256)+256 + conv3 4·(128+128+512)+512 + conv4 6·(256+256+1024)+1024
    # + conv5 3·(512+512+2048)+2048 = 64 + 1,408 + 3,584 + 10,240 + 11,264
    assert walk(zoo.get("keras.resnet50")).totals.params - walk(zoo.get("resnet50")).totals.params == 26_560
    # MobileNet: TF's SAME padding on the stride-2 convs (the extra column at the end)
    mobile = {row.name: row for row in walk(zoo.get("keras.mobilenet")).flat()}
    assert mobile["conv_dw_2"].report.hyper["padding"] == [[0, 1], [0, 1]]
    assert mobile["conv_preds"].output == (1000, 1, 1)


def test_as_keras_on_the_command_line(cli):
    r = cli("arch", "keras.densenet121", "--as", "keras")
    assert r.code == 0 and "Total params 8,062,504" in r.out
