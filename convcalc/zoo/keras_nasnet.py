"""Keras's NASNet-A applications (``keras/src/applications/nasnet.py``; Zoph et al. 2018) in the
``keras`` family: ``keras.nasnetmobile`` (224×224, penultimate filters 1056, 4 normal cells per
stack, stem 32) and ``keras.nasnetlarge`` (331×331, 4032, 6 cells, stem 96, ``skip_reduction``).

Keras's graph, cell by cell (f = penultimate_filters / 24, doubled at each reduction):
stem_conv1 3×3/2 valid (no bias) · stem_bn1; reduction cells ``stem_1`` (f/4) and ``stem_2``
(f/2); n normal cells (f); ``reduce_n`` (2f); n normal cells (2f); ``reduce_2n`` (4f); n normal
cells (4f); ReLU, global average pool, predictions. Every cell reads two tensors, ``ip`` (the
last cell's output) and ``p`` (the one before; with ``skip_reduction`` a reduction cell hands
its own ``p`` on). ``_adjust_block`` brings ``p`` to ``ip``'s shape: nothing when it matches,
a ReLU-1×1 conv-BN projection when only the channels differ, and where ``p`` is twice as large
the factorised reduction: ReLU, then two paths of a 1×1/2 average pool and a 1×1 conv to f/2
— the second on ``p`` shifted by one pixel (ZeroPadding2D (0,1)x(0,1), Cropping2D (1,0)x(1,0))
— concatenated, BN. ``h`` is ReLU-1×1 conv-BN of ``ip``.

* Normal cell: concat(p, sep5(h) + sep3(p), sep5(p) + sep3(p), avg3(h) + p, avg3(p) + avg3(p),
  sep3(h) + h): 6f channels. ``sepK`` is ``_separable_conv_block``: twice ReLU · SeparableConv2D
  K×K (no bias) · BN; avg3 a 3×3/1 SAME average pool (divided by the real elements).
* Reduction cell: x1 = sep5/2(h) + sep7/2(p), x2 = max3/2(h) + sep7/2(p), x3 = avg3/2(h) +
  sep5/2(p), x4 = avg3(x1) + x2, x5 = sep3(x1) + max3/2(h); concat(x2, x3, x4, x5): 4f channels.
  Keras pads h (and a stride-2 block's input) with ``correct_pad`` and runs VALID windows; for
  these odd kernels at stride 2 that is exactly TensorFlow's SAME padding, used here (``tf-same``).
  The pools' padding then stands for Keras's zero padding (shapes and counts are the same).

convcalc's module tree nests chains and branches that read one tensor; a NASNet cell reads two
and reuses its intermediate tensors, so here each cell passes on its output and the ``p`` of
the next cell stacked along the channels (``concat``), and channel slices (``ip``, ``p``, ``h``,
``x1`` …: no parameters, no arithmetic) pick them up again. Where the next cell's ``p`` is
larger than its ``ip`` (after a reduction cell), its factorised reduction runs in this cell's
``carry`` branch (its layers keep their Keras names, ``adjust_conv_1_0``…). Every Keras layer is
here once with its Keras name and output shape; only the slices and the stacking concats are
convcalc's own. Layers Keras leaves unnamed get Keras's automatic names in creation order
(``activation_N``, ``zero_padding2d_N``, ``concatenate_N``, ``add_N``). BatchNormalization:
momentum 0.9997 (PyTorch's 0.0003), eps 1e-3.
"""

from __future__ import annotations

from dataclasses import dataclass

from convcalc.layers.crop import Crop
from convcalc.layers.padding import Pad
from convcalc.layers.tensor import Slice
from convcalc.network.build import (
    act,
    avgpool,
    conv,
    flatten,
    global_avgpool,
    linear,
    maxpool,
    parallel,
    relu,
    residual,
    seq,
)
from convcalc.network.model import Leaf, Module, Network
from convcalc.zoo import register
from convcalc.zoo.keras_inception import KerasNames, keras_bn, separable

_SOURCE = "Keras applications (keras.applications)"
_AS_KERAS = "; --as keras gives keras.io's Parameters"


def _bn() -> Leaf:
    return keras_bn(momentum=0.0003)


def _channels(start: int, stop: int) -> Leaf:
    """The channels start … stop − 1 of the stacked tensor."""
    return Leaf(Slice(0, start, stop))


def _one(*items) -> tuple[str, Module]:
    """An unnamed branch: its layers are named as the enclosing block's own."""
    return "", seq(*items)


@dataclass(frozen=True)
class _State:
    """What a cell reads: ``ip`` (channels 0 … ip − 1 of its input) and then ``p`` (``p`` more
    channels: ``"raw"`` the previous tensor as Keras has it, ``"adjusted"`` already brought to
    this cell's shape by the factorised reduction); ``kind`` "none": Keras's p is None (p = ip)."""

    ip: int
    p: int = 0
    kind: str = "none"


class _Builder:
    def __init__(self) -> None:
        self.auto = KerasNames()

    def sep_block(self, filters: int, k: int, block_id: str, stride: int = 1) -> list:
        """``_separable_conv_block``: ReLU · SeparableConv2D · BN, twice (the first with the stride)."""
        return [(self.auto("activation"), relu()),
                (f"separable_conv_1_{block_id}", separable(filters, k, stride)),
                (f"separable_conv_1_bn_{block_id}", _bn()), (self.auto("activation"), relu()),
                (f"separable_conv_2_{block_id}", separable(filters, k)), (f"separable_conv_2_bn_{block_id}", _bn())]

    def factorised_reduction(self, filters: int, block_id: str) -> list:
        """``_adjust_block`` on a p twice ip's size: ReLU, two 1×1/2 average pool + 1×1 conv paths
        (the second shifted by one pixel), concatenated, BN."""
        path1 = seq((f"adjust_avg_pool_1_{block_id}", avgpool(1, 2)),
                    (f"adjust_conv_1_{block_id}", conv(filters // 2, 1, bias=False)))
        pad, crop = self.auto("zero_padding2d"), self.auto("cropping2d")
        path2 = seq((pad, Leaf(Pad(rank=2, padding=((0, 1), (0, 1))))),
                    (crop, Leaf(Crop(rank=2, cropping=((1, 0), (1, 0))))),
                    (f"adjust_avg_pool_2_{block_id}", avgpool(1, 2)),
                    (f"adjust_conv_2_{block_id}", conv(filters // 2, 1, bias=False)))
        return [(f"adjust_relu_1_{block_id}", relu()),
                (self.auto("concatenate"),
                 parallel(("", path1), ("", path2), merge="concat", kind="FactorizedReduction")),
                (f"adjust_bn_{block_id}", _bn())]

    def inputs(self, state: _State, filters: int, block_id: str, prefix: str) -> tuple[Module, int]:
        """concat(p after ``_adjust_block``, h): the two tensors the cell's blocks read; p's channels."""
        if state.kind == "none":
            p_items: list = [("p", _channels(0, state.ip))]
            p_channels = state.ip
        else:
            p_items = [("p", _channels(state.ip, state.ip + state.p))]
            p_channels = state.p
            if state.kind == "raw" and state.p != filters:
                p_items += [(self.auto("activation"), relu()),
                            (f"adjust_conv_projection_{block_id}", conv(filters, 1, bias=False)),
                            (f"adjust_bn_{block_id}", _bn())]
                p_channels = filters
        h_items = [("ip", _channels(0, state.ip)), (self.auto("activation"), relu()),
                   (f"{prefix}_conv_1_{block_id}", conv(filters, 1, bias=False)), (f"{prefix}_bn_1_{block_id}", _bn())]
        return parallel(_one(*p_items), _one(*h_items), merge="concat", kind="CellInputs"), p_channels

    def normal(self, state: _State, f: int, block_id: str) -> tuple[list, int]:
        inputs, pc = self.inputs(state, f, block_id, "normal")
        p, h = (lambda: ("p", _channels(0, pc))), (lambda: ("h", _channels(pc, pc + f)))
        b = block_id
        x1 = parallel(_one(h(), *self.sep_block(f, 5, f"normal_left1_{b}")),
                      _one(p(), *self.sep_block(f, 3, f"normal_right1_{b}")), merge="add", kind="Add")
        x2 = seq(p(), ("", parallel(_one(*self.sep_block(f, 5, f"normal_left2_{b}")),
                                    _one(*self.sep_block(f, 3, f"normal_right2_{b}")), merge="add", kind="Add")))
        x3 = parallel(_one(h(), (f"normal_left3_{b}", _avg3())), _one(p()), merge="add", kind="Add")
        x4 = seq(p(), ("", parallel(_one((f"normal_left4_{b}", _avg3())), _one((f"normal_right4_{b}", _avg3())),
                                    merge="add", kind="Add")))
        x5 = seq(h(), ("", residual(*self.sep_block(f, 3, f"normal_left5_{b}"), kind="Add")))
        out = parallel(_one(p()), (f"normal_add_1_{b}", x1), (f"normal_add_2_{b}", x2), (f"normal_add_3_{b}", x3),
                       (f"normal_add_4_{b}", x4), (f"normal_add_5_{b}", x5), merge="concat", kind="NormalCell")
        return [("inputs", inputs), (f"normal_concat_{b}", out)], 6 * f

    def reduction(self, state: _State, f: int, block_id: str) -> tuple[list, int]:
        inputs, pc = self.inputs(state, f, block_id, "reduction")
        p, h = (lambda: ("p", _channels(0, pc))), (lambda: ("h", _channels(pc, pc + f)))
        b = block_id
        x1 = parallel(_one(h(), *self.sep_block(f, 5, f"reduction_left1_{b}", 2)),
                      _one(p(), *self.sep_block(f, 7, f"reduction_right1_{b}", 2)), merge="add", kind="Add")
        x2 = parallel(_one(h(), (f"reduction_left2_{b}", maxpool(3, 2, pad="tf-same"))),
                      _one(p(), *self.sep_block(f, 7, f"reduction_right2_{b}", 2)), merge="add", kind="Add")
        x3 = parallel(_one(h(), (f"reduction_left3_{b}", avgpool(3, 2, pad="tf-same", count_include_pad=True))),
                      _one(p(), *self.sep_block(f, 5, f"reduction_right3_{b}", 2)), merge="add", kind="Add")
        # channels of the stacked (x1, x2, x3, max3/2(h)) that blocks 4 and 5 read
        x1_, x2_, x3_, m5 = ((name, lambda i=i: _channels(i * f, (i + 1) * f)) for i, name in
                             enumerate(("x1", "x2", "x3", "m5")))
        right5 = _one(h(), (f"reduction_right5_{b}", maxpool(3, 2, pad="tf-same")))
        branches = parallel((f"reduction_add_1_{b}", x1), (f"reduction_add_2_{b}", x2),
                            (f"reduction_add3_{b}", x3), right5, merge="concat", kind="Stack")
        x4 = parallel(_one((x1_[0], x1_[1]()), (f"reduction_left4_{b}", _avg3())), _one((x2_[0], x2_[1]())),
                      merge="add", kind="Add")
        add_name = self.auto("add")
        x5 = parallel(_one((x1_[0], x1_[1]()), *self.sep_block(f, 3, f"reduction_left4_{b}")),
                      _one((m5[0], m5[1]())), merge="add", kind="Add")
        out = parallel(_one((x2_[0], x2_[1]())), _one((x3_[0], x3_[1]())), (add_name, x4),
                       (f"reduction_add4_{b}", x5), merge="concat", kind="ReductionCell")
        return [("inputs", inputs), ("blocks", branches), (f"reduction_concat_{b}", out)], 4 * f


def _avg3() -> Leaf:
    """AveragePooling2D 3×3/1 'same': TensorFlow divides by the real elements only."""
    return avgpool(3, 1, pad="tf-same", count_include_pad=False)


def nasnet(name: str, size: int, penultimate: int, blocks: int, stem: int, skip_reduction: bool,
           classes: int, multiplier: int = 2) -> Network:
    f = penultimate // 24
    cells: list[tuple[str, str, int]] = [("reduction", "stem_1", f // multiplier**2),
                                         ("reduction", "stem_2", f // multiplier)]
    for stack in range(3):
        if stack:
            cells.append(("reduction", f"reduce_{stack * blocks}", f * multiplier**stack))
        first = stack * blocks + (1 if stack else 0)  # Keras's block ids: 0 … n−1, n+1 … 2n, 2n+1 … 3n
        cells += [("normal", str(first + i), f * multiplier**stack) for i in range(blocks)]
    builder = _Builder()
    layers: list = [("stem_conv1", conv(stem, 3, stride=2, bias=False)), ("stem_bn1", _bn())]
    state = _State(stem)
    for index, (kind, block_id, filters) in enumerate(cells):
        build = builder.reduction if kind == "reduction" else builder.normal
        cell, out = build(state, filters, block_id)
        scope = f"{kind}_A_block_{block_id}"
        if index + 1 == len(cells):
            layers.append((scope, seq(*cell, kind="NormalCell")))
            break
        # the next cell's p: this cell's ip; after reduce_n with skip_reduction, this cell's own p
        keeps_p = skip_reduction and block_id.startswith("reduce_")
        carry: list = [("p", _channels(state.ip, state.ip + state.p))] if keeps_p else [("ip", _channels(0, state.ip))]
        next_p, next_kind = (state.p if keeps_p else state.ip), "raw"
        if kind == "reduction":  # the next p is twice the next ip's size: its factorised reduction, here
            carry += builder.factorised_reduction(cells[index + 1][2], cells[index + 1][1])
            next_p, next_kind = cells[index + 1][2], "adjusted"
        step = parallel(("", seq(*cell)), ("carry", seq(*carry)), merge="concat",
                        kind="ReductionCell" if kind == "reduction" else "NormalCell")
        layers.append((scope, step))
        state = _State(out, next_p, next_kind)
    layers += [(builder.auto("activation"), relu()), ("global_average_pooling2d", global_avgpool()),
               ("flatten", flatten()), ("predictions", linear(classes)), ("predictions_softmax", act("softmax"))]
    return Network(name, (3, size, size), seq(*layers), source=_SOURCE)


@register("keras.nasnetmobile", _SOURCE, "Keras NASNetMobile (224x224): NASNet-A 4@1056, normal and reduction "
          "cells of separable convs" + _AS_KERAS, family="keras")
def keras_nasnetmobile(classes: int = 1000) -> Network:
    return nasnet("keras.nasnetmobile", 224, 1056, 4, 32, False, classes)


@register("keras.nasnetlarge", _SOURCE, "Keras NASNetLarge (331x331): NASNet-A 6@4032, skip_reduction; normal and "
          "reduction cells of separable convs" + _AS_KERAS, family="keras")
def keras_nasnetlarge(classes: int = 1000) -> Network:
    return nasnet("keras.nasnetlarge", 331, 4032, 6, 96, True, classes)
