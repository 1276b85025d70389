"""Zoo family: Keras applications (``keras.applications``) under ``keras.`` names, with Keras's
layer order, padding and names: VGG16/19, ResNet50/101/152 (v1) and their V2, MobileNet,
MobileNetV2, DenseNet121/169/201.

Keras's ``model.summary()`` "Total params" — the keras.io applications table's Parameters
column — counts the batch-norm moving mean and variance as (non-trainable) parameters;
convcalc counts them as buffers, so ``--as keras`` gives Keras's figure (parameters + 2·C per
batch norm). Keras names are flat (``conv2_block1_1_conv``); here a block is a module and its
layers its children, so the row is ``conv2_block1.1_conv`` (the block's ``_`` becomes ``.``;
a conv shortcut ``conv2_block1_0_conv`` is ``conv2_block1.0.conv``).
Keras's 'same' padding is TensorFlow's SAME (the extra row of a stride-2 conv at the bottom);
explicit ``ZeroPadding2D`` layers are folded into the conv or pool that follows them.

* VGG: 3×3 convs with bias and ReLU, 2×2 max pools, flatten, fc1/fc2 4096, predictions.
* ResNet v1 (``resnet.py`` stack1/block1): 7×7/2 conv with bias (pad 3), BN (eps 1.001e-5),
  3×3/2 max pool (pad 1); the stride on a block's first 1×1 conv, convolutions with bias, a
  1×1 conv shortcut (``0_conv``) in each stack's first block.
* ResNet v2 (stack2/block2): pre-activation; BN-ReLU (``preact``) before each block, the
  stride on the last block of stacks 2–4 (its 3×3 conv), 1×1 max pool shortcuts there;
  post_bn and post_relu before the pooling.
* MobileNet (``mobilenet.py``): conv1 3×3/2 SAME without bias, depthwise/pointwise blocks
  (``conv_dw_i``, ``conv_pw_i``, ReLU6; stride 2 after a (0, 1) zero pad), global pool,
  dropout, ``conv_preds`` (1×1 conv with bias), softmax.
* MobileNetV2 (``mobilenet_v2.py``): ``Conv1``, inverted residual blocks (``expanded_conv``,
  ``block_1`` …, BN eps 1e-3), ``Conv_1`` 1280, global pool, predictions.
* DenseNet (``densenet.py``): conv1 7×7/2, pool1 3×3/2, dense blocks of conv blocks
  (``conv2_block1``: BN-ReLU-1×1 conv 4·32-BN-ReLU-3×3 conv 32, concatenated), transitions
  (``pool2``: BN-ReLU-1×1 conv halving-2×2 avg pool), final BN-ReLU, global pool, predictions.
"""

from __future__ import annotations

from convcalc.network.build import (
    act,
    avgpool,
    bn,
    conv,
    dropout,
    flatten,
    global_avgpool,
    identity,
    linear,
    maxpool,
    parallel,
    relu,
    residual,
    seq,
)
from convcalc.network.model import Module, Network
from convcalc.zoo import register
from convcalc.zoo.mobile import make_divisible

_SOURCE = "Keras applications (keras.applications)"
_RESNET_EPS = 1.001e-5


_AS_KERAS = "; --as keras gives keras.io's Parameters"


# ---------------------------------------------------------------- VGG


def _vgg(name: str, convs: tuple[int, ...], classes: int) -> Network:
    layers: list = []
    for block, (n, width) in enumerate(zip(convs, (64, 128, 256, 512, 512)), start=1):
        for i in range(1, n + 1):
            layers += [(f"block{block}_conv{i}", conv(width, 3, pad=1)), (f"block{block}_conv{i}_relu", relu())]
        layers.append((f"block{block}_pool", maxpool(2, 2)))
    layers += [("flatten", flatten()), ("fc1", linear(4096)), ("fc1_relu", relu()), ("fc2", linear(4096)),
               ("fc2_relu", relu()), ("predictions", linear(classes)), ("predictions_softmax", act("softmax"))]
    return Network(name, (3, 224, 224), seq(*layers), source=_SOURCE)


@register("keras.vgg16", _SOURCE, "Keras VGG16: 13 3x3 convs with bias, fc1/fc2 4096" + _AS_KERAS)
def keras_vgg16(classes: int = 1000) -> Network:
    return _vgg("keras.vgg16", (2, 2, 3, 3, 3), classes)


@register("keras.vgg19", _SOURCE, "Keras VGG19: 16 3x3 convs with bias, fc1/fc2 4096" + _AS_KERAS)
def keras_vgg19(classes: int = 1000) -> Network:
    return _vgg("keras.vgg19", (2, 2, 4, 4, 4), classes)


# ---------------------------------------------------------------- ResNet v1 and v2


def _conv_bn(out: int, k: int, stride: int = 1, pad: int | str = 0, bias: bool = True, eps: float = _RESNET_EPS,
             prefix: str = "", relu_after: bool = True) -> list:
    items = [(f"{prefix}conv", conv(out, k, stride=stride, pad=pad, bias=bias)), (f"{prefix}bn", bn(eps=eps))]
    if relu_after:
        items.append((f"{prefix}relu", relu()))
    return items


def _block1(filters: int, stride: int, conv_shortcut: bool) -> Module:
    body = (_conv_bn(filters, 1, stride, prefix="1_") + _conv_bn(filters, 3, pad=1, prefix="2_")
            + _conv_bn(4 * filters, 1, prefix="3_", relu_after=False))
    shortcut = ("0", seq(*_conv_bn(4 * filters, 1, stride, relu_after=False))) if conv_shortcut else None
    return residual(*body, shortcut=shortcut, post=[("out", relu())], kind="block1")


def _stem(bn_relu: bool) -> list:
    items: list = [("conv1_conv", conv(64, 7, stride=2, pad=3))]
    if bn_relu:
        items += [("conv1_bn", bn(eps=_RESNET_EPS)), ("conv1_relu", relu())]
    return items + [("pool1_pool", maxpool(3, 2, pad=1))]


def _resnet(name: str, blocks: tuple[int, ...], classes: int) -> Network:
    layers = _stem(True)
    for stack, (filters, n) in enumerate(zip((64, 128, 256, 512), blocks), start=2):
        for b in range(1, n + 1):
            stride = 2 if (b == 1 and stack > 2) else 1
            layers.append((f"conv{stack}_block{b}", _block1(filters, stride, b == 1)))
    layers += [("avg_pool", global_avgpool()), ("flatten", flatten()), ("predictions", linear(classes)),
               ("predictions_softmax", act("softmax"))]
    return Network(name, (3, 224, 224), seq(*layers), source=_SOURCE)


def _block2(filters: int, stride: int, conv_shortcut: bool) -> Module:
    """Pre-activation: a conv shortcut reads the BN-ReLU output, an identity/pool shortcut reads x."""
    preact = [("preact_bn", bn(eps=_RESNET_EPS)), ("preact_relu", relu())]
    body = (_conv_bn(filters, 1, bias=False, prefix="1_") + _conv_bn(filters, 3, stride, pad=1, bias=False, prefix="2_")
            + [("3_conv", conv(4 * filters, 1))])
    if conv_shortcut:
        inner = residual(*body, shortcut=("0_conv", conv(4 * filters, 1, stride=stride)), kind="block2")
        return seq(*preact, ("", inner), kind="block2")
    shortcut = ("shortcut", maxpool(1, stride)) if stride > 1 else None
    return residual(*preact, *body, shortcut=shortcut, kind="block2")


def _resnet_v2(name: str, blocks: tuple[int, ...], classes: int) -> Network:
    layers = _stem(False)
    for stack, (filters, n) in enumerate(zip((64, 128, 256, 512), blocks), start=2):
        for b in range(1, n + 1):
            stride = 2 if (b == n and stack < 5) else 1
            layers.append((f"conv{stack}_block{b}", _block2(filters, stride, b == 1)))
    layers += [("post_bn", bn(eps=_RESNET_EPS)), ("post_relu", relu()), ("avg_pool", global_avgpool()),
               ("flatten", flatten()), ("predictions", linear(classes)), ("predictions_softmax", act("softmax"))]
    return Network(name, (3, 224, 224), seq(*layers), source=_SOURCE)


_RESNETS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _register_resnets(depth: int) -> None:
    blocks = _RESNETS[depth]

    @register(f"keras.resnet{depth}", _SOURCE,
              f"Keras ResNet{depth} (v1, convs with bias, stride on the block's first 1x1)" + _AS_KERAS)
    def v1(classes: int = 1000) -> Network:
        return _resnet(f"keras.resnet{depth}", blocks, classes)

    @register(f"keras.resnet{depth}v2", _SOURCE,
              f"Keras ResNet{depth}V2 (pre-activation, stride on each stack's last block)" + _AS_KERAS)
    def v2(classes: int = 1000) -> Network:
        return _resnet_v2(f"keras.resnet{depth}v2", blocks, classes)


for _depth in _RESNETS:
    _register_resnets(_depth)


# ---------------------------------------------------------------- MobileNet, MobileNetV2


def _relu6() -> Module:
    return act("relu6")


@register("keras.mobilenet", _SOURCE,
          "Keras MobileNet (alpha 1.0, 224): depthwise-separable blocks, ReLU6, conv_preds" + _AS_KERAS)
def keras_mobilenet(classes: int = 1000) -> Network:
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    layers: list = [("conv1", conv(32, 3, stride=2, pad="tf-same", bias=False)), ("conv1_bn", bn(eps=1e-3)),
                    ("conv1_relu", _relu6())]
    inp = 32
    for i, (out, stride) in enumerate(blocks, start=1):
        # stride 2: ZeroPadding2D(((0, 1), (0, 1))) then a VALID depthwise conv
        pad = 1 if stride == 1 else ((0, 1), (0, 1))
        layers += [(f"conv_dw_{i}", conv(inp, 3, stride=stride, pad=pad, groups=inp, bias=False)),
                   (f"conv_dw_{i}_bn", bn(eps=1e-3)), (f"conv_dw_{i}_relu", _relu6()),
                   (f"conv_pw_{i}", conv(out, 1, bias=False)), (f"conv_pw_{i}_bn", bn(eps=1e-3)),
                   (f"conv_pw_{i}_relu", _relu6())]
        inp = out
    layers += [("global_average_pooling2d", global_avgpool()), ("dropout", dropout(1e-3)),
               ("conv_preds", conv(classes, 1)), ("reshape_2", flatten()), ("predictions", act("softmax"))]
    return Network("keras.mobilenet", (3, 224, 224), seq(*layers), source=_SOURCE)


def _inverted_res(inp: int, filters: int, stride: int, expansion: int, block_id: int) -> tuple[str, Module]:
    prefix = f"block_{block_id}" if block_id else "expanded_conv"
    out = make_divisible(filters, 8)
    layers: list = []
    if block_id:
        layers += [("expand", conv(expansion * inp, 1, bias=False)), ("expand_BN", bn(eps=1e-3)),
                   ("expand_relu", _relu6())]
    hidden = expansion * inp if block_id else inp
    pad = 1 if stride == 1 else ((0, 1), (0, 1))  # correct_pad on an even input, then VALID
    layers += [("depthwise", conv(hidden, 3, stride=stride, pad=pad, groups=hidden, bias=False)),
               ("depthwise_BN", bn(eps=1e-3)), ("depthwise_relu", _relu6()),
               ("project", conv(out, 1, bias=False)), ("project_BN", bn(eps=1e-3))]
    if inp == out and stride == 1:
        return prefix, residual(*layers, kind="InvertedResidual")
    return prefix, seq(*layers, kind="InvertedResidual")


@register("keras.mobilenetv2", _SOURCE,
          "Keras MobileNetV2 (alpha 1.0, 224): inverted residuals, Conv_1 1280" + _AS_KERAS)
def keras_mobilenetv2(classes: int = 1000) -> Network:
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]
    layers: list = [("Conv1", conv(32, 3, stride=2, pad="tf-same", bias=False)), ("bn_Conv1", bn(eps=1e-3)),
                    ("Conv1_relu", _relu6())]
    inp, block_id = 32, 0
    for t, c, n, s in settings:
        for i in range(n):
            layers.append(_inverted_res(inp, c, s if i == 0 else 1, t, block_id))
            inp, block_id = make_divisible(c, 8), block_id + 1
    layers += [("Conv_1", conv(1280, 1, bias=False)), ("Conv_1_bn", bn(eps=1e-3)), ("out_relu", _relu6()),
               ("global_average_pooling2d", global_avgpool()), ("flatten", flatten()),
               ("predictions", linear(classes)), ("predictions_softmax", act("softmax"))]
    return Network("keras.mobilenetv2", (3, 224, 224), seq(*layers), source=_SOURCE)


# ---------------------------------------------------------------- DenseNet


def _dense_conv_block(growth: int = 32) -> Module:
    new = seq(("0_bn", bn(eps=_RESNET_EPS)), ("0_relu", relu()), ("1_conv", conv(4 * growth, 1, bias=False)),
              ("1_bn", bn(eps=_RESNET_EPS)), ("1_relu", relu()), ("2_conv", conv(growth, 3, pad=1, bias=False)))
    return parallel(("identity", identity()), ("", new), merge="concat", kind="conv_block")


def _densenet(name: str, blocks: tuple[int, ...], classes: int) -> Network:
    layers: list = [("conv1", seq(("conv", conv(64, 7, stride=2, pad=3, bias=False)), ("bn", bn(eps=_RESNET_EPS)),
                                  ("relu", relu()))), ("pool1", maxpool(3, 2, pad=1))]
    channels = 64
    for i, n in enumerate(blocks, start=2):
        layers += [(f"conv{i}_block{b}", _dense_conv_block()) for b in range(1, n + 1)]
        channels += 32 * n
        if i < len(blocks) + 1:
            channels //= 2
            layers.append((f"pool{i}", seq(("bn", bn(eps=_RESNET_EPS)), ("relu", relu()),
                                           ("conv", conv(channels, 1, bias=False)), ("pool", avgpool(2, 2)))))
    layers += [("bn", bn(eps=_RESNET_EPS)), ("relu", relu()), ("avg_pool", global_avgpool()), ("flatten", flatten()),
               ("predictions", linear(classes)), ("predictions_softmax", act("softmax"))]
    return Network(name, (3, 224, 224), seq(*layers), source=_SOURCE)


def _register_densenet(depth: int, blocks: tuple[int, ...]) -> None:
    @register(f"keras.densenet{depth}", _SOURCE,
              f"Keras DenseNet{depth}: dense blocks {'-'.join(map(str, blocks))}, growth 32" + _AS_KERAS)
    def build(classes: int = 1000) -> Network:
        return _densenet(f"keras.densenet{depth}", blocks, classes)


for _depth, _blocks in ((121, (6, 12, 24, 16)), (169, (6, 12, 32, 32)), (201, (6, 12, 48, 32))):
    _register_densenet(_depth, _blocks)


# The other Keras applications live in modules of their own, registered in this family.
from convcalc.zoo import keras_inception, keras_nasnet  # noqa: E402, F401
