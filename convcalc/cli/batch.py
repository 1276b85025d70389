"""``convcalc shape --jsonl``: one JSON object per line in, one JSON result per line out.

A bad line yields ``{"line": N, "error": "..."}`` and the run goes on; the exit code is 2
if any line failed, else 1 if any line's ``expect`` check failed, else 0.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from convcalc.requests import DTYPE_BYTES, parse_request
from convcalc.engine.evaluate import analyze_layer, failed_expectations
from convcalc.errors import InputError
from convcalc.files import decode_text
from convcalc.jsontext import check_nesting
from convcalc.notation import format_shape
from convcalc.render.layer import shape_dict


def _open(path: str) -> IO[bytes]:
    """The lines as bytes: each line is decoded on its own, so one bad line cannot stop the run."""
    if path == "-":
        return sys.stdin.buffer
    from convcalc.files import check_readable

    check_readable(path, "--jsonl")
    try:
        return open(path, "rb")
    except OSError as error:
        raise InputError(f"cannot read --jsonl file '{path}': {error.strerror or error}") from None


def evaluate_line(text: str | bytes, number: int, defaults: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """One line's result document and its status: 'ok', 'check' (expect failed) or 'error'."""
    try:
        if isinstance(text, bytes):
            text = decode_text(text, "the line")
        check_nesting(text, "the line")
        obj = json.loads(text)
    except InputError as error:
        return {"line": number, "error": str(error)}, "error"
    except json.JSONDecodeError as error:
        return {"line": number, "error": f"invalid JSON at column {error.colno}: {error.msg}"}, "error"
    except ValueError as error:  # e.g. a number with more digits than Python converts
        return {"line": number, "error": f"invalid JSON: {error}"}, "error"
    if not isinstance(obj, dict):
        return {"line": number, "error": "each line must be a JSON object such as {\"in\": \"3x32x32\", \"k\": 5}"}, "error"
    try:
        request = parse_request({**defaults, **obj})
        report = analyze_layer(request.op, request.layer_options, request.shape, batch=request.batch,
                               explain=request.explain, bytes_per_element=DTYPE_BYTES[request.dtype])
    except InputError as error:
        return {"line": number, "error": str(error)}, "error"
    doc = {"line": number} | shape_dict(report, request.notation)
    failures = failed_expectations(report, request.expect, request.expect_params,
                                   format_shape(report.output, request.notation), request.expect_text)
    if request.expect is not None or request.expect_params is not None:
        doc["check"] = {"ok": not failures, "failures": failures}
    return doc, ("check" if failures else "ok")


def run_jsonl(path: str, defaults: dict[str, Any] | None = None) -> int:
    from convcalc.cli.gc_pause import collector_paused

    with collector_paused():  # each line's objects die with it: the collector only costs time here
        return _run_lines(path, defaults)


def _run_lines(path: str, defaults: dict[str, Any] | None) -> int:
    defaults = {k: v for k, v in (defaults or {}).items() if k not in ("explain",)} | (
        {"explain": True} if (defaults or {}).get("explain") else {})
    stream = _open(path)
    statuses = set()
    write = sys.stdout.write
    number = 0
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        doc, status = evaluate_line(text, number, defaults)
        statuses.add(status)
        write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")
    if stream is not sys.stdin.buffer:
        stream.close()
    if "error" in statuses:
        return 2
    return 1 if "check" in statuses else 0
