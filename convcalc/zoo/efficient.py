"""Zoo family: EfficientNet-B0 (Tan & Le 2019), torchvision's definition (width 1.0, depth 1.0).

MBConv blocks: [1×1 expand] · k×k depthwise · squeeze-and-excitation (SiLU, sigmoid,
squeeze to input/4 channels) · 1×1 projection; BN eps 0.001, SiLU. Stochastic depth (no
parameters) sits on the residual path with torchvision's linearly growing drop probability.
Names follow torchvision (``features.2.0.block.1.0``, ``features.2.1.block.2.fc1``).
"""

from __future__ import annotations

from convcalc.network.build import dropout, linear, residual, seq
from convcalc.network.model import Module, Network
from convcalc.zoo import register
from convcalc.zoo.mobile import classifier_head, conv_norm_act, make_divisible, squeeze_excitation

_EPS = 0.001


def _mbconv(inp: int, out: int, k: int, stride: int, expand: int, sd_prob: float) -> Module:
    """torchvision ``efficientnet.MBConv``."""
    expanded = make_divisible(inp * expand)
    layers = []
    if expanded != inp:
        layers.append(conv_norm_act(expanded, 1, activation="silu", eps=_EPS))
    layers.append(conv_norm_act(expanded, k, stride, groups=expanded, activation="silu", eps=_EPS))
    layers.append(squeeze_excitation(expanded, max(1, inp // 4), "silu", "sigmoid"))
    layers.append(conv_norm_act(out, 1, activation=None, eps=_EPS))
    block = ("block", seq(*layers))
    if stride == 1 and inp == out:
        return residual(block, ("stochastic_depth", dropout(sd_prob, kind="stochastic_depth")), kind="MBConv")
    return seq(block, kind="MBConv")


def _efficientnet(name: str, stages: list[tuple[int, int, int, int, int, int]], dropout_p: float,
                  stochastic_depth: float = 0.2) -> Network:
    """``stages``: (expand ratio, kernel, stride, input channels, output channels, layers) per stage."""
    total = sum(stage[-1] for stage in stages)
    features: list = [conv_norm_act(make_divisible(stages[0][3]), 3, 2, activation="silu", eps=_EPS)]
    block_id = 0
    for expand, k, stride, inp, out, n in stages:
        inp, out = make_divisible(inp), make_divisible(out)
        blocks = []
        for i in range(n):
            blocks.append(_mbconv(inp if i == 0 else out, out, k, stride if i == 0 else 1, expand,
                                  stochastic_depth * block_id / total))
            block_id += 1
        features.append(seq(*blocks))
    last_in = make_divisible(stages[-1][4])
    features.append(conv_norm_act(4 * last_in, 1, activation="silu", eps=_EPS))
    body = classifier_head(seq(*features), seq(dropout(dropout_p), linear(1000)))
    return Network(name, (3, 224, 224), body, source="torchvision")


@register("efficientnet_b0", "torchvision", "EfficientNet-B0 (Tan & Le 2019): MBConv blocks with squeeze-and-excitation")
def efficientnet_b0() -> Network:
    stages = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
              (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]
    return _efficientnet("efficientnet_b0", stages, 0.2)
