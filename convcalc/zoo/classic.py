"""Zoo family: the classics — LeNet-5, AlexNet (torchvision and the paper's), ZF Net, NiN,
VGG, and the CIFAR-10 network of the course tutorial."""

from __future__ import annotations

from convcalc.network.build import (
    act,
    adaptive_avgpool,
    avgpool,
    bn,
    conv,
    dropout,
    flatten,
    global_avgpool,
    linear,
    lrn,
    maxpool,
    relu,
    seq,
)
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
    body = seq(("features", features), ("avgpool", adaptive_avgpool(6)), ("flatten", flatten()),
               ("classifier", classifier))
    return Network("alexnet", (3, 224, 224), body, source="torchvision")


# --------------------------------------------------------------------------- LeNet-5

_LENET_SOURCE = "LeCun et al. 1998, 'Gradient-based learning applied to document recognition'"


@register("lenet5", _LENET_SOURCE,
          "LeNet-5: 1x32x32, C1 6@5x5, S2 avg 2x2, C3 16@5x5 (full connections), S4, C5 120@5x5, F6 84, 10; tanh")
def lenet5() -> Network:
    # Simplified as usual: parameter-free average-pool subsampling, C3 connected to all six S2 maps,
    # tanh throughout and a plain linear output layer in place of the RBF units (61,706 parameters).
    features = seq(
        ("c1", conv(6, 5)), ("tanh1", act("tanh")), ("s2", avgpool(2, 2)),
        ("c3", conv(16, 5)), ("tanh3", act("tanh")), ("s4", avgpool(2, 2)),
        ("c5", conv(120, 5)), ("tanh5", act("tanh")),
    )
    classifier = seq(("f6", linear(84)), ("tanh6", act("tanh")), ("output", linear(10)))
    body = seq(("features", features), ("flatten", flatten()), ("classifier", classifier))
    return Network("lenet5", (1, 32, 32), body, source=_LENET_SOURCE)


# --------------------------------------------------------------------------- AlexNet (paper) and ZF Net

def _alexnet_like(name: str, input_size: int, c1: tuple[int, int, int], c2: tuple[int, int, int],
                  widths: tuple[int, int, int, int, int], pool_ceil: bool, source: str,
                  notes: tuple[str, ...] = ()) -> Network:
    """CONV1-POOL1-NORM1-CONV2-POOL2-NORM2-CONV3-CONV4-CONV5-POOL3-FC6-FC7-FC8, single tower.

    ``c1``/``c2`` are (kernel, stride, pad) of CONV1 and CONV2; CONV3-5 are 3x3 pad 1; pools 3x3 stride 2;
    LRN as in the AlexNet paper (size 5, alpha 1e-4, beta 0.75, k 2); dropout 0.5 before FC6 and FC7's outputs."""
    w1, w2, w3, w4, w5 = widths
    features = seq(
        ("conv1", conv(w1, c1[0], stride=c1[1], pad=c1[2])), ("relu1", relu()),
        ("pool1", maxpool(3, 2, ceil_mode=pool_ceil)), ("norm1", lrn(5, 1e-4, 0.75, 2.0)),
        ("conv2", conv(w2, c2[0], stride=c2[1], pad=c2[2])), ("relu2", relu()),
        ("pool2", maxpool(3, 2, ceil_mode=pool_ceil)), ("norm2", lrn(5, 1e-4, 0.75, 2.0)),
        ("conv3", conv(w3, 3, pad=1)), ("relu3", relu()),
        ("conv4", conv(w4, 3, pad=1)), ("relu4", relu()),
        ("conv5", conv(w5, 3, pad=1)), ("relu5", relu()),
        ("pool5", maxpool(3, 2, ceil_mode=pool_ceil)),
    )
    classifier = seq(
        ("fc6", linear(4096)), ("relu6", relu()), ("drop6", dropout()),
        ("fc7", linear(4096)), ("relu7", relu()), ("drop7", dropout()),
        ("fc8", linear(1000)),
    )
    body = seq(("features", features), ("flatten", flatten()), ("classifier", classifier))
    return Network(name, (3, input_size, input_size), body, source=source, notes=notes)


_CS231N = "CS231n notes (Karpathy), 'ConvNet architectures'; course seeds 000/001"


@register("alexnet_paper", "Krizhevsky et al. 2012, single tower as in the " + _CS231N,
          "AlexNet as in the paper/CS231n: 227x227, 96-256-384-384-256, LRN, FC 4096-4096-1000 (62,378,344 params)")
def alexnet_paper() -> Network:
    return _alexnet_like("alexnet_paper", 227, (11, 4, 0), (5, 1, 2), (96, 256, 384, 384, 256), False,
                         "Krizhevsky et al. 2012 (single tower), " + _CS231N)


@register("zfnet", "Zeiler & Fergus 2014; " + _CS231N,
          "ZF Net: AlexNet with CONV1 7x7 s2 pad 1, CONV2 5x5 s2 pad 0, CONV3-5 512-1024-512 (CS231n), "
          "ceil-mode 3x3 s2 pools: 224 -> 110 -> 55 -> 26 -> 13 -> 13 -> 6 as in Zeiler & Fergus Fig. 3")
def zfnet() -> Network:
    notes = (
        "CONV1 7x7 stride 2 and CONV3,4,5 of 512, 1024, 512 filters follow the CS231n notes; "
        "CONV2 5x5 stride 2 and the map sizes follow Zeiler & Fergus 2014, Fig. 3.",
        "Paddings chosen (not stated in the paper): CONV1 pad 1 (224 -> 110), CONV2 pad 0 (55 -> 26), "
        "pools 3x3 stride 2 with ceil_mode (Caffe) (110 -> 55, 26 -> 13, 13 -> 6).",
    )
    return _alexnet_like("zfnet", 224, (7, 2, 1), (5, 2, 0), (96, 256, 512, 1024, 512), True,
                         "Zeiler & Fergus 2014; " + _CS231N, notes)


# --------------------------------------------------------------------------- Network in Network

_NIN_SOURCE = "Lin, Chen & Yan 2014, 'Network In Network' (CIFAR-10 model of the authors' Caffe definition)"


def _mlpconv(out: int, k: int, pad: int, hidden: tuple[int, int]) -> list:
    """One mlpconv block: a k x k conv then two 1x1 convs (the 'cccp' layers), ReLU after each."""
    return [conv(out, k, pad=pad), relu(), conv(hidden[0], 1), relu(), conv(hidden[1], 1), relu()]


@register("nin", _NIN_SOURCE,
          "Network in Network, CIFAR-10 variant: 3 mlpconv blocks (192-160-96, 192-192-192, 192-192-10), "
          "ceil-mode 3x3 s2 pools, dropout 0.5, global average pooling; 3x32x32 -> 10")
def nin() -> Network:
    features = seq(
        *_mlpconv(192, 5, 2, (160, 96)), maxpool(3, 2, ceil_mode=True), dropout(0.5),
        *_mlpconv(192, 5, 2, (192, 192)), avgpool(3, 2, ceil_mode=True), dropout(0.5),
        *_mlpconv(192, 3, 1, (192, 10)),
    )
    body = seq(("features", features), ("avgpool", global_avgpool()), ("flatten", flatten()))
    return Network("nin", (3, 32, 32), body, source=_NIN_SOURCE)


# --------------------------------------------------------------------------- VGG

_VGG_CFGS: dict[str, list] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
_VGG_DEPTH_LETTER = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}


def _vgg(name: str, batch_norm: bool) -> Network:
    """torchvision's VGG: 3x3 pad-1 convs (bias kept with BN) and 2x2 max pools, AdaptiveAvgPool(7), classifier."""
    layers = []
    for v in _VGG_CFGS[name]:
        if v == "M":
            layers.append(maxpool(2, 2))
        else:
            layers.append(conv(v, 3, pad=1))
            if batch_norm:
                layers.append(bn())
            layers.append(relu())
    classifier = seq(linear(4096), relu(), dropout(), linear(4096), relu(), dropout(), linear(1000))
    body = seq(("features", seq(*layers)), ("avgpool", adaptive_avgpool(7)), ("flatten", flatten()),
               ("classifier", classifier))
    full = name + ("_bn" if batch_norm else "")
    return Network(full, (3, 224, 224), body, source="torchvision")


def _register_vgg(name: str, batch_norm: bool) -> None:
    full = name + ("_bn" if batch_norm else "")
    summary = (f"VGG-{name[3:]} (configuration {_VGG_DEPTH_LETTER[name]}, Simonyan & Zisserman 2015)"
               + (" with batch normalization" if batch_norm else ""))
    build = lambda: _vgg(name, batch_norm)
    build.__name__ = full
    register(full, "torchvision", summary)(build)


for _name in _VGG_CFGS:
    for _bn in (False, True):
        _register_vgg(_name, _bn)


# --------------------------------------------------------------------------- the course's CIFAR-10 CNN

_CIFAR_SOURCE = "course tutorial 'CIFAR-10 Classification with PyTorch' (seed 004, CifarCNN)"


@register("cifar_cnn", _CIFAR_SOURCE,
          "The tutorial's CIFAR-10 CNN: conv pairs 32/64, 128/128, 256/256 with BN, max pools, FC 1024-512-10 "
          "(5,852,170 params)")
def cifar_cnn() -> Network:
    def block(first: int, second: int) -> list:
        return [conv(first, 3, pad=1), bn(), relu(), conv(second, 3, pad=1), relu(), maxpool(2, 2)]

    conv_layer = seq(*block(32, 64), *block(128, 128), dropout(0.05, kind="dropout2d"), *block(256, 256))
    fc_layer = seq(dropout(0.1), linear(1024), relu(), linear(512), relu(), dropout(0.1), linear(10))
    body = seq(("conv_layer", conv_layer), ("flatten", flatten()), ("fc_layer", fc_layer))
    return Network("cifar_cnn", (3, 32, 32), body, source=_CIFAR_SOURCE)
