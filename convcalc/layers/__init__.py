"""The layer types. Each module holds one family's rules — shape, parameters, MACs,
receptive field and explanation — and ``registry`` names them for the commands."""

from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.dense import Flatten, Linear
from convcalc.layers.pool import AdaptivePool, AvgPool, MaxPool
from convcalc.layers.registry import build_layer, resolve_op
from convcalc.layers.separable import DepthwiseSeparable

__all__ = [
    "AdaptivePool",
    "AvgPool",
    "Conv",
    "ConvTranspose",
    "DepthwiseSeparable",
    "Flatten",
    "Linear",
    "MaxPool",
    "build_layer",
    "resolve_op",
]
