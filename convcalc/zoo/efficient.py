"""Zoo family: EfficientNet B0–B7 (Tan & Le 2019) and EfficientNetV2 S/M/L (Tan & Le 2021),
torchvision's definitions.

MBConv blocks: [1×1 expand] · k×k depthwise · squeeze-and-excitation (SiLU, sigmoid,
squeeze to input/4 channels) · 1×1 projection. FusedMBConv (V2's early stages): a k×k conv
that expands (or, with expand ratio 1, maps straight to the output) · [1×1 projection]; no
SE. SiLU throughout. Stochastic depth (no parameters) sits on each residual path with
torchvision's linearly growing drop probability 0.2·block/blocks.

B1–B7 scale B0's widths by ``width`` (make_divisible(c·width, 8)) and its depths by
``depth`` (ceil(n·depth)); each network's input is the crop size of torchvision's weights
(B1 240 … B7 600, V2-S 384, V2-M/L 480), the size its published GFLOPS are measured at.
Batch norm: eps 1e-5 for B0–B4 (torchvision's default), 1e-3 for B5–B7 and V2.
Names follow torchvision (``features.2.0.block.1.0``, ``features.2.1.block.2.fc1``).
"""

from __future__ import annotations

import math

from convcalc.network.build import dropout, linear, residual, seq
from convcalc.network.model import Module, Network
from convcalc.zoo import register
from convcalc.zoo.mobile import classifier_head, conv_norm_act, make_divisible, squeeze_excitation


def _stochastic_depth(p: float):
    return "stochastic_depth", dropout(p, kind="stochastic_depth")


def _mbconv(inp: int, out: int, k: int, stride: int, expand: float, sd_prob: float, eps: float) -> Module:
    """torchvision ``efficientnet.MBConv``."""
    expanded = make_divisible(inp * expand)
    layers = []
    if expanded != inp:
        layers.append(conv_norm_act(expanded, 1, activation="silu", eps=eps))
    layers.append(conv_norm_act(expanded, k, stride, groups=expanded, activation="silu", eps=eps))
    layers.append(squeeze_excitation(expanded, max(1, inp // 4), "silu", "sigmoid"))
    layers.append(conv_norm_act(out, 1, activation=None, eps=eps))
    block = ("block", seq(*layers))
    if stride == 1 and inp == out:
        return residual(block, _stochastic_depth(sd_prob), kind="MBConv")
    return seq(block, kind="MBConv")


def _fused_mbconv(inp: int, out: int, k: int, stride: int, expand: float, sd_prob: float, eps: float) -> Module:
    """torchvision ``efficientnet.FusedMBConv``: k×k expand conv · 1×1 projection (expand ratio 1: one k×k conv)."""
    expanded = make_divisible(inp * expand)
    if expanded != inp:
        layers = [conv_norm_act(expanded, k, stride, activation="silu", eps=eps),
                  conv_norm_act(out, 1, activation=None, eps=eps)]
    else:
        layers = [conv_norm_act(out, k, stride, activation="silu", eps=eps)]
    block = ("block", seq(*layers))
    if stride == 1 and inp == out:
        return residual(block, _stochastic_depth(sd_prob), kind="FusedMBConv")
    return seq(block, kind="FusedMBConv")


# (fused, expand ratio, kernel, stride, input channels, output channels, layers) per stage
_B0 = [(False, 1, 3, 1, 32, 16, 1), (False, 6, 3, 2, 16, 24, 2), (False, 6, 5, 2, 24, 40, 2),
       (False, 6, 3, 2, 40, 80, 3), (False, 6, 5, 1, 80, 112, 3), (False, 6, 5, 2, 112, 192, 4),
       (False, 6, 3, 1, 192, 320, 1)]
_V2 = {
    "s": [(True, 1, 3, 1, 24, 24, 2), (True, 4, 3, 2, 24, 48, 4), (True, 4, 3, 2, 48, 64, 4),
          (False, 4, 3, 2, 64, 128, 6), (False, 6, 3, 1, 128, 160, 9), (False, 6, 3, 2, 160, 256, 15)],
    "m": [(True, 1, 3, 1, 24, 24, 3), (True, 4, 3, 2, 24, 48, 5), (True, 4, 3, 2, 48, 80, 5),
          (False, 4, 3, 2, 80, 160, 7), (False, 6, 3, 1, 160, 176, 14), (False, 6, 3, 2, 176, 304, 18),
          (False, 6, 3, 1, 304, 512, 5)],
    "l": [(True, 1, 3, 1, 32, 32, 4), (True, 4, 3, 2, 32, 64, 7), (True, 4, 3, 2, 64, 96, 7),
          (False, 4, 3, 2, 96, 192, 10), (False, 6, 3, 1, 192, 224, 19), (False, 6, 3, 2, 224, 384, 25),
          (False, 6, 3, 1, 384, 640, 7)],
}


def _efficientnet(name: str, stages: list, dropout_p: float, size: int, eps: float, last_channel: int | None = None,
                  classes: int = 1000, stochastic_depth: float = 0.2) -> Network:
    """``stages``: (fused, expand, kernel, stride, input, output, layers), widths and depths already scaled."""
    total = sum(stage[-1] for stage in stages)
    features: list = [conv_norm_act(stages[0][4], 3, 2, activation="silu", eps=eps)]
    block_id = 0
    for fused, expand, k, stride, inp, out, n in stages:
        make = _fused_mbconv if fused else _mbconv
        blocks = []
        for i in range(n):
            blocks.append(make(inp if i == 0 else out, out, k, stride if i == 0 else 1, expand,
                               stochastic_depth * block_id / total, eps))
            block_id += 1
        features.append(seq(*blocks))
    last_in = stages[-1][5]
    features.append(conv_norm_act(last_channel or 4 * last_in, 1, activation="silu", eps=eps))
    body = classifier_head(seq(*features), seq(dropout(dropout_p), linear(classes)))
    return Network(name, (3, size, size), body, source="torchvision")


# name: (width multiplier, depth multiplier, dropout, crop size)
_B = {
    "efficientnet_b0": (1.0, 1.0, 0.2, 224), "efficientnet_b1": (1.0, 1.1, 0.2, 240),
    "efficientnet_b2": (1.1, 1.2, 0.3, 288), "efficientnet_b3": (1.2, 1.4, 0.3, 300),
    "efficientnet_b4": (1.4, 1.8, 0.4, 380), "efficientnet_b5": (1.6, 2.2, 0.4, 456),
    "efficientnet_b6": (1.8, 2.6, 0.5, 528), "efficientnet_b7": (2.0, 3.1, 0.5, 600),
}


def _scaled_b0(width: float, depth: float) -> list:
    """torchvision's MBConvConfig: channels make_divisible(c·width, 8), layers ceil(n·depth)."""
    return [(fused, e, k, s, make_divisible(i * width), make_divisible(o * width), math.ceil(n * depth))
            for fused, e, k, s, i, o, n in _B0]


def _register_b(name: str) -> None:
    width, depth, drop, size = _B[name]
    eps = 1e-3 if name in ("efficientnet_b5", "efficientnet_b6", "efficientnet_b7") else 1e-5

    def build(classes: int = 1000) -> Network:
        return _efficientnet(name, _scaled_b0(width, depth), drop, size, eps, classes=classes)

    build.__name__ = name
    register(name, "torchvision", f"EfficientNet-{name[-2:].upper()} (Tan & Le 2019): MBConv blocks with SE, "
             f"width ×{width:g}, depth ×{depth:g}, {size}×{size}")(build)


for _name in _B:
    _register_b(_name)


def _register_v2(size_letter: str, drop: float, size: int) -> None:
    name = f"efficientnet_v2_{size_letter}"

    def build(classes: int = 1000) -> Network:
        return _efficientnet(name, _V2[size_letter], drop, size, 1e-3, last_channel=1280, classes=classes)

    build.__name__ = name
    register(name, "torchvision", f"EfficientNetV2-{size_letter.upper()} (Tan & Le 2021): FusedMBConv then MBConv "
             f"stages, {size}×{size}")(build)


for _letter, _drop, _size in (("s", 0.2, 384), ("m", 0.3, 480), ("l", 0.4, 480)):
    _register_v2(_letter, _drop, _size)
