"""One parser for a single-layer request — the options of ``convcalc shape`` — shared by the
command line, the ``--jsonl`` batch mode, the animations and the homework questions (written as
``--jsonl`` lines): keys are the long option names (``_`` may stand for ``-``), values as typed
on the command line or as JSON numbers, booleans and lists."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from convcalc.errors import InputError
from convcalc.layers.registry import resolve_op
from convcalc.limits import check_digits, check_whole
from convcalc.notation import Notation, parse_ints, parse_padding, parse_shape, torch_spelling_note

DTYPE_BYTES = {"float32": 4, "fp32": 4, "float64": 8, "fp64": 8, "float16": 2, "fp16": 2, "half": 2,
               "bfloat16": 2, "bf16": 2, "int8": 1, "uint8": 1}

_ALIASES = {
    "input": "in", "kernel": "k", "kernel-size": "k", "padding": "pad", "out-channels": "out", "out-features": "out",
    "channels": "out", "bias-off": "no-bias", "rank": "dims", "ceil": "ceil-mode",
}
GENERAL_KEYS = ("in", "op", "dims", "batch", "explain", "dtype", "expect", "expect-params")
_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
_INT = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class ShapeRequest:
    """A parsed ``convcalc shape`` request: what to build and what to check."""

    op: str
    dims: int | None
    shape: tuple
    notation: Notation
    layer_options: dict[str, Any] = field(default_factory=dict)
    batch: int | None = None
    explain: bool = False
    dtype: str = "float32"
    expect: tuple | None = None
    expect_text: str | None = None
    expect_params: int | None = None
    notes: tuple[str, ...] = ()  # about the request itself (a padding word spelled as PyTorch would refuse)


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InputError(f"--{key} takes true or false; got {value!r}")


def _int(value: Any, key: str, minimum: int | None = None, allow_zero: bool = True) -> int:
    if isinstance(value, str):
        cleaned = value.strip().replace(",", "").replace("_", "")
        if _INT.match(cleaned):
            check_digits(cleaned, f"--{key}")
            value = int(cleaned)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"--{key} takes a whole number; got {value!r}")
    check_whole(value, f"--{key}")
    if minimum is not None and value < minimum:
        raise InputError(f"--{key} must be at least {minimum}; got {value}")
    if not allow_zero and value == 0:
        raise InputError(f"--{key} must not be 0")
    return value


def _output_size(value: Any) -> tuple:
    items = (value if isinstance(value, (list, tuple)) else [value] if isinstance(value, int)
             else re.split(r"\s*[x×,]\s*", str(value).strip().strip("()[]")))
    sizes = []
    for item in items:
        if item is None or (isinstance(item, str) and item.strip().lower() in ("none", "null", "-")):
            sizes.append(None)
        else:
            sizes.append(_int(item, "output-size", minimum=0))  # 0: an empty output, as in PyTorch
    if not sizes:
        raise InputError("--output-size is empty: write e.g. 6x6 (an axis may be none)")
    return tuple(sizes)


def _choice(value: Any, key: str, choices) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise InputError(f"--{key} '{value}' is not one of {', '.join(choices)}")
    return text


LAYER_PARSERS = {
    "out": lambda v: _int(v, "out", minimum=1),
    "k": lambda v: parse_ints(v, "--k (kernel size)"),
    "stride": lambda v: parse_ints(v, "--stride"),
    "dilation": lambda v: parse_ints(v, "--dilation"),
    "output-padding": lambda v: parse_ints(v, "--output-padding", minimum=0),
    "pad": lambda v: parse_padding(v),
    "groups": lambda v: _int(v, "groups", minimum=1),
    "multiplier": lambda v: _int(v, "multiplier", minimum=1),
    "factor": lambda v: _int(v, "factor", minimum=1),
    "depthwise": lambda v: _bool(v, "depthwise"),
    "ceil-mode": lambda v: _bool(v, "ceil-mode"),
    "no-bias": lambda v: _bool(v, "no-bias"),
    "count-include-pad": lambda v: _bool(v, "count-include-pad"),
    "divisor-override": lambda v: _int(v, "divisor-override", allow_zero=False),
    "padding-mode": lambda v: _choice(v, "padding-mode", ("zeros", "reflect", "replicate", "circular")),
    "output-size": _output_size,
    "start-dim": lambda v: _int(v, "start-dim"),
    "end-dim": lambda v: _int(v, "end-dim"),
}


@lru_cache(maxsize=1024, typed=True)  # a batch writes the same few keys on every line
def normalise_key(key: str) -> str:
    k = str(key).strip().lstrip("-").lower().replace("_", "-")
    return _ALIASES.get(k, k)


# A batch of requests repeats a few values per option (k 3, stride 2, "same") and per input shape:
# each distinct one is read once. Only strings and numbers are remembered, each with its type
# (typed: 1, 1.0 and true read differently); lists are read every time. Errors are not remembered.
_REMEMBERED = 4096


@lru_cache(maxsize=_REMEMBERED, typed=True)
def _layer_value(name: str, value: Any) -> Any:
    return LAYER_PARSERS[name](value)


@lru_cache(maxsize=_REMEMBERED, typed=True)
def _shape(value: Any, what: str) -> tuple[tuple, Notation]:
    return parse_shape(value, what)


_resolve_op = lru_cache(maxsize=256, typed=True)(resolve_op)
_SIMPLE = (str, int, float, bool)


def _read_layer_value(name: str, value: Any) -> Any:
    return _layer_value(name, value) if type(value) in _SIMPLE else LAYER_PARSERS[name](value)


def _read_shape(value: Any, what: str) -> tuple[tuple, Notation]:
    return _shape(value, what) if type(value) in _SIMPLE else parse_shape(value, what)


def parse_request(raw: dict[str, Any]) -> ShapeRequest:
    """Turn option names and raw values into a :class:`ShapeRequest`, refusing unknown keys."""
    options: dict[str, Any] = {}
    for key, value in raw.items():
        name = normalise_key(key)
        if name == "bias" and not isinstance(value, type(None)):
            options["no-bias"] = not _bool(value, "bias")
            continue
        if name not in LAYER_PARSERS and name not in GENERAL_KEYS:
            raise InputError(f"unknown option '{key}': valid ones are {', '.join(GENERAL_KEYS + tuple(LAYER_PARSERS))}")
        if value is None:
            continue
        options[name] = value
    if "in" not in options:
        raise InputError("an input shape is required: --in 3x32x32 (C x H x W)")
    op_text = str(options.get("op", "conv"))
    dims = _int(options["dims"], "dims", minimum=1) if "dims" in options else None
    spec, rank = _resolve_op(op_text, dims)
    shape, notation = _read_shape(options["in"], "--in")
    if spec.spatial and len(shape) == 1 and rank and rank > 1:
        shape = shape * rank  # one number means a square (cube) spatial size
    layer_options = {k: _read_layer_value(k, v) for k, v in options.items() if k in LAYER_PARSERS}
    if layer_options.get("no-bias") is False:
        del layer_options["no-bias"]
    for flag in ("depthwise", "ceil-mode"):
        if layer_options.get(flag) is False:
            del layer_options[flag]
    if layer_options.get("depthwise") and "groups" in layer_options:
        raise InputError(f"--depthwise sets groups to the input channel count itself: drop --groups "
                         f"{layer_options['groups']} (or --depthwise)")
    expect = expect_text = None
    if "expect" in options:
        expect_text = (str(options["expect"]) if not isinstance(options["expect"], list)
                       else "x".join(map(str, options["expect"])))
        expect, _ = _read_shape(options["expect"], "--expect")
    dtype = _choice(options.get("dtype", "float32"), "dtype", tuple(DTYPE_BYTES))
    spelling = [torch_spelling_note(options[key], str(layer_options[key]), f"--{key}")
                for key in ("pad", "padding-mode") if key in options and isinstance(layer_options.get(key), str)]
    return ShapeRequest(
        op=spec.name if rank is None else f"{spec.name}{rank}d",
        dims=rank,
        shape=shape,
        notation=notation,
        layer_options=layer_options,
        batch=_int(options["batch"], "batch", minimum=1) if "batch" in options else None,
        explain=_bool(options.get("explain", False), "explain"),
        dtype=dtype,
        expect=expect,
        expect_text=expect_text,
        expect_params=(_int(options["expect-params"], "expect-params", minimum=0) if "expect-params" in options
                       else None),
        notes=tuple(note for note in spelling if note),
    )
