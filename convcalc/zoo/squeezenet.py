"""Zoo family: SqueezeNet 1.0 and 1.1 (Iandola et al. 2016), as torchvision defines them.

A Fire module is ``squeeze`` (1x1) + ReLU, then ``expand1x1`` (1x1) and ``expand3x3`` (3x3, pad 1) on the
same input, concatenated on channels. torchvision applies a ReLU to each expand branch before the
concatenation; here one ReLU (``expand_activation``) follows the concatenation, which is the same
element-wise operation on the same values. Max pools use ``ceil_mode=True`` as torchvision does.
"""

from __future__ import annotations

from convcalc.network.build import conv, dropout, flatten, global_avgpool, maxpool, parallel, relu, seq
from convcalc.network.model import Module, Network
from convcalc.zoo import register


def _fire(squeeze: int, expand1x1: int, expand3x3: int) -> Module:
    return seq(
        ("squeeze", conv(squeeze, 1)), ("squeeze_activation", relu()),
        ("expand", parallel(("expand1x1", conv(expand1x1, 1)), ("expand3x3", conv(expand3x3, 3, pad=1)),
                            merge="concat", kind="Fire")),
        ("expand_activation", relu()),
    )


def _pool() -> Module:
    return maxpool(3, 2, ceil_mode=True)


def _squeezenet(name: str, version: str, classes: int = 1000) -> Network:
    if version == "1_0":
        features = seq(
            conv(96, 7, stride=2), relu(), _pool(),
            _fire(16, 64, 64), _fire(16, 64, 64), _fire(32, 128, 128), _pool(),
            _fire(32, 128, 128), _fire(48, 192, 192), _fire(48, 192, 192), _fire(64, 256, 256), _pool(),
            _fire(64, 256, 256),
        )
    else:
        features = seq(
            conv(64, 3, stride=2), relu(), _pool(),
            _fire(16, 64, 64), _fire(16, 64, 64), _pool(),
            _fire(32, 128, 128), _fire(32, 128, 128), _pool(),
            _fire(48, 192, 192), _fire(48, 192, 192), _fire(64, 256, 256), _fire(64, 256, 256),
        )
    classifier = seq(dropout(0.5), conv(classes, 1), relu(), global_avgpool())
    body = seq(("features", features), ("classifier", classifier), ("flatten", flatten()))
    return Network(name, (3, 224, 224), body, source="torchvision")


@register("squeezenet1_0", "torchvision",
          "SqueezeNet 1.0 (Iandola et al. 2016): 7x7/2 stem, 8 Fire modules, conv classifier")
def squeezenet1_0(classes: int = 1000) -> Network:
    return _squeezenet("squeezenet1_0", "1_0", classes)


@register("squeezenet1_1", "torchvision",
          "SqueezeNet 1.1: 3x3/2 stem with 64 filters and earlier pooling, ~2.4x fewer MACs than 1.0")
def squeezenet1_1(classes: int = 1000) -> Network:
    return _squeezenet("squeezenet1_1", "1_1", classes)
