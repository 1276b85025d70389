"""The input of ``convcalc run``: an array from ``.npy``, ``.npz`` (array ``x``, labels ``y``
optional) or JSON (nested lists, or ``{"x": ..., "y": ...}``), or a seeded random batch.

A file holds one sample (C, *spatial) or a batch (N, C, *spatial); for a one-channel network
(N, H, W) is read as N images. Random inputs are standard normal, drawn from the seed.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass

import numpy as np

from convcalc.errors import InputError


@dataclass(frozen=True)
class InputArrays:
    x: np.ndarray               # as read: a sample or a batch
    y: np.ndarray | None
    source: str


def _numeric(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype == object or array.dtype == np.bool_ or not (
            np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise InputError(f"{what} has dtype {array.dtype}; it must hold real numbers")
    if array.size == 0:
        raise InputError(f"{what} is empty")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise InputError(f"{what} contains NaN or infinite values")
    return array


def _labels(y, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype == object or not np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        raise InputError(f"{what} labels have dtype {y.dtype}; they must be integer class indices")
    return y.reshape(-1).astype(np.int64)


def read(path: str) -> InputArrays:
    """An input file → its array (and labels, if the file has them)."""
    from convcalc.files import check_readable, read_text
    from convcalc.jsontext import check_nesting

    check_readable(path, "--input")
    lower = path.lower()
    try:
        if lower.endswith(".npy"):
            return InputArrays(_numeric(np.load(path, allow_pickle=False), f"--input {path}"), None, path)
        if lower.endswith(".npz"):
            with np.load(path, allow_pickle=False) as archive:
                arrays = {k: archive[k] for k in archive.files}
            if "x" not in arrays:
                raise InputError(f"--input {path} has no array 'x' (it has {', '.join(arrays) or 'none'})")
            y = _labels(arrays["y"], f"--input {path}") if "y" in arrays else None
            return InputArrays(_numeric(arrays["x"], f"--input {path}: x"), y, path)
        if lower.endswith(".json"):
            text = read_text(path, "--input")
            check_nesting(text, f"--input {path}")
            data = json.loads(text)
            y = None
            if isinstance(data, dict):
                if "x" not in data:
                    raise InputError(f"--input {path}: a JSON object needs a key 'x' (and optionally 'y')")
                y = _labels(data["y"], f"--input {path}") if "y" in data else None
                data = data["x"]
            try:
                array = np.array(data, dtype=np.float64)
            except (ValueError, TypeError):
                raise InputError(f"--input {path}: 'x' must be nested lists of numbers "
                                 "of one rectangular shape") from None
            return InputArrays(_numeric(array, f"--input {path}"), y, path)
    except InputError:
        raise
    except json.JSONDecodeError as error:
        raise InputError(f"--input {path}: not valid JSON "
                         f"(line {error.lineno}, column {error.colno}: {error.msg})") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise InputError(f"--input {path} could not be read ({error})") from None
    raise InputError(f"--input {path}: use a .npy, .npz or .json file")


def sample_shape(arrays: InputArrays, rank: int) -> tuple[int, ...]:
    """The shape of one sample (C, *spatial) for a network whose input has ``rank`` axes."""
    shape = tuple(arrays.x.shape)
    if len(shape) == rank:
        return shape
    if len(shape) == rank + 1:
        return shape[1:]
    raise InputError(f"--input {arrays.source} has shape {'x'.join(map(str, shape))}; the network takes "
                     f"{rank} axes per sample (C x spatial), or {rank + 1} with the batch first")


def as_batch(arrays: InputArrays, input_shape: tuple[int, ...], batch: int | None, dtype) -> np.ndarray:
    """The file's array as a batch (N, *input_shape) of ``dtype``, checked against the network."""
    x = arrays.x
    shape = tuple(input_shape)
    if x.ndim == len(shape) and shape[0] == 1 and tuple(x.shape[1:]) == shape[1:] and tuple(x.shape) != shape:
        x = x[:, None]  # N one-channel images written without the channel axis
    if tuple(x.shape) == shape:
        x = x[None]
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        raise InputError(f"--input {arrays.source} has shape {'x'.join(map(str, arrays.x.shape))}; the network takes "
                         f"{'x'.join(map(str, shape))} (one sample) or N x {'x'.join(map(str, shape))}")
    if batch is not None and batch != x.shape[0]:
        raise InputError(f"--batch {batch} disagrees with the {x.shape[0]} sample(s) in --input {arrays.source}")
    return np.ascontiguousarray(x, dtype=dtype)


def random_batch(input_shape: tuple[int, ...], batch: int, rng: np.random.Generator, dtype) -> np.ndarray:
    """A standard-normal batch (N, *input_shape), drawn in float64 and cast (same seed, same values)."""
    return rng.standard_normal((batch,) + tuple(input_shape)).astype(dtype)
