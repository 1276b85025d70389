"""Topics about a small stack of layers: receptive field (``rf``), the flatten size before the
first linear layer (``flatten``), and a whole LeNet-like network's table (``network``).

A question's data is ``{"chain": "1x28x28 | conv 6 k5 p2 | maxpool k2 | ..."}``, the inline
chain of ``convcalc arch``; it is read by :func:`convcalc.network.spec.parse_chain` and walked
by :func:`convcalc.network.walk.walk`, whose rows (shapes, parameters, receptive fields) are
both the answers and the worked solution.
"""

from __future__ import annotations

import random
import re
from fractions import Fraction
from typing import Any

from convcalc.dims import product
from convcalc.engine.report import LayerReport
from convcalc.errors import InputError
from convcalc.homework.model import Given, Part, Solution, Worked
from convcalc.homework.topics import Topic
from convcalc.homework.topics.layer import params_of, torch_text
from convcalc.layers.registry import analyze_layer
from convcalc.network.spec import parse_chain
from convcalc.network.walk import NetworkReport, RFState, Row, walk
from convcalc.notation import format_shape

RF_RULE = "receptive field: r_out = r_in + (k_eff − 1)·j_in, jump j_out = j_in·s (r = j = 1 at the input)"
ACTIVATIONS_NOTE = "activations are left out: they change neither the shape nor the parameter count"


def run_chain(chain: Any) -> NetworkReport:
    if not isinstance(chain, str) or not chain.strip():
        raise InputError(f"'chain' must be an inline chain such as \"3x32x32 | conv 8 k3 | maxpool k2\"; got {chain!r}")
    return walk(parse_chain(chain))


def _report(row: Row) -> LayerReport:
    """A leaf row's layer report (``_layers`` keeps only rows that have one)."""
    if row.report is None:
        raise InputError(f"{row.name}: a quiz chain takes single layers, not blocks")
    return row.report


def _rf(row: Row) -> tuple[RFState, ...]:
    if row.rf is None:
        raise InputError(f"{row.name} has no spatial axes: a receptive field needs conv/pool layers before it")
    return row.rf


def _whole(value: Fraction) -> int | Fraction:
    return value.numerator if value.denominator == 1 else value


def _layers(report: NetworkReport) -> list[Row]:
    return [row for row in report.leaves() if row.report is not None]


def layer_lines(report: NetworkReport) -> tuple[str, ...]:
    """Each layer in PyTorch's words, numbered from 1."""
    return tuple(f"{n}. {torch_text(_report(row))}" for n, row in enumerate(_layers(report), start=1))


# --- mistaken variants: the same chain with one thing changed --------------------------------------------


def _segments(chain: str) -> list[str]:
    return [s.strip() for s in chain.split("|")]


def chain_without_strides(chain: str) -> str:
    """Every layer at stride 1 (a receptive field computed without the jumps)."""
    out = []
    for segment in _segments(chain):
        words = [w for w in segment.split() if not re.fullmatch(r"s\d+(x\d+)*", w.lower())]
        if words and words[0].lower() in ("conv", "maxpool", "avgpool", "convt"):
            words.append("s1")
        out.append(" ".join(words))
    return " | ".join(out)


def chain_without_bias(chain: str) -> str:
    """Every conv and linear layer with bias=False (the parameters with the bias forgotten)."""
    out = []
    for segment in _segments(chain):
        words = segment.split()
        if words and words[0].lower() in ("conv", "fc", "linear", "convt") and "nobias" not in words:
            words.append("nobias")
        out.append(" ".join(words))
    return " | ".join(out)


def pool_parameter_guesses(row: Row) -> tuple[int, ...]:
    """What a student who gives a pooling layer parameters counts: its window as weights of each
    channel (C·k·k, a depthwise conv's weights), or LeNet-5's trainable subsampling (a
    coefficient and a bias per map, 2C — a 1x1 depthwise conv with bias)."""
    channels = row.input[0]
    kernel = tuple(_report(row).hyper["kernel_size"])
    window = analyze_layer("conv", {"k": kernel, "depthwise": True, "no-bias": True, "out": channels}, row.input)
    lenet = analyze_layer("conv", {"k": (1,), "depthwise": True, "out": channels}, row.input)
    return params_of(window), params_of(lenet)


# --- receptive field ----------------------------------------------------------------------------------


def _rf_working(report: NetworkReport) -> str:
    terms, jump = [], Fraction(1)
    for row in _layers(report):
        layer_rf = _report(row).rf
        if layer_rf is None:
            continue
        k_eff = layer_rf[0].kernel
        terms.append(f"{k_eff - 1}·{_whole(jump)}")
        jump = _rf(row)[0].jump
    return f"1 + {' + '.join(terms)} = {_whole(_rf(report.rows[-1])[0].size)}"


def draw_rf(rng: random.Random, difficulty: int) -> dict[str, Any]:
    count = (2, 3, 4)[difficulty - 1]
    segments = [f"{rng.choice((1, 3))}x64x64"]
    channels = 8
    for index in range(count):
        kind = rng.choice(("conv", "conv", "pool") if index else ("conv",))
        if kind == "pool":
            segments.append(f"maxpool k{rng.choice((2, 3))} s2")
            continue
        k = rng.choice((3, 5) if difficulty < 3 else (3, 5, 7))
        stride = rng.choice((1, 2)) if difficulty > 1 else 1
        words = [f"conv {channels} k{k}"]
        if stride > 1:
            words.append(f"s{stride}")
        if difficulty == 3 and rng.random() < 0.3:
            words.append(f"d{rng.choice((2, 3))}")
        segments.append(" ".join(words))
        channels *= 2
    return {"chain": " | ".join(segments)}


def solve_rf(data: dict[str, Any]) -> Worked:
    chain = data.get("chain", "")
    report = run_chain(chain)
    last = report.rows[-1]
    if last.rf is None:
        raise InputError(f"the chain '{chain}' ends without spatial axes: a receptive field needs conv/pool layers")
    if len({s.size for s in last.rf}) != 1:
        raise InputError(
            f"the chain '{chain}' has a different receptive field per axis: quiz questions use square ones"
        )
    size = _whole(last.rf[0].size)
    wrong = _rf(run_chain(chain_without_strides(chain)).rows[-1])[0].size
    prompt = (
        f"The layers below are applied in order to a {format_shape(report.input)} input. How many input pixels "
        "wide is the receptive field of one output unit of the last layer (along one axis)?"
    )
    part = Part("", "receptive field (pixels)", "number", size, _rf_working(report))
    solution = Solution(lines=(RF_RULE,), network=report, command=f'convcalc arch "{chain}"')
    return Worked(
        prompt,
        (Given("layers", layer_lines(report)),),
        (part,),
        solution,
        {"": (("ignored-stride-rf", _whole(wrong)),)},
    )


# --- flatten size -------------------------------------------------------------------------------------


def _draw_features(rng: random.Random, difficulty: int) -> list[str]:
    channels, size = rng.choice(((1, 28), (3, 32), (1, 32), (3, 64)))
    segments = [f"{channels}x{size}x{size}"]
    width = rng.choice((6, 8, 16))
    for _ in range((1, 2, 3)[difficulty - 1]):
        k = rng.choice((3, 5))
        pad = rng.choice((0, k // 2))
        segments.append(f"conv {width} k{k}" + (f" p{pad}" if pad else ""))
        segments.append("maxpool k2")
        width *= 2
    return segments


def draw_flatten(rng: random.Random, difficulty: int) -> dict[str, Any]:
    return {"chain": " | ".join(_draw_features(rng, difficulty) + ["flatten", f"fc {rng.choice((10, 64, 120))}"])}


def solve_flatten(data: dict[str, Any]) -> Worked:
    chain = data.get("chain", "")
    report = run_chain(chain)
    rows = _layers(report)
    index = next((i for i, row in enumerate(rows) if _report(row).op == "flatten"), None)
    if index is None or index == 0:
        raise InputError(f"the chain '{chain}' needs a flatten after the conv/pool layers")
    before = rows[index - 1].output
    size = rows[index].output[0]
    prompt = (
        f"The layers below are applied in order to a {format_shape(report.input)} input. How many values does "
        "the flatten pass to the first linear layer (its in_features)?"
    )
    working = f"{'·'.join(map(str, before))} = {size}  (the flatten input is {format_shape(before)})"
    part = Part("", "in_features of the first linear layer", "number", size, working)
    solution = Solution(lines=(ACTIVATIONS_NOTE,), network=report, command=f'convcalc arch "{chain}"')
    return Worked(
        prompt,
        (Given("layers", layer_lines(report)),),
        (part,),
        solution,
        {"": (("forgot-channels", product(before[1:])),)},
    )


# --- a whole network's table --------------------------------------------------------------------------


def draw_network(rng: random.Random, difficulty: int) -> dict[str, Any]:
    segments = _draw_features(rng, max(2, difficulty))
    if difficulty == 1:
        segments = segments[:1] + ["conv 6 k5", "maxpool k2", "conv 16 k5", "maxpool k2"]
    hidden = rng.choice((84, 120, 128))
    return {"chain": " | ".join(segments + ["flatten", f"fc {hidden}", "fc 10"])}


def _letters():
    for n in range(26 * 27):
        yield chr(97 + n) if n < 26 else chr(96 + n // 26) + chr(97 + n % 26)


def solve_network(data: dict[str, Any]) -> Worked:
    chain = data.get("chain", "")
    report = run_chain(chain)
    rows = _layers(report)
    if len(rows) > 12:
        raise InputError(f"the chain '{chain}' has {len(rows)} layers: a quiz table takes at most 12")
    no_bias = {row.name: row.params.total for row in _layers(run_chain(chain_without_bias(chain)))}
    ids = _letters()
    parts: list[Part] = []
    variants: dict[str, tuple[tuple[str, Any], ...]] = {}
    pool_guesses = [0, 0]
    for n, row in enumerate(rows, start=1):
        kind = _report(row).op
        parts.append(
            Part(
                next(ids),
                f"layer {n} output shape",
                "shape",
                tuple(row.output),
                f"{format_shape(row.input)} → {format_shape(row.output)}",
            )
        )
        if kind.startswith(("maxpool", "avgpool")):
            guesses = pool_parameter_guesses(row)
            pool_guesses = [a + b for a, b in zip(pool_guesses, guesses)]
        if row.params.total:
            pid = next(ids)
            parts.append(
                Part(
                    pid,
                    f"layer {n} parameters",
                    "number",
                    row.params.total,
                    f"weight {row.params.weight} + bias {row.params.bias} = {row.params.total}",
                )
            )
            variants[pid] = (("forgot-bias", no_bias[row.name]),)
    total = report.totals.params
    tid = next(ids)
    weights = " + ".join(str(row.params.total) for row in rows if row.params.total)
    parts.append(Part(tid, "total parameters", "number", total, f"{weights} = {total}"))
    variants[tid] = (("forgot-bias", sum(no_bias.values())),) + tuple(
        ("counted-pool-params", total + guess) for guess in pool_guesses if guess
    )
    prompt = (
        f"The network below takes a {format_shape(report.input)} input ({ACTIVATIONS_NOTE}). "
        "Fill in each layer's output shape and parameter count, and the total."
    )
    solution = Solution(lines=(ACTIVATIONS_NOTE,), network=report, command=f'convcalc arch "{chain}"')
    return Worked(prompt, (Given("layers", layer_lines(report)),), tuple(parts), solution, variants)


TOPICS = (
    Topic("rf", "receptive field of a small conv/pool stack", draw_rf, solve_rf),
    Topic("flatten", "flatten size before the first linear layer", draw_flatten, solve_flatten),
    Topic("network", "a LeNet-like network's table: output shapes and parameters", draw_network, solve_network),
)
