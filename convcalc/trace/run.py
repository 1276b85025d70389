"""Running a sequential spec: the forward pass through each layer's own ``forward``, the loss,
the backward pass through each layer's own ``backward`` — and, beside every step, the
derivation in the course's language (:mod:`convcalc.trace.explain_conv` and friends), the
optional gradient-descent update, and the self-checks.

One walk, written once; it knows the layers only through the contract of
:mod:`convcalc.compute` and the explainer registered for each layer type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from convcalc.compute.scalars import constant
from convcalc.trace import explain_conv, explain_norm, explain_pool, explain_simple
from convcalc.trace.context import Context
from convcalc.trace.explain_loss import evaluate, loss_step
from convcalc.trace.model import Matrix, Step, Trace
from convcalc.trace.spec import SequentialSpec, Tensor
from convcalc.trace.symbolic import symbolic_tensor


@dataclass(frozen=True)
class Options:
    """How to run a trace (the command line's flags)."""

    symbolic: tuple[str, ...] | None = None  # None: numbers; () or ("all",): every parameter
    lr: Any = None
    max_entries: int = 64
    force: bool = False
    finite_differences: bool = True
    verify_torch: bool = False


@dataclass(frozen=True)
class Pass:
    """The numbers of one forward + backward pass (internal layouts)."""

    inputs: list  # the input of each layer
    forwards: list  # Forward of each layer
    params: list  # dict of arrays per layer (as used: numbers or symbols)
    loss: Any
    grad_output: np.ndarray
    backwards: list  # Backward of each layer (in layer order)
    grads_out: list  # δ of each layer's output


def run(spec, options: Options) -> Trace:
    if spec.form == "graph":
        from convcalc.trace.graph_run import run_graph

        return run_graph(spec, options)
    return run_sequential(spec, options)


def initial_arrays(spec: SequentialSpec, chosen: tuple[str, ...]) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
    """The input and each layer's parameters, with the chosen tensors made symbolic."""

    def arrays(t: Tensor) -> np.ndarray:
        if t.name in chosen:
            return symbolic_tensor(_symbol_stem(t.name), t.values, t.given_shape)
        return t.values

    x = arrays(spec.input)
    params = [{key: arrays(t) for key, t in step.params.items()} for step in spec.layers]
    return x, params


def _symbol_stem(name: str) -> str:
    return {"γ": "gamma", "β": "beta"}.get(name, name)


def forward_backward(spec: SequentialSpec, x: np.ndarray, params: list[dict[str, np.ndarray]]) -> Pass:
    """The walk: every layer's forward, the loss, every layer's backward."""
    inputs, forwards = [], []
    for step, p in zip(spec.layers, params):
        inputs.append(x)
        merged = dict(p)
        merged.update({k: v if x.dtype == object else v.astype(np.float64) for k, v in step.buffers.items()})
        fwd = step.layer.forward(x, merged, training=True)
        forwards.append(fwd)
        x = fwd.output
    value, grad = evaluate(spec.loss, x)
    backwards: list = [None] * len(spec.layers)
    grads_out: list = [None] * len(spec.layers)
    dy = grad
    for i in range(len(spec.layers) - 1, -1, -1):
        grads_out[i] = dy
        backwards[i] = spec.layers[i].layer.backward(dy, forwards[i].cache)
        dy = backwards[i].grad_input
    return Pass(inputs, forwards, params, value, grad, backwards, grads_out)


def mode_of(spec: SequentialSpec | Any, chosen: tuple[str, ...]) -> str:
    if chosen:
        return "symbolic"
    return "exact" if spec.input.values.dtype == object else "float"


def run_sequential(spec: SequentialSpec, options: Options) -> Trace:
    from convcalc.trace.selection import check_size, choose

    chosen = choose(spec, options.symbolic)
    check_size(spec, chosen, options.force)
    x, params = initial_arrays(spec, chosen)
    run_ = forward_backward(spec, x, params)
    ctx = Context(spec.implicit_dims, options.max_entries, mode_of(spec, chosen))
    steps: list[Step] = [] if spec.layers[0].kind in _SHOWS_INPUT else [_input_step(ctx, spec, x)]
    names = [spec.input.name] + [s.output for s in spec.layers]
    for i, step in enumerate(spec.layers):
        steps.append(_FORWARD.get(step.kind, _f_generic)(ctx, step, params[i], names[i], run_.inputs[i],
                                                        run_.forwards[i]))
    y = run_.forwards[-1].output
    steps.append(loss_step(ctx, spec.loss, names[-1], y, run_.loss, run_.grad_output))
    for i in range(len(spec.layers) - 1, -1, -1):
        step = spec.layers[i]
        steps.append(
            _BACKWARD.get(step.kind, _b_generic)(
                ctx, step, params[i], names[i], run_.inputs[i], run_.forwards[i], run_.grads_out[i], run_.backwards[i]
            )
        )
    lr = options.lr if options.lr is not None else spec.lr
    updated = None
    if lr is not None:
        update, updated = _update_step(ctx, spec, params, run_, lr)
        steps.append(update)
    notes = _mode_notes(ctx.mode, chosen, spec.input.values.dtype)
    results = _results(ctx, spec, run_, updated)
    return make_trace(spec, "sequential", ctx.mode, steps, run_, results, notes, chosen, _checks(spec, run_, options))


def make_trace(spec, form: str, mode: str, steps, run_, results, notes, chosen, checks) -> Trace:
    """The finished board of a run (``form`` sequential or graph): the spec's title and
    description, the steps in order, the loss, the numbers behind --json, notes and checks."""
    return Trace(
        title=spec.title,
        form=form,
        mode=mode,
        steps=tuple(steps),
        loss=run_.loss,
        results=results,
        checks=tuple(checks),
        notes=tuple(notes),
        description=spec.description,
        symbols=chosen,
    )


def _checks(spec, run_, options: Options) -> list:
    """The checks asked for: finite differences, and PyTorch's autograd."""
    checks = []
    if options.finite_differences:
        from convcalc.trace.check import finite_difference_check

        checks.append(finite_difference_check(spec, run_))
    if options.verify_torch:
        from convcalc.trace.torch_check import torch_check

        checks.append(torch_check(spec, run_))
    return checks


def _mode_notes(mode: str, chosen: tuple[str, ...], dtype=None) -> list[str]:
    if mode == "exact":
        return ["exact arithmetic: whole numbers and fractions stay exact (1/2, not 0.5)"]
    if mode == "symbolic":
        return [
            f"symbolic: {', '.join(chosen)} written as symbols; every choice that depends on the numbers "
            "(ReLU masks, max-pool winners) is decided at the spec's values"
        ]
    if str(dtype) == "float32":  # the spec's "dtype": "float32"
        return ['floating point ("dtype": "float32"): float32 throughout, as PyTorch\'s default; the checks run '
                "in float64"]
    return ["floating point (the spec has decimals, or \"dtype\": \"float64\"): float64 throughout"]


#: layer types whose forward step already shows the layer's input
_SHOWS_INPUT = ("conv2d", "conv_transpose2d", "maxpool2d", "avgpool2d", "relu", "leaky_relu", "linear")


def _input_step(ctx: Context, spec: SequentialSpec, x: np.ndarray) -> Step:
    shape = "x".join(map(str, ctx.shape(x.shape)))
    return Step("forward", f"input {spec.input.name} ({shape})", (), (Matrix(spec.input.name, ctx.show(x)),))


# --- the explainers, by layer type ------------------------------------------------------------


def _f_conv(ctx, step, params, name, x, fwd):
    return explain_conv.conv_forward(ctx, step, params, name, x, fwd.output)


def _b_conv(ctx, step, params, name, x, fwd, dy, bwd):
    return explain_conv.conv_backward(ctx, step, params, name, x, dy, dict(bwd.grads), bwd.grad_input)


def _f_convt(ctx, step, params, name, x, fwd):
    return explain_conv.conv_transpose_forward(ctx, step, params, name, x, fwd.output)


def _b_convt(ctx, step, params, name, x, fwd, dy, bwd):
    return explain_conv.conv_transpose_backward(ctx, step, params, name, x, dy, dict(bwd.grads), bwd.grad_input)


def _f_max(ctx, step, params, name, x, fwd):
    return explain_pool.maxpool_forward(ctx, step, name, x, fwd.output, fwd.cache)


def _b_max(ctx, step, params, name, x, fwd, dy, bwd):
    return explain_pool.maxpool_backward(ctx, step, name, x, dy, bwd.grad_input, fwd.cache)


def _f_avg(ctx, step, params, name, x, fwd):
    return explain_pool.avgpool_forward(ctx, step, name, x, fwd.output, fwd.cache)


def _b_avg(ctx, step, params, name, x, fwd, dy, bwd):
    return explain_pool.avgpool_backward(ctx, step, name, x, dy, bwd.grad_input, fwd.cache)


def _f_relu(ctx, step, params, name, x, fwd):
    return explain_simple.relu_forward(ctx, step, name, x, fwd.output)


def _b_relu(ctx, step, params, name, x, fwd, dy, bwd):
    return explain_simple.relu_backward(ctx, step, name, x, dy, bwd.grad_input)


def _f_smooth(ctx, step, params, name, x, fwd):
    return explain_simple.smooth_forward(ctx, step, name, x, fwd.output)


def _b_smooth(ctx, step, params, name, x, fwd, dy, bwd):
    return explain_simple.smooth_backward(ctx, step, name, fwd.output, dy, bwd.grad_input)


def _f_softmax(ctx, step, params, name, x, fwd):
    return explain_simple.softmax_forward(ctx, step, name, x, fwd.output)


def _b_softmax(ctx, step, params, name, x, fwd, dy, bwd):
    return explain_simple.softmax_backward(ctx, step, name, fwd.output, dy, bwd.grad_input)


def _f_flatten(ctx, step, params, name, x, fwd):
    return explain_simple.flatten_forward(ctx, step, name, x, fwd.output)


def _b_flatten(ctx, step, params, name, x, fwd, dy, bwd):
    return explain_simple.flatten_backward(ctx, step, name, dy, bwd.grad_input)


def _f_linear(ctx, step, params, name, x, fwd):
    return explain_simple.linear_forward(ctx, step, params, name, x, fwd.output)


def _b_linear(ctx, step, params, name, x, fwd, dy, bwd):
    return explain_simple.linear_backward(ctx, step, params, name, x, dy, dict(bwd.grads), bwd.grad_input)


def _f_bn(ctx, step, params, name, x, fwd):
    return explain_norm.batchnorm_forward(ctx, step, params, name, x, fwd.output, fwd.cache, fwd.buffers)


def _b_bn(ctx, step, params, name, x, fwd, dy, bwd):
    return explain_norm.batchnorm_backward(ctx, step, params, name, x, dy, dict(bwd.grads), bwd.grad_input, fwd.cache)


def _f_generic(ctx, step, params, name, x, fwd):
    return explain_simple.generic_forward(ctx, step, name, fwd.output)


def _b_generic(ctx, step, params, name, x, fwd, dy, bwd):
    return explain_simple.generic_backward(ctx, step, name, dy, bwd.grad_input)


#: hand-written explanations; every other backprop type gets the generic one
_FORWARD: dict[str, Callable] = {
    "conv2d": _f_conv,
    "conv_transpose2d": _f_convt,
    "maxpool2d": _f_max,
    "avgpool2d": _f_avg,
    "relu": _f_relu,
    "leaky_relu": _f_relu,
    "sigmoid": _f_smooth,
    "tanh": _f_smooth,
    "softmax": _f_softmax,
    "flatten": _f_flatten,
    "linear": _f_linear,
    "batchnorm2d": _f_bn,
}
_BACKWARD: dict[str, Callable] = {
    "conv2d": _b_conv,
    "conv_transpose2d": _b_convt,
    "maxpool2d": _b_max,
    "avgpool2d": _b_avg,
    "relu": _b_relu,
    "leaky_relu": _b_relu,
    "sigmoid": _b_smooth,
    "tanh": _b_smooth,
    "softmax": _b_softmax,
    "flatten": _b_flatten,
    "linear": _b_linear,
    "batchnorm2d": _b_bn,
}


# --- gradient descent ----------------------------------------------------------------------------


def _update_step(ctx: Context, spec: SequentialSpec, params, run_: Pass, lr) -> tuple[Step, list]:
    matrices, rules, updated = [], [], []
    for i, step in enumerate(spec.layers):
        layer_updates = {}
        for key, t in step.params.items():
            value = params[i][key]
            grad = run_.backwards[i].grads[key]
            rate = constant(lr, value)
            new = value - grad * rate
            layer_updates[key] = new
            rules.append(f"{t.name} ← {t.name} − lr·δ{t.name}")
            matrices.append(Matrix(f"new {t.name}", ctx.show_param(t, new)))
        updated.append(layer_updates or None)
    lr_text = lr if not hasattr(lr, "denominator") or lr.denominator == 1 else f"{lr.numerator}/{lr.denominator}"
    if isinstance(lr, float) and ctx.mode != "float":  # a decimal rate is read as written: exact stays exact
        exact = Fraction(repr(lr))
        lr_text = f"{lr:g} = {exact.numerator}/{exact.denominator}" if exact.denominator != 1 else f"{lr:g}"
    step = Step("update", f"gradient-descent update (lr = {lr_text})", tuple(rules), tuple(matrices))
    return step, updated


# --- the numbers behind --json ------------------------------------------------------------------


def _results(ctx: Context, spec: SequentialSpec, run_: Pass, updated) -> dict:
    activations = [ctx.show(f.output) for f in run_.forwards]
    grads = []
    for i, step in enumerate(spec.layers):
        if not step.params:
            grads.append(None)
            continue
        layer_grads = {key: ctx.show_param(t, run_.backwards[i].grads[key]) for key, t in step.params.items()}
        if "weight" in layer_grads:
            layer_grads.setdefault("bias", None)  # a layer without a bias says so
        grads.append(layer_grads)
    out = {
        "input": ctx.show(run_.inputs[0]),
        "activations": activations,
        "loss": run_.loss,
        "grad_input": ctx.show(run_.backwards[0].grad_input),
        "grads": grads,
        "grad_activations": [ctx.show(g) for g in run_.grads_out],
        "layers": [
            {
                "index": s.index,
                "type": s.kind,
                "name": s.name,
                "output": s.output,
                "params": {k: t.name for k, t in s.params.items()},
                "shape": list(ctx.shape(s.output_shape)),
            }
            for s in spec.layers
        ],
        "input_name": spec.input.name,
    }
    if updated is not None:
        out["updated"] = [
            None if u is None else {k: ctx.show_param(spec.layers[i].params[k], v) for k, v in u.items()}
            for i, u in enumerate(updated)
        ]
    return out
