"""Machine formats of the calculator's results: ``--json`` (schemas ``convcalc/conv/v1``,
``convcalc/pool/v1``, ``convcalc/conv-transpose/v1``, ``convcalc/im2col/v1``; exact numbers
as ints or ``"p/q"`` strings), ``--format plain`` (the result only, readable back as matrix
text) and ``csv``."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np

from convcalc.compute.number_text import exact_text
from convcalc.render.calculator.document import Equation, entry_name, select_entries, squeeze, squeeze_index
from convcalc.render.calculator.printers import equation_text
from convcalc.render.values import json_number, json_tensor


def result_tensor(result) -> np.ndarray:
    tensor = result.output
    return squeeze(tensor, result.plain_matrices)


def to_plain(tensor: np.ndarray) -> str:
    """Only the result: rows of numbers separated by spaces; channels separated by a blank line
    (``convcalc`` reads this form back as matrix text)."""
    grids = ([tensor.reshape(1, -1)] if tensor.ndim == 1 else [tensor] if tensor.ndim == 2
             else list(tensor.reshape(-1, *tensor.shape[-2:])))
    return "\n\n".join("\n".join(" ".join(exact_text(v) for v in row) for row in grid) for grid in grids) + "\n"


def to_csv(tensor: np.ndarray) -> str:
    """The result as CSV; a blank line between channels (the CSV reader takes that back)."""
    grids = ([tensor.reshape(1, -1)] if tensor.ndim == 1 else [tensor] if tensor.ndim == 2
             else list(tensor.reshape(-1, *tensor.shape[-2:])))
    chunks = []
    for grid in grids:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row in grid:
            writer.writerow([exact_text(v) for v in row])
        chunks.append(buffer.getvalue())
    return "\n".join(chunks)


def _sum_entries_json(entries, plain: bool, output: np.ndarray) -> list[dict]:
    return [
        {
            "index": list(squeeze_index(e.index, output, plain)),
            "terms": [{"input": list(t.input_index), "x": json_number(t.input_value),
                       "kernel": list(t.kernel_index), "w": json_number(t.kernel_value)} for t in e.terms],
            "bias": json_number(e.bias),
            "value": json_number(e.value),
            "text": equation_text(Equation(entry_name("J", e.index, plain), "sum",
                                           tuple((t.input_value, t.kernel_value) for t in e.terms), e.value,
                                           bias=e.bias, channels=len({t.input_index[0] for t in e.terms}))),
        }
        for e in entries
    ]


def _common_json(result, plain: bool) -> dict[str, Any]:
    return {
        "exact": result.exact,
        "input": json_tensor(squeeze(result.input, plain)),
    }


def _chosen(result, at: tuple[int, ...] | None) -> dict[str, Any]:
    """``--at``: only the picked entries (ROW,COL in every channel, or CHANNEL,ROW,COL), and which."""
    if at is None:
        return {"entries": result.entries}
    return {"at": list(at),
            "entries": select_entries(result.entries, at, result.plain_matrices) if result.entries else []}


def conv_json(result, at: tuple[int, ...] | None = None) -> dict[str, Any]:
    plain = result.plain_matrices
    chosen = _chosen(result, at)
    data = {"schema": "convcalc/conv/v1", "operation": "convolution" if result.flip else "cross-correlation"}
    data |= _common_json(result, plain)
    data |= {
        "kernel": json_tensor(squeeze(result.kernel, plain)),
        "flipped_kernel": json_tensor(squeeze(result.applied_kernel, plain)) if result.flip else None,
        "bias": json_tensor(result.bias) if result.bias is not None else None,
        "stride": list(result.stride), "padding": [list(p) for p in result.padding], "dilation": list(result.dilation),
        **({"groups": result.groups} if result.groups != 1 else {}),
        "padded_input": json_tensor(squeeze(result.padded, plain)),
        "output_shape": list(result.output.shape),
        "output": json_tensor(result_tensor(result)),
        **({"at": chosen["at"]} if "at" in chosen else {}),
        "entries": _sum_entries_json(chosen["entries"], plain, result.output),
        "notes": list(result.notes), "warnings": list(result.warnings),
    }
    return data


def pool_json(result, at: tuple[int, ...] | None = None) -> dict[str, Any]:
    plain = result.plain_matrices
    data = {"schema": "convcalc/pool/v1"} | _common_json(result, plain)
    chosen = _chosen(result, at)
    entries = []
    for e in chosen["entries"]:
        item: dict[str, Any] = {
            "index": list(squeeze_index(e.index, result.output, plain)),
            "window": [{"input": list(w), "x": json_number(v)} for w, v in e.cells],
            "value": json_number(e.value),
        }
        if result.mode == "max":
            winner = (e.winner[0], e.winner[1] - result.padding[0][0], e.winner[2] - result.padding[1][0])
            item |= {"winner": list(winner), "ties": e.ties}
        else:
            item["divisor"] = e.divisor
        entries.append(item)
    data |= {
        "mode": result.mode, "kernel_size": list(result.kernel_size), "stride": list(result.stride),
        "padding": [list(p) for p in result.padding], "dilation": list(result.dilation), "ceil_mode": result.ceil_mode,
        "count_include_pad": result.count_include_pad if result.mode == "avg" else None,
        "divisor_override": result.divisor_override,
        "padded_input": json_tensor(squeeze(result.padded, plain)),
        "output_shape": list(result.output.shape),
        "output": json_tensor(result_tensor(result)),
        **({"at": chosen["at"]} if "at" in chosen else {}),
        "entries": entries,
        "notes": list(result.notes), "warnings": list(result.warnings),
    }
    return data


def transpose_json(result, at: tuple[int, ...] | None = None) -> dict[str, Any]:
    plain = result.plain_matrices
    chosen = _chosen(result, at)
    data = {"schema": "convcalc/conv-transpose/v1"} | _common_json(result, plain)
    data |= {
        "kernel": json_tensor(squeeze(result.kernel, plain)),
        "bias": json_tensor(result.bias) if result.bias is not None else None,
        "stride": list(result.stride), "padding": [list(p) for p in result.padding],
        "output_padding": list(result.output_padding), "dilation": list(result.dilation),
        "output_shape": list(result.output.shape),
        "output": json_tensor(result_tensor(result)),
        "equivalent_conv": {
            "zero_inserted_input": json_tensor(squeeze(result.stretched, plain)),
            "padding": [list(p) for p in result.equivalent_padding],
            "padded_input": json_tensor(squeeze(result.equivalent_input, plain)),
            "kernel": json_tensor(squeeze(result.equivalent_kernel, plain)),
            "stride": [1, 1], "dilation": list(result.dilation),
            "output": json_tensor(squeeze(result.equivalent_output, plain)),
        },
        **({"at": chosen["at"]} if "at" in chosen else {}),
        "entries": _sum_entries_json(chosen["entries"], plain, result.output),
        "notes": list(result.notes),
    }
    return data


def im2col_json(result) -> dict[str, Any]:
    plain = result.plain_matrices
    data = {"schema": "convcalc/im2col/v1"} | _common_json(result, plain)
    data |= {
        "kernel_size": list(result.kernel_size), "stride": list(result.stride),
        "padding": [list(p) for p in result.padding], "dilation": list(result.dilation),
        "output_size": list(result.output_size),
        "columns": json_tensor(result.columns),
        "row_labels": [list(r) for r in result.row_labels],
        "column_labels": [list(c) for c in result.column_labels],
        "weight_rows": json_tensor(result.weight_rows) if result.weight_rows is not None else None,
        "bias": json_tensor(result.bias) if result.bias is not None else None,
        "product": json_tensor(result.product) if result.product is not None else None,
        "output": json_tensor(result_tensor(result)) if result.output is not None else None,
        "notes": list(result.notes), "warnings": list(result.warnings),
    }
    return data


def json_text(data: dict[str, Any]) -> str:
    """Indented JSON in which matrix rows and small records (only numbers, strings and
    lists of them) stay on one line each."""
    return _json(data, 0) + "\n"


def _flat(value: Any) -> bool:
    if isinstance(value, list):
        return all(not isinstance(v, (list, dict)) for v in value)
    if isinstance(value, dict):
        return (all(not isinstance(v, dict) and (not isinstance(v, list) or _flat(v)) for v in value.values())
                and len(value) <= 6)
    return True


def _json(value: Any, depth: int) -> str:
    one_line = json.dumps(value, ensure_ascii=False)
    if _flat(value) and (not isinstance(value, dict) or len(one_line) <= 100):
        return one_line
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, list):
        return "[\n" + ",\n".join(inner + _json(v, depth + 1) for v in value) + "\n" + pad + "]"
    items = (f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {_json(v, depth + 1)}" for k, v in value.items())
    return "{\n" + ",\n".join(items) + "\n" + pad + "}"
