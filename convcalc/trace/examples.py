"""Ready-made specs (``convcalc backprop --example NAME``), kept as Python data so they work
after a plain ``pip install``. Each is a course exercise or one of the course's worked
examples (the rules they exercise: docs/arithmetic.md §7), with clean integer values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from convcalc.errors import InputError


@dataclass(frozen=True)
class Example:
    name: str
    summary: str
    spec: dict


_COURSE_INPUT = [
    [1, 3, 0, 3, 1, 2],
    [2, 3, 1, 3, 3, 0],
    [0, 0, 2, 1, 0, 0],
    [3, 2, 0, 1, 2, 1],
    [3, 1, 2, 0, 3, 2],
    [2, 2, 0, 2, 1, 0],
]

EXAMPLES: dict[str, Example] = {
    e.name: e
    for e in (
        Example(
            "course",
            "the course exercise: conv → ReLU → 2x2 max-pool → flatten → linear, ideal output IO = [7, 10], "
            "loss ½‖IO − O‖², one update with lr 0.1 (a ReLU zero and a pool tie included)",
            {
                "title": "course exercise: conv → ReLU → max-pool → linear, IO = [7, 10]",
                "input": _COURSE_INPUT,
                "layers": [
                    {"type": "conv2d", "weight": [[1, 0, -1], [0, 1, 0], [-1, 0, 1]]},
                    {"type": "relu"},
                    {"type": "maxpool2d", "kernel_size": 2, "stride": 2},
                    {"type": "flatten"},
                    {"type": "linear", "weight": [[1, 0, -1, 1], [0, 1, 1, 0]]},
                ],
                "loss": {"type": "mse_half_sum", "target": [7, 10]},
                "lr": "1/10",
            },
        ),
        Example(
            "course-5x5",
            "a smaller conv → ReLU → max-pool → linear network (5x5 input, 3x3 kernel, 2x2 pool, stride 1): "
            "good with --symbolic",
            {
                "title": "5x5 input, 3x3 kernel, 2x2 max-pool, linear",
                "input": [[1, 2, 0, 1, 3], [0, 1, 2, 3, 1], [2, 0, 1, 1, 0], [1, 3, 0, 2, 2], [0, 1, 1, 0, 1]],
                "layers": [
                    {"type": "conv2d", "weight": [[1, 0, -1], [1, 1, 0], [0, -1, 1]]},
                    {"type": "relu"},
                    {"type": "maxpool2d", "kernel_size": 2, "stride": 1},
                    {"type": "flatten"},
                    {"type": "linear", "weight": [[1, -1, 0, 2], [0, 1, 1, -1]]},
                ],
                "loss": {"type": "mse_half_sum", "target": [2, 1]},
            },
        ),
        Example(
            "shared-weights",
            "Y = ReLU(X·W)·W with the loss ½‖Y − X‖²: W is used twice, so δW = Z2ᵀ·δY + Xᵀ·δZ1",
            {
                "title": "shared weights: Y = ReLU(X·W)·W, loss ½‖Y − X‖²",
                "inputs": {"X": [[1, 2], [-1, 1]]},
                "params": {"W": [[1, -1], [1, 2]]},
                "nodes": [
                    {"name": "Z1", "op": "matmul", "inputs": ["X", "W"]},
                    {"name": "Z2", "op": "relu", "inputs": ["Z1"]},
                    {"name": "Y", "op": "matmul", "inputs": ["Z2", "W"]},
                    {"name": "L", "op": "half_sum_squares", "inputs": ["Y", "X"]},
                ],
            },
        ),
        Example(
            "mlp",
            "the two-layer MLP of the NumPy/PyTorch comparison: h = x·w1, h_relu = max(h, 0), y_pred = h_relu·w2, "
            "loss Σ(y_pred − y)²",
            {
                "title": "two-layer MLP: y_pred = max(x·w1, 0)·w2, loss Σ(y_pred − y)²",
                "inputs": {"x": [[1, 0, 2], [0, 1, -1]]},
                "params": {"w1": [[1, -1, 0], [2, 0, 1], [0, 1, -1]], "w2": [[1, 0], [0, 1], [-1, 1]]},
                "nodes": [
                    {"name": "h", "op": "matmul", "inputs": ["x", "w1"]},
                    {"name": "h_relu", "op": "relu", "inputs": ["h"]},
                    {"name": "y_pred", "op": "matmul", "inputs": ["h_relu", "w2"]},
                ],
                "loss": {"type": "sse", "target": [[1, 2], [0, 1]]},
            },
        ),
        Example(
            "given-delta",
            "one conv layer with δJ given (loss upstream): find δK = I * δJ and δI = pad(δJ) * flip(K) "
            "(the worked example's I and K = [[-1, 0, 1]]x3)",
            {
                "title": "given δJ: δK = I * δJ and δI = pad(δJ) * flip(K)",
                "input": [[1, 3, 2, 4, 6, 4], [4, 8, 3, 1, 0, 2], [2, 1, 4, 3, 9, 1], [4, 7, 2, 3, 9, 2]],
                "layers": [{"type": "conv2d", "weight": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]}],
                "loss": {"type": "upstream", "grad": [[1, 0, -1, 2], [0, 1, 1, -1]]},
            },
        ),
        Example(
            "strided",
            "a multi-channel strided conv: 2 input channels, 2 filters, stride 2, padding 1, bias; loss ½‖J − T‖²",
            {
                "title": "multi-channel conv, stride 2, padding 1",
                "input": [
                    [[1, 0, 2, 1, 0], [0, 1, 1, 0, 2], [2, 1, 0, 1, 1], [1, 0, 1, 2, 0], [0, 2, 1, 0, 1]],
                    [[0, 1, 0, 1, 1], [1, 0, 2, 0, 1], [0, 1, 1, 1, 0], [2, 0, 0, 1, 1], [1, 1, 0, 2, 0]],
                ],
                "layers": [
                    {
                        "type": "conv2d",
                        "in_channels": 2,
                        "out_channels": 2,
                        "kernel_size": 3,
                        "stride": 2,
                        "padding": 1,
                        "weight": [
                            [[[1, 0, -1], [0, 1, 0], [-1, 0, 1]], [[0, 1, 0], [1, -1, 1], [0, 1, 0]]],
                            [[[1, 1, 1], [0, 0, 0], [-1, -1, -1]], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]],
                        ],
                        "bias": [1, -1],
                    },
                ],
                "loss": {
                    "type": "mse_half_sum",
                    "target": [[[1, 2, 0], [0, 1, 1], [2, 0, 1]], [[0, 1, 1], [1, 0, 2], [1, 1, 0]]],
                },
            },
        ),
        Example(
            "batchnorm",
            'batch norm in training mode on a batch of 2 one-channel images; variance "biased" (PyTorch) — '
            'edit it to "unbiased" for the lecture\'s (M − 1) version',
            {
                "title": "batch norm (training mode)",
                "input": [[[[1, 2], [3, 4]]], [[[0, 2], [2, 4]]]],
                "layers": [
                    {"type": "batchnorm2d", "num_features": 1, "weight": [2], "bias": [1], "variance": "biased"},
                ],
                "loss": {"type": "mse_half_sum", "target": [[[[0, 2], [1, 3]]], [[[2, 0], [1, 1]]]]},
            },
        ),
        Example(
            "classifier",
            "flatten → linear → softmax + cross-entropy on a 2x2 image with class 1: δz = p − onehot",
            {
                "title": "softmax + cross-entropy: δz = p − onehot",
                "input": [[1, 0], [2, -1]],
                "layers": [
                    {"type": "flatten"},
                    {"type": "linear", "weight": [[1, 0, 1, 0], [0, 1, 0, -1], [1, 1, 0, 0]], "bias": [0, 1, 0]},
                ],
                "loss": {"type": "cross_entropy", "target": 1},
            },
        ),
    )
}


def get(name: str) -> Example:
    key = name.strip().lower().replace("_", "-")
    if key not in EXAMPLES:
        import difflib

        close = difflib.get_close_matches(key, list(EXAMPLES), n=1, cutoff=0.5)
        hint = f" — did you mean {close[0]}?" if close else ""
        raise InputError(f"no example called '{name}'{hint} Examples: {', '.join(EXAMPLES)} (or --example list)")
    return EXAMPLES[key]


def to_json(spec: dict) -> str:
    """Pretty JSON with every innermost list (a matrix row) on one line."""
    return _dump(spec, 0) + "\n"


def _flat(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value)


def _dump(value: Any, indent: int) -> str:
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dump(v, indent + 1)}" for k, v in value.items()]
        if (
            all(not isinstance(v, (dict, list)) or _flat(v) for v in value.values())
            and sum(len(i) for i in items) < 100
        ):
            return "{" + ", ".join(i.strip() for i in items) + "}"
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if _flat(value):
            return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "]"
        return "[\n" + ",\n".join(inner + _dump(v, indent + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)
