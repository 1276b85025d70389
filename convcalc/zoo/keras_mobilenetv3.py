"""Zoo family: Keras's MobileNetV3Small and MobileNetV3Large (``keras.applications.mobilenet_v3``)
under ``keras.`` names, with Keras's layers, names, padding and head.

``rescaling`` (1/127.5, offset −1) · ``conv`` 16 3×3/2 SAME without bias · ``conv_bn`` ·
hard-swish; inverted residual blocks ``expanded_conv`` (block 0: no expansion) and
``expanded_conv_1`` …: [``expand`` 1×1 to _depth(C_in·t) · ``expand_bn`` · act] · ``depthwise``
k×k (stride 2: ``depthwise_pad``, a ``correct_pad`` ZeroPadding2D, + VALID — TensorFlow's SAME,
folded into the conv) · ``depthwise_bn`` · act · [squeeze-excite: ``squeeze_excite_avg_pool``,
``squeeze_excite_conv`` 1×1 with bias to _depth(C/4), ``squeeze_excite_relu``,
``squeeze_excite_conv_1`` 1×1 with bias, hard sigmoid (Keras: ReLU6(x + 3)/6), ``scale`` is
Keras's ``squeeze_excite_mul``] · ``project`` 1×1 · ``project_bn`` · [``add`` when stride 1 and
C_in = C_out]; ``conv_1`` 1×1 to _depth(6·C) · ``conv_1_bn`` · hard-swish; the head of 1×1
convolutions: global average pool (keepdims) · ``conv_2`` 1×1 with bias to 1024 (Small) / 1280
(Large) · hard-swish · dropout 0.2 · ``logits`` 1×1 conv with bias · flatten · ``predictions``
(softmax). Keras leaves the activations unnamed (``activation_3``, ``re_lu_2`` …); here each is
named after the layer it follows (``conv_hard_swish``, ``expand_relu``). Batch norm ε 1e-3,
momentum 0.999 (PyTorch's 0.001). _depth(v) = max(8, ⌊v + 4⌋₈), plus 8 below 90 % of v
(:func:`convcalc.zoo.mobile.make_divisible`); ``--width`` is Keras's ``alpha`` (every block's
filters _depth(c·α); the last 1×1 widens only for α > 1).

The parameters equal torchvision's MobileNetV3 (2,542,856 and 5,483,032, the same layers);
Keras's Total params add the batch-norm moving statistics (``--as keras``).
"""

from __future__ import annotations

from convcalc.layers.preprocess import Rescaling
from convcalc.network.build import act, bn, conv, dropout, flatten, gate, global_avgpool, residual, seq
from convcalc.network.model import Leaf, Module, Network
from convcalc.zoo import register
from convcalc.zoo.mobile import make_divisible

_SOURCE = "Keras applications (keras.applications)"
_AS_KERAS = "; --as keras gives model.summary()'s Total params"


def _bn() -> Leaf:
    return bn(eps=1e-3, momentum=0.001)  # Keras's momentum 0.999 is PyTorch's 0.001


def _act(kind: str) -> Leaf:
    return act("hardswish" if kind == "hard_swish" else "relu")


def _se(filters: int) -> tuple[str, Module]:
    """Keras's ``_se_block`` (ratio 0.25); unnamed, so its layers are the block's own."""
    return "", gate(("squeeze_excite_avg_pool", global_avgpool()),
                    ("squeeze_excite_conv", conv(make_divisible(filters * 0.25), 1)),
                    ("squeeze_excite_relu", act("relu")), ("squeeze_excite_conv_1", conv(filters, 1)),
                    ("squeeze_excite_hard_sigmoid", act("hardsigmoid")), kind="squeeze_excite")


def _inverted_res_block(inp: int, expansion: float, filters: int, k: int, stride: int, se: bool, activation: str,
                        block_id: int) -> tuple[str, Module]:
    prefix = f"expanded_conv_{block_id}" if block_id else "expanded_conv"
    expanded = make_divisible(inp * expansion)
    layers: list = []
    if block_id:
        layers += [("expand", conv(expanded, 1, bias=False)), ("expand_bn", _bn()),
                   (f"expand_{activation}", _act(activation))]
    else:
        expanded = inp  # block 0 works on its input's channels
    pad = (k - 1) // 2 if stride == 1 else "tf-same"  # 'same', or correct_pad + 'valid' (= SAME at stride 2)
    layers += [("depthwise", conv(expanded, k, stride=stride, pad=pad, groups=expanded, bias=False)),
               ("depthwise_bn", _bn()), (f"depthwise_{activation}", _act(activation))]
    if se:
        layers.append(_se(make_divisible(inp * expansion)))
    layers += [("project", conv(filters, 1, bias=False)), ("project_bn", _bn())]
    if stride == 1 and inp == filters:
        return prefix, residual(*layers, kind="InvertedResidual")
    return prefix, seq(*layers, kind="InvertedResidual")


# (expansion, filters, kernel, stride, squeeze-excite, activation) per block, Keras's stack_fn
_SMALL = ((1, 16, 3, 2, True, "relu"), (72 / 16, 24, 3, 2, False, "relu"), (88 / 24, 24, 3, 1, False, "relu"),
          (4, 40, 5, 2, True, "hard_swish"), (6, 40, 5, 1, True, "hard_swish"), (6, 40, 5, 1, True, "hard_swish"),
          (3, 48, 5, 1, True, "hard_swish"), (3, 48, 5, 1, True, "hard_swish"), (6, 96, 5, 2, True, "hard_swish"),
          (6, 96, 5, 1, True, "hard_swish"), (6, 96, 5, 1, True, "hard_swish"))
_LARGE = ((1, 16, 3, 1, False, "relu"), (4, 24, 3, 2, False, "relu"), (3, 24, 3, 1, False, "relu"),
          (3, 40, 5, 2, True, "relu"), (3, 40, 5, 1, True, "relu"), (3, 40, 5, 1, True, "relu"),
          (6, 80, 3, 2, False, "hard_swish"), (2.5, 80, 3, 1, False, "hard_swish"),
          (2.3, 80, 3, 1, False, "hard_swish"),
          (2.3, 80, 3, 1, False, "hard_swish"), (6, 112, 3, 1, True, "hard_swish"), (6, 112, 3, 1, True, "hard_swish"),
          (6, 160, 5, 2, True, "hard_swish"), (6, 160, 5, 1, True, "hard_swish"), (6, 160, 5, 1, True, "hard_swish"))


def _mobilenet_v3(name: str, stack: tuple, last_point: int, width: float, classes: int) -> Network:
    layers: list = [("rescaling", Leaf(Rescaling(1 / 127.5, offset=-1.0))),
                    ("conv", conv(16, 3, stride=2, pad="tf-same", bias=False)), ("conv_bn", _bn()),
                    ("conv_hard_swish", _act("hard_swish"))]
    channels = 16
    for block_id, (expansion, filters, k, stride, se, activation) in enumerate(stack):
        out = make_divisible(filters * width)
        layers.append(_inverted_res_block(channels, expansion, out, k, stride, se, activation, block_id))
        channels = out
    if width > 1.0:
        last_point = make_divisible(last_point * width)
    layers += [("conv_1", conv(make_divisible(channels * 6), 1, bias=False)), ("conv_1_bn", _bn()),
               ("conv_1_hard_swish", _act("hard_swish")), ("global_average_pooling2d", global_avgpool()),
               ("conv_2", conv(last_point, 1)), ("conv_2_hard_swish", _act("hard_swish")), ("dropout", dropout(0.2)),
               ("logits", conv(classes, 1)), ("flatten", flatten()), ("predictions", act("softmax"))]
    return Network(name, (3, 224, 224), seq(*layers), source=_SOURCE)


@register("keras.mobilenetv3small", _SOURCE, "Keras MobileNetV3Small (alpha 1.0, 224): SE and hard-swish, a head of "
          "1x1 convs (conv_2 1024, logits); --width is alpha" + _AS_KERAS)
def keras_mobilenetv3small(classes: int = 1000, width: float = 1.0) -> Network:
    return _mobilenet_v3("keras.mobilenetv3small", _SMALL, 1024, width, classes)


@register("keras.mobilenetv3large", _SOURCE, "Keras MobileNetV3Large (alpha 1.0, 224): SE and hard-swish, a head of "
          "1x1 convs (conv_2 1280, logits); --width is alpha" + _AS_KERAS)
def keras_mobilenetv3large(classes: int = 1000, width: float = 1.0) -> Network:
    return _mobilenet_v3("keras.mobilenetv3large", _LARGE, 1280, width, classes)
