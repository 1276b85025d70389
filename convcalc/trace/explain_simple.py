"""The element-wise layers, flatten and linear on the board: ReLU's mask (ReLU′(0) = 0 said
out loud), leaky ReLU's slope, σ(1 − σ), 1 − tanh², softmax's Jacobian-vector product,
flatten's reshape and linear's O = F·Wᵀ + b with δW = δOᵀ·F.

Every matrix shown is checked against the layer's own forward/backward.
"""

from __future__ import annotations

import numpy as np

from convcalc.compute.scalars import constant
from convcalc.trace.context import Context, ExplainedSums, require_agreement, total
from convcalc.trace.model import Matrix, Step
from convcalc.trace.spec import LayerStep


def _heading(step: LayerStep, text: str) -> str:
    return f"{step.index}. {step.name if step.name != step.kind else step.kind}: {text}"


def _result_step(ctx: Context, step: LayerStep, text: str, rule: str, y: np.ndarray, notes=()) -> Step:
    """A forward step that shows only its rule and the output matrix."""
    matrices = (Matrix(step.output, ctx.show(y)),)
    return Step("forward", _heading(step, text), (rule,), matrices, (), tuple(notes), step.index)


def _backward_step(step: LayerStep, rule: str, matrices: tuple[Matrix, ...], notes=()) -> Step:
    """A backward step: its one rule, the matrices shown, no per-entry sums."""
    return Step("backward", _heading(step, "backward"), (rule,), matrices, (), tuple(notes), step.index)


def _zeros_of(x: np.ndarray) -> list[tuple[int, ...]]:
    return [index for index in np.ndindex(*x.shape) if not (x[index] > 0) and not (x[index] < 0)]


# --- relu / leaky_relu -----------------------------------------------------------------------------


def relu_forward(ctx: Context, step: LayerStep, x_name: str, x: np.ndarray, y: np.ndarray) -> Step:
    leaky = step.kind == "leaky_relu"
    slope = step.options.get("negative_slope")
    negative = np.vectorize(lambda v: not (v > 0), otypes=[bool])(x) if x.size else np.zeros(x.shape, bool)
    if leaky:
        rule = (f"{step.output} = {x_name} where {x_name} > 0, else {_text(slope)}·{x_name}   "
                f"(leaky ReLU, negative_slope {_text(slope)})")
    else:
        rule = f"{step.output} = max({x_name}, 0)   (element-wise)"
    notes = []
    zeros = _zeros_of(x)
    if zeros and not leaky:
        where = ", ".join(ctx.label(x_name, z, x.shape) for z in zeros)
        exactly = "0 at the spec's numbers" if ctx.mode == "symbolic" else "exactly 0"
        notes.append(
            f"{where} {'is' if len(zeros) == 1 else 'are'} {exactly}: ReLU(0) = 0, "
            "and in the backward pass ReLU′(0) = 0"
        )
    matrices = (
        Matrix(x_name, ctx.show(x), marked=ctx.show(negative), marked_meaning="entries ≤ 0"),
        Matrix(step.output, ctx.show(y)),
    )
    return Step(
        "forward",
        _heading(step, f"{step.output} = {'leaky_relu' if leaky else 'ReLU'}({x_name})"),
        (rule,),
        matrices,
        (),
        tuple(notes),
        step.index,
    )


def relu_backward(ctx: Context, step: LayerStep, x_name: str, x: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> Step:
    leaky = step.kind == "leaky_relu"
    out, dX = f"δ{step.output}", f"δ{x_name}"
    if leaky:
        slope = constant(step.options.get("negative_slope"), dy)
        mask = np.empty(x.shape, dtype=object)
        for index in np.ndindex(*x.shape):
            mask[index] = 1 if x[index] > 0 else slope
        slope_text = _text(step.options.get("negative_slope"))
        rule = f"{dX} = {out} ⊙ LeakyReLU′({x_name}),  LeakyReLU′ = 1 where {x_name} > 0, else the slope {slope_text}"
        mask_name = f"LeakyReLU′({x_name})"
    else:
        mask = np.empty(x.shape, dtype=object)
        for index in np.ndindex(*x.shape):
            mask[index] = 1 if x[index] > 0 else 0
        rule = f"{dX} = {out} ⊙ [{x_name} > 0]   (ReLU passes the gradient where its input was positive, 0 elsewhere)"
        mask_name = f"[{x_name} > 0]"
    shown = np.empty(dy.shape, dtype=object)
    for index in np.ndindex(*dy.shape):
        shown[index] = dy[index] if mask[index] == 1 else dy[index] * mask[index]
    require_agreement(shown, dx, f"{step.label} {dX}")
    notes = []
    for z in _zeros_of(x):
        label = ctx.label(x_name, z, x.shape)
        if leaky:
            notes.append(
                f"{label} = 0: LeakyReLU′(0) = negative_slope (PyTorch), so {ctx.label(dX, z, x.shape)} = "
                f"slope·{ctx.label(out, z, dy.shape)}"
            )
        else:
            notes.append(
                f"{label} = 0: ReLU′(0) = 0 (PyTorch's convention), so {ctx.label(dX, z, x.shape)} = 0 "
                f"whatever {ctx.label(out, z, dy.shape)} is"
            )
    matrices = (Matrix(out, ctx.show(dy)), Matrix(mask_name, ctx.show(mask)), Matrix(dX, ctx.show(dx)))
    return _backward_step(step, rule, matrices, notes)


def _text(value) -> str:
    from fractions import Fraction

    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}" if value.denominator != 1 else str(value.numerator)
    return str(value)


# --- sigmoid / tanh ---------------------------------------------------------------------------------


def smooth_forward(ctx: Context, step: LayerStep, x_name: str, x: np.ndarray, y: np.ndarray) -> Step:
    rule = {
        "sigmoid": f"{step.output} = σ({x_name}) = 1/(1 + e^(−{x_name}))",
        "tanh": f"{step.output} = tanh({x_name})",
    }[step.kind]
    notes = ("exp makes irrational numbers: results are floats",) if x.dtype == object and ctx.mode == "exact" else ()
    return _result_step(ctx, step, f"{step.output} = {step.kind}({x_name})", rule + "   (element-wise)", y, notes)


def smooth_backward(ctx: Context, step: LayerStep, x_name: str, y: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> Step:
    out, dX = f"δ{step.output}", f"δ{x_name}"
    if step.kind == "sigmoid":
        local = y * (1 - y)
        rule = f"{dX} = {out} ⊙ {step.output}(1 − {step.output})   (σ′ = σ(1 − σ))"
        name = f"{step.output}(1 − {step.output})"
    else:
        local = 1 - y * y
        rule = f"{dX} = {out} ⊙ (1 − {step.output}²)   (tanh′ = 1 − tanh²)"
        name = f"1 − {step.output}²"
    require_agreement(dy * local, dx, f"{step.label} {dX}")
    matrices = (Matrix(out, ctx.show(dy)), Matrix(name, ctx.show(local)), Matrix(dX, ctx.show(dx)))
    return _backward_step(step, rule, matrices)


# --- softmax -----------------------------------------------------------------------------------------


def softmax_forward(ctx: Context, step: LayerStep, x_name: str, x: np.ndarray, y: np.ndarray) -> Step:
    rule = f"{step.output}[n,i] = e^{x_name}[n,i] / Σ_j e^{x_name}[n,j]   (softmax over dim 1)"
    return _result_step(ctx, step, f"{step.output} = softmax({x_name})", rule, y)


def softmax_backward(ctx: Context, step: LayerStep, x_name: str, y: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> Step:
    out, dX = f"δ{step.output}", f"δ{x_name}"
    inner = (dy * y).sum(axis=1, keepdims=True)
    shown = y * (dy - inner)
    require_agreement(shown, dx, f"{step.label} {dX}")
    rule = f"{dX} = {step.output} ⊙ ({out} − Σ_j {out}_j·{step.output}_j)   (the softmax Jacobian applied to {out})"
    matrices = (Matrix(out, ctx.show(dy)), Matrix(dX, ctx.show(dx)))
    return _backward_step(step, rule, matrices)


# --- flatten ---------------------------------------------------------------------------------------


def flatten_forward(ctx: Context, step: LayerStep, x_name: str, x: np.ndarray, y: np.ndarray) -> Step:
    rule = f"{step.output} = flatten({x_name}): the entries read row by row (row-major, as torch.flatten)"
    return _result_step(ctx, step, f"{step.output} = flatten({x_name})", rule, y)


def flatten_backward(ctx: Context, step: LayerStep, x_name: str, dy: np.ndarray, dx: np.ndarray) -> Step:
    out, dX = f"δ{step.output}", f"δ{x_name}"
    require_agreement(dy.reshape(dx.shape), dx, f"{step.label} {dX}")
    rule = f"{dX} = {out} reshaped back to the shape of {x_name} (flatten only moves entries)"
    return _backward_step(step, rule, (Matrix(out, ctx.show(dy)), Matrix(dX, ctx.show(dx))))


# --- linear ------------------------------------------------------------------------------------------


def linear_forward(ctx: Context, step: LayerStep, params, x_name: str, x: np.ndarray, y: np.ndarray) -> Step:
    W, b = step.params["weight"], step.params.get("bias")
    w, bias = params["weight"], params.get("bias")
    rows = x.reshape(-1, x.shape[-1])
    out_rows = y.reshape(-1, y.shape[-1])
    sums = ExplainedSums(ctx, out_rows, f"{step.label} forward", lambda rj: _row_label(ctx, step.output, y.shape, *rj))
    for r, j in np.ndindex(*out_rows.shape):
        terms = tuple((w[j, i], rows[r, i]) for i in range(rows.shape[1]))
        labels = ()
        if sums.explaining:
            labels = tuple(
                (ctx.param_label(W.name, W, (j, i)), _row_label(ctx, x_name, x.shape, r, i))
                for i in range(rows.shape[1])
            )
        sums.add((r, j), terms, labels=labels, addends=(bias[j],) if bias is not None else ())
    entries = sums.check()
    bias_text = f" + {b.name}" if b is not None else ""
    rule = (
        f"{step.output} = {x_name}·{W.name}ᵀ{bias_text}   "
        f"({step.output}[j] = Σ_i {W.name}[j,i]·{x_name}[i]{bias_text and ' + ' + b.name + '[j]'};"
        f" PyTorch stores {W.name} as out x in)"
    )
    matrices = [Matrix(x_name, ctx.show(x)), Matrix(W.name, ctx.show_param(W, w))]
    if b is not None:
        matrices.append(Matrix(b.name, ctx.show_param(b, bias)))
    matrices.append(Matrix(step.output, ctx.show(y)))
    return Step(
        "forward",
        _heading(step, f"{step.output} = {x_name}·{W.name}ᵀ{bias_text}"),
        (rule,),
        tuple(matrices),
        tuple(entries),
        (),
        step.index,
        sums.hidden,
    )


def _row_label(ctx: Context, name: str, shape, row: int, col: int) -> str:
    """The label of entry (row, col) of a tensor viewed as rows of its last axis."""
    index = tuple(int(v) for v in np.unravel_index(row * shape[-1] + col, shape))
    return ctx.label(name, index, shape)


def linear_backward(
    ctx: Context,
    step: LayerStep,
    params,
    x_name: str,
    x: np.ndarray,
    dy: np.ndarray,
    grads: dict[str, np.ndarray],
    dx: np.ndarray,
) -> Step:
    W, b = step.params["weight"], step.params.get("bias")
    w = params["weight"]
    out, dW, dX = f"δ{step.output}", f"δ{W.name}", f"δ{x_name}"
    rows = x.reshape(-1, x.shape[-1])
    drows = dy.reshape(-1, dy.shape[-1])
    dw_sums = ExplainedSums(ctx, grads["weight"], f"{step.label} {dW}", lambda ji: ctx.param_label(dW, W, ji))
    for j, i in np.ndindex(*w.shape):
        terms = tuple((drows[r, j], rows[r, i]) for r in range(rows.shape[0]))
        labels = ()
        if dw_sums.explaining:
            labels = tuple(
                (_row_label(ctx, out, dy.shape, r, j), _row_label(ctx, x_name, x.shape, r, i))
                for r in range(rows.shape[0])
            )
        dw_sums.add((j, i), terms, labels=labels)
    entries = dw_sums.check()
    rules = [
        f"{dW} = {out}ᵀ·{x_name}   ({dW}[j,i] = Σ_n {out}[n,j]·{x_name}[n,i]; in the course's x·W layout this is xᵀ·δy)"
    ]
    if b is not None:
        db = (
            drows.sum(axis=0)
            if drows.dtype != object
            else np.array([total(drows[:, j]) for j in range(drows.shape[1])], dtype=object)
        )
        require_agreement(db, grads["bias"], f"{step.label} δ{b.name}")
        rules.append(f"δ{b.name} = Σ_n {out}[n]")
    dx_sums = ExplainedSums(ctx, dx.reshape(rows.shape), f"{step.label} {dX}",
                            lambda ri: _row_label(ctx, dX, x.shape, *ri))
    for r, i in np.ndindex(*rows.shape):
        terms = tuple((drows[r, j], w[j, i]) for j in range(w.shape[0]))
        labels = ()
        if dx_sums.explaining:
            labels = tuple(
                (_row_label(ctx, out, dy.shape, r, j), ctx.param_label(W.name, W, (j, i))) for j in range(w.shape[0])
            )
        dx_sums.add((r, i), terms, labels=labels)
    entries += dx_sums.check()
    rules.append(f"{dX} = {out}·{W.name}   ({dX}[i] = Σ_j {out}[j]·{W.name}[j,i])")
    matrices = [Matrix(out, ctx.show(dy)), Matrix(dW, ctx.show_param(W, grads["weight"]))]
    if b is not None:
        matrices.append(Matrix(f"δ{b.name}", ctx.show_param(b, grads["bias"])))
    matrices.append(Matrix(dX, ctx.show(dx)))
    hidden = dw_sums.hidden + dx_sums.hidden
    return Step(
        "backward", _heading(step, "backward"), tuple(rules), tuple(matrices), tuple(entries), (), step.index, hidden
    )


# --- any other layer type: the rule its descriptor states, and the matrices -----------------------


def generic_forward(ctx: Context, step: LayerStep, x_name: str, y: np.ndarray) -> Step:
    """A layer type without a hand-written explanation: its name, its rule, its output."""
    from convcalc.layers.descriptor import of_layer

    descriptor = of_layer(step.layer)
    rule = f"{step.output} = {step.kind}({x_name})" + (f": {descriptor.summary}" if descriptor else "")
    return _result_step(ctx, step, f"{step.output} = {step.kind}({x_name})", rule, y)


def generic_backward(ctx: Context, step: LayerStep, x_name: str, dy: np.ndarray, dx: np.ndarray) -> Step:
    out, dX = f"δ{step.output}", f"δ{x_name}"
    rule = f"{dX} = the local gradient of {step.kind} applied to {out} (the layer's own backward)"
    return _backward_step(step, rule, (Matrix(out, ctx.show(dy)), Matrix(dX, ctx.show(dx))))
