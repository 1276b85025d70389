"""What ``run --show`` and ``train --show`` draw, as numbers: a conv layer's kernels (its weight
tensor, PyTorch's layout (C_out, C_in/groups, *k)), or the feature maps one sample produces at
a layer (that layer's output, (C, *spatial)). The pictures are painted in
:mod:`convcalc.render.pictures`; this module only picks the arrays, by the walk's row names
(the names ``convcalc arch`` prints and ``torch.nn`` gives the modules).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from convcalc.errors import InputError
from convcalc.executor import graph as walk

SHOWS = ("kernels", "features")


@dataclass(frozen=True)
class Kernels:
    """The weight of one conv layer: ``weight[o, i]`` is the kernel from input channel i
    (within its group) to output channel o."""

    layer: str
    type: str
    weight: np.ndarray  # (C_out, C_in/groups, *k)


@dataclass(frozen=True)
class FeatureMaps:
    """One sample's output at one layer: ``maps[c]`` is channel c's map."""

    layer: str
    type: str
    maps: np.ndarray  # (C, *spatial)
    sample: int


def parse_show(text: str) -> str:
    key = text.strip().lower()
    if key not in SHOWS:
        raise InputError(f"--show '{text}' is not one of {', '.join(SHOWS)}")
    return key


def _listing(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


def kernel_layers(graph: walk.Graph) -> list[str]:
    """The layers with a kernel: a weight of rank ≥ 3 (conv and transposed conv, 1-, 2- or 3-D)."""
    weights = {p.layer: p for p in graph.parameters if p.local == "weight"}
    return [leaf.name for leaf in graph.leaves if leaf.name in weights and len(weights[leaf.name].shape) >= 3]


def kernel_layer(graph: walk.Graph, layer: str | None = None) -> str:
    """``layer`` checked to have kernels, or by default the first layer that has them."""
    names = kernel_layers(graph)
    if not names:
        raise InputError(f"{graph.network.name} has no convolution layer, so no kernels to show")
    if layer is None:
        return names[0]
    if layer not in names:
        known = {leaf.name: leaf.type for leaf in graph.leaves}
        what = f"is a {known[layer]} layer, which has no kernel" if layer in known else "is not a layer of this network"
        raise InputError(f"--layer {layer} {what}; layers with kernels: {_listing(names)}")
    return layer


def kernels(graph: walk.Graph, params: Mapping[str, np.ndarray], layer: str | None = None) -> Kernels:
    """The kernels of ``layer``, by default of the first layer that has kernels."""
    layer = kernel_layer(graph, layer)
    kind = next(leaf.type for leaf in graph.leaves if leaf.name == layer)
    return Kernels(layer, kind, np.asarray(params[f"{layer}.weight"]))


def map_layers(graph: walk.Graph) -> list[str]:
    """The rows (layers and merges) whose output has spatial axes: (C, *spatial)."""
    return list(dict.fromkeys(name for name, _, shape in graph.rows if len(shape) >= 2))


def feature_maps(graph: walk.Graph, x: np.ndarray, params: Mapping[str, np.ndarray],
                 buffers: Mapping[str, np.ndarray], layer: str | None = None, sample: int = 0) -> FeatureMaps:
    """The output of ``layer`` (default: the first layer with kernels) for sample ``sample`` of
    the batch ``x``, in evaluation mode (running statistics, no dropout). A name shared by
    several rows (torchvision's one ReLU module per block) is the last of them, as a forward
    hook on that module would see it."""
    names = map_layers(graph)
    if layer is None:
        convs = kernel_layers(graph)
        layer = convs[0] if convs else (names[0] if names else None)
    rows = {name: (kind, shape) for name, kind, shape in graph.rows}
    if layer not in names:
        if layer in rows:
            raise InputError(f"--layer {layer} gives {'x'.join(map(str, rows[layer][1]))} per sample, not maps "
                             f"(C x spatial); layers with feature maps: {_listing(names)}")
        raise InputError(f"--layer {layer} is not a layer of this network; layers with feature maps: "
                         f"{_listing(names) or 'none'}")
    if not 0 <= sample < len(x):
        raise InputError(f"--sample {sample} is out of range: the input has {len(x)} sample(s), 0 to {len(x) - 1}")
    seen: dict[str, np.ndarray] = {}

    def keep(name: str, array: np.ndarray) -> None:
        if name == layer:
            seen[name] = array[0]  # the batch of the one sample

    with np.errstate(all="ignore"):
        walk.forward(graph, x[sample:sample + 1], params, buffers, training=False, keep=False, observe=keep)
    return FeatureMaps(layer, rows[layer][0], np.asarray(seen[layer]), sample)
