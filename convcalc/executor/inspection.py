"""One run of a network, looked at layer by layer (``convcalc run``): each layer's output
statistics, and with a backward pass the norms of the gradients reaching it; with both
backends, the largest difference per layer.

Statistics of a layer's output y over the whole batch: min, max, mean, standard deviation
(population, ddof 0), the fraction of entries exactly 0 (dead units after a ReLU), all
accumulated in float64. Gradient norms are Frobenius norms ‖δy‖ = √(Σ δy²) of δ of the loss
with respect to the layer's output, and ‖δθ‖ over all the layer's parameters together.
A difference is max |y_numpy − y_torch| over the entries, shown beside max |y_torch|.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from convcalc.executor import graph as walk
from convcalc.executor.losses import Loss


@dataclass(frozen=True)
class TensorStats:
    min: float
    max: float
    mean: float
    std: float
    zeros: float  # fraction of entries that are exactly 0
    norm: float

    @classmethod
    def of(cls, array: np.ndarray) -> TensorStats:
        a = np.asarray(array)
        if a.size == 0:
            return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        mean = float(a.mean(dtype=np.float64))
        std = float(a.std(dtype=np.float64))
        return cls(float(a.min()), float(a.max()), mean, std, float(np.count_nonzero(a == 0)) / a.size, norm(a))


def norm(array: np.ndarray) -> float:
    """The Frobenius norm √(Σ a²) (BLAS nrm2: no overflow in the squares)."""
    a = np.asarray(array)
    return float(np.linalg.norm(a.ravel() if a.dtype.kind == "f" else a.ravel().astype(np.float64)))


@dataclass(frozen=True)
class LayerRow:
    """One layer or merge: its output statistics and, after a backward pass, gradient norms."""

    name: str
    type: str
    output: tuple[int, ...]
    params: int
    stats: TensorStats | None        # None: not reached by this backend (a merge under torch)
    grad_norm: float | None = None   # ‖δ(output)‖
    param_grad_norm: float | None = None  # ‖δθ‖ over the layer's parameters


@dataclass(frozen=True)
class LayerDifference:
    """Largest |numpy − torch| of one layer's output (and gradients), beside the largest |torch| value."""

    name: str
    output: float | None
    output_scale: float | None
    grad: float | None = None
    grad_scale: float | None = None
    param_grad: float | None = None
    param_grad_scale: float | None = None


@dataclass(frozen=True)
class RunReport:
    network: str
    input: tuple[int, ...]
    output: tuple[int, ...]
    batch: int
    backend: str
    dtype: str
    training: bool
    input_source: str
    rows: tuple[LayerRow, ...]
    output_stats: TensorStats
    predictions: tuple[int, ...] | None
    loss: Loss | None = None
    loss_value: float | None = None
    grad_input_norm: float | None = None
    differences: tuple[LayerDifference, ...] | None = None
    torch_version: str = ""
    seconds: Mapping[str, float] | None = None
    notes: tuple[str, ...] = ()

    @property
    def backward(self) -> bool:
        return self.loss is not None

    def largest(self, field_name: str) -> LayerDifference | None:
        """The layer with the largest difference in ``output``, ``grad`` or ``param_grad``."""
        if not self.differences:
            return None
        present = [d for d in self.differences if getattr(d, field_name) is not None]
        return max(present, key=lambda d: getattr(d, field_name)) if present else None


def _max_diff(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a64 - b64))) if a64.size else 0.0, float(np.max(np.abs(b64))) if b64.size else 0.0


def _param_groups(graph: walk.Graph) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for spec in graph.parameters:
        groups.setdefault(spec.layer, []).append(spec.name)
    return groups


def _group_norm(names: list[str], grads: Mapping[str, np.ndarray]) -> float:
    return float(np.sqrt(sum(norm(grads[n]) ** 2 for n in names)))


@dataclass(frozen=True)
class _BackendRun:
    """One backend's observations, one entry per row of ``graph.rows`` (None: not seen)."""

    output: np.ndarray
    outputs: list
    grads: list
    param_grads: Mapping[str, np.ndarray]
    grad_input: np.ndarray | None
    loss_value: float | None
    seconds: Mapping[str, float]


def _by_row(graph: walk.Graph, seen: Mapping[str, list], backward: bool) -> list:
    """Observations collected per name → one per row. Rows may share a name (parameter-free layers
    such as torchvision's one ReLU per block): forward sees them in row order, backward in reverse."""
    taken: dict[str, int] = {}
    rows = []
    for name, _, _ in graph.rows:
        values = seen.get(name, [])
        k = taken.get(name, 0)
        taken[name] = k + 1
        index = len(values) - 1 - k if backward else k
        rows.append(values[index] if 0 <= index < len(values) else None)
    return rows


def _numpy_run(graph, x, params, buffers, training, rng, loss, labels, keep_arrays: bool) -> _BackendRun:
    outputs: dict[str, list] = {}
    grads: dict[str, list] = {}

    def see_output(name, array):
        outputs.setdefault(name, []).append(array if keep_arrays else TensorStats.of(array))

    def see_grad(name, array):
        grads.setdefault(name, []).append(array if keep_arrays else norm(array))

    started = time.perf_counter()
    passed = walk.forward(graph, x, params, buffers, training=training, rng=rng, keep=loss is not None,
                          observe=see_output)
    seconds = {"forward": time.perf_counter() - started}
    if loss is None:
        return _BackendRun(passed.output, _by_row(graph, outputs, False), [None] * len(graph.rows), {}, None, None,
                           seconds)
    value, delta = loss.value_and_grad(passed.output, labels)
    started = time.perf_counter()
    result = walk.backward(graph, passed, delta, observe=see_grad)
    seconds["backward"] = time.perf_counter() - started
    return _BackendRun(passed.output, _by_row(graph, outputs, False), _by_row(graph, grads, True), dict(result.params),
                       result.input, float(value), seconds)


def _torch_run(graph, x, params, buffers, training, loss, labels) -> _BackendRun:
    from convcalc.executor import torch_backend

    model = torch_backend.build_model(graph, params, buffers, x.dtype)
    values: list[float] = []

    def delta(output):
        value, grad = loss.value_and_grad(output, labels)
        values.append(float(value))
        return grad

    started = time.perf_counter()
    result = torch_backend.run(graph, x, params, buffers, training=training,
                               grad_output=delta if loss is not None else None, model=model)
    seconds = {"forward+backward" if loss is not None else "forward": time.perf_counter() - started}
    # torch.nn keeps one module per name: a repeated name is the last of its rows.
    last = {name: i for i, (name, _, _) in enumerate(graph.rows)}
    outputs = [result.layer_outputs.get(name) if last[name] == i else None for i, (name, _, _) in enumerate(graph.rows)]
    grads = [result.layer_grads.get(name) if last[name] == i else None for i, (name, _, _) in enumerate(graph.rows)]
    return _BackendRun(result.output, outputs, grads, result.param_grads, result.grad_input,
                       values[0] if values else None, seconds)


def inspect(graph: walk.Graph, x: np.ndarray, params: Mapping[str, np.ndarray], buffers: Mapping[str, np.ndarray], *,
            backend: str = "numpy", training: bool = False, rng: np.random.Generator | None = None,
            loss: Loss | None = None, labels: np.ndarray | None = None, compare: bool = False,
            input_source: str = "") -> RunReport:
    """Run ``graph`` on ``x`` with ``backend`` (numpy or torch), backward too when ``loss`` is given;
    ``compare`` runs both backends and reports the largest difference per layer."""
    with np.errstate(all="ignore"):  # an overflowing network shows inf/nan in its statistics instead
        return _inspect(graph, x, params, buffers, backend, training, rng, loss, labels, compare, input_source)


def _inspect(graph, x, params, buffers, backend, training, rng, loss, labels, compare, input_source) -> RunReport:
    notes: list[str] = []
    if compare:
        ours = _numpy_run(graph, x, params, buffers, training, rng, loss, labels, keep_arrays=True)
        theirs = _torch_run(graph, x, params, buffers, training, loss, labels)
        primary = ours if backend == "numpy" else theirs
        if training and any(leaf.type.startswith(("dropout", "stochastic")) for leaf in graph.leaves):
            notes.append("training mode: dropout masks come from each backend's own generator, so outputs after "
                         "dropout differ by design")
    elif backend == "torch":
        primary = theirs = _torch_run(graph, x, params, buffers, training, loss, labels)
        ours = None
    else:
        primary = ours = _numpy_run(graph, x, params, buffers, training, rng, loss, labels, keep_arrays=False)
        theirs = None

    groups = _param_groups(graph)
    counts: dict[str, int] = {}
    for spec in graph.parameters:
        counts[spec.layer] = counts.get(spec.layer, 0) + int(np.prod(spec.shape, dtype=np.int64))
    rows = []
    for (name, kind, shape), out, grad in zip(graph.rows, primary.outputs, primary.grads):
        stats = out if isinstance(out, TensorStats) or out is None else TensorStats.of(out)
        grad_norm = None if grad is None else (grad if isinstance(grad, float) else norm(grad))
        names = groups.get(name, [])
        param_grad_norm = _group_norm(names, primary.param_grads) if names and primary.param_grads else None
        rows.append(LayerRow(name, kind, shape, counts.get(name, 0), stats, grad_norm, param_grad_norm))

    differences = None
    if compare:
        differences = []
        for i, (name, _, _) in enumerate(graph.rows):
            if ours.outputs[i] is None or theirs.outputs[i] is None:
                continue  # a merge (no torch module), or an earlier row sharing its name
            out_d, out_s = _max_diff(ours.outputs[i], theirs.outputs[i])
            grad_d = grad_s = pg_d = pg_s = None
            if loss is not None and ours.grads[i] is not None and theirs.grads[i] is not None:
                grad_d, grad_s = _max_diff(ours.grads[i], theirs.grads[i])
            names = groups.get(name, [])
            if loss is not None and names:
                pairs = [_max_diff(ours.param_grads[n], theirs.param_grads[n]) for n in names]
                pg_d, pg_s = max(p[0] for p in pairs), max(p[1] for p in pairs)
            differences.append(LayerDifference(name, out_d, out_s, grad_d, grad_s, pg_d, pg_s))
        differences = tuple(differences)

    output = primary.output
    predictions = tuple(int(i) for i in np.argmax(output, axis=1)) if output.ndim == 2 else None
    torch_version = ""
    if theirs is not None:
        from convcalc.executor.torch_backend import torch_version as version

        torch_version = version()
    seconds = dict(primary.seconds)
    if compare:
        seconds = ({f"numpy {k}": v for k, v in ours.seconds.items()}
                   | {f"torch {k}": v for k, v in theirs.seconds.items()})
    return RunReport(
        network=graph.network.name, input=graph.input, output=graph.output, batch=int(x.shape[0]), backend=backend,
        dtype=str(x.dtype), training=training, input_source=input_source, rows=tuple(rows),
        output_stats=TensorStats.of(output), predictions=predictions, loss=loss, loss_value=primary.loss_value,
        grad_input_norm=None if primary.grad_input is None else norm(primary.grad_input),
        differences=differences, torch_version=torch_version, seconds=seconds, notes=tuple(notes),
    )
