"""The operands of the numeric calculator: matrices typed on the command line or read from
files, and the tensor layouts they stand for.

Sources (:func:`read_tensor`): matrix text (``"1 3 2; 4 8 3"``, channels split by ``|``),
``-`` for standard input, or a file — ``.json`` (nested lists), ``.csv`` (rows of numbers;
a blank line starts the next channel), ``.npy`` (read with ``allow_pickle=False``),
``.txt`` (matrix text). Whole numbers and ``p/q`` stay exact; any decimal makes the tensor
float64 (:mod:`convcalc.compute.numbers`).

Layouts (PyTorch's): an image is ``(C, H, W)`` — a plain matrix is one channel, a vector
one row; a convolution kernel is ``(C_out, C_in, kh, kw)``, ``(C_in, kh, kw)`` meaning one
output channel, or a plain matrix (one kernel of one channel). A transposed-convolution
kernel is ``(C_in, C_out, kh, kw)`` (PyTorch's ConvTranspose layout).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convcalc.compute.numbers import parse_matrix_text, to_array
from convcalc.compute.params import conv_weight
from convcalc.errors import InputError
from convcalc.files import check_readable, is_file, read_text
from convcalc.jsontext import load_json

FILE_SUFFIXES = (".json", ".csv", ".npy", ".txt")
_MATRIX_TEXT = re.compile(r"^[\s\d+\-−.,;|/eE]+$")


@dataclass(frozen=True)
class Operand:
    """A tensor as given, and where it came from (for messages and the JSON report)."""

    values: np.ndarray
    source: str  # "text", "stdin" or the file name


def read_tensor(text: str, what: str) -> Operand:
    """Read ``text`` as a file name (when it names a file or looks like one), ``-`` (stdin),
    or matrix text."""
    stripped = text.strip()
    if not stripped:
        raise InputError(f"{what} is empty: write a matrix such as \"1 3 2; 4 8 3\" or give a .json/.csv/.npy file")
    if stripped == "-":
        return Operand(_read_stdin(what), "stdin")
    if _looks_like_path(stripped):
        path = _expand(stripped)
        if os.path.isdir(path):
            raise InputError(f"{what}: '{stripped}' is a directory, not a file (give a .json, .csv, .npy or .txt file, "
                             "or a matrix such as \"1 2; 3 4\")")
        if not is_file(str(path)):
            raise InputError(f"{what}: no such file '{stripped}' "
                             '(give a .json, .csv, .npy or .txt file, or a matrix such as "1 2; 3 4")')
        return Operand(read_file(path, what), str(path))
    return Operand(parse_matrix_text(stripped, what), "text")


def _expand(text: str) -> Path:
    """``~`` and ``~user`` expanded where the user exists (``~0`` with no user 0 stays as written)."""
    try:
        return Path(text).expanduser()
    except RuntimeError:  # no home directory for that user
        return Path(text)


def _looks_like_path(text: str) -> bool:
    """A file name: it exists, or it ends in a known suffix, or it has a path separator and
    cannot be matrix text (matrix text has only numbers, p/q fractions and ; , | separators)."""
    if is_file(str(_expand(text))) or os.path.isdir(_expand(text)) or text.lower().endswith(FILE_SUFFIXES):
        return True
    return ("/" in text or "\\" in text) and not _MATRIX_TEXT.match(text)


def read_file(path: Path, what: str) -> np.ndarray:
    """A tensor from a .json, .csv, .npy or .txt file (by suffix; JSON when the text starts with '[')."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _read_npy(path, what)
    content = read_text(str(path), what)
    if suffix == ".json" or (suffix not in (".csv", ".txt") and content.lstrip().startswith("[")):
        return parse_json_tensor(content, f"{what} ({path.name})")
    if suffix == ".csv":
        return parse_csv_tensor(content, f"{what} ({path.name})")
    return parse_matrix_text(content, f"{what} ({path.name})")


def _read_stdin(what: str) -> np.ndarray:
    content = sys.stdin.read()
    if content.lstrip().startswith("["):
        return parse_json_tensor(content, f"{what} (stdin)")
    if "," in content and "|" not in content and ";" not in content:
        return parse_csv_tensor(content, f"{what} (stdin)")
    return parse_matrix_text(content, f"{what} (stdin)")


def parse_json_tensor(content: str, what: str) -> np.ndarray:
    """Nested JSON lists of numbers (or "p/q" strings)."""
    data = load_json(content, what)
    if not isinstance(data, list):
        raise InputError(f"{what}: expected nested lists of numbers such as [[1, 2], [3, 4]]; "
                         f"got a JSON {type(data).__name__}")
    return to_array(data, what)


def parse_csv_tensor(content: str, what: str) -> np.ndarray:
    """Rows of comma-separated numbers; a blank line starts the next channel; '#' starts a comment."""
    channels: list[list[list[str]]] = [[]]
    for line in content.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            if channels[-1]:
                channels.append([])
            continue
        channels[-1].append([cell.strip() for cell in line.split(",")])
    channels = [c for c in channels if c]
    if not channels:
        raise InputError(f"{what}: the CSV file has no numbers")
    for channel in channels:
        for row in channel:
            if any(cell == "" for cell in row):
                raise InputError(f"{what}: the CSV row '{','.join(row)}' has an empty cell")
    return to_array(channels if len(channels) > 1 else channels[0], what)


def _read_npy(path: Path, what: str) -> np.ndarray:
    check_readable(str(path), what)
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise InputError(f"{what}: '{path}' is not a plain numeric .npy array ({error}); "
                         "object arrays are refused") from None
    except OSError as error:
        raise InputError(f"{what}: cannot read '{path}': {error}") from None
    if array.dtype.kind not in "iuf":
        raise InputError(f"{what}: '{path}' holds {array.dtype} values; "
                         "only integer and floating-point arrays are numbers")
    if array.ndim == 0 or array.size == 0:
        raise InputError(f"{what}: '{path}' holds no matrix (shape {array.shape})")
    return to_array(array, f"{what} ({path.name})")


def same_number_kind(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """If any operand is float64, all become float64 (a decimal anywhere gives floats);
    otherwise every operand stays an exact object array."""
    if any(a.dtype != object for a in arrays):
        return tuple(a.astype(np.float64) if a.dtype == object else a for a in arrays)
    return arrays


def with_bias(
    x: np.ndarray, weight: np.ndarray, bias: str | None, out_channels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read ``--bias`` (:func:`read_bias`) and bring input, weight and bias to one number kind
    (:func:`same_number_kind`); the bias is None when none was given."""
    b = read_bias(bias, out_channels)
    x, weight, *rest = same_number_kind(x, weight, *([b] if b is not None else []))
    return x, weight, (rest[0] if rest else None)


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def as_image(values: np.ndarray, what: str = "INPUT") -> np.ndarray:
    """The input as a batch of one ``(1, C, H, W)``: a vector is one row, a matrix one channel."""
    if values.ndim == 1:
        return values.reshape(1, 1, 1, -1)
    if values.ndim == 2:
        return values.reshape(1, 1, *values.shape)
    if values.ndim == 3:
        return values.reshape(1, *values.shape)
    if values.ndim == 4 and values.shape[0] == 1:
        return values
    raise InputError(
        f"{what} has shape {_dims(values.shape)}: give a matrix (HxW), channels (CxHxW, e.g. \"1 2; 3 4 | 5 6; 7 8\") "
        "or one image 1xCxHxW"
    )


@dataclass(frozen=True)
class Kernel:
    """A kernel in the layer's PyTorch layout, and how it was read (a note when a layout was inferred)."""

    weight: np.ndarray
    note: str | None = None


def as_conv_kernel(values: np.ndarray, in_channels: int, what: str = "KERNEL") -> Kernel:
    """The kernel as a Conv weight ``(C_out, C_in, kh, kw)`` for an input with ``in_channels``,
    read by :func:`convcalc.compute.params.conv_weight` (the rule backprop specs follow too)."""
    weight, note = conv_weight(values, in_channels)
    if weight is None and values.ndim == 3:
        raise InputError(
            f"{what} has {values.shape[0]} channels but the input has {in_channels}: give one kernel matrix per input "
            f"channel ({in_channels}x{values.shape[1]}x{values.shape[2]}), "
            f"or C_outx{in_channels}xkhxkw in a JSON/.npy file"
        )
    if weight is None:
        raise InputError(f"{what} has shape {_dims(values.shape)}: "
                         "give a matrix (khxkw), C_inxkhxkw or C_outxC_inxkhxkw")
    if note is not None:
        return Kernel(weight, note)
    if weight.shape[1] != in_channels:
        raise InputError(
            f"{what} has {weight.shape[1]} input channel{'s' if weight.shape[1] != 1 else ''} (weight "
            f"{_dims(weight.shape)}) but the input has {in_channels}: give one kernel matrix per input channel, "
            f"separated by | (e.g. {in_channels}x{weight.shape[2]}x{weight.shape[3]})"
        )
    return Kernel(weight)


def as_transposed_kernel(values: np.ndarray, in_channels: int, what: str = "KERNEL") -> Kernel:
    """The kernel as a ConvTranspose weight ``(C_in, C_out, kh, kw)`` (PyTorch's layout), read by
    :func:`convcalc.compute.params.conv_weight`."""
    weight, note = conv_weight(values, in_channels, transposed=True)
    if weight is None and values.ndim == 3:
        raise InputError(
            f"{what} has {values.shape[0]} channels but the input has {in_channels}: give one kernel matrix per input "
            f"channel, or C_inxC_outxkhxkw (PyTorch's ConvTranspose layout) in a JSON/.npy file"
        )
    if weight is None:
        raise InputError(f"{what} has shape {_dims(values.shape)}: "
                         "give a matrix (khxkw), C_inxkhxkw or C_inxC_outxkhxkw")
    if note is not None:
        return Kernel(weight, note)
    if weight.shape[0] != in_channels:
        raise InputError(
            f"{what} has {weight.shape[0]} input channel{'s' if weight.shape[0] != 1 else ''} (ConvTranspose weight "
            f"C_inxC_outxkhxkw = {_dims(weight.shape)}) but the input has {in_channels}"
        )
    return Kernel(weight)


def read_bias(text: str | None, out_channels: int) -> np.ndarray | None:
    """``--bias 1`` (every output channel) or ``--bias "1 -2"`` (one per output channel)."""
    if text is None:
        return None
    from convcalc.compute.numbers import parse_number

    items = [t for t in text.replace(",", " ").replace(";", " ").split() if t]
    if not items:
        raise InputError("--bias is empty: give a number, or one number per output channel")
    values = [parse_number(t, "--bias") for t in items]
    if len(values) == 1:
        values = values * out_channels
    if len(values) != out_channels:
        if out_channels == 1:
            raise InputError(f"--bias has {len(values)} values but there is one output channel: give one number")
        raise InputError(f"--bias has {len(values)} values but there are {out_channels} output channels: "
                         f"give 1 or {out_channels}")
    return to_array(values, "--bias")
