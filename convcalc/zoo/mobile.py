"""Zoo family: mobile networks — MobileNet V1 (Howard et al. 2017), MobileNet V2 and V3
(large, small), ShuffleNet V2 ×1.0 and MNASNet 1.0 (torchvision's definitions, default
arguments).

Names follow torchvision's modules (``features.1.conv.0.0``, ``features.4.block.2.fc1``,
``stage2.0.branch1.0``, ``layers.8.0.layers.3``). ``conv_norm_act`` (torchvision's
``Conv2dNormActivation``) and ``squeeze_excitation`` are shared with the EfficientNet and
RegNet modules.
"""

from __future__ import annotations

from convcalc.layers.channels import ChannelChunk
from convcalc.network.build import (
    act,
    adaptive_avgpool,
    bn,
    channel_shuffle,
    conv,
    dropout,
    flatten,
    functional,
    gate,
    global_avgpool,
    linear,
    maxpool,
    parallel,
    relu,
    residual,
    seq,
)
from convcalc.network.model import Leaf, Module, Network, Sequential
from convcalc.zoo import register


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """torchvision's ``_make_divisible``: round to a multiple of ``divisor``, never below 90 %."""
    min_value = min_value or divisor
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def conv_norm_act(out: int, k=3, stride: int = 1, groups: int = 1, activation: str | None = "relu",
                  eps: float = 1e-5, dilation: int = 1, tf: bool = False) -> Sequential:
    """torchvision's ``Conv2dNormActivation``: conv (no bias, 'same' padding) · BN · activation;
    ``tf``: TensorFlow's SAME padding instead (the extra row/column at the bottom/right)."""
    pad = "tf-same" if tf else (k - 1) // 2 * dilation
    items = [("0", conv(out, k, stride=stride, pad=pad, dilation=dilation, groups=groups, bias=False)),
             ("1", bn(eps=eps))]
    if activation is not None:
        items.append(("2", act(activation)))
    return seq(*items, kind="Conv2dNormActivation")


def squeeze_excitation(channels: int, squeeze: int, activation: str = "relu", scale: str = "sigmoid") -> Module:
    """torchvision's ``SqueezeExcitation``: x · scale(fc2(act(fc1(avgpool(x))))), fc = 1×1 conv with bias."""
    return gate(("avgpool", global_avgpool()), ("fc1", conv(squeeze, 1)), ("activation", act(activation)),
                ("fc2", conv(channels, 1)), ("scale_activation", act(scale)))


def classifier_head(features: Module, classifier: Module, pool: str = "avgpool", call: str = "") -> Sequential:
    """features, the average pool (an nn.AdaptiveAvgPool2d, or ``call`` in the forward), flatten, classifier."""
    pooling = functional(adaptive_avgpool(1), call) if call else adaptive_avgpool(1)
    return seq(("features", features), (pool, pooling), ("flatten", flatten()), ("classifier", classifier))


# ---------------------------------------------------------------- MobileNet V1


def _depthwise_separable(inp: int, out: int, stride: int, tf: bool = False) -> Sequential:
    """Howard et al. 2017 Fig. 3: 3×3 depthwise · BN · ReLU, then 1×1 pointwise · BN · ReLU."""
    return seq(("dw", conv_norm_act(inp, 3, stride, groups=inp, tf=tf)), ("pw", conv_norm_act(out, 1, tf=tf)),
               kind="DepthwiseSeparable")


@register("mobilenet_v1", "Howard et al. 2017, arXiv:1704.04861, Table 1 (width 1.0)",
          "MobileNet V1: 13 depthwise-separable blocks, 4.2M params / 569M mult-adds in the paper; "
          "--width 0.75/0.5/0.25 and --in 3x192x192 etc. give the paper's Table 6/7 variants; --padding tf "
          "TF-slim's SAME padding")
def mobilenet_v1(classes: int = 1000, width: float = 1.0, padding: str = "torch") -> Network:
    """``width`` α thins every layer to int(α·channels), as Keras' ``MobileNet(alpha=α)`` does;
    ``padding`` "tf" pads as TF-slim's SAME convolutions do (the extra row and column of a
    stride-2 conv at the bottom/right), which moves the receptive-field centres."""
    tf = padding == "tf"
    # (output channels, stride) of each depthwise-separable block, Table 1. The paper's table
    # lists stride 2 for the last depthwise conv, a typo: its output is 7×7 like its input.
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    stem = int(32 * width)
    layers: list = [("0", conv_norm_act(stem, 3, 2, tf=tf))]
    inp = stem
    for index, (out, stride) in enumerate(blocks, start=1):
        out = int(out * width)
        layers.append((str(index), _depthwise_separable(inp, out, stride, tf)))
        inp = out
    body = classifier_head(seq(*layers), seq(("0", linear(classes))))
    return Network("mobilenet_v1", (3, 224, 224), body, source="Howard et al. 2017 (arXiv:1704.04861)",
                   description=f"MobileNet V1, width multiplier {width:g}: conv layers without bias, each followed by "
                               "BN + ReLU; global average pool; FC 1000 with bias")


# ---------------------------------------------------------------- MobileNet V2


def _inverted_residual_v2(inp: int, out: int, stride: int, expand: int) -> Module:
    """torchvision ``mobilenetv2.InvertedResidual``: [1×1 expand] · 3×3 depthwise · 1×1 linear projection."""
    hidden = round(inp * expand)
    layers = []
    if expand != 1:
        layers.append(conv_norm_act(hidden, 1, activation="relu6"))
    layers += [conv_norm_act(hidden, 3, stride, groups=hidden, activation="relu6"), conv(out, 1, bias=False), bn()]
    body = ("conv", seq(*layers))
    if stride == 1 and inp == out:
        return residual(body, kind="InvertedResidual")
    return seq(body, kind="InvertedResidual")


@register("mobilenet_v2", "torchvision", "MobileNet V2 (Sandler et al. 2018): inverted residuals with linear "
          "bottlenecks; --width for torchvision's width_mult")
def mobilenet_v2(classes: int = 1000, width: float = 1.0) -> Network:
    """torchvision ``MobileNetV2(width_mult=width)``: every width make_divisible(c·width, 8), the last
    conv make_divisible(1280·max(1, width), 8)."""
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]
    inp = make_divisible(32 * width)
    layers: list = [conv_norm_act(inp, 3, 2, activation="relu6")]
    for t, c, n, s in settings:
        out = make_divisible(c * width)
        for i in range(n):
            layers.append(_inverted_residual_v2(inp, out, s if i == 0 else 1, t))
            inp = out
    last = make_divisible(1280 * max(1.0, width))
    layers.append(conv_norm_act(last, 1, activation="relu6"))
    # MobileNetV2.forward: nn.functional.adaptive_avg_pool2d(x, (1, 1))
    body = classifier_head(seq(*layers), seq(dropout(0.2), linear(classes)), call="F.adaptive_avg_pool2d")
    return Network("mobilenet_v2", (3, 224, 224), body, source="torchvision")


# ---------------------------------------------------------------- MobileNet V3

# (input, kernel, expanded, output, use SE, activation, stride), torchvision's _mobilenet_v3_conf
_V3_LARGE = [
    (16, 3, 16, 16, False, "relu", 1), (16, 3, 64, 24, False, "relu", 2), (24, 3, 72, 24, False, "relu", 1),
    (24, 5, 72, 40, True, "relu", 2), (40, 5, 120, 40, True, "relu", 1), (40, 5, 120, 40, True, "relu", 1),
    (40, 3, 240, 80, False, "hardswish", 2), (80, 3, 200, 80, False, "hardswish", 1),
    (80, 3, 184, 80, False, "hardswish", 1), (80, 3, 184, 80, False, "hardswish", 1),
    (80, 3, 480, 112, True, "hardswish", 1), (112, 3, 672, 112, True, "hardswish", 1),
    (112, 5, 672, 160, True, "hardswish", 2), (160, 5, 960, 160, True, "hardswish", 1),
    (160, 5, 960, 160, True, "hardswish", 1),
]
_V3_SMALL = [
    (16, 3, 16, 16, True, "relu", 2), (16, 3, 72, 24, False, "relu", 2), (24, 3, 88, 24, False, "relu", 1),
    (24, 5, 96, 40, True, "hardswish", 2), (40, 5, 240, 40, True, "hardswish", 1),
    (40, 5, 240, 40, True, "hardswish", 1),
    (40, 5, 120, 48, True, "hardswish", 1), (48, 5, 144, 48, True, "hardswish", 1),
    (48, 5, 288, 96, True, "hardswish", 2), (96, 5, 576, 96, True, "hardswish", 1),
    (96, 5, 576, 96, True, "hardswish", 1),
]
_V3_EPS = 0.001


def _inverted_residual_v3(inp: int, k: int, expanded: int, out: int, use_se: bool,
                          activation: str, stride: int) -> Module:
    """torchvision ``mobilenetv3.InvertedResidual``: [expand] · depthwise · [SE, hard-sigmoid] · projection."""
    layers = []
    if expanded != inp:
        layers.append(conv_norm_act(expanded, 1, activation=activation, eps=_V3_EPS))
    layers.append(conv_norm_act(expanded, k, stride, groups=expanded, activation=activation, eps=_V3_EPS))
    if use_se:
        layers.append(squeeze_excitation(expanded, make_divisible(expanded // 4), "relu", "hardsigmoid"))
    layers.append(conv_norm_act(out, 1, activation=None, eps=_V3_EPS))
    body = ("block", seq(*layers))
    if stride == 1 and inp == out:
        return residual(body, kind="InvertedResidual")
    return seq(body, kind="InvertedResidual")


def _mobilenet_v3(name: str, config: list, last_channel: int, classes: int = 1000, width: float = 1.0) -> Network:
    """torchvision ``_mobilenet_v3_conf(width_mult=width)``: input, expanded and output widths of each
    block and the last channel are make_divisible(c·width, 8)."""
    config = [(make_divisible(i * width), k, make_divisible(e * width), make_divisible(o * width), se, a, s)
              for i, k, e, o, se, a, s in config]
    layers: list = [conv_norm_act(config[0][0], 3, 2, activation="hardswish", eps=_V3_EPS)]
    layers += [_inverted_residual_v3(*row) for row in config]
    last_in = config[-1][3]
    layers.append(conv_norm_act(6 * last_in, 1, activation="hardswish", eps=_V3_EPS))
    classifier = seq(linear(make_divisible(last_channel * width)), act("hardswish"), dropout(0.2), linear(classes))
    return Network(name, (3, 224, 224), classifier_head(seq(*layers), classifier), source="torchvision")


@register("mobilenet_v3_large", "torchvision", "MobileNet V3 Large (Howard et al. 2019): SE blocks, hard-swish")
def mobilenet_v3_large(classes: int = 1000, width: float = 1.0) -> Network:
    return _mobilenet_v3("mobilenet_v3_large", _V3_LARGE, 1280, classes, width)


@register("mobilenet_v3_small", "torchvision", "MobileNet V3 Small (Howard et al. 2019): SE blocks, hard-swish")
def mobilenet_v3_small(classes: int = 1000, width: float = 1.0) -> Network:
    return _mobilenet_v3("mobilenet_v3_small", _V3_SMALL, 1024, classes, width)


# ---------------------------------------------------------------- ShuffleNet V2


def _shuffle_branch(out: int, stride: int) -> list[tuple[str, Module]]:
    """The children of torchvision's ``branch2``: 1×1 · BN · ReLU · 3×3 depthwise · BN · 1×1 · BN · ReLU."""
    return [("0", conv(out, 1, bias=False)), ("1", bn()), ("2", relu()),
            ("3", conv(out, 3, stride=stride, pad=1, groups=out, bias=False)), ("4", bn()),
            ("5", conv(out, 1, bias=False)), ("6", bn()), ("7", relu())]


def _shuffle_unit(inp: int, out: int, stride: int) -> Module:
    """torchvision ``shufflenetv2.InvertedResidual`` without its final channel shuffle.

    Stride 1: split the channels in two (``x.chunk(2, dim=1)``), keep the first half, transform
    the second (``branch2.x2`` is the split), concatenate. Stride 2: both branches see all of x.
    """
    half = out // 2
    if stride == 1:
        branch1 = ("x1", Leaf(ChannelChunk(2, 0)))
        branch2 = ("branch2", seq(("x2", Leaf(ChannelChunk(2, 1))), *_shuffle_branch(half, 1)))
    else:
        branch1 = ("branch1", seq(conv(inp, 3, stride=stride, pad=1, groups=inp, bias=False), bn(),
                                  conv(half, 1, bias=False), bn(), relu()))
        branch2 = ("branch2", seq(*_shuffle_branch(half, stride)))
    return parallel(branch1, branch2, merge="concat", kind="InvertedResidual")


def _shufflenet_v2(name: str, repeats: list[int], channels: list[int], classes: int = 1000) -> Network:
    layers: list = [("conv1", seq(conv(channels[0], 3, stride=2, pad=1, bias=False), bn(), relu())),
                    ("maxpool", maxpool(3, 2, pad=1))]
    inp = channels[0]
    for stage, (n, out) in enumerate(zip(repeats, channels[1:]), start=2):
        units: list = []
        for i in range(n):
            # the channel shuffle is a function call at the end of each unit's forward
            units += [(str(i), _shuffle_unit(inp, out, 2 if i == 0 else 1)), (f"{i}.shuffle", channel_shuffle(2))]
            inp = out
        layers.append((f"stage{stage}", seq(*units)))
    layers += [("conv5", seq(conv(channels[-1], 1, bias=False), bn(), relu())),
               ("mean", functional(global_avgpool(), "Tensor.mean")), ("flatten", flatten()), ("fc", linear(classes))]
    return Network(name, (3, 224, 224), seq(*layers), source="torchvision")


_SHUFFLENET = {  # torchvision's stages_out_channels for each width
    "shufflenet_v2_x0_5": ("×0.5", [24, 48, 96, 192, 1024]),
    "shufflenet_v2_x1_0": ("×1.0", [24, 116, 232, 464, 1024]),
    "shufflenet_v2_x1_5": ("×1.5", [24, 176, 352, 704, 1024]),
    "shufflenet_v2_x2_0": ("×2.0", [24, 244, 488, 976, 2048]),
}


def _register_shufflenet(name: str) -> None:
    label, channels = _SHUFFLENET[name]

    def build(classes: int = 1000) -> Network:
        return _shufflenet_v2(name, [4, 8, 4], channels, classes)

    build.__name__ = name
    register(name, "torchvision", f"ShuffleNet V2 {label} (Ma et al. 2018): channel split and shuffle, "
             f"stages {'-'.join(map(str, channels[1:4]))}")(build)


for _name in _SHUFFLENET:
    _register_shufflenet(_name)


# ---------------------------------------------------------------- MNASNet


def _mnas_inverted_residual(inp: int, out: int, k: int, stride: int, expand: int) -> Module:
    """torchvision ``mnasnet._InvertedResidual``: 1×1 expand · k×k depthwise · 1×1 projection."""
    mid = inp * expand
    body = ("layers", seq(conv(mid, 1, bias=False), bn(), relu(),
                          conv(mid, k, stride=stride, pad=k // 2, groups=mid, bias=False), bn(), relu(),
                          conv(out, 1, bias=False), bn()))
    if stride == 1 and inp == out:
        return residual(body, kind="InvertedResidual")
    return seq(body, kind="InvertedResidual")


def _mnas_stack(inp: int, out: int, k: int, stride: int, expand: int, repeats: int) -> Sequential:
    return seq(_mnas_inverted_residual(inp, out, k, stride, expand),
               *(_mnas_inverted_residual(out, out, k, 1, expand) for _ in range(repeats - 1)))


def _mnasnet(name: str, alpha: float, classes: int = 1000) -> Network:
    depths = [make_divisible(d * alpha, 8) for d in (32, 16, 24, 40, 80, 96, 192, 320)]
    stacks = [(3, 2, 3, 3), (5, 2, 3, 3), (5, 2, 6, 3), (3, 1, 6, 2), (5, 2, 6, 4), (3, 1, 6, 1)]
    layers: list = [conv(depths[0], 3, stride=2, pad=1, bias=False), bn(), relu(),
                    conv(depths[0], 3, pad=1, groups=depths[0], bias=False), bn(), relu(),
                    conv(depths[1], 1, bias=False), bn()]
    for (k, stride, expand, repeats), inp, out in zip(stacks, depths[1:], depths[2:]):
        layers.append(_mnas_stack(inp, out, k, stride, expand, repeats))
    layers += [conv(1280, 1, bias=False), bn(), relu()]
    body = seq(("layers", seq(*layers)), ("mean", functional(global_avgpool(), "Tensor.mean")), ("flatten", flatten()),
               ("classifier", seq(dropout(0.2), linear(classes))))
    return Network(name, (3, 224, 224), body, source="torchvision")


def _register_mnasnet(alpha: float) -> None:
    name = f"mnasnet{alpha:g}".replace(".", "_") if alpha != 1.0 else "mnasnet1_0"

    def build(classes: int = 1000) -> Network:
        return _mnasnet(name, alpha, classes)

    build.__name__ = name
    register(name, "torchvision", f"MNASNet {alpha:g} (Tan et al. 2019): NAS-found inverted residuals, "
             f"depth multiplier {alpha:g}")(build)


for _alpha in (0.5, 0.75, 1.0, 1.3):
    _register_mnasnet(_alpha)
