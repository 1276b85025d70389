"""Users' own models as convcalc networks: an ONNX file (:mod:`.onnx_model`), a PyTorch module
in the user's file or package (:mod:`.torch_model`; this imports and runs the user's code), a
Keras model config (:mod:`.keras_model`). Each front end maps its operators in one table keyed
by the source's own op or class name and produces the network model the zoo uses, through
the one graph-to-tree reduction in :mod:`.graph`.

:func:`detect` tells which front end reads a NETWORK argument, without importing any of them.
"""

from __future__ import annotations

import os
import re

# "my_net.py:Net", "pkg.mod:factory(width=2)", "dir/my_net.py:make()": a Python object to import.
_PYTHON_TARGET = re.compile(r"^\s*(?P<module>[^\s:|]+):(?P<attr>[A-Za-z_]\w*)\s*(?P<call>\(.*\))?\s*$", re.S)


def detect(text: str) -> str | None:
    """``"onnx"``, ``"keras"``, ``"torch"`` or None (a zoo name, a spec file, a chain)."""
    stripped = text.strip()
    lower = stripped.lower()
    if lower.endswith(".onnx"):
        return "onnx"
    if lower.endswith((".keras", ".h5.json")):
        return "keras"
    if lower.endswith(".json") and os.path.isfile(stripped) and _looks_like_keras(stripped):
        return "keras"
    match = _PYTHON_TARGET.match(stripped)
    if (
        match
        and "|" not in stripped
        and (match["module"].endswith(".py") or re.fullmatch(r"[A-Za-z_][\w.]*", match["module"]))
    ):
        return "torch"
    return None


def _looks_like_keras(path: str) -> bool:
    """A JSON file whose top level is a Keras model config (``class_name`` + ``config``)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    text = head.decode("utf-8", "replace").lstrip()
    return text.startswith("{") and '"class_name"' in text and '"config"' in text and '"layers"' not in text[:40]


def load(kind: str, text: str, input_shape: tuple | None):
    """The Network for ``text`` through the front end ``kind`` (see :func:`detect`)."""
    if kind == "onnx":
        from convcalc.interop import onnx_model

        return onnx_model.load(text.strip(), input_shape)
    if kind == "keras":
        from convcalc.interop import keras_model

        return keras_model.load(text.strip(), input_shape)
    from convcalc.interop import torch_model

    return torch_model.load(text.strip(), input_shape)
