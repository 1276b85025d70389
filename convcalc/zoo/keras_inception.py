"""Keras applications of the Inception line (``keras.applications``): Xception, InceptionV3 and
InceptionResNetV2, in the ``keras`` family (``keras.xception``, ``keras.inceptionv3``,
``keras.inceptionresnetv2``), 299×299 input, 1000 classes.

Layer order, padding and names are Keras's (``keras/src/applications/xception.py``,
``inception_v3.py``, ``inception_resnet_v2.py``). Keras's ``'same'`` is TensorFlow's SAME
(``tf-same``: o = ceil(i/s), the odd padding row after); ``'valid'`` no padding. Keras's
BatchNormalization has eps 1e-3 and momentum 0.99 (PyTorch's momentum 0.01).
Layers Keras leaves unnamed get Keras's automatic names in creation order (``conv2d``,
``conv2d_1`` …, ``batch_normalization_N``, ``activation_N``, ``max_pooling2d_N``,
``average_pooling2d_N``), as ``model.summary()`` of a fresh model prints them. A block is a
module whose layers are its children (the block's name, then the layer's: ``block2.sepconv1``
for Keras's ``block2_sepconv1``, ``mixed0.conv2d_5`` for a layer of the ``mixed0`` concatenation).

* Xception: ``block1`` two valid 3×3 convs (no bias); blocks 2–4 and 13 residual: ReLU-SeparableConv-BN
  twice then a 3×3/2 SAME max pool, the shortcut a 1×1/2 conv (no bias) + BN (Keras's unnamed
  ``conv2d``…``conv2d_3``); blocks 5–12 three ReLU-SeparableConv 728-BN with an identity
  shortcut; block14 SeparableConv-BN-ReLU 1536 and 2048; global average pool, predictions.
  Separable convs have no bias: 3·3·C_in + C_in·C_out weights each.
* InceptionV3 and InceptionResNetV2: every ``conv2d_bn`` is a conv without bias, a
  ``BatchNormalization(scale=False)`` (β learnt, no γ: C parameters, 2C moving statistics) and
  a ReLU. InceptionResNetV2's residual blocks (``block35_N``, ``block17_N``, ``block8_N``)
  concatenate their branches (Keras's ``block35_N_mixed``), a 1×1 conv with bias
  (``block35_N_conv``) brings the channels back, and the Lambda layer ``block35_N`` computes
  x + scale·up (scale 0.17, 0.1, 0.2; 1.0 in the last block8, which has no ReLU after it):
  here the scale is a constant multiply (no parameters) before the residual add.

``--as keras`` counts what ``model.summary()`` calls Total params: the parameters plus each
batch norm's moving mean and variance.
"""

from __future__ import annotations

from collections import Counter

from convcalc.layers.norm import BatchNorm
from convcalc.layers.scale import ConstantScale
from convcalc.layers.separable import DepthwiseSeparable
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

_SOURCE = "Keras applications (keras.applications)"
_AS_KERAS = "; --as keras gives keras.io's Parameters"
_EPS = 1e-3
_MOMENTUM = 0.01  # Keras's momentum 0.99 (the weight of the old running value); PyTorch's is 1 − that


def keras_bn(scale: bool = True, eps: float = _EPS, momentum: float = _MOMENTUM) -> Leaf:
    """Keras's ``BatchNormalization``: γ and β learnt (``scale=False``: β alone)."""
    return Leaf(BatchNorm(eps=eps, momentum=momentum, scale=scale))


def separable(out: int, k: int, stride: int = 1, pad: object = "tf-same") -> Leaf:
    """Keras's ``SeparableConv2D(use_bias=False)``: a depthwise k×k conv and a 1×1 pointwise conv, no biases."""
    return Leaf(DepthwiseSeparable(out_channels=out, kernel_size=(k, k), stride=(stride, stride), padding=pad,
                                   bias=False))


class KerasNames:
    """Keras's automatic layer names in creation order: ``conv2d``, ``conv2d_1``, ``conv2d_2`` …"""

    def __init__(self) -> None:
        self._used: Counter[str] = Counter()

    def __call__(self, base: str) -> str:
        n = self._used[base]
        self._used[base] += 1
        return base if n == 0 else f"{base}_{n}"


def _classifier(classes: int) -> list:
    return [("avg_pool", global_avgpool()), ("flatten", flatten()), ("predictions", linear(classes)),
            ("predictions_softmax", act("softmax"))]


# ---------------------------------------------------------------- Xception


def _xception_entry(block: int, out: tuple[int, int], auto: KerasNames, first_act: bool = True) -> Module:
    """Blocks 2–4 and 13: (ReLU) SepConv-BN, ReLU SepConv-BN, max pool 3×3/2 SAME; shortcut 1×1/2 conv + BN."""
    body: list = []
    if first_act:
        body.append(("sepconv1_act", relu()))
    body += [("sepconv1", separable(out[0], 3)), ("sepconv1_bn", keras_bn()), ("sepconv2_act", relu()),
             ("sepconv2", separable(out[1], 3)), ("sepconv2_bn", keras_bn()),
             ("pool", maxpool(3, 2, pad="tf-same"))]
    shortcut = seq((auto("conv2d"), conv(out[1], 1, stride=2, pad="tf-same", bias=False)),
                   (auto("batch_normalization"), keras_bn()))
    return residual(*body, shortcut=("residual", shortcut), kind=f"block{block}")


def _xception_middle(block: int) -> Module:
    body: list = []
    for i in (1, 2, 3):
        body += [(f"sepconv{i}_act", relu()), (f"sepconv{i}", separable(728, 3)), (f"sepconv{i}_bn", keras_bn())]
    return residual(*body, kind=f"block{block}")


def xception(classes: int = 1000) -> Network:
    auto = KerasNames()
    layers: list = [("block1", seq(("conv1", conv(32, 3, stride=2, bias=False)), ("conv1_bn", keras_bn()),
                                   ("conv1_act", relu()), ("conv2", conv(64, 3, bias=False)),
                                   ("conv2_bn", keras_bn()), ("conv2_act", relu()), kind="block1"))]
    layers.append(("block2", _xception_entry(2, (128, 128), auto, first_act=False)))
    layers.append(("block3", _xception_entry(3, (256, 256), auto)))
    layers.append(("block4", _xception_entry(4, (728, 728), auto)))
    layers += [(f"block{b}", _xception_middle(b)) for b in range(5, 13)]
    layers.append(("block13", _xception_entry(13, (728, 1024), auto)))
    layers.append(("block14", seq(("sepconv1", separable(1536, 3)), ("sepconv1_bn", keras_bn()),
                                  ("sepconv1_act", relu()), ("sepconv2", separable(2048, 3)),
                                  ("sepconv2_bn", keras_bn()), ("sepconv2_act", relu()), kind="block14")))
    return Network("keras.xception", (3, 299, 299), seq(*layers, *_classifier(classes)), source=_SOURCE)


# ---------------------------------------------------------------- InceptionV3 and InceptionResNetV2


def _conv_bn(auto: KerasNames, out: int, k, stride: int = 1, pad: object = "tf-same") -> list:
    """``conv2d_bn``: conv (no bias) · BatchNormalization(scale=False) · ReLU, Keras's automatic names."""
    return [(auto("conv2d"), conv(out, k, stride=stride, pad=pad, bias=False)),
            (auto("batch_normalization"), keras_bn(scale=False)), (auto("activation"), relu())]


def _branch(*items: list) -> tuple[str, Module]:
    """An unnamed branch: its layers are named as the block's own (``mixed0.conv2d_5``)."""
    return "", seq(*[item for part in items for item in part])


def _avg_same(auto: KerasNames) -> list:
    """AveragePooling2D 3×3/1 'same': TensorFlow divides by the real elements only."""
    return [(auto("average_pooling2d"), avgpool(3, 1, pad="tf-same", count_include_pad=False))]


def _max_valid(auto: KerasNames) -> list:
    return [(auto("max_pooling2d"), maxpool(3, 2))]


def _concat(*branches: tuple[str, Module], kind: str) -> Module:
    return parallel(*branches, merge="concat", kind=kind)


def _stem(auto: KerasNames) -> list:
    """Both Inceptions: 3×3/2 32, 3×3 32 (valid), 3×3 64, max pool, 1×1 80, 3×3 192 (valid), max pool."""
    return (_conv_bn(auto, 32, 3, 2, 0) + _conv_bn(auto, 32, 3, pad=0) + _conv_bn(auto, 64, 3) + _max_valid(auto)
            + _conv_bn(auto, 80, 1, pad=0) + _conv_bn(auto, 192, 3, pad=0) + _max_valid(auto))


def _v3_a(auto: KerasNames, pool: int) -> Module:
    """mixed0–2 (35×35): 1×1 64 | 1×1 48, 5×5 64 | 1×1 64, 3×3 96, 3×3 96 | avg pool, 1×1 ``pool``."""
    return _concat(
        _branch(_conv_bn(auto, 64, 1)),
        _branch(_conv_bn(auto, 48, 1), _conv_bn(auto, 64, 5)),
        _branch(_conv_bn(auto, 64, 1), _conv_bn(auto, 96, 3), _conv_bn(auto, 96, 3)),
        _branch(_avg_same(auto), _conv_bn(auto, pool, 1)), kind="InceptionA")


def _v3_c(auto: KerasNames, c7: int) -> Module:
    """mixed4–7 (17×17): 1×1 192 | 1×1, 1×7, 7×1 | 1×1, 7×1, 1×7, 7×1, 1×7 | avg pool, 1×1 192."""
    return _concat(
        _branch(_conv_bn(auto, 192, 1)),
        _branch(_conv_bn(auto, c7, 1), _conv_bn(auto, c7, (1, 7)), _conv_bn(auto, 192, (7, 1))),
        _branch(_conv_bn(auto, c7, 1), _conv_bn(auto, c7, (7, 1)), _conv_bn(auto, c7, (1, 7)),
                _conv_bn(auto, c7, (7, 1)), _conv_bn(auto, 192, (1, 7))),
        _branch(_avg_same(auto), _conv_bn(auto, 192, 1)), kind="InceptionC")


def _v3_e(auto: KerasNames, index: int) -> Module:
    """mixed9, mixed10 (8×8): 1×1 320 | 1×1 384, (1×3 | 3×1) | 1×1 448, 3×3 384, (1×3 | 3×1) | avg pool, 1×1 192."""
    def fork(name: str) -> list:
        a = _conv_bn(auto, 384, (1, 3))
        b = _conv_bn(auto, 384, (3, 1))
        return [(name, _concat(_branch(a), _branch(b), kind="Concatenate"))]

    b1 = _conv_bn(auto, 320, 1)  # Keras creates the branches in this order (the automatic names count so)
    b3 = _conv_bn(auto, 384, 1)
    b3 += fork(f"mixed9_{index}")
    d = _conv_bn(auto, 448, 1) + _conv_bn(auto, 384, 3)
    d += fork(auto("concatenate"))
    return _concat(_branch(b1), _branch(b3), _branch(d), _branch(_avg_same(auto), _conv_bn(auto, 192, 1)),
                   kind="InceptionE")


def inception_v3(classes: int = 1000) -> Network:
    auto = KerasNames()
    layers = _stem(auto)
    layers += [("mixed0", _v3_a(auto, 32)), ("mixed1", _v3_a(auto, 64)), ("mixed2", _v3_a(auto, 64))]
    layers.append(("mixed3", _concat(
        _branch(_conv_bn(auto, 384, 3, 2, 0)),
        _branch(_conv_bn(auto, 64, 1), _conv_bn(auto, 96, 3), _conv_bn(auto, 96, 3, 2, 0)),
        _branch(_max_valid(auto)), kind="InceptionB")))
    layers += [(f"mixed{i}", _v3_c(auto, c7)) for i, c7 in ((4, 128), (5, 160), (6, 160), (7, 192))]
    layers.append(("mixed8", _concat(
        _branch(_conv_bn(auto, 192, 1), _conv_bn(auto, 320, 3, 2, 0)),
        _branch(_conv_bn(auto, 192, 1), _conv_bn(auto, 192, (1, 7)), _conv_bn(auto, 192, (7, 1)),
                _conv_bn(auto, 192, 3, 2, 0)),
        _branch(_max_valid(auto)), kind="InceptionD")))
    layers += [("mixed9", _v3_e(auto, 0)), ("mixed10", _v3_e(auto, 1))]
    return Network("keras.inceptionv3", (3, 299, 299), seq(*layers, *_classifier(classes)), source=_SOURCE)


_IRV2_BLOCKS = {  # block type: (branches as (filters, kernel) chains, scale)
    "block35": (((32, 1),), ((32, 1), (32, 3)), ((32, 1), (48, 3), (64, 3))),
    "block17": (((192, 1),), ((128, 1), (160, (1, 7)), (192, (7, 1)))),
    "block8": (((192, 1),), ((192, 1), (224, (1, 3)), (256, (3, 1)))),
}


def _irv2_block(auto: KerasNames, kind: str, channels: int, scale: float, last: bool = False) -> Module:
    """x + scale · conv1×1(concat(branches)), then ReLU (not after the last block8)."""
    branches = [_branch(*[_conv_bn(auto, f, k) for f, k in chain]) for chain in _IRV2_BLOCKS[kind]]
    body = [("mixed", _concat(*branches, kind="Concatenate")), ("conv", conv(channels, 1, bias=True)),
            ("scale", Leaf(ConstantScale(scale)))]
    return residual(*body, post=[] if last else [("ac", relu())], kind=kind)


def inception_resnet_v2(classes: int = 1000) -> Network:
    auto = KerasNames()
    layers = _stem(auto)
    layers.append(("mixed_5b", _concat(
        _branch(_conv_bn(auto, 96, 1)),
        _branch(_conv_bn(auto, 48, 1), _conv_bn(auto, 64, 5)),
        _branch(_conv_bn(auto, 64, 1), _conv_bn(auto, 96, 3), _conv_bn(auto, 96, 3)),
        _branch(_avg_same(auto), _conv_bn(auto, 64, 1)), kind="InceptionA")))
    layers += [(f"block35_{i}", _irv2_block(auto, "block35", 320, 0.17)) for i in range(1, 11)]
    layers.append(("mixed_6a", _concat(
        _branch(_conv_bn(auto, 384, 3, 2, 0)),
        _branch(_conv_bn(auto, 256, 1), _conv_bn(auto, 256, 3), _conv_bn(auto, 384, 3, 2, 0)),
        _branch(_max_valid(auto)), kind="ReductionA")))
    layers += [(f"block17_{i}", _irv2_block(auto, "block17", 1088, 0.1)) for i in range(1, 21)]
    layers.append(("mixed_7a", _concat(
        _branch(_conv_bn(auto, 256, 1), _conv_bn(auto, 384, 3, 2, 0)),
        _branch(_conv_bn(auto, 256, 1), _conv_bn(auto, 288, 3, 2, 0)),
        _branch(_conv_bn(auto, 256, 1), _conv_bn(auto, 288, 3), _conv_bn(auto, 320, 3, 2, 0)),
        _branch(_max_valid(auto)), kind="ReductionB")))
    layers += [(f"block8_{i}", _irv2_block(auto, "block8", 2080, 0.2)) for i in range(1, 10)]
    layers.append(("block8_10", _irv2_block(auto, "block8", 2080, 1.0, last=True)))
    layers += [("conv_7b", conv(1536, 1, bias=False)), ("conv_7b_bn", keras_bn(scale=False)), ("conv_7b_ac", relu())]
    return Network("keras.inceptionresnetv2", (3, 299, 299), seq(*layers, *_classifier(classes)), source=_SOURCE)


register("keras.xception", _SOURCE, "Keras Xception (299x299): entry/middle/exit flows of separable convs, "
         "residual 1x1/2 shortcuts" + _AS_KERAS, family="keras")(xception)
register("keras.inceptionv3", _SOURCE, "Keras InceptionV3 (299x299): conv2d_bn with BatchNormalization(scale=False), "
         "no auxiliary head" + _AS_KERAS, family="keras")(inception_v3)
register("keras.inceptionresnetv2", _SOURCE, "Keras InceptionResNetV2 (299x299): block35/17/8 residuals scaled by "
         "0.17/0.1/0.2" + _AS_KERAS, family="keras")(inception_resnet_v2)
