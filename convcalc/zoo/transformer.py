"""Zoo family: Vision Transformers ViT-B/16, B/32, L/16, L/32, H/14 (Dosovitskiy et al. 2021),
torchvision's definitions (``vision_transformer.py``), 224×224.

``conv_proj`` (patch embedding: a conv with kernel = stride = patch size, D filters) ·
``tokens`` (the H/p × W/p grid read as H·W/p² tokens, torchvision's reshape + permute) ·
``class_token`` (one learned D-vector in front) · ``encoder``: ``pos_embedding`` (learned,
(L, D)) · dropout · ``layers.encoder_layer_i`` · ``ln`` · ``token`` (x[:, 0], the class token) ·
``heads.head`` (Linear D → classes). An encoder layer is two residuals:
x + dropout(self_attention(ln_1(x))), then x + mlp(ln_2(x)) with mlp = Linear(D, M) · GELU ·
dropout · Linear(M, D) · dropout (torchvision's MLPBlock names ``mlp.0`` … ``mlp.4``);
LayerNorm eps 1e-6. MACs count the Q/K/V/out projections and the two attention matmuls
(torchvision's published GFLOPS do): see :mod:`convcalc.layers.attention`.
"""

from __future__ import annotations

from convcalc.layers.attention import ClassToken, MultiheadSelfAttention, PositionEmbedding, Tokens, TokenSelect
from convcalc.layers.norm import LayerNorm
from convcalc.network.build import act, conv, dropout, linear, residual, seq
from convcalc.network.model import Leaf, Module, Network
from convcalc.zoo import register


def _ln() -> Leaf:
    return Leaf(LayerNorm(dims=1, channels_first=False, eps=1e-6))


def _encoder_block(dim: int, heads: int, mlp: int) -> Module:
    """torchvision ``EncoderBlock``: ln_1, self_attention, dropout, ln_2, mlp in the block's namespace."""
    attention = residual(("ln_1", _ln()), ("self_attention", Leaf(MultiheadSelfAttention(dim, heads))),
                         ("dropout", dropout(0.0)), kind="Attention")
    feed_forward = residual(("ln_2", _ln()), ("mlp", seq(("0", linear(mlp)), ("1", act("gelu")), ("2", dropout(0.0)),
                                                         ("3", linear(dim)), ("4", dropout(0.0)), kind="MLPBlock")),
                            kind="MLP")
    return seq(("", attention), ("", feed_forward), kind="EncoderBlock")


def _vit(name: str, patch: int, layers: int, heads: int, dim: int, mlp: int, classes: int = 1000,
         image: int = 224) -> Network:
    length = (image // patch) ** 2 + 1
    encoder = seq(("pos_embedding", Leaf(PositionEmbedding(length, dim))), ("dropout", dropout(0.0)),
                  ("layers", seq(*((f"encoder_layer_{i}", _encoder_block(dim, heads, mlp)) for i in range(layers)))),
                  ("ln", _ln()), kind="Encoder")
    body = seq(("conv_proj", conv(dim, patch, stride=patch)), ("tokens", Leaf(Tokens())),
               ("class_token", Leaf(ClassToken(dim))), ("encoder", encoder), ("token", Leaf(TokenSelect(0))),
               ("heads", seq(("head", linear(classes)))))
    return Network(name, (3, image, image), body, source="torchvision")


# name: (patch size, layers, heads, hidden dim D, MLP dim M), torchvision's builders
_VITS = {
    "vit_b_16": (16, 12, 12, 768, 3072), "vit_b_32": (32, 12, 12, 768, 3072),
    "vit_l_16": (16, 24, 16, 1024, 4096), "vit_l_32": (32, 24, 16, 1024, 4096),
    "vit_h_14": (14, 32, 16, 1280, 5120),
}


def _register_vit(name: str) -> None:
    patch, layers, heads, dim, mlp = _VITS[name]

    def build(classes: int = 1000) -> Network:
        return _vit(name, patch, layers, heads, dim, mlp, classes)

    build.__name__ = name
    size = {"b": "Base", "l": "Large", "h": "Huge"}[name[4]]
    register(name, "torchvision", f"ViT-{size[0]}/{patch} (Dosovitskiy et al. 2021): {patch}×{patch} patches, "
             f"{layers} encoder layers, {heads} heads, D {dim}, MLP {mlp}")(build)


for _name in _VITS:
    _register_vit(_name)
