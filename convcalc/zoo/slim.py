"""Zoo family: TF-slim's ResNet v1 (``resnet_v1_50``, ``_101``, ``_152``; tensorflow/models
research/slim/nets/resnet_v1.py), the layout whose receptive fields the TF-slim tables publish.

It differs from torchvision's ResNet (v1.5) in where a stage's stride sits: TF-slim puts it on
the *last* unit of blocks 1–3 (its 3×3 conv), not the first, and block 4 has stride 1; the
stem's max pool is SAME-padded (the extra column at the end: here ``ceil_mode``, the same
output size and window positions). Convolutions: conv2d_same — stride 1 pads (k−1)/2 on
both sides; stride 2 pads explicitly, (k−1)//2 before and the rest after (7×7: 3/3,
3×3: 1/1), then VALID. A unit whose depth does not change has an identity shortcut, or a
1×1 max pool with the stride (``subsample``) where the unit strides; else a 1×1 conv with the
stride. Batch norm (no conv biases), ReLU after the addition. Names follow TF-slim's scopes
(``block1.unit_3.bottleneck_v1.conv2``).
"""

from __future__ import annotations

from convcalc.network.build import bn, conv, flatten, global_avgpool, linear, maxpool, relu, residual, seq
from convcalc.network.model import Module, Network
from convcalc.zoo import register

_SOURCE = "TF-slim (tensorflow/models research/slim/nets/resnet_v1.py)"


def _conv_bn(out: int, k: int, stride: int = 1, activation: bool = True) -> Module:
    items = [("conv", conv(out, k, stride=stride, pad=(k - 1) // 2, bias=False)), ("BatchNorm", bn(eps=1e-5))]
    if activation:
        items.append(("relu", relu()))
    return seq(*items, kind="Conv2dSame")


def _bottleneck(inp: int, depth: int, bottleneck: int, stride: int) -> Module:
    body = [("conv1", _conv_bn(bottleneck, 1)), ("conv2", _conv_bn(bottleneck, 3, stride)),
            ("conv3", _conv_bn(depth, 1, activation=False))]
    if inp == depth:
        shortcut = ("shortcut", maxpool(1, stride)) if stride != 1 else None
    else:
        shortcut = ("shortcut", _conv_bn(depth, 1, stride, activation=False))
    return residual(*body, shortcut=shortcut, post=[("relu", relu())], kind="bottleneck_v1")


def _resnet_v1(name: str, units: tuple[int, int, int, int], classes: int = 1000) -> Network:
    children: list = [("conv1", _conv_bn(64, 7, 2)), ("pool1", maxpool(3, 2, ceil_mode=True))]
    inp = 64
    for index, (base, n) in enumerate(zip((64, 128, 256, 512), units), start=1):
        stride = 2 if index < 4 else 1
        block = []
        for u in range(1, n + 1):
            block.append((f"unit_{u}",
                          seq(("bottleneck_v1", _bottleneck(inp, 4 * base, base, stride if u == n else 1)))))
            inp = 4 * base
        children.append((f"block{index}", seq(*block)))
    children += [("pool5", global_avgpool()), ("flatten", flatten()), ("logits", linear(classes))]
    return Network(name, (3, 224, 224), seq(*children), source=_SOURCE)


def _register(depth: int, units: tuple[int, int, int, int]) -> None:
    name = f"resnet_v1_{depth}"

    def build(classes: int = 1000) -> Network:
        return _resnet_v1(name, units, classes)

    build.__name__ = name
    register(name, _SOURCE, f"ResNet-{depth} v1 as TF-slim builds it: the stride on the last unit of blocks 1-3, "
             f"units {'-'.join(map(str, units))}")(build)


for _depth, _units in ((50, (3, 4, 6, 3)), (101, (3, 4, 23, 3)), (152, (3, 8, 36, 3))):
    _register(_depth, _units)
