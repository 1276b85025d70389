"""Small networks made only to pin the --as tool rules on layers the zoo does not use (1-D and 3-D
layers, grouped/dilated transposed convs, every activation, group/layer norm, LRN, avg pools with
padding and ceil mode, adaptive pools on sizes that do not divide, upsampling modes, batch > 1).
Shared by ``make_tool_counts.py`` (which runs the real tools on them) and ``test_arch_tools.py``.
"""

from __future__ import annotations

from convcalc.network.build import (
    act,
    adaptive_avgpool,
    adaptive_maxpool,
    avgpool,
    bn,
    conv,
    conv_t,
    dropout,
    flatten,
    global_avgpool,
    groupnorm,
    layernorm,
    layernorm2d,
    linear,
    lrn,
    maxpool,
    prelu,
    relu,
    seq,
    upsample,
)
from convcalc.network.model import Network


def mixed_2d() -> Network:
    """Every activation, group/layer norms, LRN, padded ceil-mode pools, odd adaptive pools, bicubic."""
    body = seq(
        conv(8, 3, pad=1), groupnorm(2), act("leaky_relu"),
        conv(8, 3, pad=2, dilation=2, groups=2), act("elu"),
        avgpool(3, 2, pad=1, ceil_mode=True, count_include_pad=False), prelu(8),
        conv(12, 3, bias=False), layernorm2d(), act("silu"),
        conv(12, 1), layernorm(1), act("gelu"), act("hardswish"), act("relu6"), lrn(3),
        act("sigmoid"), act("tanh"), act("hardsigmoid"), act("mish"), act("softplus"),
        upsample(2, "bicubic"), maxpool(3, 2, ceil_mode=True), avgpool(3, 2, pad=1),
        adaptive_avgpool(5), adaptive_maxpool(3), dropout(0.3, kind="dropout2d"),
        flatten(), linear(10), act("softmax"), act("log_softmax"),
    )
    return Network("mixed_2d", (3, 30, 30), body, source="tests/reference/networks.py")


def transposed_2d() -> Network:
    """Grouped, dilated, non-square and output-padded transposed convs; BN without affine."""
    body = seq(
        conv_t(8, 3, stride=2, pad=1, groups=2), bn(affine=False), relu(),
        conv_t(6, (3, 5), stride=(2, 1), pad=(1, 2), output_padding=(1, 0)), relu(),
        conv_t(4, 4, stride=2, pad=1, dilation=2, groups=2),
    )
    return Network("transposed_2d", (8, 5, 7), body, source="tests/reference/networks.py")


def net_1d() -> Network:
    body = seq(
        conv(8, 3, rank=1), bn(), relu(), maxpool(2, rank=1), upsample(2, "linear"),
        avgpool(3, 1, pad=1, rank=1), conv_t(4, 4, stride=2, pad=1, rank=1), adaptive_avgpool(5, rank=1),
        flatten(), linear(3),
    )
    return Network("net_1d", (4, 32), body, source="tests/reference/networks.py")


def net_3d() -> Network:
    body = seq(
        conv(4, 3, pad=1, rank=3), bn(), relu(), upsample(2, "trilinear"), avgpool(2, rank=3),
        conv_t(2, 2, stride=2, rank=3), adaptive_avgpool(4, rank=3), global_avgpool(rank=3), flatten(), linear(2),
    )
    return Network("net_3d", (2, 6, 6, 6), body, source="tests/reference/networks.py")


BUILDERS = {"mixed_2d": mixed_2d, "transposed_2d": transposed_2d, "net_1d": net_1d, "net_3d": net_3d}
