"""Saving and loading a network's parameters and buffers as ``.npz`` (``state_dict`` names as keys).

Saving is atomic and safe (:mod:`convcalc.files`): the arrays go to a temporary file in the
target's directory, which then replaces the target in one ``os.replace`` — a failure leaves no
half-written file, and a device, FIFO or directory is never replaced. Loading checks every
name and shape against the network before anything is used (no pickle: ``allow_pickle=False``).
A small JSON record under the key ``__convcalc__`` says which network and input size wrote it.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping

import numpy as np

from convcalc.errors import InputError
from convcalc.executor.graph import Graph
from convcalc.files import read_magic, write_atomically

META_KEY = "__convcalc__"


def save(path: str, params: Mapping[str, np.ndarray], buffers: Mapping[str, np.ndarray], meta: dict) -> str:
    """Write ``params`` and ``buffers`` to ``path`` atomically (``convcalc.files`` rules: a
    device, FIFO or directory is refused, a symbolic link's target is written); returns the
    real path written."""
    arrays = {**params, **buffers, META_KEY: np.array(json.dumps(meta))}
    return write_atomically(path, lambda stream: np.savez(stream, **arrays), "--save")


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
    magic = read_magic(path, "--load")
    if magic != b"PK\x03\x04":  # np.load would read anything else as a pickle (and refuse it)
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
            more = ', …' if len(unexpected) > 3 else ''
            parts.append(f"{len(unexpected)} unexpected ({', '.join(unexpected[:3])}{more})")
        raise InputError(f"--load {path}{written_by} does not match {graph.network.name}: " + "; ".join(parts))
    for spec in wanted:
        value = arrays[spec.name]
        if tuple(value.shape) != tuple(spec.shape):
            raise InputError(f"--load {path}{written_by}: {spec.name} has shape "
                             f"{'x'.join(map(str, value.shape)) or 'scalar'}; "
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
