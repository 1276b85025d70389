"""Hand calculations on small integer matrices: numeric convolution (``conv-numeric``) and
pooling (``pool-numeric``), the backward pass of a conv (``conv-backprop``), a max-pool
(``pool-backprop``) and a ReLU (``relu-backprop``), and batch-norm statistics (``batchnorm``).

Every answer comes out of a backprop trace (:func:`convcalc.trace.run.run` on a one-layer
spec with the upstream gradient given): the layers' own forward and backward give the
numbers, and the trace's steps — each entry's sum, each window's winner, the ReLU mask, each
channel's mean and variance — are the worked solution. Numbers stay exact (ints, Fractions).
"""

from __future__ import annotations

import random
import statistics
from fractions import Fraction
from typing import Any

import numpy as np

from convcalc.compute.numbers import to_array
from convcalc.compute.windows import flip
from convcalc.engine.axis import conv_output_size, pool_output_size
from convcalc.errors import InputError
from convcalc.homework import mistakes
from convcalc.homework.model import Given, Part, Solution, Worked
from convcalc.homework.topics import Topic
from convcalc.trace.model import Trace
from convcalc.trace.run import Options, run
from convcalc.trace.spec import parse

MAX_ENTRY = 999
MAX_DENOMINATOR = 16
MAX_ENTRIES = 100  # a matrix a student works through by hand (and a trace that stays quick)


def trace_of(layer: dict[str, Any], x: Any, upstream: Any = None) -> Trace:
    """The trace of one layer on ``x`` with the upstream gradient given (``None``: L = Σ output,
    for a forward-only question). No finite differences: exact arithmetic needs none."""
    loss = {"type": "sum"} if upstream is None else {"type": "upstream", "grad": upstream}
    spec = parse({"input": x, "layers": [layer], "loss": loss}, "quiz question")
    return run(spec, Options(finite_differences=False))


def _matrix(values: Any, what: str) -> np.ndarray:
    array = to_array(values, what)
    if array.size > MAX_ENTRIES:
        raise InputError(f"{what} is {'x'.join(map(str, array.shape))} ({array.size} entries): a hand calculation "
                         f"takes at most {MAX_ENTRIES}")
    if array.dtype != object:
        raise InputError(f"{what} must hold whole numbers or p/q fractions (exact); got decimals")
    return array


def _steps(trace: Trace, *phases: str) -> tuple:
    return tuple(s for s in trace.steps if s.phase in phases and not s.heading.startswith("input"))


def check_small(array: np.ndarray, what: str) -> None:
    """Hand-calculation answers: whole numbers or simple fractions of modest size."""
    for value in np.asarray(array, dtype=object).flat:
        value = Fraction(value)
        if abs(value) > MAX_ENTRY or value.denominator > MAX_DENOMINATOR:
            raise InputError(f"{what} has the entry {value}: too large for a hand calculation")


def _ints(rng: random.Random, rows: int, cols: int, low: int, high: int) -> list[list[int]]:
    return [[rng.randint(low, high) for _ in range(cols)] for _ in range(rows)]


def _symmetric_180(kernel: list[list[int]]) -> bool:
    return kernel == [row[::-1] for row in kernel[::-1]]


def _kernel(rng: random.Random, size: int, low: int, high: int) -> list[list[int]]:
    for _ in range(50):  # a kernel equal to its own flip would hide the flipped-kernel mistake
        kernel = _ints(rng, size, size, low, high)
        if not _symmetric_180(kernel) and any(any(row) for row in kernel):
            return kernel
    return kernel


# --- numeric convolution -------------------------------------------------------------------------------


def _conv_layer(data: dict[str, Any], kernel: Any) -> dict[str, Any]:
    """The trace spec of the question's conv layer (no bias), with ``kernel`` as its weight."""
    layer: dict[str, Any] = {"type": "conv2d", "weight": kernel}
    for key in ("stride", "padding"):
        if key in data:
            layer[key] = data[key]
    return layer


def _geometry(data: dict[str, Any]) -> str:
    stride, pad = data.get("stride", 1), data.get("padding", 0)
    return f"stride {stride}, " + (f"padding {pad}" if pad else "no padding")


def draw_conv_numeric(rng: random.Random, difficulty: int) -> dict[str, Any]:
    if difficulty == 1:
        size, k, high = rng.choice((3, 4)), 2, 3
        data: dict[str, Any] = {}
    elif difficulty == 2:
        size, k, high = rng.choice((4, 5)), rng.choice((2, 3)), 5
        data = {}
    else:
        size, k, high = 5, 3, 5
        data = rng.choice(({"stride": 2}, {"padding": 1}))
    data = {"input": _ints(rng, size, size, 0, high), "kernel": _kernel(rng, k, -1, 2), **data}
    return data


def solve_conv_numeric(data: dict[str, Any]) -> Worked:
    x = _matrix(data.get("input"), "input")
    kernel = _matrix(data.get("kernel"), "kernel")
    trace = trace_of(_conv_layer(data, data["kernel"]), data["input"])
    output = trace.results["activations"][0]
    check_small(output, "J")
    flipped = trace_of(_conv_layer(data, flip(kernel, rank=2).tolist()), data["input"])
    prompt = f"Compute J = I * K (cross-correlation, as PyTorch's conv2d computes it; {_geometry(data)}, no bias)."
    part = Part("", "J", "matrix", output)
    solution = Solution(trace_steps=_steps(trace, "forward"), command=_conv_command(data))
    return Worked(
        prompt,
        (Given("I", x), Given("K", kernel)),
        (part,),
        solution,
        {"": (("flipped-kernel", flipped.results["activations"][0]),)},
    )


def _text(matrix: Any) -> str:
    return "; ".join(" ".join(str(v) for v in row) for row in np.asarray(matrix, dtype=object))


def _conv_command(data: dict[str, Any]) -> str:
    extra = "".join(f" --{key.replace('padding', 'pad')} {data[key]}" for key in ("stride", "padding") if data.get(key))
    return f'convcalc conv "{_text(data["input"])}" "{_text(data["kernel"])}"{extra} --explain'


# --- numeric pooling -----------------------------------------------------------------------------------


def _pool_layer(data: dict[str, Any]) -> dict[str, Any]:
    mode = data.get("mode", "max")
    if mode not in ("max", "avg"):
        raise InputError(f"'mode' must be max or avg; got {mode!r}")
    layer = {"type": f"{mode}pool2d", "kernel_size": data.get("k", 2)}
    if "stride" in data:
        layer["stride"] = data["stride"]
    return layer


def draw_pool_numeric(rng: random.Random, difficulty: int) -> dict[str, Any]:
    choices = (
        ({"mode": "max", "k": 2, "stride": 2, "size": 4},),
        ({"mode": "max", "k": 3, "stride": 1, "size": 4}, {"mode": "avg", "k": 2, "stride": 2, "size": 4}),
        ({"mode": "avg", "k": 2, "stride": 1, "size": 4}, {"mode": "max", "k": 3, "stride": 2, "size": 5}),
    )[difficulty - 1]
    setup: dict[str, Any] = dict(rng.choice(choices))
    size = setup.pop("size")
    return {"input": _ints(rng, size, size, 0, 9), **setup}


def solve_pool_numeric(data: dict[str, Any]) -> Worked:
    x = _matrix(data.get("input"), "input")
    trace = trace_of(_pool_layer(data), data["input"])
    output = trace.results["activations"][0]
    check_small(output, "P")
    mode = data.get("mode", "max")
    k = data.get("k", 2)
    what = "max pooling" if mode == "max" else "average pooling (give exact fractions)"
    prompt = f"Compute P, the {what} of I with {k}x{k} windows and stride {data.get('stride', k)}."
    solution = Solution(
        trace_steps=_steps(trace, "forward"),
        command=f'convcalc pool "{_text(x)}" --k {k} --stride {data.get("stride", k)} --mode {mode} --explain',
    )
    return Worked(prompt, (Given("I", x),), (Part("", "P", "matrix", output),), solution, {})


# --- conv backward -------------------------------------------------------------------------------------


def draw_conv_backprop(rng: random.Random, difficulty: int) -> dict[str, Any]:
    size, k, stride = ((3, 2, 1), (4, rng.choice((2, 3)), 1), (5, 3, 2))[difficulty - 1]
    out = conv_output_size(size, k, stride, 0, 0)
    data: dict[str, Any] = {
        "input": _ints(rng, size, size, 0, 3),
        "kernel": _kernel(rng, k, -1, 2),
        "upstream": _ints(rng, out, out, -1, 2),
    }
    if stride != 1:
        data["stride"] = stride
    return data


def solve_conv_backprop(data: dict[str, Any]) -> Worked:
    x = _matrix(data.get("input"), "input")
    kernel = _matrix(data.get("kernel"), "kernel")
    upstream = _matrix(data.get("upstream"), "upstream")
    trace = trace_of(_conv_layer(data, data["kernel"]), data["input"], data["upstream"])
    grad_kernel = trace.results["grads"][0]["weight"]
    grad_input = trace.results["grad_input"]
    check_small(grad_kernel, "δK")
    check_small(grad_input, "δI")
    # δI with K itself where flip(K) belongs: the backward of a conv whose kernel is flip(K)
    unflipped = trace_of(_conv_layer(data, flip(kernel, rank=2).tolist()), data["input"], data["upstream"])
    prompt = (
        f"A conv layer computes J = I * K (cross-correlation, {_geometry(data)}, no bias). Given the upstream "
        "gradient δJ = ∂L/∂J, compute (a) δK = ∂L/∂K and (b) δI = ∂L/∂I."
    )
    parts = (Part("a", "δK", "matrix", grad_kernel), Part("b", "δI", "matrix", grad_input))
    solution = Solution(
        trace_steps=_steps(trace, "backward"), command="convcalc backprop SPEC (this layer, loss upstream)"
    )
    return Worked(
        prompt,
        (Given("I", x), Given("K", kernel), Given("δJ", upstream)),
        parts,
        solution,
        {"b": (("unflipped-kernel", unflipped.results["grad_input"]),)},
    )


# --- max-pool backward ---------------------------------------------------------------------------------


def _has_tie(x: list[list[int]], k: int, stride: int) -> bool:
    """Whether some max-pool window of ``x`` holds its maximum twice (the calculator's windows)."""
    from convcalc.calculator.pool import pool

    windows = pool(to_array(x, "input"), kernel_size=(k, k), stride=(stride, stride), mode="max", explain=True)
    return any(sum(1 for _, value in entry.cells if value == entry.value) > 1 for entry in windows.entries)


def draw_pool_backprop(rng: random.Random, difficulty: int) -> dict[str, Any]:
    size, k, stride = ((4, 2, 2), rng.choice(((4, 2, 2), (3, 2, 1))), (5, 3, 2))[difficulty - 1]
    for _ in range(100):  # at least one tie, or the tie rule is not asked
        x = _ints(rng, size, size, 0, 4)
        if _has_tie(x, k, stride):
            break
    out = pool_output_size(size, k, stride, 0, 0)[0]
    # positive δP: where overlapping windows share a tied entry, their gradients cannot cancel
    upstream = _ints(rng, out, out, 1, 3)
    return {"input": x, "k": k, "stride": stride, "upstream": upstream}


def solve_pool_backprop(data: dict[str, Any]) -> Worked:
    from convcalc.calculator.pool import pool

    x = _matrix(data.get("input"), "input")
    upstream = _matrix(data.get("upstream"), "upstream")
    k, stride = data.get("k", 2), data.get("stride", data.get("k", 2))
    trace = trace_of(_pool_layer({"mode": "max", "k": k, "stride": stride}), data["input"], data["upstream"])
    grad_input = trace.results["grad_input"]
    check_small(grad_input, "δI")
    windows = pool(x, kernel_size=(k, k), stride=(stride, stride), mode="max", explain=True)
    every_tie = mistakes.maxpool_grad_to_every_tie(windows.entries, upstream, x.shape)
    prompt = (
        f"P = maxpool(I) with {k}x{k} windows and stride {stride}. Given the upstream gradient δP = ∂L/∂P, "
        "compute δI = ∂L/∂I as PyTorch computes it."
    )
    solution = Solution(
        trace_steps=_steps(trace, "forward", "backward"),
        command=f'convcalc pool "{_text(x)}" --k {k} --stride {stride} --explain',
    )
    return Worked(
        prompt,
        (Given("I", x), Given("δP", upstream)),
        (Part("", "δI", "matrix", grad_input),),
        solution,
        {"": (("tie-all", every_tie),)},
    )


# --- ReLU backward -------------------------------------------------------------------------------------


def draw_relu_backprop(rng: random.Random, difficulty: int) -> dict[str, Any]:
    rows, cols = ((2, 3), (3, 3), (3, 4))[difficulty - 1]
    x = _ints(rng, rows, cols, -3, 3)
    upstream = [[rng.choice((1, 2, 3, -1, -2)) for _ in range(cols)] for _ in range(rows)]
    r, c = rng.randrange(rows), rng.randrange(cols)
    x[r][c] = 0  # a zero input: ReLU′(0) is part of the question
    return {"input": x, "upstream": upstream}


def solve_relu_backprop(data: dict[str, Any]) -> Worked:
    x = _matrix(data.get("input"), "input")
    upstream = _matrix(data.get("upstream"), "upstream")
    trace = trace_of({"type": "relu"}, data["input"], data["upstream"])
    grad_input = trace.results["grad_input"]
    prompt = (
        "R = ReLU(x), element-wise. Given the upstream gradient δR = ∂L/∂R, compute δx = ∂L/∂x as PyTorch computes it."
    )
    solution = Solution(trace_steps=_steps(trace, "forward", "backward"))
    return Worked(
        prompt,
        (Given("x", x), Given("δR", upstream)),
        (Part("", "δx", "matrix", grad_input),),
        solution,
        {"": (("relu-prime-zero-one", mistakes.relu_grad_with_one_at_zero(x, upstream)),)},
    )


# --- batch norm statistics -----------------------------------------------------------------------------


def draw_batchnorm(rng: random.Random, difficulty: int) -> dict[str, Any]:
    batch, rows, cols = ((2, 1, 2), (2, 2, 2), (3, 1, 2))[difficulty - 1]
    count = batch * rows * cols
    for _ in range(200):
        values = [rng.randint(0, 9) for _ in range(count)]
        mean = statistics.mean(Fraction(v) for v in values)
        var = statistics.pvariance([Fraction(v) for v in values])  # the biased variance, exact
        if mean.denominator <= (1 if difficulty == 1 else 2) and var.denominator <= 4 and var:
            break
    maps = [[[values[(n * rows + r) * cols : (n * rows + r + 1) * cols] for r in range(rows)]] for n in range(batch)]
    return {"input": maps}


def _statistic(trace: Trace, target: str):
    for step in trace.steps:
        for entry in step.entries:
            if entry.target == target:
                return entry.result
    raise InputError(f"the batch-norm trace has no {target}")  # pragma: no cover - the trace always shows both


def solve_batchnorm(data: dict[str, Any]) -> Worked:
    x = _matrix(data.get("input"), "input")
    if x.ndim != 4 or x.shape[1] != 1:
        raise InputError(f"a batch-norm question takes N x 1 x H x W maps; got a {'x'.join(map(str, x.shape))} input")
    layer = {"type": "batchnorm2d", "eps": 0}
    trace = trace_of(layer, data["input"])
    unbiased = trace_of({**layer, "variance": "unbiased"}, data["input"])
    mean, var = _statistic(trace, "μ[0]"), _statistic(trace, "σ²[0]")
    check_small(np.array([mean, var], dtype=object), "μ, σ²")
    n, _, h, w = x.shape
    prompt = (
        f"A BatchNorm2d(1) layer in training mode sees this batch of N = {n} single-channel {h}x{w} maps. "
        "Compute (a) the batch mean μ and (b) the variance σ² it normalises with (as PyTorch does; take ε = 0)."
    )
    parts = (Part("a", "μ", "number", mean), Part("b", "σ²", "number", var))
    givens = tuple(Given(f"I[{i},0]", x[i, 0]) for i in range(n))
    solution = Solution(trace_steps=_steps(trace, "forward"))
    return Worked(prompt, givens, parts, solution, {"b": (("unbiased-variance", _statistic(unbiased, "σ²[0]")),)})


TOPICS = (
    Topic(
        "conv-numeric",
        "a numeric convolution (cross-correlation) of small integer matrices",
        draw_conv_numeric,
        solve_conv_numeric,
    ),
    Topic("pool-numeric", "numeric max or average pooling", draw_pool_numeric, solve_pool_numeric),
    Topic("conv-backprop", "conv backward: δK and δI from δJ", draw_conv_backprop, solve_conv_backprop),
    Topic(
        "pool-backprop",
        "max-pool backward with ties (PyTorch's first-maximum rule)",
        draw_pool_backprop,
        solve_pool_backprop,
    ),
    Topic("relu-backprop", "ReLU backward with an input at exactly 0", draw_relu_backprop, solve_relu_backprop),
    Topic(
        "batchnorm", "batch-norm statistics: the batch mean and the (biased) variance", draw_batchnorm, solve_batchnorm
    ),
)
