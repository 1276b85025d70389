"""Zoo family: GoogLeNet (Szegedy et al. 2015) and Inception v3 (Szegedy et al. 2016), torchvision's
definitions; the auxiliary classifiers (torchvision's ``aux_logits=True``, run in training only)
come with ``aux=True`` (``--aux``) as side heads: ``aux1``/``aux2`` after ``inception4a``/``4d``,
``AuxLogits`` after ``Mixed_6e``, counted in the totals and not on the path to the output.

Every convolution is torchvision's ``BasicConv2d``: conv (no bias) · BN (eps 0.001) · ReLU, named
``conv``/``bn``/``relu``. Branches are concatenated on channels. Every module carries torchvision's
name: a one-module branch its own (``Mixed_5b.branch1x1.conv``); a chain of modules is an unnamed
branch whose children keep their names (``Mixed_5b.branch3x3dbl_2.conv``), and Inception-E's
1×3/3×1 fork is an unnamed parallel (``Mixed_7b.branch3x3_2a.conv``, its concatenation
``Mixed_7b.branch3x3_2.concat``). The functional pooling in front of ``branch_pool`` is
``branch_pool.pool``, and InceptionB/D's functional max pool is ``branch_pool``.
GoogLeNet's ``branch3`` uses a 3×3 convolution as torchvision does (the paper's is 5×5).
"""

from __future__ import annotations

from convcalc.network.build import (
    adaptive_avgpool,
    avgpool,
    bn,
    conv,
    dropout,
    flatten,
    functional,
    linear,
    maxpool,
    parallel,
    relu,
    seq,
    side,
)
from convcalc.network.model import Module, Network, Sequential
from convcalc.zoo import register


def basic_conv(out: int, k=1, stride: int = 1, pad=0) -> Sequential:
    """torchvision's BasicConv2d: conv, bn, then ``F.relu`` in its forward (a call, not a module)."""
    return seq(("conv", conv(out, k, stride=stride, pad=pad, bias=False)), ("bn", bn(eps=0.001)),
               ("relu", functional(relu(), "F.relu")), kind="BasicConv2d")


def _inception(*branches) -> Module:
    return parallel(*branches, merge="concat", kind="Inception")


# ---------------------------------------------------------------- GoogLeNet


def _googlenet_block(ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int, pool_proj: int) -> Module:
    return _inception(
        ("branch1", basic_conv(ch1x1, 1)),
        ("branch2", seq(basic_conv(ch3x3red, 1), basic_conv(ch3x3, 3, pad=1))),
        ("branch3", seq(basic_conv(ch5x5red, 1), basic_conv(ch5x5, 3, pad=1))),
        ("branch4", seq(maxpool(3, 1, pad=1, ceil_mode=True), basic_conv(pool_proj, 1))),
    )


def _googlenet_aux(classes: int) -> Module:
    """torchvision ``googlenet.InceptionAux``: adaptive avg pool to 4×4 · BasicConv2d 1×1 128 ·
    flatten · fc1 2048→1024 · ReLU · dropout 0.7 · fc2 1024→classes."""
    return side(("adaptive_avg_pool", adaptive_avgpool(4)), ("conv", basic_conv(128, 1)), ("flatten", flatten()),
                ("fc1", linear(1024)), ("relu", relu()), ("dropout", dropout(0.7)), ("fc2", linear(classes)),
                kind="InceptionAux")


@register("googlenet", "torchvision", "GoogLeNet / Inception v1 (Szegedy et al. 2015) with BN; --aux adds the two "
          "auxiliary classifiers")
def googlenet(classes: int = 1000, aux: bool = False) -> Network:
    heads = {"aux1": [("aux1", _googlenet_aux(classes))] if aux else [],
             "aux2": [("aux2", _googlenet_aux(classes))] if aux else []}
    body = seq(
        ("conv1", basic_conv(64, 7, stride=2, pad=3)),
        ("maxpool1", maxpool(3, 2, ceil_mode=True)),
        ("conv2", basic_conv(64, 1)),
        ("conv3", basic_conv(192, 3, pad=1)),
        ("maxpool2", maxpool(3, 2, ceil_mode=True)),
        ("inception3a", _googlenet_block(64, 96, 128, 16, 32, 32)),
        ("inception3b", _googlenet_block(128, 128, 192, 32, 96, 64)),
        ("maxpool3", maxpool(3, 2, ceil_mode=True)),
        ("inception4a", _googlenet_block(192, 96, 208, 16, 48, 64)),
        *heads["aux1"],
        ("inception4b", _googlenet_block(160, 112, 224, 24, 64, 64)),
        ("inception4c", _googlenet_block(128, 128, 256, 24, 64, 64)),
        ("inception4d", _googlenet_block(112, 144, 288, 32, 64, 64)),
        *heads["aux2"],
        ("inception4e", _googlenet_block(256, 160, 320, 32, 128, 128)),
        ("maxpool4", maxpool(2, 2, ceil_mode=True)),
        ("inception5a", _googlenet_block(256, 160, 320, 32, 128, 128)),
        ("inception5b", _googlenet_block(384, 192, 384, 48, 128, 128)),
        ("avgpool", adaptive_avgpool(1)),
        ("flatten", flatten()),
        ("dropout", dropout(0.2)),
        ("fc", linear(classes)),
    )
    return Network("googlenet", (3, 224, 224), body, source="torchvision")


# ---------------------------------------------------------------- Inception v3


def _chain(prefix: str, *convs: tuple[str, Module]) -> tuple[str, Module]:
    """A branch of several modules in a row, unnamed (""), each keeping torchvision's full name
    ``prefix + suffix``; a module with suffix "" is unnamed too (Inception-E's fork)."""
    return "", seq(*((f"{prefix}{suffix}" if suffix else "", module) for suffix, module in convs))


def _pool_branch(out: int) -> tuple[str, Module]:
    # Inception A/C/E forward: F.avg_pool2d(x, 3, 1, 1), then the BasicConv2d branch_pool (F.relu)
    return "branch_pool", seq(("pool", functional(avgpool(3, 1, pad=1), "F.avg_pool2d")),
                              ("conv", conv(out, 1, bias=False)), ("bn", bn(eps=0.001)),
                              ("relu", functional(relu(), "F.relu")))


def _inception_a(pool_features: int) -> Module:
    return _inception(
        ("branch1x1", basic_conv(64, 1)),
        _chain("branch5x5", ("_1", basic_conv(48, 1)), ("_2", basic_conv(64, 5, pad=2))),
        _chain("branch3x3dbl", ("_1", basic_conv(64, 1)), ("_2", basic_conv(96, 3, pad=1)),
               ("_3", basic_conv(96, 3, pad=1))),
        _pool_branch(pool_features),
    )


def _inception_b() -> Module:
    return _inception(
        ("branch3x3", basic_conv(384, 3, stride=2)),
        _chain("branch3x3dbl", ("_1", basic_conv(64, 1)), ("_2", basic_conv(96, 3, pad=1)),
               ("_3", basic_conv(96, 3, stride=2))),
        ("branch_pool", functional(maxpool(3, 2), "F.max_pool2d")),  # Inception B/D forward
    )


def _inception_c(c7: int) -> Module:
    def k1x7(out: int) -> Sequential:
        return basic_conv(out, (1, 7), pad=(0, 3))

    def k7x1(out: int) -> Sequential:
        return basic_conv(out, (7, 1), pad=(3, 0))

    return _inception(
        ("branch1x1", basic_conv(192, 1)),
        _chain("branch7x7", ("_1", basic_conv(c7, 1)), ("_2", k1x7(c7)), ("_3", k7x1(192))),
        _chain("branch7x7dbl", ("_1", basic_conv(c7, 1)), ("_2", k7x1(c7)), ("_3", k1x7(c7)), ("_4", k7x1(c7)),
               ("_5", k1x7(192))),
        _pool_branch(192),
    )


def _inception_d() -> Module:
    return _inception(
        _chain("branch3x3", ("_1", basic_conv(192, 1)), ("_2", basic_conv(320, 3, stride=2))),
        _chain("branch7x7x3", ("_1", basic_conv(192, 1)), ("_2", basic_conv(192, (1, 7), pad=(0, 3))),
               ("_3", basic_conv(192, (7, 1), pad=(3, 0))), ("_4", basic_conv(192, 3, stride=2))),
        ("branch_pool", functional(maxpool(3, 2), "F.max_pool2d")),  # Inception B/D forward
    )


def _split_1x3_3x1(prefix: str) -> Module:
    """Inception-E's fork: a 1×3 and a 3×1 convolution side by side, concatenated."""
    return _inception((f"{prefix}a", basic_conv(384, (1, 3), pad=(0, 1))),
                      (f"{prefix}b", basic_conv(384, (3, 1), pad=(1, 0))))


def _inception_e() -> Module:
    return _inception(
        ("branch1x1", basic_conv(320, 1)),
        _chain("branch3x3", ("_1", basic_conv(384, 1)), ("", _split_1x3_3x1("branch3x3_2"))),
        _chain("branch3x3dbl", ("_1", basic_conv(448, 1)), ("_2", basic_conv(384, 3, pad=1)),
               ("", _split_1x3_3x1("branch3x3dbl_3"))),
        _pool_branch(192),
    )


def _inception_aux(classes: int) -> Module:
    """torchvision ``inception.InceptionAux`` on Mixed_6e's 768×17×17: avg pool 5×5/3 · BasicConv2d
    1×1 128 (``conv0``) · BasicConv2d 5×5 768 (``conv1``) · adaptive avg pool 1 · flatten · fc."""
    return side(("avg_pool", avgpool(5, 3)), ("conv0", basic_conv(128, 1)), ("conv1", basic_conv(768, 5)),
                ("adaptive_avg_pool", adaptive_avgpool(1)), ("flatten", flatten()), ("fc", linear(classes)),
                kind="InceptionAux")


@register("inception_v3", "torchvision", "Inception v3 (Szegedy et al. 2016), 299×299; --aux adds the auxiliary "
          "classifier (torchvision's published 27,161,264 params include it)")
def inception_v3(classes: int = 1000, aux: bool = False) -> Network:
    body = seq(
        ("Conv2d_1a_3x3", basic_conv(32, 3, stride=2)),
        ("Conv2d_2a_3x3", basic_conv(32, 3)),
        ("Conv2d_2b_3x3", basic_conv(64, 3, pad=1)),
        ("maxpool1", maxpool(3, 2)),
        ("Conv2d_3b_1x1", basic_conv(80, 1)),
        ("Conv2d_4a_3x3", basic_conv(192, 3)),
        ("maxpool2", maxpool(3, 2)),
        ("Mixed_5b", _inception_a(32)),
        ("Mixed_5c", _inception_a(64)),
        ("Mixed_5d", _inception_a(64)),
        ("Mixed_6a", _inception_b()),
        ("Mixed_6b", _inception_c(128)),
        ("Mixed_6c", _inception_c(160)),
        ("Mixed_6d", _inception_c(160)),
        ("Mixed_6e", _inception_c(192)),
        *([("AuxLogits", _inception_aux(classes))] if aux else []),
        ("Mixed_7a", _inception_d()),
        ("Mixed_7b", _inception_e()),
        ("Mixed_7c", _inception_e()),
        ("avgpool", adaptive_avgpool(1)),
        ("dropout", dropout(0.5)),
        ("flatten", flatten()),
        ("fc", linear(classes)),
    )
    return Network("inception_v3", (3, 299, 299), body, source="torchvision")
