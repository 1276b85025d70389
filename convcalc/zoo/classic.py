"""Zoo family: the classics — LeNet-5, AlexNet (torchvision and the paper's), ZF Net, NiN,
VGG, and the CIFAR-10 network of the course tutorial."""

from __future__ import annotations

from convcalc.network.build import adaptive_avgpool, conv, dropout, flatten, linear, maxpool, relu, seq
from convcalc.network.model import Network
from convcalc.zoo import register


@register("alexnet", "torchvision", "AlexNet, the 'one weird trick' single-tower layout (64-192-384-256-256)")
def alexnet() -> Network:
    features = seq(
        conv(64, 11, stride=4, pad=2), relu(), maxpool(3, 2),
        conv(192, 5, pad=2), relu(), maxpool(3, 2),
        conv(384, 3, pad=1), relu(),
        conv(256, 3, pad=1), relu(),
        conv(256, 3, pad=1), relu(), maxpool(3, 2),
    )
    classifier = seq(dropout(), linear(4096), relu(), dropout(), linear(4096), relu(), linear(1000))
    body = seq(("features", features), ("avgpool", adaptive_avgpool(6)), ("flatten", flatten()), ("classifier", classifier))
    return Network("alexnet", (3, 224, 224), body, source="torchvision")
