"""Saving and loading a network's parameters and buffers as ``.npz`` (``state_dict`` names as keys).

Saving is atomic: the arrays go to a temporary file in the same directory, which then replaces
the target in one ``os.replace`` — a failure leaves no half-written file. Loading checks every
name and shape against the network before anything is used (no pickle: ``allow_pickle=False``).
A small JSON record under the key ``__convcalc__`` says which network and input size wrote it.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Mapping

import numpy as np

from convcalc.errors import InputError
from convcalc.executor.graph import Graph

META_KEY = "__convcalc__"


def save(path: str, params: Mapping[str, np.ndarray], buffers: Mapping[str, np.ndarray], meta: dict) -> None:
    """Write ``params`` and ``buffers`` to ``path`` atomically."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(f"--save {path}: the directory {directory} does not exist")
    arrays = {**params, **buffers, META_KEY: np.array(json.dumps(meta))}
    handle, temporary = tempfile.mkstemp(prefix=".convcalc-", suffix=".npz.tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def read_meta(arrays: Mapping[str, np.ndarray]) -> dict:
    raw = arrays.get(META_KEY)
    if raw is None:
        return {}
    try:
        return json.loads(str(raw))
    except ValueError:
        return {}


def load(path: str, graph: Graph, dtype) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """Parameters, buffers and the metadata record from ``path``, checked against ``graph``."""
    if not os.path.isfile(path):
        raise InputError(f"--load {path}: no such file")
    with open(path, "rb") as handle:
        if handle.read(4) != b"PK\x03\x04":  # np.load would read anything else as a pickle (and refuse it)
            raise InputError(f"--load {path} is not a .npz weights file; write one with --save")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        raise InputError(f"--load {path} is not a readable weights file ({error}); write one with --save") from None
    meta = read_meta(arrays)
    arrays.pop(META_KEY, None)
    wanted = list(graph.parameters) + list(graph.buffers)
    names = {spec.name for spec in wanted}
    missing = [spec.name for spec in wanted if spec.name not in arrays]
    unexpected = [key for key in arrays if key not in names]
    written_by = f" (written for {meta['network']})" if meta.get("network") else ""
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing ({', '.join(missing[:3])}{', …' if len(missing) > 3 else ''})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected ({', '.join(unexpected[:3])}{', …' if len(unexpected) > 3 else ''})")
        raise InputError(f"--load {path}{written_by} does not match {graph.network.name}: " + "; ".join(parts))
    for spec in wanted:
        value = arrays[spec.name]
        if tuple(value.shape) != tuple(spec.shape):
            raise InputError(f"--load {path}{written_by}: {spec.name} has shape {'x'.join(map(str, value.shape)) or 'scalar'}; "
                             f"{graph.network.name} at input {'x'.join(map(str, graph.input))} needs "
                             f"{'x'.join(map(str, spec.shape)) or 'scalar'}")
        if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
            raise InputError(f"--load {path}: {spec.name} has dtype {value.dtype}; expected numbers")
        if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            raise InputError(f"--load {path}: {spec.name} contains NaN or infinite values")
    params = {spec.name: arrays[spec.name].astype(dtype) for spec in graph.parameters}
    buffers = {spec.name: (arrays[spec.name].astype(np.int64) if spec.local == "num_batches_tracked"
                           else arrays[spec.name].astype(dtype)) for spec in graph.buffers}
    return params, buffers, meta
