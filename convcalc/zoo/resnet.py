"""Zoo family: ResNets — torchvision's ImageNet ResNet/ResNeXt/Wide ResNet (v1.5: the stride sits on
the 3x3 conv of the Bottleneck), the CIFAR-10 ResNets of He et al. 2016 (option-A shortcuts), and
SE-ResNet-50 (Hu et al. 2018).

Module names follow torchvision (``layer1.0.conv1``, ``layer2.0.downsample.0``, ``fc``); torchvision
reuses one ``relu`` module inside a block, here the ReLUs inside the body are ``relu1``/``relu2`` and
the one after the addition is ``relu``, so every row has its own name.
"""

from __future__ import annotations

from collections.abc import Callable

from convcalc.network.build import (
    act,
    bn,
    conv,
    flatten,
    gate,
    global_avgpool,
    linear,
    maxpool,
    relu,
    residual,
    seq,
    shortcut_a,
)
from convcalc.network.model import Module, Network
from convcalc.zoo import register

# A block builder: (in_channels, planes, stride, groups, base_width, se) -> (module, out_channels)
Block = Callable[..., tuple[Module, int]]


def _se(channels: int, reduction: int = 16) -> Module:
    """Squeeze-and-excitation (Hu et al. 2018): global pool, 1x1 conv C -> C/r (bias), ReLU,
    1x1 conv C/r -> C (bias), sigmoid; the block's output is scaled by it channel-wise."""
    return gate(("avg_pool", global_avgpool()), ("fc1", conv(channels // reduction, 1)), ("relu", relu()),
                ("fc2", conv(channels, 1)), ("sigmoid", act("sigmoid")))


def _downsample(out: int, stride: int) -> Module:
    return seq(conv(out, 1, stride=stride, bias=False), bn())


def _basic(inplanes: int, planes: int, stride: int = 1, groups: int = 1, base_width: int = 64, se: bool = False,
           shortcut: str = "B") -> tuple[Module, int]:
    """torchvision's BasicBlock (expansion 1); ``shortcut`` 'A' is He et al.'s parameter-free option A."""
    if groups != 1 or base_width != 64:
        raise ValueError("BasicBlock only supports groups=1 and base_width=64")
    body = [("conv1", conv(planes, 3, stride=stride, pad=1, bias=False)), ("bn1", bn()), ("relu1", relu()),
            ("conv2", conv(planes, 3, pad=1, bias=False)), ("bn2", bn())]
    if se:
        body.append(("se", _se(planes)))
    down = None
    if stride != 1 or inplanes != planes:
        down = ("shortcut", shortcut_a(planes, stride)) if shortcut == "A" else _downsample(planes, stride)
    return residual(*body, shortcut=down, post=[("relu", relu())], kind="BasicBlock"), planes


def _bottleneck(inplanes: int, planes: int, stride: int = 1, groups: int = 1, base_width: int = 64,
                se: bool = False) -> tuple[Module, int]:
    """torchvision's Bottleneck (expansion 4, v1.5: stride on conv2); width = planes·base_width/64·groups."""
    width = int(planes * (base_width / 64.0)) * groups
    out = planes * 4
    body = [("conv1", conv(width, 1, bias=False)), ("bn1", bn()), ("relu1", relu()),
            ("conv2", conv(width, 3, stride=stride, pad=1, groups=groups, bias=False)), ("bn2", bn()),
            ("relu2", relu()),
            ("conv3", conv(out, 1, bias=False)), ("bn3", bn())]
    if se:
        body.append(("se", _se(out)))
    down = _downsample(out, stride) if stride != 1 or inplanes != out else None
    return residual(*body, shortcut=down, post=[("relu", relu())], kind="SEBottleneck" if se else "Bottleneck"), out


def _resnet(name: str, block: Block, layers: tuple[int, ...], groups: int = 1, width_per_group: int = 64,
            se: bool = False, source: str = "torchvision") -> Network:
    """torchvision's ImageNet ResNet: 7x7/2 stem, 3x3/2 max pool, four stages (64-128-256-512 planes), avgpool, fc."""
    children: list = [("conv1", conv(64, 7, stride=2, pad=3, bias=False)), ("bn1", bn()), ("relu", relu()),
                      ("maxpool", maxpool(3, 2, pad=1))]
    inplanes = 64
    for index, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
        stage = []
        for b in range(blocks):
            stride = 2 if (b == 0 and index > 0) else 1
            module, inplanes = block(inplanes, planes, stride, groups, width_per_group, se)
            stage.append(module)
        children.append((f"layer{index + 1}", seq(*stage)))
    children += [("avgpool", global_avgpool()), ("flatten", flatten()), ("fc", linear(1000))]
    return Network(name, (3, 224, 224), seq(*children), source=source)


_IMAGENET = {
    # name: (block, layers, groups, width_per_group, summary)
    "resnet18": (_basic, (2, 2, 2, 2), 1, 64, "ResNet-18 (He et al. 2016), BasicBlocks [2, 2, 2, 2]"),
    "resnet34": (_basic, (3, 4, 6, 3), 1, 64, "ResNet-34 (He et al. 2016), BasicBlocks [3, 4, 6, 3]"),
    "resnet50": (_bottleneck, (3, 4, 6, 3), 1, 64, "ResNet-50 v1.5 (He et al. 2016), Bottlenecks [3, 4, 6, 3]"),
    "resnet101": (_bottleneck, (3, 4, 23, 3), 1, 64, "ResNet-101 v1.5 (He et al. 2016), Bottlenecks [3, 4, 23, 3]"),
    "resnet152": (_bottleneck, (3, 8, 36, 3), 1, 64, "ResNet-152 v1.5 (He et al. 2016), Bottlenecks [3, 8, 36, 3]"),
    "resnext50_32x4d": (_bottleneck, (3, 4, 6, 3), 32, 4,
                        "ResNeXt-50 32x4d (Xie et al. 2017): grouped 3x3 convs, 32 groups of width 4"),
    "wide_resnet50_2": (_bottleneck, (3, 4, 6, 3), 1, 128,
                        "Wide ResNet-50-2 (Zagoruyko & Komodakis 2016): Bottleneck inner width doubled"),
}


def _register_imagenet(name: str) -> None:
    block, layers, groups, width, summary = _IMAGENET[name]
    build = lambda: _resnet(name, block, layers, groups, width)
    build.__name__ = name
    register(name, "torchvision", summary)(build)


for _name in _IMAGENET:
    _register_imagenet(_name)


_SE_SOURCE = "Hu et al. 2018, 'Squeeze-and-Excitation Networks' (SE-ResNet-50 on torchvision's ResNet-50 v1.5)"


@register("se_resnet50", _SE_SOURCE,
          "SE-ResNet-50: ResNet-50 v1.5 with an SE gate (reduction 16, FC layers as 1x1 convs with bias) "
          "after bn3, before the residual add; 28,088,024 params")
def se_resnet50() -> Network:
    return _resnet("se_resnet50", _bottleneck, (3, 4, 6, 3), se=True, source=_SE_SOURCE)


# --------------------------------------------------------------------------- CIFAR-10 ResNets

_CIFAR_SOURCE = "He et al. 2016, 'Deep Residual Learning for Image Recognition', Sec. 4.2 (CIFAR-10, option A)"


def _cifar_resnet(name: str, n: int) -> Network:
    """6n+2 layers: 3x3 conv 16, three stages of n BasicBlocks (16, 32, 64; stride 2 at stages 2 and 3)
    with option-A (parameter-free) shortcuts, global average pool, FC 10."""
    children: list = [("conv1", conv(16, 3, pad=1, bias=False)), ("bn1", bn()), ("relu", relu())]
    inplanes = 16
    for index, planes in enumerate((16, 32, 64)):
        stage = []
        for b in range(n):
            stride = 2 if (b == 0 and index > 0) else 1
            module, inplanes = _basic(inplanes, planes, stride, shortcut="A")
            stage.append(module)
        children.append((f"layer{index + 1}", seq(*stage)))
    children += [("avgpool", global_avgpool()), ("flatten", flatten()), ("fc", linear(10))]
    return Network(name, (3, 32, 32), seq(*children), source=_CIFAR_SOURCE)


def _register_cifar(depth: int) -> None:
    n = (depth - 2) // 6
    name = f"resnet{depth}"
    build = lambda: _cifar_resnet(name, n)
    build.__name__ = name
    register(name, _CIFAR_SOURCE, f"ResNet-{depth} for CIFAR-10 (n={n}): 16-32-64 channels, option-A shortcuts")(build)


for _depth in (20, 32, 56):
    _register_cifar(_depth)
