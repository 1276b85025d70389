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
from convcalc.render.values import jsonable
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
        # the documents hold shapes as tuples and Fractions as they are: jsonable only where needed
        self.encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=jsonable).encode

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
    doc = {"line": number} | shape_dict(report, request.notation, raw=batch is not None)
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


#: A file at least this large is shared out among the processors (below it, starting the
#: workers costs more than they save); lines go to them in chunks, a few chunks at a time.
PARALLEL_BYTES = 256 * 1024
CHUNK_LINES = 1000


def _run_lines(path: str, defaults: dict[str, Any] | None) -> int:
    defaults = {k: v for k, v in (defaults or {}).items() if k not in ("explain",)} | (
        {"explain": True} if (defaults or {}).get("explain") else {})
    stream = _open(path)
    statuses: set[str] = set()
    # Results go out in blocks of lines, as a pipe's buffer would take them (one write a line costs
    # a system call each where output is unbuffered); a person typing lines sees each one at once.
    block = 1 if stream is sys.stdin.buffer and sys.stdin.isatty() else OUTPUT_BLOCK
    pending: list[str] = []
    workers = _workers(path)
    try:
        if workers > 1:
            for outs, chunk_statuses in _parallel(stream, defaults, workers):
                statuses |= chunk_statuses
                pending += outs
                _write(pending)
        else:
            batch = _Batch(defaults)
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


def _workers(path: str) -> int:
    """How many processes evaluate a file's lines: one per processor this process may use, for a
    large regular file on a system that forks (each worker starts as a copy of this one)."""
    import multiprocessing
    import os

    if path == "-" or "fork" not in multiprocessing.get_all_start_methods() or sys.platform != "linux":
        return 1
    try:
        if not os.path.isfile(path) or os.path.getsize(path) < PARALLEL_BYTES:
            return 1
        return min(len(os.sched_getaffinity(0)), 8)
    except OSError:
        return 1


def _chunks(stream: IO[bytes]):
    """(first line number, the chunk's lines) for the next CHUNK_LINES lines of ``stream``."""
    chunk: list[bytes] = []
    start = 1
    for number, text in enumerate(stream, start=1):
        if not chunk:
            start = number
        chunk.append(text)
        if len(chunk) >= CHUNK_LINES:
            yield start, chunk
            chunk = []
    if chunk:
        yield start, chunk


_WORKER_BATCH: _Batch | None = None


def _start_worker(defaults: dict[str, Any]) -> None:
    """A worker's own caches; Ctrl-C is the parent's to handle (it stops the workers)."""
    import signal

    global _WORKER_BATCH
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_BATCH = _Batch(defaults)


def _evaluate_chunk(start: int, lines: list[bytes]) -> tuple[list[str], set[str]]:
    """A worker's output lines and statuses for one chunk (its blank lines skipped, as in a serial run)."""
    batch = _WORKER_BATCH
    assert batch is not None  # set by _start_worker
    outs, statuses = [], set()
    for number, text in enumerate(lines, start=start):
        if text.strip():
            out, status = batch.line(text, number)
            outs.append(out)
            statuses.add(status)
    return outs, statuses


def _parallel(stream: IO[bytes], defaults: dict[str, Any], workers: int):
    """Each chunk's results, in the file's order; at most two chunks a worker are read ahead, so
    the memory stays bounded however long the file is."""
    import multiprocessing
    from collections import deque

    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_start_worker, initargs=(defaults,)) as pool:
        waiting: deque = deque()
        for start, lines in _chunks(stream):
            waiting.append(pool.apply_async(_evaluate_chunk, (start, lines)))
            if len(waiting) >= 2 * workers:
                yield waiting.popleft().get()
        while waiting:
            yield waiting.popleft().get()
