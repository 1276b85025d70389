"""Zoo family: DenseNet-121/161/169/201 (Huang et al. 2017), torchvision's definitions.

Each dense layer concatenates its input with its ``growth`` new channels; torchvision's
block does the same by concatenating every earlier output, which gives the same tensors.
A layer is ``parallel(("identity", identity), ("", BN-ReLU-1×1-BN-ReLU-3×3))``: the new-features
branch is unnamed, so its modules carry torchvision's names
(``features.denseblock1.denselayer1.conv1``) beside ``…denselayer1.identity`` and ``…denselayer1.concat``.
torchvision's final ReLU, pooling and flatten are function calls in ``forward``; here they are the
rows ``relu``, ``avgpool`` and ``flatten`` (no parameters).
"""

from __future__ import annotations

from convcalc.network.build import (
    adaptive_avgpool,
    avgpool,
    bn,
    conv,
    flatten,
    functional,
    identity,
    linear,
    maxpool,
    parallel,
    relu,
    seq,
)
from convcalc.network.model import Module, Network, Sequential
from convcalc.zoo import register

_BN_SIZE = 4


def _dense_layer(growth: int) -> Module:
    new = seq(("norm1", bn()), ("relu1", relu()), ("conv1", conv(_BN_SIZE * growth, 1, bias=False)),
              ("norm2", bn()), ("relu2", relu()), ("conv2", conv(growth, 3, pad=1, bias=False)), kind="DenseLayer")
    return parallel(("identity", identity()), ("", new), merge="concat", kind="DenseLayer")


def _transition(out: int) -> Sequential:
    return seq(("norm", bn()), ("relu", relu()), ("conv", conv(out, 1, bias=False)), ("pool", avgpool(2, 2)),
               kind="Transition")


def _densenet(name: str, growth: int, block_config: tuple[int, ...], init: int, classes: int = 1000) -> Network:
    features: list = [("conv0", conv(init, 7, stride=2, pad=3, bias=False)), ("norm0", bn()), ("relu0", relu()),
                      ("pool0", maxpool(3, 2, pad=1))]
    channels = init
    for i, layers in enumerate(block_config, start=1):
        features.append((f"denseblock{i}",
                         seq(*((f"denselayer{j}", _dense_layer(growth)) for j in range(1, layers + 1)),
                             kind="DenseBlock")))
        channels += layers * growth
        if i != len(block_config):
            channels //= 2
            features.append((f"transition{i}", _transition(channels)))
    features.append((f"norm{len(block_config) + 1}", bn()))
    # DenseNet.forward: F.relu(features), F.adaptive_avg_pool2d(out, (1, 1)) — calls, not modules
    body = seq(("features", seq(*features)), ("relu", functional(relu(), "F.relu")),
               ("avgpool", functional(adaptive_avgpool(1), "F.adaptive_avg_pool2d")), ("flatten", flatten()),
               ("classifier", linear(classes)))
    return Network(name, (3, 224, 224), body, source="torchvision")


@register("densenet121", "torchvision", "DenseNet-121 (Huang et al. 2017): growth 32, blocks 6-12-24-16")
def densenet121(classes: int = 1000) -> Network:
    return _densenet("densenet121", 32, (6, 12, 24, 16), 64, classes)


@register("densenet161", "torchvision", "DenseNet-161 (Huang et al. 2017): growth 48, blocks 6-12-36-24")
def densenet161(classes: int = 1000) -> Network:
    return _densenet("densenet161", 48, (6, 12, 36, 24), 96, classes)


@register("densenet169", "torchvision", "DenseNet-169 (Huang et al. 2017): growth 32, blocks 6-12-32-32")
def densenet169(classes: int = 1000) -> Network:
    return _densenet("densenet169", 32, (6, 12, 32, 32), 64, classes)


@register("densenet201", "torchvision", "DenseNet-201 (Huang et al. 2017): growth 32, blocks 6-12-48-32")
def densenet201(classes: int = 1000) -> Network:
    return _densenet("densenet201", 32, (6, 12, 48, 32), 64, classes)
