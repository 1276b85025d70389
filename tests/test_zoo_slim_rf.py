"""Receptive fields against the TF-slim table of google-research/receptive_field
(tests/reference/tf_slim_rf.json): TF-slim's ResNet v1 (the stride on each block's last unit),
Inception v3, VGG-16, and MobileNet V1 with TensorFlow's SAME padding (--padding tf), whose
asymmetric padding moves the field's centre and so the effective padding."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from convcalc import zoo
from convcalc.network.walk import walk

REFERENCE = Path(__file__).resolve().parent / "reference" / "tf_slim_rf.json"


def _reference() -> dict:
    return json.loads(REFERENCE.read_text())["models"]


def _row(network, name: str):
    found = []

    def visit(row):
        if row.name == name:
            found.append(row)
        for child in row.children:
            visit(child)

    for row in walk(network).rows:
        visit(row)
    assert found, name
    return found[0]


@pytest.mark.parametrize("model", sorted(_reference()))
def test_published_receptive_field(model):
    ref = _reference()[model]
    row = _row(zoo.get(ref["network"], **ref.get("options", {})), ref["row"])
    for axis in row.rf:
        assert axis.size == ref["rf"]
        assert axis.jump == ref["stride"]
        # effective padding: the first unit's field starts this many pixels before the input
        assert (axis.size - 1) / 2 - axis.start == ref["padding"]


def test_tf_padding_moves_the_centre_not_the_size():
    torch_pad = _row(zoo.get("mobilenet_v1"), "features.13").rf[0]
    tf_pad = _row(zoo.get("mobilenet_v1", padding="tf"), "features.13").rf[0]
    assert torch_pad.size == tf_pad.size == 315
    # PyTorch pads a stride-2 3×3 conv 1/1, TensorFlow's SAME 0/1 on an even input: each of the
    # five stride-2 layers moves the first centre right by half its input jump: 1/2·(1+2+4+8+16)·2
    assert tf_pad.start - torch_pad.start == Fraction(31)
    # the same arithmetic otherwise
    assert walk(zoo.get("mobilenet_v1", padding="tf")).totals.macs == walk(zoo.get("mobilenet_v1")).totals.macs


def test_resnet_v1_strides_on_the_last_unit():
    net = zoo.get("resnet_v1_50")
    assert _row(net, "block1.unit_2").output == (256, 56, 56)
    assert _row(net, "block1.unit_3").output == (256, 28, 28)
    assert _row(net, "block1.unit_3.bottleneck_v1.conv2.conv").output == (64, 28, 28)
    assert _row(net, "block1.unit_3.bottleneck_v1.shortcut").type == "maxpool2d"  # subsample: 1×1 pool, stride 2
    assert _row(net, "block4").output == (2048, 7, 7)
    # the same parameters as torchvision's ResNet-50, fewer MACs (block 1's last unit already strides)
    assert walk(net).totals.params == walk(zoo.get("resnet50")).totals.params
    assert walk(net).totals.macs < walk(zoo.get("resnet50")).totals.macs


def test_padding_option_is_checked(cli):
    r = cli("arch", "mobilenet_v1", "--padding", "same")
    assert r.code == 2 and "--padding must be torch" in r.err
    r = cli("arch", "resnet18", "--padding", "tf")
    assert r.code == 2 and "no --padding option" in r.err
