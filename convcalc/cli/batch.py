"""``convcalc shape --jsonl``: one JSON object per line in, one JSON result per line out.

A bad line yields ``{"line": N, "error": "..."}`` and the run goes on; the exit code is 2
if any line failed, else 1 if any line's ``expect`` check failed, else 0.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from convcalc.engine.evaluate import failed_expectations
from convcalc.errors import InputError
from convcalc.files import decode_text
from convcalc.jsontext import check_nesting
from convcalc.layers.registry import build_layer
from convcalc.notation import format_shape
from convcalc.render.layer import shape_dict
from convcalc.requests import DTYPE_BYTES, parse_request


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


class _Batch:
    """What one run remembers between lines (each bounded): the layers built so far, by op and
    options (a layer is frozen and its analysis a pure function of it and the input, so equal
    requests share one), and the result of each recent line text (a repeated line gives the same
    result but for its number)."""

    LAYERS = 4096
    LINES = 4096

    def __init__(self, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.layers: dict[tuple, Any] = {}
        self.lines: dict[bytes | str, tuple[str, str]] = {}
        self.encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def layer(self, op: str, options: dict[str, Any]):
        """``build_layer(op, options)``, built once per distinct request (as analyze_layer builds it)."""
        try:
            key: tuple | None = (op, *options.items())
            layer = self.layers.get(key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable option value: build it every time
            key, layer = None, None
        if layer is None:
            layer = build_layer(op, options)
            if key is not None:
                if len(self.layers) >= self.LAYERS:
                    self.layers.clear()
                self.layers[key] = layer
        return layer

    def line(self, text: bytes | str, number: int) -> tuple[str, str]:
        """The output line (without its newline) and the status of input line ``number``."""
        seen = self.lines.get(text)
        if seen is None:
            doc, status = evaluate_line(text, number, self.defaults, self)
            del doc["line"]
            seen = (self.encode(doc)[1:], status)  # the document after its opening brace
            if len(self.lines) >= self.LINES:
                self.lines.clear()
            self.lines[text] = seen
        rest, status = seen
        return f'{{"line":{number},{rest}', status


def evaluate_line(text: str | bytes, number: int, defaults: dict[str, Any],
                  batch: _Batch | None = None) -> tuple[dict[str, Any], str]:
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
        return {"line": number,
                "error": "each line must be a JSON object such as {\"in\": \"3x32x32\", \"k\": 5}"}, "error"
    try:
        request = parse_request({**defaults, **obj})
        layer = (batch.layer(request.op, request.layer_options) if batch
                 else build_layer(request.op, request.layer_options))
        report = layer.analyze(request.shape, batch=request.batch, explain=request.explain,
                               bytes_per_element=DTYPE_BYTES[request.dtype])
    except InputError as error:
        return {"line": number, "error": str(error)}, "error"
    doc = {"line": number} | shape_dict(report, request.notation)
    if request.expect is None and request.expect_params is None:
        return doc, "ok"
    failures = failed_expectations(report, request.expect, request.expect_params,
                                   format_shape(report.output, request.notation), request.expect_text)
    doc["check"] = {"ok": not failures, "failures": failures}
    return doc, ("check" if failures else "ok")


OUTPUT_BLOCK = 256  # result lines written at once


def _write(lines: list[str]) -> None:
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        lines.clear()


def run_jsonl(path: str, defaults: dict[str, Any] | None = None) -> int:
    from convcalc.cli.gc_pause import collector_paused

    with collector_paused():  # each line's objects die with it: the collector only costs time here
        return _run_lines(path, defaults)


def _run_lines(path: str, defaults: dict[str, Any] | None) -> int:
    defaults = {k: v for k, v in (defaults or {}).items() if k not in ("explain",)} | (
        {"explain": True} if (defaults or {}).get("explain") else {})
    stream = _open(path)
    statuses = set()
    batch = _Batch(defaults)
    # Results go out in blocks of lines, as a pipe's buffer would take them (one write a line costs
    # a system call each where output is unbuffered); a person typing lines sees each one at once.
    block = 1 if stream is sys.stdin.buffer and sys.stdin.isatty() else OUTPUT_BLOCK
    pending: list[str] = []
    try:
        for number, text in enumerate(stream, start=1):
            if not text.strip():
                continue
            out, status = batch.line(text, number)
            statuses.add(status)
            pending.append(out)
            if len(pending) >= block:
                _write(pending)
    finally:  # what was done is written, whatever stops the run
        _write(pending)
    if stream is not sys.stdin.buffer:
        stream.close()
    if "error" in statuses:
        return 2
    return 1 if "check" in statuses else 0
