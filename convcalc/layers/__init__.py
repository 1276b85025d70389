"""The layer types. Each module holds one family's rules — shape, parameters, MACs,
receptive field and explanation — and ``registry`` names them for the commands.

The names below are imported on first use, so a command loads only the layer modules it
needs (``convcalc shape --op conv`` never compiles the pooling or linear rules).
"""

from __future__ import annotations

_HOMES = {
    "AdaptivePool": "pool",
    "AvgPool": "pool",
    "Conv": "conv",
    "ConvTranspose": "conv",
    "DepthwiseSeparable": "separable",
    "Flatten": "dense",
    "Linear": "dense",
    "MaxPool": "pool",
    "analyze_layer": "registry",
    "build_layer": "registry",
    "resolve_op": "registry",
}

__all__ = [
    "AdaptivePool",
    "AvgPool",
    "Conv",
    "ConvTranspose",
    "DepthwiseSeparable",
    "Flatten",
    "Linear",
    "MaxPool",
    "analyze_layer",
    "build_layer",
    "resolve_op",
]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
