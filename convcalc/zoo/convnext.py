"""Zoo family: ConvNeXt-T (Liu et al. 2022), torchvision's definition.

A CNBlock is ``x + stochastic_depth(γ · block(x))`` with block = 7×7 depthwise conv ·
LayerNorm · Linear(C→4C) · GELU · Linear(4C→C) and γ a learnable per-channel layer scale
(C parameters, ``layer_scale``). torchvision applies the LayerNorm and the two Linear layers
channels-last between two ``Permute`` modules (``block.1``, ``block.6``); here they act on the
channels directly — a channel LayerNorm and two 1×1 convolutions with bias — which is the same
arithmetic (same parameters, same MACs) and keeps the receptive field traceable. Module
indices follow torchvision (``features.1.0.block.3`` is the first pointwise layer).
"""

from __future__ import annotations

from convcalc.layers.channels import LayerScale
from convcalc.network.build import act, adaptive_avgpool, conv, dropout, flatten, layernorm2d, linear, residual, seq
from convcalc.network.model import Leaf, Module, Network
from convcalc.zoo import register


def _cn_block(dim: int, sd_prob: float) -> Module:
    block = seq(("0", conv(dim, 7, pad=3, groups=dim)), ("2", layernorm2d(1e-6)), ("3", conv(4 * dim, 1)),
                ("4", act("gelu")), ("5", conv(dim, 1)))
    return residual(("block", block), ("layer_scale", Leaf(LayerScale(1e-6))),
                    ("stochastic_depth", dropout(sd_prob, kind="stochastic_depth")), kind="CNBlock")


def _convnext(name: str, stages: list[tuple[int, int]], stochastic_depth: float) -> Network:
    """``stages``: (channels, blocks) per stage; a LayerNorm + 2×2 stride-2 conv between stages."""
    total = sum(n for _, n in stages)
    features: list = [seq(conv(stages[0][0], 4, stride=4), layernorm2d(1e-6), kind="Conv2dNormActivation")]
    block_id = 0
    for index, (dim, n) in enumerate(stages):
        blocks = []
        for _ in range(n):
            blocks.append(_cn_block(dim, stochastic_depth * block_id / (total - 1.0)))
            block_id += 1
        features.append(seq(*blocks))
        if index + 1 < len(stages):
            features.append(seq(layernorm2d(1e-6), conv(stages[index + 1][0], 2, stride=2)))
    classifier = seq(layernorm2d(1e-6), flatten(), linear(1000))
    body = seq(("features", seq(*features)), ("avgpool", adaptive_avgpool(1)), ("classifier", classifier))
    return Network(name, (3, 224, 224), body, source="torchvision")


@register("convnext_tiny", "torchvision", "ConvNeXt-T (Liu et al. 2022): 7×7 depthwise blocks, LayerNorm, GELU, layer scale")
def convnext_tiny() -> Network:
    return _convnext("convnext_tiny", [(96, 3), (192, 3), (384, 9), (768, 3)], 0.1)
