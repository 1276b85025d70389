"""Zoo family: Swin Transformer T/S/B (Liu et al. 2021) and Swin V2 T/S/B (Liu et al. 2022),
torchvision's definitions (``swin_transformer.py``): V1 at 224×224 with 7×7 windows, V2 at
256×256 with 8×8 windows.

torchvision runs the stages channels-last (N, H, W, C) between ``Permute`` modules; here the
map stays (C, H, W) — a LayerNorm over the channels (``layernorm2d``) and 1×1 convolutions
with bias in place of the per-token Linear layers: the same parameters and MACs, and the
receptive field stays traceable (as in the ConvNeXt module).

``features.0``: 4×4 stride-4 patch embedding conv (``0``) · LayerNorm (``2``; ``1`` is the
Permute). Each stage: blocks with window attention, the odd ones shifted by w/2
(:mod:`convcalc.layers.window`); between stages PatchMerging: 2×2 neighbours to channels
(``merge``, torchvision's strided slices and concatenation), then V1: LayerNorm(4C) ``norm`` ·
Linear(4C → 2C, no bias) ``reduction``; V2: ``reduction`` then LayerNorm(2C) ``norm``.
A V1 block is x + sd(attn(norm1(x))), then x + sd(mlp(norm2(x))); V2 normalises after:
x + sd(norm1(attn(x))), x + sd(norm2(mlp(x))). mlp = Linear(C, 4C) · GELU · dropout ·
Linear(4C, C) · dropout. Stochastic depth grows linearly to 0.2 (T), 0.3 (S), 0.5 (B).
Head: LayerNorm ``norm`` · adaptive avg pool · flatten · Linear ``head``.
"""

from __future__ import annotations

from convcalc.layers.pixel_shuffle import PixelShuffle
from convcalc.layers.window import WindowAttention
from convcalc.network.build import (
    act,
    adaptive_avgpool,
    conv,
    dropout,
    flatten,
    layernorm2d,
    linear,
    residual,
    seq,
)
from convcalc.network.model import Leaf, Module, Network
from convcalc.zoo import register


def _mlp(dim: int) -> Module:
    return seq(("0", conv(4 * dim, 1)), ("1", act("gelu")), ("2", dropout(0.0)), ("3", conv(dim, 1)),
               ("4", dropout(0.0)), kind="MLP")


def _block(dim: int, heads: int, window: int, shift: int, sd: float, v2: bool) -> Module:
    attn = ("attn", Leaf(WindowAttention(dim, heads, window, shift, v2)))
    depth = ("stochastic_depth", dropout(sd, kind="stochastic_depth"))
    if v2:
        first = residual(attn, ("norm1", layernorm2d()), depth, kind="Attention")
        second = residual(("mlp", _mlp(dim)), ("norm2", layernorm2d()), depth, kind="MLP")
    else:
        first = residual(("norm1", layernorm2d()), attn, depth, kind="Attention")
        second = residual(("norm2", layernorm2d()), ("mlp", _mlp(dim)), depth, kind="MLP")
    return seq(("", first), ("", second), kind="SwinTransformerBlockV2" if v2 else "SwinTransformerBlock")


def _merging(dim: int, v2: bool) -> Module:
    merge = ("merge", Leaf(PixelShuffle(2, inverse=True)))
    if v2:
        return seq(merge, ("reduction", conv(2 * dim, 1, bias=False)), ("norm", layernorm2d()), kind="PatchMergingV2")
    return seq(merge, ("norm", layernorm2d()), ("reduction", conv(2 * dim, 1, bias=False)), kind="PatchMerging")


def _swin(name: str, embed: int, depths: list[int], heads: list[int], window: int, sd_prob: float, v2: bool,
          image: int, classes: int = 1000) -> Network:
    features: list = [seq(("0", conv(embed, 4, stride=4)), ("2", layernorm2d()))]
    total, block_id = sum(depths), 0
    for stage, (depth, h) in enumerate(zip(depths, heads)):
        dim = embed * 2 ** stage
        blocks = []
        for i in range(depth):
            blocks.append(_block(dim, h, window, 0 if i % 2 == 0 else window // 2,
                                 sd_prob * block_id / (total - 1), v2))
            block_id += 1
        features.append(seq(*blocks))
        if stage < len(depths) - 1:
            features.append(_merging(dim, v2))
    last = embed * 2 ** (len(depths) - 1)
    body = seq(("features", seq(*features)), ("norm", layernorm2d()), ("avgpool", adaptive_avgpool(1)),
               ("flatten", flatten()), ("head", linear(classes)))
    return Network(name, (3, image, image), body, source="torchvision",
                   description=f"{last} channels at the last stage")


# name: (embed dim, depths, heads, stochastic depth), torchvision's builders
_SWINS = {
    "t": (96, [2, 2, 6, 2], [3, 6, 12, 24], 0.2),
    "s": (96, [2, 2, 18, 2], [3, 6, 12, 24], 0.3),
    "b": (128, [2, 2, 18, 2], [4, 8, 16, 32], 0.5),
}


def _register_swin(size: str, v2: bool) -> None:
    embed, depths, heads, sd = _SWINS[size]
    name = f"swin_{'v2_' if v2 else ''}{size}"
    window, image = (8, 256) if v2 else (7, 224)

    def build(classes: int = 1000) -> Network:
        return _swin(name, embed, depths, heads, window, sd, v2, image, classes)

    build.__name__ = name
    register(name, "torchvision", f"Swin{' V2' if v2 else ''}-{size.upper()} (Liu et al. {2022 if v2 else 2021}): "
             f"{window}×{window} shifted windows, depths {'-'.join(map(str, depths))}, {image}×{image}")(build)


for _v2 in (False, True):
    for _size in _SWINS:
        _register_swin(_size, _v2)
