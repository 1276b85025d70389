"""A Keras model config as a convcalc network, without TensorFlow or Keras: a Keras 3 ``.keras``
archive (its ``config.json`` only — the weights are never read) or the JSON text of
``model.to_json()`` (Keras 2 or 3; Sequential or functional).

Keras works channels-last (N, H, W, C); convcalc walks (C, H, W), so shapes are turned around
on the way in and the network's notes say so (``--in`` is given as C x H x W too). Padding
``"same"`` is TensorFlow's SAME: o = ceil(i/s), the odd padding element after (bottom/right);
``"valid"`` none. A Conv2DTranspose with ``"same"`` gives o = i·s: total padding k − s split
the same way (output padding s − k when the kernel is smaller than the stride).
Parameters are the weights Keras trains; ``--as keras`` adds the batch-norm moving statistics
(moving_mean, moving_variance), which Keras's ``model.summary()`` counts in "Total params".
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from typing import Any

from convcalc.errors import InputError
from convcalc.interop.graph import Op, descriptor_reader, structure
from convcalc.layers.crop import Crop
from convcalc.layers.tensor import Pad, Reshape
from convcalc.network import build
from convcalc.network.model import Leaf, Network


def _pair(value, n: int = 2) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,) * n


def _activation_leaves(config: dict) -> tuple:
    name = config.get("activation", "linear")
    if isinstance(name, dict):  # Keras 3 may serialise the function
        name = name.get("config", {}).get("name", name.get("class_name", "linear"))
    if name in (None, "linear"):
        return ()
    # Keras's activation names (relu, swish, hard_sigmoid …) are the activations' spec words
    from convcalc.layers.descriptor import lookup

    descriptor = lookup("spec", str(name))
    if descriptor is None or descriptor.classes != ("Activation",):
        raise InputError(f"Keras activation '{name}' is not known; known ones are {', '.join(activation_names())}")
    return (build.act(descriptor.name),)


def activation_names() -> list[str]:
    """The Keras activation names read: every spec word of an activation type, and linear."""
    from convcalc.layers.descriptor import descriptors

    words = {w for d in descriptors() if d.classes == ("Activation",) for w in d.words("spec")}
    return sorted(words | {"linear"})


def _padding(config: dict) -> str | int:
    padding = config.get("padding", "valid")
    return "tf-same" if padding == "same" else 0


def _conv2d(config):
    layer = build.conv(
        config["filters"],
        _pair(config["kernel_size"]),
        stride=_pair(config.get("strides", 1)),
        pad=_padding(config),
        dilation=_pair(config.get("dilation_rate", 1)),
        groups=config.get("groups", 1),
        bias=config.get("use_bias", True),
    )
    return (layer,) + _activation_leaves(config)


def _depthwise(config, bias_key="use_bias"):
    from convcalc.layers.conv import Conv

    if config.get("depth_multiplier", 1) != 1:
        raise InputError("DepthwiseConv2D with depth_multiplier > 1 is not mapped yet")
    layer = Leaf(
        Conv(
            rank=2,
            out_channels=None,
            kernel_size=_pair(config["kernel_size"]),
            stride=_pair(config.get("strides", 1)),
            padding=_padding(config),
            dilation=_pair(config.get("dilation_rate", 1)),
            depthwise=True,
            bias=config.get(bias_key, True) if bias_key else False,
        )
    )
    return layer


def _separable(config):
    depthwise = _depthwise(config, bias_key=None)
    pointwise = build.conv(config["filters"], 1, bias=config.get("use_bias", True))
    return (depthwise, pointwise) + _activation_leaves(config)


def _conv_transpose(config):
    k, s = _pair(config["kernel_size"]), _pair(config.get("strides", 1))
    pads, out_pad = [], []
    for kk, ss in zip(k, s):
        if config.get("padding", "valid") == "same":
            total = max(kk - ss, 0)
            pads.append((total // 2, total - total // 2))
            out_pad.append(max(ss - kk, 0))
        else:
            pads.append((0, 0))
            out_pad.append(0)
    layer = build.conv_t(
        config["filters"],
        k,
        stride=s,
        pad=tuple(pads),
        output_padding=tuple(out_pad),
        dilation=_pair(config.get("dilation_rate", 1)),
        bias=config.get("use_bias", True),
    )
    return (layer,) + _activation_leaves(config)


def _pool(kind: str):
    def mapper(config):
        size = _pair(config.get("pool_size", 2))
        stride = _pair(config.get("strides") or size)
        if kind == "max":
            return (build.maxpool(size, stride=stride, pad=_padding(config)),)
        # TensorFlow's average pooling divides by the real elements: padding not counted
        return (build.avgpool(size, stride=stride, pad=_padding(config), count_include_pad=False),)

    return mapper


def _global(kind: str):
    def mapper(config):
        layers = (build.global_avgpool(),) if kind == "avg" else (build.adaptive_maxpool((1, 1)),)
        return layers if config.get("keepdims", False) else layers + (build.flatten(),)

    return mapper


def _rank(config: dict) -> int:
    """The spatial rank a ``ZeroPadding{d}D`` or ``Cropping{d}D`` class name says (2 if unnamed)."""
    name = str(config.get("class_name", ""))
    return int(name[-2]) if name[-2:-1] in ("1", "2", "3") else 2


def _amounts(value: Any, rank: int, what: str) -> tuple[tuple[int, int], ...]:
    """Keras's padding/cropping amounts as (before, after) per spatial axis: an int for every
    side; one int per axis, both sides; or a (before, after) pair per axis. A 1-D layer's pair
    ``(1, 2)`` is its one axis's before and after."""
    def pair(entry: Any) -> tuple[int, int] | None:
        if isinstance(entry, int):
            return entry, entry
        if isinstance(entry, (list, tuple)) and len(entry) == 2 and all(isinstance(v, int) for v in entry):
            return entry[0], entry[1]
        return None

    if rank == 1 and isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        value = [value]  # Cropping1D((1, 2)): the one axis's before and after
    entries = [value] * rank if isinstance(value, int) else list(value) if isinstance(value, (list, tuple)) else []
    pairs = [pair(entry) for entry in entries]
    if len(pairs) != rank or any(p is None for p in pairs):
        raise InputError(f"Keras {what} {value!r} is not an amount for a {rank}-d layer: an int, {rank} ints "
                         f"or {rank} (before, after) pairs")
    return tuple(p for p in pairs if p is not None)


def _zero_padding(config):
    return (Leaf(Pad(((0, 0),) + _amounts(config.get("padding", 1), _rank(config), "padding"))),)


def _cropping(config):
    rank = _rank(config)
    return (Leaf(Crop(rank=rank, cropping=_amounts(config.get("cropping", 1), rank, "cropping"))),)


def _reshape(config):
    target = tuple(config["target_shape"])
    # Keras's target is channels-last; the walk's shapes are channels-first
    return (Leaf(Reshape(target[-1:] + target[:-1] if len(target) >= 2 else target)),)


def _batchnorm(config):
    return (build.bn(eps=float(config.get("epsilon", 1e-3))),)


def _upsampling(config):
    mode = "bilinear" if config.get("interpolation") == "bilinear" else "nearest"
    return (build.upsample(_pair(config.get("size", 2))[0], mode),)


def _dropout(config):
    rate = float(config.get("rate", 0.5))
    return (build.dropout(rate, "dropout2d") if config.get("class_name") == "SpatialDropout2D"
            else build.dropout(rate),)


def _conv_or_depthwise(config):
    if config.get("class_name") == "DepthwiseConv2D":
        return (_depthwise(config),) + _activation_leaves(config)
    return _conv2d(config)


def _relu(config):
    return (build.relu(),) if not config.get("max_value") else (build.act("relu6"),)


# Which layer type a Keras class is comes from the layer descriptors' ``keras`` words
# (:func:`convcalc.layers.descriptor.lookup`); what stays here is how each type reads its
# config, keyed by the descriptor's name. ``config["class_name"]`` tells a reader which of its
# descriptor's classes it reads (Conv2D or DepthwiseConv2D, Dropout or SpatialDropout2D).
READERS: dict[str, Callable[[dict], tuple]] = {
    "conv": _conv_or_depthwise,
    "depthwise_separable": _separable,
    "conv_transpose": _conv_transpose,
    "linear": lambda c: (build.linear(c["units"], bias=c.get("use_bias", True)),) + _activation_leaves(c),
    "maxpool": _pool("max"),
    "avgpool": _pool("avg"),
    "global_avgpool": _global("avg"),
    "global_maxpool": _global("max"),
    "batchnorm": _batchnorm,
    "relu": _relu,
    "softmax": lambda c: (build.act("softmax"),),
    "flatten": lambda c: (build.flatten(),),
    "reshape": _reshape,
    "pad_any": _zero_padding,
    "crop": _cropping,
    "dropout": _dropout,
    "upsample": _upsampling,
}
#: Keras layers that are not one layer type: the Activation wrapper (its config names the
#: function) and the merges, which join tensors.
WRAPPERS: dict[str, Callable[[dict], tuple]] = {"Activation": _activation_leaves}
MERGES = {"Add": "add", "Multiply": "mul", "Concatenate": "concat"}


def reader(class_name: str) -> Callable[[dict], tuple] | None:
    """How a Keras layer class is read: its descriptor's reader, the Activation wrapper, or None."""
    if class_name in WRAPPERS:
        return WRAPPERS[class_name]
    return descriptor_reader("keras", class_name, READERS)


def mapped_classes() -> list[str]:
    """Every Keras layer class read (layers, the Activation wrapper, merges)."""
    from convcalc.layers.descriptor import all_words

    return sorted({c for c in all_words("keras") if reader(c) is not None} | set(WRAPPERS) | set(MERGES))
MERGES = {"Add": "add", "Multiply": "mul", "Concatenate": "concat"}


# --- reading the config ---------------------------------------------------------------------------


def read_config(path: str) -> dict:
    if not os.path.isfile(path):
        raise InputError(f"Keras file '{path}' does not exist")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                text = archive.read("config.json").decode("utf-8")
        except KeyError:
            raise InputError(f"'{path}' is a zip archive without config.json: not a Keras 3 .keras file") from None
    else:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"'{path}' is not a Keras model config: invalid JSON at line {error.lineno}, "
            f"column {error.colno} ({error.msg})"
        ) from None
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise InputError(f"'{path}' is not a Keras model config (no top-level class_name and config)")
    return config


def _inbound(layer: dict) -> list[str]:
    """The names of the layers feeding ``layer`` (Keras 3 and Keras 2 forms of inbound_nodes)."""
    nodes = layer.get("inbound_nodes") or []
    if not nodes:
        return []
    node = nodes[0]
    names: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            history = (
                value.get("config", {}).get("keras_history") if value.get("class_name") == "__keras_tensor__" else None
            )
            if history:
                names.append(history[0])
                return
            for v in value.values():
                visit(v)
        elif isinstance(value, list):
            if len(value) >= 3 and isinstance(value[0], str) and isinstance(value[1], int):
                names.append(value[0])  # Keras 2: [layer_name, node_index, tensor_index, kwargs]
                return
            for v in value:
                visit(v)

    visit(node.get("args", node) if isinstance(node, dict) else node)
    return names


def _input_shape(layers: list[dict]) -> tuple | None:
    for layer in layers:
        config = layer.get("config", {})
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        if shape:
            return tuple(shape[1:])
    return None


def load(path: str, input_shape: tuple | None = None) -> Network:
    config = read_config(path)
    model = config["config"]
    layers = model.get("layers") or []
    if not layers:
        raise InputError(f"'{path}': the model config has no layers")
    sequential = config["class_name"] == "Sequential"
    keras_shape = _input_shape(layers)
    if input_shape is not None:
        shape = tuple(int(d) for d in input_shape)
    else:
        if keras_shape is None or any(d is None for d in keras_shape):
            raise InputError(
                f"the Keras model in '{path}' has no fixed input shape "
                f"({keras_shape}); give --in C x H x W (e.g. --in 3x224x224)"
            )
        shape = tuple(keras_shape[-1:]) + tuple(keras_shape[:-1])  # (H, W, C) → (C, H, W)
    ops: list[Op] = []
    source = "__input__"
    previous = source
    alias: dict[str, str] = {}
    notes = ["shapes are shown channels-last (H x W x C), as Keras shows them; --in and --json take "
             "them channels-first (C x H x W)"]
    for layer in layers:
        cls, name, conf = layer["class_name"], layer.get("name") or layer["config"].get("name"), layer.get("config", {})
        if cls == "InputLayer":
            alias[name] = source
            previous = source
            continue
        inputs = [alias.get(i, i) for i in ([previous] if sequential else _inbound(layer))]
        if not inputs:
            raise InputError(f"Keras layer '{name}' ({cls}) has no inbound nodes")
        if cls in MERGES:
            merge = MERGES[cls]
            if merge == "concat" and conf.get("axis", -1) not in (-1, 3):
                raise InputError(f"Keras layer '{name}': Concatenate along axis {conf.get('axis')} is not the channels")
            ops.append(Op(tuple(inputs), name, merge=merge))
        else:
            mapper = reader(cls)
            if mapper is None:
                raise InputError(
                    f"Keras layer '{name}' is a {cls}, which is not mapped yet; mapped ones: "
                    f"{', '.join(mapped_classes())}"
                )
            leaves = mapper(dict(conf, class_name=cls)) or (build.identity(),)
            named = tuple((name if i == 0 else f"{name}_{leaf.layer.name}", leaf) for i, leaf in enumerate(leaves))
            ops.append(Op((inputs[0],), name, named))
        previous = name
    sink = previous if sequential else _output(model, previous)
    body = structure(ops, source, sink, what=f"the Keras model '{model.get('name', path)}'")
    return Network(
        model.get("name") or os.path.splitext(os.path.basename(path))[0],
        shape,
        body,
        source=f"Keras {config['class_name']} config {os.path.basename(path)}",
        notes=tuple(notes),
    )


def _output(model: dict, last: str) -> str:
    outputs = model.get("output_layers")
    if outputs:
        first = outputs[0]
        while isinstance(first, list) and first and isinstance(first[0], list):
            first = first[0]
        if isinstance(first, list) and first and isinstance(first[0], str):
            return first[0]
    return last


def moving_statistics(report) -> int:
    """Keras's non-trainable batch-norm weights: moving_mean and moving_variance, C each."""
    return sum(2 * row.input[0] for row in report.leaves() if row.type.startswith("batchnorm") or row.type == "bn")
