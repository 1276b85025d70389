"""Zoo family: RegNetX-400MF and RegNetY-400MF (Radosavovic et al. 2020), torchvision's definitions.

Stage widths and depths come from the quantised linear rule of the paper (torchvision's
``BlockParams.from_init_params``, computed here in plain Python):

    u_j = w_0 + w_a·j,  s_j = round(log(u_j / w_0) / log(w_m)),  w_j = 8·round(w_0·w_m^s_j / 8)

then group widths are made compatible (``_adjust_widths_groups_compatibilty``). Blocks are
``ResBottleneckBlock``: 1×1 (``f.a``) · 3×3 grouped, stride on it (``f.b``) · [SE to
round(0.25·block input) channels] · 1×1 (``f.c``); the shortcut ``proj`` (1×1 conv + BN)
appears when the width or stride changes; ReLU after the add.
"""

from __future__ import annotations

import math

from convcalc.network.build import adaptive_avgpool, flatten, linear, relu, residual, seq
from convcalc.network.model import Module, Network
from convcalc.zoo import register
from convcalc.zoo.mobile import conv_norm_act, make_divisible, squeeze_excitation


def block_params(depth: int, w_0: int, w_a: float, w_m: float, group_width: int,
                 bottleneck_multiplier: float = 1.0) -> list[tuple[int, int, int, int]]:
    """(width, depth, stride, group width) of each stage, as torchvision's ``BlockParams.from_init_params``."""
    quant = 8
    widths_cont = [j * w_a + w_0 for j in range(depth)]
    capacity = [round(math.log(w / w_0) / math.log(w_m)) for w in widths_cont]
    widths = [int(round(w_0 * w_m ** c / quant) * quant) for c in capacity]
    stage_widths: list[int] = []
    stage_depths: list[int] = []
    for w in widths:
        if stage_widths and stage_widths[-1] == w:
            stage_depths[-1] += 1
        else:
            stage_widths.append(w)
            stage_depths.append(1)
    stages = []
    for w, d in zip(stage_widths, stage_depths):
        w_bot = int(w * bottleneck_multiplier)
        g = min(group_width, w_bot)
        w_bot = make_divisible(w_bot, g)
        stages.append((int(w_bot / bottleneck_multiplier), d, 2, g))
    return stages


def _res_bottleneck(inp: int, out: int, stride: int, group_width: int, se_ratio: float | None) -> Module:
    """torchvision ``regnet.ResBottleneckBlock`` (bottleneck multiplier 1)."""
    w_b = out
    layers = [("a", conv_norm_act(w_b, 1)), ("b", conv_norm_act(w_b, 3, stride, groups=w_b // group_width))]
    if se_ratio:
        layers.append(("se", squeeze_excitation(w_b, round(se_ratio * inp), "relu", "sigmoid")))
    layers.append(("c", conv_norm_act(out, 1, activation=None)))
    shortcut = ("proj", conv_norm_act(out, 1, stride, activation=None)) if (inp != out or stride != 1) else None
    return residual(("f", seq(*layers, kind="BottleneckTransform")), shortcut=shortcut, post=[("activation", relu())],
                    kind="ResBottleneckBlock")


def _regnet(name: str, depth: int, w_0: int, w_a: float, w_m: float, group_width: int,
            se_ratio: float | None = None) -> Network:
    stem_width = 32
    trunk = []
    inp = stem_width
    for index, (width, n, stride, g) in enumerate(block_params(depth, w_0, w_a, w_m, group_width), start=1):
        blocks = []
        for i in range(n):
            blocks.append((f"block{index}-{i}", _res_bottleneck(inp, width, stride if i == 0 else 1, g, se_ratio)))
            inp = width
        trunk.append((f"block{index}", seq(*blocks, kind="AnyStage")))
    body = seq(("stem", conv_norm_act(stem_width, 3, 2)), ("trunk_output", seq(*trunk)),
               ("avgpool", adaptive_avgpool(1)), ("flatten", flatten()), ("fc", linear(1000)))
    return Network(name, (3, 224, 224), body, source="torchvision")


@register("regnet_x_400mf", "torchvision", "RegNetX-400MF (Radosavovic et al. 2020): grouped bottlenecks, no SE")
def regnet_x_400mf() -> Network:
    return _regnet("regnet_x_400mf", depth=22, w_0=24, w_a=24.48, w_m=2.54, group_width=16)


@register("regnet_y_400mf", "torchvision", "RegNetY-400MF (Radosavovic et al. 2020): grouped bottlenecks with SE")
def regnet_y_400mf() -> Network:
    return _regnet("regnet_y_400mf", depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8, se_ratio=0.25)
