"""Checking the parameter tensors handed to a layer's forward against its ``parameter_shapes``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from convcalc.errors import InputError
from convcalc.notation import format_shape


def require(layer: str, params: Mapping[str, Any] | None, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The arrays named in ``shapes``, each checked for presence and shape.

    Raises InputError naming the layer, the parameter and both shapes.
    """
    params = params or {}
    found = {}
    for name, shape in shapes.items():
        if name not in params or params[name] is None:
            raise InputError(f"{layer}: parameter '{name}' is missing; it should have shape {_text(shape)}")
        value = params[name]
        if not isinstance(value, np.ndarray):
            value = np.asarray(value)
            if value.dtype.kind in "iu":  # whole numbers stay exact Python ints
                value = value.astype(object)
        if tuple(value.shape) != tuple(shape):
            raise InputError(
                f"{layer}: '{name}' has shape {_text(value.shape)} but this input needs {_text(shape)}"
            )
        found[name] = value
    return found


def _text(shape: tuple[int, ...]) -> str:
    return format_shape(tuple(shape)) if shape else "() (a single number)"
