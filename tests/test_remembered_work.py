"""Work done once and reused (issue 18): a chain's repeated layer analysed once per input shape, a
batch's repeated values, layers and lines read once. Reuse must never change an answer: each
result here is compared with the same work done afresh."""

from __future__ import annotations

import io
import json
import sys

import pytest

from convcalc.cli import batch
from convcalc.errors import InputError
from convcalc.network.build import conv, relu, seq
from convcalc.network.model import Network
from convcalc.network.spec import parse_chain
from convcalc.network.walk import walk
from convcalc.requests import parse_request


def _rows(report):
    return [(r.name, r.type, r.input, r.output, r.params, r.macs, r.other_ops, r.activation, r.rf, r.report)
            for r in report.leaves()]


def test_a_repeated_chain_segment_is_the_same_as_distinct_layers():
    """The chain reads 'conv 4 k3' once (one Leaf), the walk analyses it once per input shape: the
    rows equal those of a network of distinct, equal layers, shapes shrinking as they should."""
    chain = parse_chain("4x12x12 | conv 4 k3 | relu | conv 4 k3 | relu | conv 4 k3 s2 p1 | conv 4 k3")
    fresh = Network("chain", (4, 12, 12), seq(conv(4, 3), relu(), conv(4, 3), relu(), conv(4, 3, stride=2, pad=1),
                                              conv(4, 3)))
    shared, separate = walk(chain), walk(fresh)
    assert [r.output for r in shared.leaves()] == [(4, 10, 10)] * 2 + [(4, 8, 8)] * 2 + [(4, 4, 4), (4, 2, 2)]
    assert [row[1:] for row in _rows(shared)] == [row[1:] for row in _rows(separate)]
    assert shared.totals == separate.totals


def _lines_alone(lines: list[str], defaults: dict) -> str:
    """Each line evaluated on its own, nothing remembered, written as the batch writes a line."""
    out = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        doc, _ = batch.evaluate_line(text.encode(), number, defaults)
        out.append(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(out) + "\n"


TRICKY = [
    '{"in": "3x8x8", "k": 3, "out": 4}',
    '{"in": "3x8x8", "k": 3.0, "out": 4}',  # 3.0 is refused, 3 is not: remembered apart
    '{"in": "3x8x8", "k": true, "out": 4}',
    '{"in": "3x8x8", "k": "3", "out": 4}',
    '{"in": "3x8x8", "k": [3, 1], "out": 4}',
    '{"in": [3, 8, 8], "k": 3, "out": 4}',
    '{"in": [true, 8, 8], "k": 3}',
    '{"in": "3x8x8", "k": 3, "out": 4}',  # the first line again: its own line number
    '{"op": "maxpool", "in": "3x9x9", "k": 2, "ceil_mode": true}',
    '{"op": "maxpool", "in": "3x9x9", "k": 2, "ceil_mode": 1}',
    '{"op": "maxpool", "in": "3x9x9", "k": 2}',
    '{"in": "3x8x8", "k": 3, "pad": "SAME"}',
    '{"in": "3x8x8", "k": 3, "pad": "same"}',
    '{"in": "3xHxW", "k": 3, "stride": 2}',
    '{"in": "3xHxW", "k": 3, "stride": 2}',
    'not json',
    '',
    '[1, 2]',
    'not json',
    '{"in": "3x8x8", "k": 3, "out": 4, "expect": "4x6x6"}',
    '{"in": "3x8x8", "k": 3, "out": 4, "expect": "4x7x7", "expect_params": 1}',
    '{"in": "3x8x8", "k": 3, "out": 4, "explain": true}',
]


@pytest.mark.parametrize("defaults", [{}, {"op": "avgpool", "k": "2"}])
def test_a_batch_answers_every_line_as_if_alone(monkeypatch, tmp_path, defaults):
    path = tmp_path / "lines.jsonl"
    lines = TRICKY * 3  # every line seen again, far enough apart to be remembered
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    code = batch.run_jsonl(str(path), defaults=defaults)
    assert out.getvalue() == _lines_alone(lines, defaults)
    assert code == 2  # some lines are errors


def test_remembered_lines_and_layers_stay_bounded(monkeypatch, tmp_path):
    monkeypatch.setattr(batch._Batch, "LINES", 5)
    monkeypatch.setattr(batch._Batch, "LAYERS", 3)
    lines = [f'{{"in": "3x{8 + i % 9}x{8 + i % 9}", "k": {1 + i % 4}, "out": {1 + i % 7}}}' for i in range(60)]
    path = tmp_path / "lines.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert batch.run_jsonl(str(path)) == 0
    assert out.getvalue() == _lines_alone(lines, {})


def test_a_refused_value_is_refused_every_time():
    """Errors are not remembered, and a value remembered with one type does not answer for another."""
    for _ in range(2):
        with pytest.raises(InputError, match="kernel"):
            parse_request({"in": "3x8x8", "k": True})
    assert parse_request({"in": "3x8x8", "k": 1}).layer_options["k"] == (1,)
    with pytest.raises(InputError):
        parse_request({"in": "3x8x8", "k": True})
    with pytest.raises(InputError):
        parse_request({"in": True, "k": 1})
