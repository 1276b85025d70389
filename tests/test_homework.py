"""convcalc quiz / grade engine: generated questions are valid and their keys right (recomputed
through other public engine paths), sheets are reproducible, and every named mistake is
diagnosed as exactly that mistake while a correct answer is never flagged."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.calculator.conv import convolve
from convcalc.calculator.pool import pool
from convcalc.compute.numbers import to_array
from convcalc.homework import answers
from convcalc.homework.generate import Slot, make_quiz, plan
from convcalc.homework.grade import applicable_variants, diagnose, mark
from convcalc.homework.mistakes import CATALOG
from convcalc.homework.model import Question
from convcalc.homework.topics import topic, topics
from convcalc.layers.conv import Conv
from convcalc.layers.norm import BatchNorm
from convcalc.layers.pool import MaxPool
from convcalc.layers.registry import analyze_layer
from convcalc.network.spec import parse_chain
from convcalc.network.walk import walk
from convcalc.render.quiz import quiz_markdown, quiz_text
from convcalc.render.quiz_json import quiz_json
from convcalc.render.quiz_latex import quiz_latex
from convcalc.requests import parse_request

REFERENCE = json.loads((Path(__file__).parent / "reference" / "homework_mistakes.json").read_text(encoding="utf-8"))
TOPICS = list(topics())
SEEDS = range(20)


def _questions(name: str, seed: int) -> list[Question]:
    difficulty = 1 + seed % 3
    return list(make_quiz(plan([name], 2, difficulty), seed, difficulty).sheets[0].questions)


CORPUS = [(name, seed, q) for name in TOPICS for seed in SEEDS for q in _questions(name, seed)]


# --- the key, recomputed another way ------------------------------------------------------------------


def _exact(values) -> np.ndarray:
    return to_array(values, "test")


def _layer_answers(data: dict) -> dict[str, object]:
    request = parse_request(dict(data["layer"]))
    report = analyze_layer(request.op, request.layer_options, request.shape)
    return {"output": tuple(report.output), "params": report.params.total, "macs": report.macs}[data["ask"]]


def _rf(data: dict):
    report = walk(parse_chain(data["chain"]))
    return report.rows[-1].rf[0].size


def _flatten(data: dict):
    report = walk(parse_chain(data["chain"]))
    return next(row.output[0] for row in report.leaves() if row.type == "flatten")


def _network(data: dict) -> list:
    report = walk(parse_chain(data["chain"]))
    expected = []
    for row in report.leaves():
        expected.append(tuple(row.output))
        if row.params.total:
            expected.append(row.params.total)
    return expected + [report.totals.params]


def _conv_backprop(data: dict):
    stride = data.get("stride", 1)
    x = _exact([[data["input"]]])
    k = _exact([[data["kernel"]]])
    layer = Conv(rank=2, out_channels=1, kernel_size=k.shape[2:], stride=stride, bias=False)
    f = layer.forward(x, {"weight": k})
    b = layer.backward(_exact([[data["upstream"]]]), f.cache)
    return [b.grads["weight"][0, 0], b.grad_input[0, 0]]


def _pool_backprop(data: dict):
    layer = MaxPool(rank=2, kernel_size=data["k"], stride=data["stride"])
    f = layer.forward(_exact([[data["input"]]]), {})
    return layer.backward(_exact([[data["upstream"]]]), f.cache).grad_input[0, 0]


def _batchnorm(data: dict):
    """μ and the biased σ²: the layer's cumulative running statistics after one batch are the
    batch mean and the unbiased variance (PyTorch), so σ² = unbiased·(M − 1)/M."""
    x = _exact(data["input"])
    out = BatchNorm(momentum=None, eps=0).forward(x, {"weight": _exact([1]), "bias": _exact([0])})
    m = x.size
    return [out.buffers["running_mean"][0], out.buffers["running_var"][0] * Fraction(m - 1, m)]


def recomputed(question: Question) -> list:
    """Each part's answer, through engine functions other than the topic's own solve."""
    data = question.data
    name = question.topic
    if name in ("shape", "params", "macs"):
        return [_layer_answers(data)]
    if name == "rf":
        return [_rf(data)]
    if name == "flatten":
        return [_flatten(data)]
    if name == "network":
        return _network(data)
    if name == "conv-numeric":
        pad = data.get("padding", 0)
        result = convolve(
            _exact(data["input"]),
            _exact(data["kernel"]),
            stride=(data.get("stride", 1),) * 2,
            padding=((pad, pad), (pad, pad)),
        )
        return [result.output[0]]
    if name == "pool-numeric":
        result = pool(
            _exact(data["input"]), kernel_size=(data["k"],) * 2, stride=(data["stride"],) * 2, mode=data["mode"]
        )
        return [result.output[0]]
    if name == "conv-backprop":
        return _conv_backprop(data)
    if name == "pool-backprop":
        return [_pool_backprop(data)]
    if name == "relu-backprop":
        x, dy = _exact(data["input"]), _exact(data["upstream"])
        return [np.where(x > 0, dy, 0)]
    if name == "batchnorm":
        return _batchnorm(data)
    raise AssertionError(f"no independent check for {name}")


@pytest.mark.parametrize("name", TOPICS)
def test_every_key_answer_recomputed_independently(name):
    questions = [q for topic_name, _, q in CORPUS if topic_name == name]
    assert len(questions) == 2 * len(SEEDS)
    for question in questions:
        expected = recomputed(question)
        parts = question.parts
        assert len(parts) == len(expected), question.data
        for part, value in zip(parts, expected):
            assert part.kind in ("shape", "number", "matrix")
            from convcalc.homework.grade import same

            assert same(part.kind, part.answer, value), (question.data, part.id, part.answer, value)


@pytest.mark.parametrize("name", TOPICS)
def test_questions_are_valid_and_hand_sized(name):
    """Every question solves again from its own data; matrix answers stay small and simple."""
    for topic_name, _, question in CORPUS:
        if topic_name != name:
            continue
        again = topic(name).solve(json.loads(json.dumps(question.data)))
        assert [answers.json_value(p.kind, p.answer) for p in again.parts] == [
            answers.json_value(p.kind, p.answer) for p in question.worked.parts
        ]
        for part in question.parts:
            if part.kind == "matrix":
                for v in np.asarray(part.answer, dtype=object).flat:
                    assert abs(Fraction(v)) <= 999 and Fraction(v).denominator <= 16
            if part.kind == "number":
                assert Fraction(part.answer).denominator <= 16


@pytest.mark.torch
@pytest.mark.parametrize("name", ["conv-numeric", "conv-backprop", "pool-backprop", "relu-backprop"])
def test_matrix_keys_agree_with_pytorch(name):
    torch = pytest.importorskip("torch")
    for topic_name, _, question in CORPUS:
        if topic_name != name:
            continue
        d = question.data
        x = torch.tensor(np.array(d["input"], dtype=float)[None, None], requires_grad=True)
        if name == "relu-backprop":
            y = torch.relu(x)
        elif name == "pool-backprop":
            y = torch.nn.functional.max_pool2d(x, d["k"], d["stride"])
        else:
            k = torch.tensor(np.array(d["kernel"], dtype=float)[None, None], requires_grad=True)
            y = torch.nn.functional.conv2d(x, k, stride=d.get("stride", 1), padding=d.get("padding", 0))
        if name == "conv-numeric":
            got = [y.detach()[0, 0]]
        else:
            y.backward(torch.tensor(np.array(d["upstream"], dtype=float)[None, None]))
            got = ([k.grad[0, 0]] if name == "conv-backprop" else []) + [x.grad[0, 0]]
        for part, value in zip(question.parts, got):
            assert np.allclose(np.asarray(part.answer, dtype=float), value.numpy()), (d, part.id)


def _torch_layer(nn, layer: dict):
    """The question's layer built in torch.nn straight from its ``convcalc shape --jsonl`` words
    (not through convcalc's parser), and the input shape."""
    shape = tuple(int(v) for v in str(layer["in"]).split("x"))
    op = layer.get("op", "conv")
    if op == "linear":
        return nn.Linear(shape[0], layer["out"], bias=not layer.get("no-bias", False)), shape
    k, c_in = layer["k"], shape[0]
    common = {"stride": layer.get("stride", 1 if op.startswith("conv") or op == "depthwise-separable" else k),
              "padding": layer.get("pad", 0), "dilation": layer.get("dilation", 1)}
    if op == "maxpool":
        return nn.MaxPool2d(k, ceil_mode=layer.get("ceil-mode", False), **common), shape
    bias = not layer.get("no-bias", False)
    if op == "depthwise-separable":
        return nn.Sequential(nn.Conv2d(c_in, c_in, k, groups=c_in, bias=bias, **common),
                             nn.Conv2d(c_in, layer["out"], 1, bias=bias)), shape
    if op == "conv-transpose":
        return nn.ConvTranspose2d(c_in, layer["out"], k, output_padding=layer.get("output-padding", 0),
                                  groups=layer.get("groups", 1), bias=bias, **common), shape
    assert op == "conv", op
    return nn.Conv2d(c_in, layer["out"], k, groups=layer.get("groups", 1), bias=bias, **common), shape


@pytest.mark.torch
def test_layer_keys_agree_with_pytorch():
    """shape: the output of a forward pass; params: Σ numel of the parameters; MACs: each output
    value of each conv costs (C_in/g)·Πk multiply-accumulates (its weight slice's size)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    checked = 0
    for topic_name, _, question in CORPUS:
        if topic_name not in ("shape", "params", "macs"):
            continue
        module, shape = _torch_layer(nn, question.data["layer"])
        macs = 0

        def count(mod, _inputs, output):
            nonlocal macs
            if isinstance(mod, (nn.Conv2d, nn.Linear)):  # the MACs questions ask about convs and linears
                macs += output.numel() * mod.weight[0].numel()

        for sub in module.modules():
            sub.register_forward_hook(count)
        with torch.no_grad():
            output = module(torch.zeros((1, *shape)))
        expected = {"output": tuple(output.shape[1:]), "params": sum(p.numel() for p in module.parameters()),
                    "macs": macs}[question.data["ask"]]
        (part,) = question.parts
        answer = tuple(part.answer) if part.kind == "shape" else part.answer
        assert answer == expected, (question.data, answer, expected)
        checked += 1
    assert checked == 3 * 2 * len(SEEDS)


# --- reproducibility and rendering -----------------------------------------------------------------------


def _all_formats(seed: int, students=None) -> list[str]:
    quiz = make_quiz(plan(TOPICS, None, 2), seed, 2, students)
    return [render(quiz, key) for render in (quiz_text, quiz_markdown, quiz_latex, quiz_json) for key in (False, True)]


def test_same_seed_same_bytes_and_other_seeds_differ():
    assert _all_formats(7) == _all_formats(7)
    assert _all_formats(7) != _all_formats(8)
    assert _all_formats(3, ["ann", "bo"]) == _all_formats(3, ["ann", "bo"])


def test_roster_variants_differ_and_do_not_depend_on_the_roster():
    quiz = make_quiz(plan(["shape", "conv-numeric"], 4, 2), 11, 2, ["ann", "bo", "cy"])
    data = [[q.data for q in s.questions] for s in quiz.sheets]
    assert data[0] != data[1] != data[2]
    alone = make_quiz(plan(["shape", "conv-numeric"], 4, 2), 11, 2, ["bo"])
    assert [q.data for q in alone.sheets[0].questions] == data[1]


def test_topics_cycle_in_order():
    slots = plan(["rf", "shape"], 5, 1)
    assert [s.topic for s in slots] == ["rf", "shape", "rf", "shape", "rf"]
    assert all(isinstance(s, Slot) for s in slots)


# --- diagnosis ---------------------------------------------------------------------------------------------


def _variants(question: Question):
    return [
        (suffix, part, question.worked.variants.get(suffix, ()))
        for suffix, part in ((w.id, p) for w, p in zip(question.worked.parts, question.parts))
    ]


def test_every_variant_of_every_question_is_diagnosed_as_itself():
    seen = set()
    for _, _, question in CORPUS:
        for suffix, part, variants in _variants(question):
            for name, value in applicable_variants(part, variants):
                written = answers.read(part.kind, answers.text(part.kind, value))
                found = diagnose(part, written, variants)
                assert name in found, (question.data, part.id, name)
                # unambiguous: every mistake named gives exactly this answer
                for other in found:
                    assert any(n == other and answers.matches(part.kind, written, v) for n, v in variants)
                graded = mark(part, question, suffix, answers.text(part.kind, value), True)
                assert graded.credit < 1 and name in graded.mistakes
                seen.add(name)
    missing = {m.name for m in CATALOG} - seen
    assert not missing, f"mistakes never exercised by the generated corpus: {missing}"


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: f"{c['topic']}-{'+'.join(c['mistakes'])}")
def test_named_mistake_cases(case):
    worked = topic(case["topic"]).solve(case["data"])
    question = Question("Q1", case["topic"], 2, case["data"], worked)
    suffix = case["part"]
    part = next(p for w, p in zip(worked.parts, question.parts) if w.id == suffix)
    assert answers.text(part.kind, part.answer) == case["right"]
    wrong = mark(part, question, suffix, case["answer"], True)
    assert list(wrong.mistakes) == case["mistakes"]
    assert wrong.credit < 1
    right = mark(part, question, suffix, case["right"], True)
    assert right.credit == 1 and right.mistakes == ()


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(TOPICS), st.integers(0, 10**6), st.integers(1, 3))
def test_a_correct_answer_gets_full_marks_and_no_diagnosis(name, seed, difficulty):
    quiz = make_quiz([Slot(name, difficulty)], seed, difficulty)
    question = quiz.sheets[0].questions[0]
    for suffix, part, _ in _variants(question):
        for written in (answers.text(part.kind, part.answer), answers.json_value(part.kind, part.answer)):
            result = mark(part, question, suffix, written, True)
            assert result.credit == 1 and result.mistakes == (), (question.data, part.id, written)


def test_partial_credit_rules():
    case = REFERENCE["cases"][0]
    worked = topic("shape").solve(case["data"])
    question = Question("Q1", "shape", 2, case["data"], worked)
    part = question.parts[0]
    assert mark(part, question, "", "2x15x15", True).credit == Fraction(1, 3)
    assert mark(part, question, "", "14x14", True).credit == 0
    assert mark(part, question, "", "[2, 14, 14]", True).credit == 1
    assert mark(part, question, "", "nonsense", True).problem
    assert mark(part, question, "", "2x14x", True).problem  # a slip is unreadable, not a shorter shape
    assert mark(part, question, "", None, False).written is None
    data = {"input": [[[[1, 2]]], [[[3, 4]]], [[[5, 9]]]]}  # μ = 4, σ² = 40/6 = 20/3 = 6.666…
    q = Question("Q2", "batchnorm", 2, data, topic("batchnorm").solve(data))
    var = q.parts[1]
    assert var.answer == Fraction(20, 3)
    assert mark(var, q, "b", "20/3", True).credit == 1
    assert mark(var, q, "b", "6.67", True).credit == 1  # correctly rounded, two places
    assert mark(var, q, "b", "6.666", True).credit == 0  # wrongly rounded
    assert mark(var, q, "b", "6.7", True).credit == 0  # one place is not enough
    conv = topic("conv-numeric").solve(REFERENCE["cases"][16]["data"])
    qc = Question("Q3", "conv-numeric", 2, {}, conv)
    assert mark(qc.parts[0], qc, "", "133 75; 100 0", True).credit == Fraction(3, 4)
    assert mark(qc.parts[0], qc, "", "133 75 1; 100 101 1", True).credit == 0
