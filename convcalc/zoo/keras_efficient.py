"""Zoo family: Keras's EfficientNet B0–B7 (``keras.applications.efficientnet``) and EfficientNetV2
B0–B3, S, M, L (``efficientnet_v2``) under ``keras.`` names, with Keras's layers, names, padding
and counting (``--as keras``: "Total params" adds the batch-norm moving statistics and, in
B0–B7, the input Normalization layer's mean, variance and count: 2·3 + 1 = 7).

EfficientNet (B0–B7), Keras's ``EfficientNet()``: ``rescaling`` (1/255) · ``normalization``
(adapted: its mean, variance and count are weights) · ``rescaling_1`` (1/√σ per channel, as
``weights="imagenet"`` builds it) · ``stem_conv`` 3×3/2 without bias (``stem_conv_pad``, a
``correct_pad`` ZeroPadding2D, folded in) · ``stem_bn`` · ``stem_activation`` (swish = SiLU);
blocks ``block1a`` … (stage i, repeat a, b, …): [``expand_conv`` 1×1 · ``expand_bn`` ·
``expand_activation``] · ``dwconv`` k×k depthwise (stride 2: ``dwconv_pad`` + VALID, folded) ·
``bn`` · ``activation`` · squeeze-excite (``se_squeeze`` global pool, ``se_reduce`` 1×1 conv with
bias to max(1, int(filters_in/4)) and swish, ``se_expand`` 1×1 conv with bias and sigmoid;
``scale`` is Keras's ``se_excite`` multiply) · ``project_conv`` 1×1 · ``project_bn`` · [``drop``
(rate 0.2·b/blocks, none for the first block) · ``add``] when stride 1 and filters_in =
filters_out; ``top_conv`` 1×1 to round_filters(1280) · ``top_bn`` · ``top_activation`` ·
``avg_pool`` · ``top_dropout`` · ``predictions`` (Dense, softmax). Keras's ``se_reshape`` (the
pooled C to 1×1×C) has nothing to count and is left out; here the pool keeps 1×1 and the head
flattens. Widths: round_filters(c) = max(8, ⌊c·w + 4⌋₈), plus 8 if that is below 90 % of c·w
(:func:`convcalc.zoo.mobile.make_divisible`); depths ⌈n·d⌉. Batch norm: Keras's ε 1e-3,
momentum 0.99 (PyTorch's 0.01). ``correct_pad`` pads (k//2 − 1, k//2) on an even side and
(k//2, k//2) on an odd one: TensorFlow's SAME for stride 2, so the padding is written "tf-same".

EfficientNetV2 (``EfficientNetV2()``): B0–B3 start with ``rescaling`` (1/255) and a
``normalization`` given ImageNet's mean and variance (constants: no weights); S/M/L with
``rescaling`` (1/128, offset −1). ``stem_conv`` 3×3/2 SAME · ``stem_bn`` · ``stem_activation``;
FusedMBConv blocks (conv type 1): [``expand_conv`` k×k/s · ``expand_bn`` · ``expand_activation``]
· ``project_conv`` (1×1, or k×k/s without expansion) · ``project_bn`` · [``project_activation``
without expansion]; MBConv blocks (conv type 0) as above with ``dwconv2`` and SE (ratio 0.25);
all convolutions SAME; ``drop`` (rate 0.2·b/blocks, blocks the unscaled total) · ``add``;
``top_conv`` round_filters(1280) · ``top_bn`` · ``top_activation`` · ``avg_pool`` ·
``top_dropout`` (0.2) · ``predictions``. round_filters here has no 90 % rule. Batch norm
momentum 0.9 (PyTorch's 0.1), ε 1e-3.
"""

from __future__ import annotations

import math

from convcalc.layers.preprocess import Normalization, Rescaling
from convcalc.network.build import act, bn, conv, dropout, flatten, gate, global_avgpool, linear, residual, seq
from convcalc.network.model import Leaf, Module, Network
from convcalc.zoo import register
from convcalc.zoo.mobile import make_divisible

_SOURCE = "Keras applications (keras.applications)"
_AS_KERAS = "; --as keras gives keras.io's Parameters"
_EPS = 1e-3
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _same(k: int, stride: int) -> int | str:
    """Keras 'same' (and ZeroPadding2D(correct_pad) + 'valid' before a strided conv): symmetric
    (k − 1)/2 at stride 1, TensorFlow's SAME (the extra row at the bottom) at stride 2."""
    return (k - 1) // 2 if stride == 1 else "tf-same"


def _bn(momentum: float) -> Leaf:
    return bn(eps=_EPS, momentum=round(1 - momentum, 6))  # Keras's momentum m is PyTorch's 1 − m


def _squeeze_excite(filters: int, squeeze: int) -> tuple[str, Module]:
    """se_squeeze · se_reduce (swish) · se_expand (sigmoid), then x·gate (Keras's se_excite); unnamed,
    so its layers are the block's own (``block2a.se_reduce``)."""
    return "", gate(("se_squeeze", global_avgpool()), ("se_reduce", conv(squeeze, 1)), ("se_reduce_swish", act("silu")),
                    ("se_expand", conv(filters, 1)), ("se_expand_sigmoid", act("sigmoid")), kind="se_excite")


def _finish(layers: list, skip: bool, drop_rate: float, kind: str) -> Module:
    """The block: with the identity shortcut (and Keras's ``drop`` when its rate is > 0) when ``skip``."""
    if skip:
        if drop_rate > 0:
            layers.append(("drop", dropout(drop_rate, kind="stochastic_depth")))
        return residual(*layers, kind=kind)
    return seq(*layers, kind=kind)


def _top(top: int, dropout_rate: float, classes: int, momentum: float) -> list:
    return [("top_conv", conv(top, 1, bias=False)), ("top_bn", _bn(momentum)), ("top_activation", act("silu")),
            ("avg_pool", global_avgpool()), ("flatten", flatten()), ("top_dropout", dropout(dropout_rate)),
            ("predictions", linear(classes)), ("predictions_softmax", act("softmax"))]


# ---------------------------------------------------------------- EfficientNet B0–B7

# (kernel, repeats, filters in, filters out, expand ratio, stride) per stage; SE ratio 0.25 throughout
_B0_BLOCKS = ((3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2), (3, 3, 40, 80, 6, 2),
              (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2), (3, 1, 192, 320, 6, 1))
_V1_MOMENTUM = 0.99


def _mbconv_v1(inp: int, out: int, k: int, stride: int, expand: int, drop_rate: float) -> Module:
    """Keras ``efficientnet.block``: filters = filters_in·expand (no rounding)."""
    filters = inp * expand
    layers: list = []
    if expand != 1:
        layers += [("expand_conv", conv(filters, 1, bias=False)), ("expand_bn", _bn(_V1_MOMENTUM)),
                   ("expand_activation", act("silu"))]
    layers += [("dwconv", conv(filters, k, stride=stride, pad=_same(k, stride), groups=filters, bias=False)),
               ("bn", _bn(_V1_MOMENTUM)), ("activation", act("silu")),
               _squeeze_excite(filters, max(1, int(inp * 0.25))),
               ("project_conv", conv(out, 1, bias=False)), ("project_bn", _bn(_V1_MOMENTUM))]
    return _finish(layers, stride == 1 and inp == out, drop_rate, "block")


def _efficientnet(name: str, width: float, depth: float, size: int, dropout_rate: float, classes: int) -> Network:
    def round_filters(c: int) -> int:
        return make_divisible(c * width)

    def round_repeats(n: int) -> int:
        return math.ceil(depth * n)

    layers: list = [("rescaling", Leaf(Rescaling(1 / 255))), ("normalization", Leaf(Normalization())),
                    ("rescaling_1", Leaf(Rescaling(tuple(1 / math.sqrt(s) for s in _IMAGENET_STD)))),
                    ("stem_conv", conv(round_filters(32), 3, stride=2, pad="tf-same", bias=False)),
                    ("stem_bn", _bn(_V1_MOMENTUM)), ("stem_activation", act("silu"))]
    blocks = float(sum(round_repeats(b[1]) for b in _B0_BLOCKS))
    b = 0
    for stage, (k, repeats, inp, out, expand, stride) in enumerate(_B0_BLOCKS, start=1):
        inp, out = round_filters(inp), round_filters(out)
        for j in range(round_repeats(repeats)):
            layers.append((f"block{stage}{chr(97 + j)}",
                           _mbconv_v1(inp if j == 0 else out, out, k, stride if j == 0 else 1, expand,
                                      0.2 * b / blocks)))
            b += 1
    layers += _top(round_filters(1280), dropout_rate, classes, _V1_MOMENTUM)
    return Network(name, (3, size, size), seq(*layers), source=_SOURCE)


# name: (width, depth, default size, dropout), Keras's EfficientNetB0 … B7
_V1 = {"b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3), "b3": (1.2, 1.4, 300, 0.3),
       "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4), "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5)}


def _register_v1(variant: str) -> None:
    width, depth, size, drop = _V1[variant]
    name = f"keras.efficientnet{variant}"

    def build(classes: int = 1000) -> Network:
        return _efficientnet(name, width, depth, size, drop, classes)

    build.__name__ = name.replace(".", "_")
    register(name, _SOURCE, f"Keras EfficientNet{variant.upper()}: width x{width:g}, depth x{depth:g}, {size}x{size}, "
             "adapted input Normalization" + _AS_KERAS)(build)


for _variant in _V1:
    _register_v1(_variant)


# ---------------------------------------------------------------- EfficientNetV2

# (fused, kernel, repeats, filters in, filters out, expand ratio, SE ratio, stride) per stage
_V2_BLOCKS = {
    "b": ((True, 3, 1, 32, 16, 1, 0, 1), (True, 3, 2, 16, 32, 4, 0, 2), (True, 3, 2, 32, 48, 4, 0, 2),
          (False, 3, 3, 48, 96, 4, 0.25, 2), (False, 3, 5, 96, 112, 6, 0.25, 1), (False, 3, 8, 112, 192, 6, 0.25, 2)),
    "s": ((True, 3, 2, 24, 24, 1, 0, 1), (True, 3, 4, 24, 48, 4, 0, 2), (True, 3, 4, 48, 64, 4, 0, 2),
          (False, 3, 6, 64, 128, 4, 0.25, 2), (False, 3, 9, 128, 160, 6, 0.25, 1),
          (False, 3, 15, 160, 256, 6, 0.25, 2)),
    "m": ((True, 3, 3, 24, 24, 1, 0, 1), (True, 3, 5, 24, 48, 4, 0, 2), (True, 3, 5, 48, 80, 4, 0, 2),
          (False, 3, 7, 80, 160, 4, 0.25, 2), (False, 3, 14, 160, 176, 6, 0.25, 1),
          (False, 3, 18, 176, 304, 6, 0.25, 2), (False, 3, 5, 304, 512, 6, 0.25, 1)),
    "l": ((True, 3, 4, 32, 32, 1, 0, 1), (True, 3, 7, 32, 64, 4, 0, 2), (True, 3, 7, 64, 96, 4, 0, 2),
          (False, 3, 10, 96, 192, 4, 0.25, 2), (False, 3, 19, 192, 224, 6, 0.25, 1),
          (False, 3, 25, 224, 384, 6, 0.25, 2), (False, 3, 7, 384, 640, 6, 0.25, 1)),
}
_V2_MOMENTUM = 0.9


def _round_filters_v2(c: float) -> int:
    """EfficientNetV2's round_filters: max(8, ⌊c + 4⌋ to a multiple of 8) — no 90 % rule."""
    return max(8, int(c + 4) // 8 * 8)


def _mbconv_v2(inp: int, out: int, k: int, stride: int, expand: int, se: float, drop_rate: float) -> Module:
    """Keras ``MBConvBlock``: [expand 1×1] · k×k depthwise ``dwconv2`` · [SE] · 1×1 projection."""
    filters = inp * expand
    layers: list = []
    if expand != 1:
        layers += [("expand_conv", conv(filters, 1, bias=False)), ("expand_bn", _bn(_V2_MOMENTUM)),
                   ("expand_activation", act("silu"))]
    layers += [("dwconv2", conv(filters, k, stride=stride, pad=_same(k, stride), groups=filters, bias=False)),
               ("bn", _bn(_V2_MOMENTUM)), ("activation", act("silu"))]
    if 0 < se <= 1:
        layers.append(_squeeze_excite(filters, max(1, int(inp * se))))
    layers += [("project_conv", conv(out, 1, bias=False)), ("project_bn", _bn(_V2_MOMENTUM))]
    return _finish(layers, stride == 1 and inp == out, drop_rate, "MBConvBlock")


def _fused_mbconv_v2(inp: int, out: int, k: int, stride: int, expand: int, se: float, drop_rate: float) -> Module:
    """Keras ``FusedMBConvBlock``: [k×k/s expand] · [SE] · projection (1×1, or k×k/s when not expanding)."""
    filters = inp * expand
    layers: list = []
    if expand != 1:
        layers += [("expand_conv", conv(filters, k, stride=stride, pad=_same(k, stride), bias=False)),
                   ("expand_bn", _bn(_V2_MOMENTUM)), ("expand_activation", act("silu"))]
    if 0 < se <= 1:
        layers.append(_squeeze_excite(filters, max(1, int(inp * se))))
    pk, ps = (1, 1) if expand != 1 else (k, stride)
    layers += [("project_conv", conv(out, pk, stride=ps, pad=_same(pk, ps), bias=False)),
               ("project_bn", _bn(_V2_MOMENTUM))]
    if expand == 1:
        layers.append(("project_activation", act("silu")))
    return _finish(layers, stride == 1 and inp == out, drop_rate, "FusedMBConvBlock")


def _efficientnet_v2(name: str, blocks_args: tuple, width: float, depth: float, size: int, classes: int,
                     bx: bool) -> Network:
    if bx:  # B0–B3: V1's preprocessing, with ImageNet's statistics as constants
        layers: list = [("rescaling", Leaf(Rescaling(1 / 255))),
                        ("normalization", Leaf(Normalization(_IMAGENET_MEAN, tuple(s * s for s in _IMAGENET_STD))))]
    else:
        layers = [("rescaling", Leaf(Rescaling(1 / 128, offset=-1.0)))]
    layers += [("stem_conv", conv(_round_filters_v2(blocks_args[0][3] * width), 3, stride=2, pad="tf-same",
                                  bias=False)),
               ("stem_bn", _bn(_V2_MOMENTUM)), ("stem_activation", act("silu"))]
    blocks = float(sum(args[2] for args in blocks_args))  # Keras divides by the unscaled total
    b = 0
    for stage, (fused, k, repeats, inp, out, expand, se, stride) in enumerate(blocks_args, start=1):
        inp, out = _round_filters_v2(inp * width), _round_filters_v2(out * width)
        make = _fused_mbconv_v2 if fused else _mbconv_v2
        for j in range(math.ceil(depth * repeats)):
            layers.append((f"block{stage}{chr(97 + j)}", make(inp if j == 0 else out, out, k, stride if j == 0 else 1,
                                                                expand, se, 0.2 * b / blocks)))
            b += 1
    layers += _top(_round_filters_v2(1280 * width), 0.2, classes, _V2_MOMENTUM)
    return Network(name, (3, size, size), seq(*layers), source=_SOURCE)


# name: (blocks, width, depth, default size), Keras's EfficientNetV2B0 … L
_V2 = {"b0": ("b", 1.0, 1.0, 224), "b1": ("b", 1.0, 1.1, 240), "b2": ("b", 1.1, 1.2, 260), "b3": ("b", 1.2, 1.4, 300),
       "s": ("s", 1.0, 1.0, 384), "m": ("m", 1.0, 1.0, 480), "l": ("l", 1.0, 1.0, 480)}


def _register_v2(variant: str) -> None:
    blocks_key, width, depth, size = _V2[variant]
    name = f"keras.efficientnetv2{variant}"

    def build(classes: int = 1000) -> Network:
        return _efficientnet_v2(name, _V2_BLOCKS[blocks_key], width, depth, size, classes, blocks_key == "b")

    build.__name__ = name.replace(".", "_")
    register(name, _SOURCE, f"Keras EfficientNetV2{variant.upper()}: FusedMBConv then MBConv stages, width x{width:g}, "
             f"depth x{depth:g}, {size}x{size}" + _AS_KERAS)(build)


for _variant in _V2:
    _register_v2(_variant)
