"""Zoo family: Keras's ConvNeXt Tiny, Small, Base, Large and XLarge (``keras.applications.convnext``)
under ``keras.`` names, with Keras's layers and names.

``convnext_tiny_prestem_normalization`` (ImageNet's mean and variance ×255 as constants: no
weights) · ``convnext_tiny_stem`` (``stem_conv`` 4×4/4 with bias · ``stem_layernorm``) · four
stages of ConvNeXt blocks, a ``downsampling_block_i`` (``downsampling_layernorm_i`` ·
``downsampling_conv_i`` 2×2/2) before stages 1–3. A block ``convnext_tiny_stage_0_block_0`` is
x + identity(γ · pointwise_conv_2(gelu(pointwise_conv_1(layernorm(depthwise_conv(x)))))):
``depthwise_conv`` 7×7 SAME with bias, ``layernorm`` (ε 1e-6), ``pointwise_conv_1`` (Dense to
4C), ``gelu``, ``pointwise_conv_2`` (Dense to C), ``layer_scale`` (γ, C learnable parameters,
counted), ``identity`` (Keras's linear activation where stochastic depth would sit: the
applications use drop_path_rate 0). The head: ``head_gap`` · ``head_layernorm`` · ``head_dense``
(softmax). Keras's Dense layers act on the channels (the last axis); here they are 1×1
convolutions with bias — the same arithmetic, as in :mod:`convcalc.zoo.convnext`. Keras's names
carry the model's name (``convnext_tiny_stage_0_block_0_depthwise_conv``); here a block is a
module and its layers its children (``convnext_tiny_stage_0_block_0.depthwise_conv``).

Total params (the keras.io table: 28.6M … 350.1M) are the parameters: no batch norm.
"""

from __future__ import annotations

from convcalc.layers.channels import LayerScale
from convcalc.layers.preprocess import Normalization
from convcalc.network.build import (
    act,
    conv,
    flatten,
    global_avgpool,
    identity,
    layernorm,
    layernorm2d,
    linear,
    residual,
    seq,
)
from convcalc.network.model import Leaf, Module, Network
from convcalc.zoo import register

_SOURCE = "Keras applications (keras.applications)"
_AS_KERAS = "; keras.io's Parameters"
_MEAN = tuple(m * 255 for m in (0.485, 0.456, 0.406))
_VARIANCE = tuple((s * 255) ** 2 for s in (0.229, 0.224, 0.225))


def _block(dim: int) -> Module:
    return residual(("depthwise_conv", conv(dim, 7, pad=3, groups=dim)), ("layernorm", layernorm2d(1e-6)),
                    ("pointwise_conv_1", conv(4 * dim, 1)), ("gelu", act("gelu")), ("pointwise_conv_2", conv(dim, 1)),
                    ("layer_scale", Leaf(LayerScale(1e-6))), ("identity", identity()), kind="ConvNeXtBlock")


def _convnext(name: str, model: str, depths: tuple[int, ...], dims: tuple[int, ...], classes: int) -> Network:
    layers: list = [(f"{model}_prestem_normalization", Leaf(Normalization(_MEAN, _VARIANCE))),
                    (f"{model}_stem", seq(("stem_conv", conv(dims[0], 4, stride=4)),
                                          ("stem_layernorm", layernorm2d(1e-6)), kind="Sequential"))]
    for stage, (n, dim) in enumerate(zip(depths, dims)):
        if stage:
            i = stage - 1
            layers.append((f"{model}_downsampling_block_{i}",
                           seq((f"downsampling_layernorm_{i}", layernorm2d(1e-6)),
                               (f"downsampling_conv_{i}", conv(dim, 2, stride=2)), kind="Sequential")))
        layers += [(f"{model}_stage_{stage}_block_{j}", _block(dim)) for j in range(n)]
    layers += [(f"{model}_head_gap", global_avgpool()), ("flatten", flatten()),
               (f"{model}_head_layernorm", layernorm(1)), (f"{model}_head_dense", linear(classes)),
               (f"{model}_head_dense_softmax", act("softmax"))]
    return Network(name, (3, 224, 224), seq(*layers), source=_SOURCE)


# size: (depths, projection dims), Keras's MODEL_CONFIGS (default size 224 for all)
_CONFIGS = {
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
    "xlarge": ((3, 3, 27, 3), (256, 512, 1024, 2048)),
}


def _register(size: str) -> None:
    depths, dims = _CONFIGS[size]
    name = f"keras.convnext{size}"

    def build(classes: int = 1000) -> Network:
        return _convnext(name, f"convnext_{size}", depths, dims, classes)

    build.__name__ = name.replace(".", "_")
    register(name, _SOURCE, f"Keras ConvNeXt{size.capitalize() if size != 'xlarge' else 'XLarge'}: 7x7 depthwise "
             f"blocks, LayerNorm, Dense, layer scale; {'-'.join(map(str, dims))} channels" + _AS_KERAS)(build)


for _size in _CONFIGS:
    _register(_size)
