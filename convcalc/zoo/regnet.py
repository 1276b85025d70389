"""Zoo family: RegNetX and RegNetY, 400MF to 32GF (and RegNetY-128GF), Radosavovic et al. 2020,
torchvision's definitions.

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
            se_ratio: float | None = None, classes: int = 1000) -> Network:
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
               ("avgpool", adaptive_avgpool(1)), ("flatten", flatten()), ("fc", linear(classes)))
    return Network(name, (3, 224, 224), body, source="torchvision")


# torchvision's BlockParams.from_init_params arguments: (depth, w_0, w_a, w_m, group width)
_REGNETS = {
    "regnet_x_400mf": (22, 24, 24.48, 2.54, 16), "regnet_x_800mf": (16, 56, 35.73, 2.28, 16),
    "regnet_x_1_6gf": (18, 80, 34.01, 2.25, 24), "regnet_x_3_2gf": (25, 88, 26.31, 2.25, 48),
    "regnet_x_8gf": (23, 80, 49.56, 2.88, 120), "regnet_x_16gf": (22, 216, 55.59, 2.1, 128),
    "regnet_x_32gf": (23, 320, 69.86, 2.0, 168),
    "regnet_y_400mf": (16, 48, 27.89, 2.09, 8), "regnet_y_800mf": (14, 56, 38.84, 2.4, 16),
    "regnet_y_1_6gf": (27, 48, 20.71, 2.65, 24), "regnet_y_3_2gf": (21, 80, 42.63, 2.66, 24),
    "regnet_y_8gf": (17, 192, 76.82, 2.19, 56), "regnet_y_16gf": (18, 200, 106.23, 2.48, 112),
    "regnet_y_32gf": (20, 232, 115.89, 2.53, 232), "regnet_y_128gf": (27, 456, 160.83, 2.52, 264),
}


def _register_regnet(name: str) -> None:
    depth, w_0, w_a, w_m, group_width = _REGNETS[name]
    y = name.startswith("regnet_y")
    flops = name.rsplit("_", 2)[-2:] if name.endswith("gf") and name.count("_") == 3 else [name.rsplit("_", 1)[-1]]
    label = ".".join(flops).upper()

    def build(classes: int = 1000) -> Network:
        return _regnet(name, depth, w_0, w_a, w_m, group_width, 0.25 if y else None, classes)

    build.__name__ = name
    register(name, "torchvision", f"RegNet{'Y' if y else 'X'}-{label} (Radosavovic et al. 2020): grouped bottlenecks"
             f"{' with SE' if y else ', no SE'}")(build)


for _name in _REGNETS:
    _register_regnet(_name)
