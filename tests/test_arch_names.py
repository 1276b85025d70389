"""Row names: dotted module paths as torchvision names its modules (state_dict keys), and the
unnamed children ("") that make that possible where a torchvision forward concatenates or chains
the parent's own modules (DenseNet layers, Inception branches)."""

from __future__ import annotations

import re

import pytest

from convcalc import zoo
from convcalc.errors import InputError
from convcalc.network.build import conv, identity, parallel, relu, seq
from convcalc.network.model import Network
from convcalc.network.walk import walk


def _param_names(name: str) -> list[str]:
    return [row.name for row in walk(zoo.get(name)).leaves() if row.params.total]


# torchvision's state_dict keys without the .weight/.bias/.running_* suffix
DENSENET = re.compile(r"features\.(conv0|norm0|norm5|denseblock\d\.denselayer\d+\.(norm|conv)[12]"
                      r"|transition\d\.(norm|conv))|classifier")
INCEPTION_BRANCHES = ("branch1x1|branch5x5_[12]|branch3x3dbl_[123]|branch3x3dbl_3[ab]|branch_pool|branch3x3"
                      "|branch3x3_[12]|branch3x3_2[ab]|branch7x7_[123]|branch7x7dbl_[1-5]|branch7x7x3_[1-4]")
INCEPTION = re.compile(rf"Conv2d_(1a|2a|2b|3b|4a)_(3x3|1x1)\.(conv|bn)"
                       rf"|Mixed_(5[bcd]|6[a-e]|7[abc])\.({INCEPTION_BRANCHES})\.(conv|bn)|fc")
GOOGLENET = re.compile(r"conv[123]\.(conv|bn)|inception[345][a-e]\.branch(1|2\.[01]|3\.[01]|4\.1)\.(conv|bn)|fc")


@pytest.mark.parametrize("name, pattern, count", [
    ("densenet121", DENSENET,
     1 + 1 + 58 * 4 + 3 * 2 + 1 + 1),  # conv0, norm0, 58 layers × 4, 3 transitions × 2, norm5, fc
    ("densenet169", DENSENET, None),
    ("inception_v3", INCEPTION, None),
    ("googlenet", GOOGLENET, None),
])
def test_parameter_layers_carry_torchvision_names(name, pattern, count):
    names = _param_names(name)
    strays = [n for n in names if not pattern.fullmatch(n)]
    assert not strays, strays[:5]
    assert len(set(names)) == len(names)
    if count is not None:
        assert len(names) == count


def test_densenet_layer_rows():
    rows = {row.name: row for row in walk(zoo.get("densenet121")).leaves()}
    layer = "features.denseblock2.denselayer3"
    assert [n[len(layer) + 1:] for n in rows if n.startswith(layer + ".")] == [
        "identity", "norm1", "relu1", "conv1", "norm2", "relu2", "conv2", "concat"]
    assert rows[f"{layer}.conv1"].params.total == (128 + 2 * 32) * 128


def test_inception_e_fork_is_unnamed():
    rows = {row.name: row for row in walk(zoo.get("inception_v3")).leaves()}
    assert rows["Mixed_7c.branch3x3_2a.conv"].output == (384, 8, 8)
    assert rows["Mixed_7c.branch3x3dbl_3b.conv"].output == (384, 8, 8)
    assert rows["Mixed_7c.branch3x3_2.concat"].output == (768, 8, 8)
    assert rows["Mixed_7c.concat"].output == (2048, 8, 8)


def _net(body) -> Network:
    return Network("t", (4, 8, 8), body)


def test_unnamed_branch_adds_no_name_segment_and_no_block_row():
    net = _net(seq(("block", parallel(("keep", identity()), ("", seq(("conv", conv(4, 3, pad=1)), ("act", relu())))))))
    report = walk(net)
    assert [row.name for row in report.leaves()] == ["block.keep", "block.conv", "block.act", "block.concat"]
    block = report.rows[0]
    assert block.name == "block" and [c.name for c in block.children] == [r.name for r in report.leaves()]
    assert {c.depth for c in block.children} == {1}
    assert report.output == (8, 8, 8)


def test_unnamed_parallel_names_its_merge_after_its_branches():
    fork = parallel(("b_2a", conv(2, 1)), ("b_2b", conv(2, 1)))
    net = _net(seq(("mix", parallel(("a", conv(4, 1)), ("", seq(("b_1", conv(4, 1)), ("", fork)))))))
    names = [row.name for row in walk(net).leaves()]
    assert names == ["mix.a", "mix.b_1", "mix.b_2a", "mix.b_2b", "mix.b_2.concat", "mix.concat"]


def test_unnamed_branch_mismatch_is_named_by_position():
    net = _net(seq(("block", parallel(("a", conv(4, 3)), ("", seq(("conv", conv(4, 3, pad=1)))), merge="add"))))
    with pytest.raises(InputError, match="branch 2"):
        walk(net)


def test_unnamed_layer_is_an_error():
    with pytest.raises(InputError, match="empty name"):
        walk(_net(seq(("block", seq(("", conv(4, 1)))))))


@pytest.mark.torch
def test_unnamed_children_verify_in_torch():
    pytest.importorskip("torch")
    from convcalc.network.torch_build import build_torch, verify

    fork = parallel(("b_2a", conv(2, 1)), ("b_2b", conv(2, 1)))
    net = _net(seq(("mix", parallel(("a", conv(4, 1)), ("", seq(("b_1", conv(4, 1)), ("", fork)))))))
    assert verify(net, walk(net)).ok
    names = {name for name, _ in build_torch(net).named_modules()}
    assert {"mix.a", "mix.b_1", "mix.b_2a", "mix.b_2b"} <= names
