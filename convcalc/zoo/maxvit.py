"""Zoo family: MaxViT-T (Tu et al. 2022), torchvision's definition (``maxvit.py``), 224×224.

``stem``: 3×3/2 conv (no bias) · BN (eps 1e-3) · GELU, then a 3×3 conv with bias. Four blocks
(64, 128, 256, 512 channels; 2, 2, 5, 2 layers); a MaxViT layer is
* ``MBconv``: proj(x) + sd(layers(x)) with layers = BN ``pre_norm`` · 1×1 conv ×4 · BN · GELU
  (``conv_a``) · 3×3 depthwise (stride 2 in a block's first layer) · BN · GELU (``conv_b``) ·
  squeeze-excitation to a quarter of the output width (SiLU) · 1×1 conv with bias (``conv_c``);
  proj = [3×3/2 avg pool] · 1×1 conv with bias when the width or size changes, else identity;
* ``window_attention`` then ``grid_attention``: the map cut into token groups (7×7 windows, or
  a 7×7 grid) by ``partition_op`` (:mod:`convcalc.layers.partition`), then
  x + sd(attn_layer(x)) with attn_layer = LayerNorm · relative-position attention (head width
  32) · dropout, and x + sd(mlp_layer(x)) with mlp_layer = LayerNorm · Linear(C, 4C) · GELU ·
  Linear(4C, C) · dropout, and ``departition_op`` back to (C, H, W).
Stochastic depth grows linearly from 0 to 0.2 over the 11 layers. Classifier: adaptive avg
pool · flatten · LayerNorm · Linear(512, 512) · tanh · Linear(512, classes, no bias).
"""

from __future__ import annotations

from convcalc.layers.norm import LayerNorm
from convcalc.layers.partition import Departition, Partition, RelativePositionAttention
from convcalc.network.build import act, adaptive_avgpool, avgpool, bn, conv, dropout, flatten, linear, residual, seq
from convcalc.network.model import Leaf, Module, Network
from convcalc.zoo import register
from convcalc.zoo.mobile import squeeze_excitation

_EPS = 1e-3
_PARTITION = 7
_HEAD_DIM = 32


def _ln() -> Leaf:
    return Leaf(LayerNorm(dims=1, channels_first=False))


def _mbconv(inp: int, out: int, stride: int, sd: float) -> Module:
    mid, squeeze = out * 4, out // 4
    layers = seq(("pre_norm", bn(eps=_EPS)),
                 ("conv_a", seq(("0", conv(mid, 1, bias=False)), ("1", bn(eps=_EPS)), ("2", act("gelu")))),
                 ("conv_b", seq(("0", conv(mid, 3, stride=stride, pad=1, groups=mid, bias=False)), ("1", bn(eps=_EPS)),
                                ("2", act("gelu")))),
                 ("squeeze_excitation", squeeze_excitation(mid, squeeze, "silu", "sigmoid")),
                 ("conv_c", conv(out, 1)))
    shortcut = None
    if stride != 1 or inp != out:
        proj = [("0", avgpool(3, stride, pad=1)), ("1", conv(out, 1))] if stride == 2 else [("0", conv(out, 1))]
        shortcut = ("proj", seq(*proj))
    return residual(("layers", layers), ("stochastic_depth", dropout(sd, kind="stochastic_depth")), shortcut=shortcut,
                    kind="MBConv")


def _partition_attention(dim: int, side: int, grid: bool, sd: float) -> Module:
    depth = ("stochastic_dropout", dropout(sd, kind="stochastic_depth"))
    attention = residual(("attn_layer",
                          seq(("0", _ln()), ("1", Leaf(RelativePositionAttention(dim, _HEAD_DIM, _PARTITION))),
                                            ("2", dropout(0.0)))), depth, kind="Attention")
    mlp = residual(("mlp_layer", seq(("0", _ln()), ("1", linear(4 * dim)), ("2", act("gelu")), ("3", linear(dim)),
                                     ("4", dropout(0.0)))), depth, kind="MLP")
    return seq(("partition_op", Leaf(Partition(_PARTITION, grid))), ("", attention), ("", mlp),
               ("departition_op", Leaf(Departition(_PARTITION, grid, side, side))), kind="PartitionAttentionLayer")


def _maxvit(name: str, stem: int, channels: list[int], layers: list[int], sd_prob: float, classes: int = 1000,
            image: int = 224) -> Network:
    total = sum(layers)
    probs = [sd_prob * i / (total - 1) for i in range(total)]  # numpy.linspace(0, sd_prob, total)
    side = (image + 1) // 2  # the stem's 3×3/2 conv, pad 1
    blocks, inp, index = [], stem, 0
    for out, n in zip(channels, layers):
        side = (side + 1) // 2
        maxvit_layers = []
        for i in range(n):
            sd = probs[index]
            index += 1
            maxvit_layers.append(seq(("layers", seq(
                ("MBconv", _mbconv(inp if i == 0 else out, out, 2 if i == 0 else 1, sd)),
                ("window_attention", _partition_attention(out, side, False, sd)),
                ("grid_attention", _partition_attention(out, side, True, sd)))), kind="MaxVitLayer"))
        blocks.append(seq(("layers", seq(*maxvit_layers)), kind="MaxVitBlock"))
        inp = out
    body = seq(
        ("stem",
         seq(("0", seq(("0", conv(stem, 3, stride=2, pad=1, bias=False)), ("1", bn(eps=_EPS)), ("2", act("gelu")))),
                     ("1", seq(("0", conv(stem, 3, pad=1)))))),
        ("blocks", seq(*blocks)),
        ("classifier", seq(("0", adaptive_avgpool(1)), ("1", flatten()), ("2", _ln()), ("3", linear(channels[-1])),
                           ("4", act("tanh")), ("5", linear(classes, bias=False)))))
    return Network(name, (3, image, image), body, source="torchvision")


@register("maxvit_t", "torchvision", "MaxViT-T (Tu et al. 2022): MBConv, 7×7 window and grid attention with "
          "relative position bias; 64-128-256-512 channels")
def maxvit_t(classes: int = 1000) -> Network:
    return _maxvit("maxvit_t", 64, [64, 128, 256, 512], [2, 2, 5, 2], 0.2, classes)
