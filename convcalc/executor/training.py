"""The training loop of the course — forward, loss, backward, K ← K − lr·δK — on mini-batches.

Every random choice comes from the seed through its own stream (``SeedSequence([seed, k])``):
k = 0 the initial weights, 1 the data (synthetic images, test and validation splits), 2 the
order of the samples in each epoch, 3 dropout, 4 data augmentation. The same seed gives the
same history, every run.
Each epoch visits the training samples in a fresh random order; the last, smaller batch of an
epoch is kept. Validation (if any) runs in evaluation mode (running statistics, no dropout).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from convcalc.errors import InputError
from convcalc.executor import graph as walk
from convcalc.executor.augment import Augment
from convcalc.executor.datasets import Dataset
from convcalc.executor.losses import Loss
from convcalc.executor.optim import Optimizer, OptimizerState

STREAM_INIT, STREAM_DATA, STREAM_ORDER, STREAM_DROPOUT, STREAM_AUGMENT = 0, 1, 2, 3, 4


def stream(seed: int, k: int) -> np.random.Generator:
    """The generator of stream ``k`` of ``seed`` (see the module doc)."""
    return np.random.default_rng(np.random.SeedSequence([seed, k]))


@dataclass(frozen=True)
class StepRecord:
    step: int
    epoch: int
    loss: float
    accuracy: float | None  # on this mini-batch (None: a regression loss)


@dataclass(frozen=True)
class Evaluation:
    step: int
    loss: float
    accuracy: float | None  # None: a regression loss
    samples: int


@dataclass(frozen=True)
class TrainPlan:
    steps: int
    batch_size: int
    optimizer: Optimizer
    loss: Loss
    eval_every: int  # steps between validations (0: only at the end)
    seed: int
    augment: Augment | None = None

    @property
    def description(self) -> str:
        return f"{self.steps} steps of batch {self.batch_size}, {self.optimizer.describe()}, {self.loss.name} loss"


@dataclass(frozen=True)
class TrainResult:
    history: tuple[StepRecord, ...]
    validation: tuple[Evaluation, ...]
    params: Mapping[str, np.ndarray] = field(repr=False)
    buffers: Mapping[str, np.ndarray] = field(repr=False)
    seconds: float
    epochs: float  # passes over the training samples

    @property
    def final(self) -> StepRecord:
        return self.history[-1]


def plan_steps(samples: int, batch_size: int, steps: int | None, epochs: int | None) -> int:
    """The number of updates: ``steps``, or ``epochs`` × ⌈samples / batch⌉ (1 epoch if neither)."""
    if steps is not None and epochs is not None:
        raise InputError("give --steps or --epochs, not both")
    if steps is not None:
        if steps < 1:
            raise InputError(f"--steps must be at least 1; got {steps}")
        return steps
    epochs = 1 if epochs is None else epochs
    if epochs < 1:
        raise InputError(f"--epochs must be at least 1; got {epochs}")
    return epochs * math.ceil(samples / batch_size)


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of samples whose highest score is their label (PyTorch argmax: first maximum)."""
    return float(np.mean(np.argmax(scores, axis=1) == labels)) if len(labels) else 0.0


def evaluate(graph: walk.Graph, params, buffers, x: np.ndarray, y: np.ndarray, loss: Loss, batch_size: int,
             step: int, predictions: list | None = None) -> Evaluation:
    """Mean loss and accuracy over ``x`` in evaluation mode, in batches, keeping no caches;
    each sample's predicted class is appended to ``predictions`` when given."""
    total, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        out = walk.forward(graph, xb, params, buffers, training=False, keep=False).output
        value, _ = loss.value_and_grad(out, yb)
        total += value * len(xb) if loss.mean else value
        if loss.classifies:
            predicted = np.argmax(out, axis=1)
            correct += int(np.sum(predicted == yb))
            if predictions is not None:
                predictions.extend(int(p) for p in predicted)
    n = len(x)
    return Evaluation(step, total / n if loss.mean else total, correct / n if loss.classifies else None, n)


def _batches(n: int, batch_size: int, rng: np.random.Generator):
    """Endless (epoch, indices) pairs: each epoch a fresh permutation cut into batches."""
    epoch = 0
    while True:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield epoch, order[start:start + batch_size]
        epoch += 1


def train(graph: walk.Graph, data: Dataset, params: Mapping[str, np.ndarray], buffers: Mapping[str, np.ndarray],
          plan: TrainPlan, on_step: Callable[[StepRecord, Evaluation | None], None] | None = None) -> TrainResult:
    """Train ``params`` on ``data`` following ``plan``; ``on_step`` sees every step (progress).

    Raises InputError naming the step if the loss stops being a finite number."""
    params = dict(params)
    buffers = dict(buffers)
    order = stream(plan.seed, STREAM_ORDER)
    dropout = stream(plan.seed, STREAM_DROPOUT)
    batches = _batches(len(data.x), plan.batch_size, order)
    augment = stream(plan.seed, STREAM_AUGMENT)
    with np.errstate(all="ignore"):  # overflow shows up as a non-finite loss, reported below
        return _loop(graph, data, params, buffers, plan, on_step, batches, dropout, augment)


def _loop(graph, data, params, buffers, plan, on_step, batches, dropout, augment) -> TrainResult:
    state = OptimizerState()
    history: list[StepRecord] = []
    validation: list[Evaluation] = []
    seen = 0
    started = time.perf_counter()
    for step in range(1, plan.steps + 1):
        epoch, index = next(batches)
        xb, yb = data.x[index], data.y[index]
        if plan.augment is not None:
            xb = plan.augment.apply(xb, augment)
        seen += len(index)
        passed = walk.forward(graph, xb, params, buffers, training=True, rng=dropout)
        value, grad = plan.loss.value_and_grad(passed.output, yb)
        if not math.isfinite(value):
            raise InputError(f"the loss became {value} at step {step} (epoch {epoch + 1}); "
                             "training stopped and nothing "
                             f"was saved — try a smaller --lr (now {plan.optimizer.lr:g}) or another --init")
        grads = walk.backward(graph, passed, grad).params
        params, state = plan.optimizer.step(params, grads, state)
        buffers = dict(passed.buffers)
        record = StepRecord(step, epoch + 1, float(value),
                            accuracy(passed.output, yb) if plan.loss.classifies else None)
        history.append(record)
        evaluation = None
        if data.has_validation and ((plan.eval_every and step % plan.eval_every == 0) or step == plan.steps):
            evaluation = evaluate(graph, params, buffers, data.x_val, data.y_val, plan.loss, plan.batch_size, step)
            validation.append(evaluation)
        if on_step is not None:
            on_step(record, evaluation)
    seconds = time.perf_counter() - started
    return TrainResult(tuple(history), tuple(validation), params, buffers, seconds, seen / len(data.x))
