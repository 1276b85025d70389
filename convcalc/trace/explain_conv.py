"""conv2d and conv_transpose2d on the board: each output entry's sum of products, and the
backward pass in the course's form — δK = I * δJ, δI = pad(δJ) * flip(K) (with the
zero-inserted δJ for a stride > 1, the padding cropped away, the channels' roles swapped).

The matrices shown (pad, insert_zeros, flip) come from :mod:`convcalc.compute.windows`; each
entry's sum is recomputed here from them and must equal what the layer's own
forward/backward returned (:func:`~convcalc.trace.context.require_agreement`).
"""

from __future__ import annotations

import numpy as np

from convcalc.compute import windows
from convcalc.layers.base import analyze_batched
from convcalc.trace.context import Context, ExplainedSums, require_agreement, total
from convcalc.trace.model import Entry, Matrix, Step
from convcalc.trace.spec import LayerStep


def _structural(shape: tuple[int, ...], pads, stride=(1, 1)) -> np.ndarray:
    """True where a padded (and zero-inserted) array holds a structural zero."""
    inner = tuple(((n - 1) * s + 1 if s > 1 else n) for n, s in zip(shape[-2:], stride))
    mask = np.ones(shape[:-2] + tuple(i + a + b for i, (a, b) in zip(inner, pads)), dtype=bool)
    region = mask[(..., slice(pads[0][0], pads[0][0] + inner[0]), slice(pads[1][0], pads[1][0] + inner[1]))]
    region[(..., slice(None, None, stride[0]), slice(None, None, stride[1]))] = False
    return mask


def _resolved_pads(step: LayerStep) -> tuple[tuple[int, int], ...]:
    report = analyze_batched(step.layer, step.input_shape)
    return tuple(tuple(int(v) for v in p) for p in report.hyper["padding"])


def _stride_dilation_groups(step: LayerStep) -> tuple[tuple[int, int], tuple[int, int], int]:
    o = step.options
    return o["stride"], o.get("dilation", (1, 1)), o["groups"]


def _padded_input(step: LayerStep, x_name: str, x: np.ndarray) -> tuple[tuple, str, np.ndarray, str]:
    """The resolved padding, the padding mode, pad(I) and its name (just I when nothing is padded)."""
    pads = _resolved_pads(step)
    mode = step.options.get("padding_mode", "zeros")
    padded = windows.pad(x, pads, mode)
    padded_name = x_name if all(p == (0, 0) for p in pads) else f"pad({x_name})"
    return pads, mode, padded, padded_name


def _hyper_text(step: LayerStep) -> str:
    o = step.options
    parts = [f"stride {_pair(o['stride'])}"]
    pad = o["padding"]
    if isinstance(pad, str):
        parts.append(f"padding {pad}")
    elif isinstance(pad[0], tuple):  # asymmetric: before:after per axis
        parts.append("padding " + "x".join(f"{a}:{b}" for a, b in pad))
    else:
        parts.append(f"padding {_pair(pad)}")
    if o.get("dilation", (1, 1)) != (1, 1):
        parts.append(f"dilation {_pair(o['dilation'])}")
    if o.get("groups", 1) != 1:
        parts.append(f"groups {o['groups']}")
    if o.get("output_padding", (0, 0)) != (0, 0):
        parts.append(f"output_padding {_pair(o['output_padding'])}")
    if o.get("padding_mode", "zeros") != "zeros":
        parts.append(f"padding_mode {o['padding_mode']}")
    return ", ".join(parts)


def _check_bias_grad(step: LayerStep, b, dy: np.ndarray, grads: dict[str, np.ndarray]) -> None:
    """δb[co] = Σ δJ[:, co], recomputed and checked against the layer's own gradient."""
    db = np.empty(dy.shape[1], dtype=object)
    for co in range(dy.shape[1]):
        db[co] = total(dy[:, co].flat)
    require_agreement(db, grads["bias"], f"{step.label} δ{b.name}")


def _gradient_matrices(
    ctx: Context, K, b, grads: dict[str, np.ndarray], dK: str, dI: str, dx: np.ndarray
) -> list[Matrix]:
    """The matrices δK, δb (when there is a bias) and δI, in that order."""
    matrices = [Matrix(dK, ctx.show_param(K, grads["weight"]))]
    if b is not None:
        matrices.append(Matrix(f"δ{b.name}", ctx.show_param(b, grads["bias"])))
    matrices.append(Matrix(dI, ctx.show(dx)))
    return matrices


def _pair(p) -> str:
    return str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"


def _simple(step: LayerStep, x_shape) -> bool:
    """The course's setting: one channel in and out, stride 1, no padding, no dilation."""
    w = step.params["weight"].values
    o = step.options
    pads = _resolved_pads(step)
    return (
        w.shape[0] == 1
        and w.shape[1] == 1
        and x_shape[0] == 1
        and o["stride"] == (1, 1)
        and all(p == (0, 0) for p in pads)
        and o.get("dilation", (1, 1)) == (1, 1)
    )


# --- conv2d --------------------------------------------------------------------------------------


def conv_forward(
    ctx: Context, step: LayerStep, params: dict[str, np.ndarray], x_name: str, x: np.ndarray, y: np.ndarray
) -> Step:
    K, b = step.params["weight"], step.params.get("bias")
    w = params["weight"]
    bias = params.get("bias")
    (sh, sw), (dh, dw), groups = _stride_dilation_groups(step)
    pads, mode, padded, padded_name = _padded_input(step, x_name, x)
    _n, c_out, _oh, _ow = y.shape
    c_in_g = w.shape[1]
    kh, kw = w.shape[2:]
    sums = ExplainedSums(ctx, y, f"{step.label} forward", lambda index: ctx.label(step.output, index, y.shape),
                         padded_name)
    for index in np.ndindex(*y.shape):
        b_, co, yy, xx = index
        g = co // (c_out // groups)
        terms, cells, labels = [], [], []
        for cl in range(c_in_g):
            ci = g * c_in_g + cl
            for u in range(kh):
                for v in range(kw):
                    cell = (b_, ci, yy * sh + u * dh, xx * sw + v * dw)
                    terms.append((padded[cell], w[co, cl, u, v]))
                    cells.append(ctx.cell(cell, padded.shape))
                    if sums.explaining:
                        labels.append(
                            (ctx.label(padded_name, cell, padded.shape), ctx.param_label(K.name, K, (co, cl, u, v)))
                        )
        sums.add(index, terms, cells, labels, (bias[co],) if bias is not None else ())
    entries = sums.check()
    matrices = [Matrix(x_name, ctx.show(x))]
    if padded_name != x_name:
        matrices.append(
            Matrix(
                padded_name,
                ctx.show(padded),
                structural=ctx.show(_structural(x.shape, pads)),
                caption=f"{mode} padding {pads[0][0]}:{pads[0][1]} rows, {pads[1][0]}:{pads[1][1]} columns"
                if mode == "zeros"
                else f"{mode} padding",
            )
        )
    matrices.append(Matrix(K.name, ctx.show_param(K, w)))
    if b is not None:
        matrices.append(Matrix(b.name, ctx.show_param(b, bias)))
    matrices.append(Matrix(step.output, ctx.show(y)))
    bias_text = f" + {b.name}" if b is not None else ""
    if _simple(step, x.shape[1:]):
        rules = (
            f"{step.output} = {x_name} * {K.name}{bias_text}   (* is cross-correlation, as in PyTorch: "
            f"{step.output}[i,j] = Σ_u Σ_v {x_name}[i+u, j+v]·{K.name}[u,v]{bias_text})",
        )
    else:
        row = _index_text("y", sh, "u", dh)
        col = _index_text("x", sw, "v", dw)
        channels = "Σ_c " if c_in_g > 1 else ""
        kidx = "co,c,u,v" if c_in_g > 1 or c_out > 1 else "u,v"
        src_c = "c, " if x.shape[1] > 1 or c_in_g > 1 else ""
        rules = (
            f"{step.output}[co,y,x] = {channels}Σ_u Σ_v {padded_name}[{src_c}{row}, {col}]·{K.name}[{kidx}]"
            f"{(' + ' + b.name + '[co]') if b is not None else ''}   (cross-correlation; {_hyper_text(step)})",
        )
        if groups > 1:
            rules += (f"groups {groups}: output channel co reads only the {c_in_g} input channels of its group",)
    notes = list(step.notes) + _coverage_notes(step)
    name = step.name if step.name != step.kind else "conv2d"
    heading = f"{step.index}. {name}: {step.output} = {x_name} * {K.name}{bias_text}"
    return Step("forward", heading, rules, tuple(matrices), tuple(entries), tuple(notes), step.index, sums.hidden)


def _index_text(out: str, s: int, tap: str, d: int) -> str:
    left = out if s == 1 else f"{s}{out}"
    right = tap if d == 1 else f"{d}{tap}"
    return f"{left}+{right}"


def _coverage_notes(step: LayerStep) -> list[str]:
    report = analyze_batched(step.layer, step.input_shape)
    return list(report.warnings)


def conv_backward(
    ctx: Context,
    step: LayerStep,
    params: dict[str, np.ndarray],
    x_name: str,
    x: np.ndarray,
    dy: np.ndarray,
    grads: dict[str, np.ndarray],
    dx: np.ndarray,
) -> Step:
    K, b = step.params["weight"], step.params.get("bias")
    w = params["weight"]
    (sh, sw), (dh, dw), groups = _stride_dilation_groups(step)
    pads, mode, padded, padded_name = _padded_input(step, x_name, x)
    n, c_out, oh, ow = dy.shape
    c_in_g, kh, kw = w.shape[1:]
    out, dK, dI, dX = f"δ{step.output}", f"δ{K.name}", f"δ{x_name}", f"δ{padded_name}"
    matrices = [Matrix(out, ctx.show(dy))]
    rules: list[str] = []
    simple = _simple(step, x.shape[1:])

    # δb = Σ δJ
    if b is not None:
        _check_bias_grad(step, b, dy, grads)
        rules.append(
            f"δ{b.name} = Σ {out}"
            + ("  (per output channel, over the batch and every position)" if c_out > 1 or n > 1 else "")
        )

    # δK = I * δJ: the correlation of the (padded) input with δJ (zero-inserted for stride > 1)
    dk_sums = ExplainedSums(ctx, grads["weight"], f"{step.label} {dK}", lambda index: ctx.param_label(dK, K, index),
                            padded_name)
    for index in np.ndindex(*w.shape):
        co, cl, u, v = index
        ci = (co // (c_out // groups)) * c_in_g + cl
        terms, cells, labels = [], [], []
        for b_ in range(n):
            for yy in range(oh):
                for xx in range(ow):
                    cell = (b_, ci, yy * sh + u * dh, xx * sw + v * dw)
                    terms.append((padded[cell], dy[b_, co, yy, xx]))
                    cells.append(ctx.cell(cell, padded.shape))
                    if dk_sums.explaining:
                        labels.append(
                            (ctx.label(padded_name, cell, padded.shape), ctx.label(out, (b_, co, yy, xx), dy.shape))
                        )
        dk_sums.add(index, terms, cells, labels)
    entries = dk_sums.check()
    hidden = dk_sums.hidden
    if simple:
        rules.append(
            f"{dK} = {x_name} * {out}   ({dK}[u,v] = Σ_i Σ_j {x_name}[i+u, j+v]·{out}[i,j]: "
            f"the input correlated with the upstream gradient)"
        )
    else:
        rules.append(
            f"{dK}[co,c,u,v] = Σ_n Σ_y Σ_x {padded_name}[n, c, {_index_text('y', sh, 'u', dh)}, "
            f"{_index_text('x', sw, 'v', dw)}]·{out}[n,co,y,x]   ({padded_name} * {out}"
            + (f" with {out} zero-inserted (stride {_pair((sh, sw))})" if (sh, sw) != (1, 1) else "")
            + (f", sampled every {_pair((dh, dw))} (dilation)" if (dh, dw) != (1, 1) else "")
            + ")"
        )

    # δI = pad(δJ) * flip(K)
    spread = windows.insert_zeros(dy, (sh, sw))
    full = ((dh * (kh - 1), dh * (kh - 1)), (dw * (kw - 1), dw * (kw - 1)))
    padded_dy = windows.pad(spread, full)
    flipped = windows.flip(w, 2)
    structural = _structural(dy.shape, full, (sh, sw))
    spread_name = out if (sh, sw) == (1, 1) else f"zero-inserted {out}"
    pad_name = f"pad({out})"
    if (sh, sw) != (1, 1):
        matrices.append(
            Matrix(
                spread_name,
                ctx.show(spread),
                structural=ctx.show(_structural(dy.shape, ((0, 0), (0, 0)), (sh, sw))),
                caption=f"{_pair((sh - 1, sw - 1))} zero(s) inserted between entries (stride {_pair((sh, sw))})",
            )
        )
    matrices.append(
        Matrix(
            pad_name,
            ctx.show(padded_dy),
            structural=ctx.show(structural),
            caption=f"{full[0][0]} zero rows above and below, {full[1][0]} zero columns left and right",
        )
    )
    matrices.append(Matrix(f"flip({K.name})", ctx.show_param(K, flipped), caption="rotated by 180°"))
    grad_padded = np.empty(padded.shape, dtype=object)
    covered_h = (oh - 1) * sh + dh * (kh - 1) + 1
    covered_w = (ow - 1) * sw + dw * (kw - 1) + 1
    c_in = x.shape[1]
    di_entries = []
    (pt, pb), (pl, pr) = pads
    di_budget = ctx.limit(x.size)
    for index in np.ndindex(*padded.shape):
        b_, ci, p, q = index
        if p >= covered_h or q >= covered_w:
            grad_padded[index] = 0
            continue
        g = ci // c_in_g
        cl = ci % c_in_g
        terms, cells, labels = [], [], []
        for co in range(g * (c_out // groups), (g + 1) * (c_out // groups)):
            for u in range(kh):
                for v in range(kw):
                    cell = (b_, co, p + u * dh, q + v * dw)
                    if structural[cell]:
                        continue
                    terms.append((padded_dy[cell], flipped[co, cl, u, v]))
                    cells.append(ctx.cell(cell, padded_dy.shape))
                    labels.append(
                        (
                            ctx.label(pad_name, cell, padded_dy.shape),
                            ctx.param_label(f"flip({K.name})", K, (co, cl, u, v)),
                        )
                    )
        grad_padded[index] = total(a * c for a, c in terms)
        inside = pt <= p < padded.shape[2] - pb and pl <= q < padded.shape[3] - pr
        if (inside or mode != "zeros") and len(di_entries) < di_budget:
            if mode == "zeros":
                target_index = (b_, ci, p - pt, q - pl)
                label = ctx.label(dI, target_index, x.shape)
            else:
                label = ctx.label(dX, index, padded.shape)
            di_entries.append(
                Entry(
                    label,
                    "sum",
                    grad_padded[index],
                    terms=tuple(terms),
                    source=pad_name,
                    window=tuple(cells),
                    note="" if terms else "no window of the output reads it",
                    labels=tuple(labels),
                )
            )
    shown_dx = windows.pad_backward(grad_padded, pads, mode)
    require_agreement(shown_dx, dx, f"{step.label} {dI}")
    entries += di_entries
    hidden += max(0, (x.size if mode == "zeros" else padded.size) - len(di_entries))
    if simple:
        rules.append(
            f"{dI} = pad({out}) * flip({K.name})   (pad adds {kh - 1} zero rows above and below and "
            f"{kw - 1} zero columns left and right, so pad({out}) is {padded_dy.shape[2]}x{padded_dy.shape[3]}; "
            f"flip rotates {K.name} by 180°)"
        )
    else:
        steps = []
        if (sh, sw) != (1, 1):
            steps.append(f"insert s − 1 zeros between the entries of {out} (stride {_pair((sh, sw))})")
        steps.append(f"pad by d·(k − 1) = {_pair((full[0][0], full[1][0]))} zeros on every side")
        steps.append(
            f"correlate with flip({K.name})"
            + (f" (dilation {_pair((dh, dw))})" if (dh, dw) != (1, 1) else "")
            + (", input and output channels swapped" if c_out > 1 or c_in > 1 else "")
        )
        if any(p != (0, 0) for p in pads):
            steps.append(
                f"crop the padding ({_pair((pt, pl))} before, {_pair((pb, pr))} after): its gradient is dropped"
                if mode == "zeros"
                else f"fold the {mode} padding's gradient back onto the entries it copies"
            )
        rules.append(f"{dI} = pad({out}) * flip({K.name}): " + "; ".join(f"{i + 1}) {s}" for i, s in enumerate(steps)))
    if covered_h < padded.shape[2] or covered_w < padded.shape[3]:
        rules.append(
            f"the last {padded.shape[2] - covered_h} row(s) / {padded.shape[3] - covered_w} column(s) of "
            f"{padded_name} are never read by a window: their gradient is 0"
        )
    if padded_name != x_name:
        matrices.append(Matrix(dX, ctx.show(grad_padded), caption="gradient of the padded input"))
    matrices += _gradient_matrices(ctx, K, b, grads, dK, dI, dx)
    notes = ["terms under the padding zeros of pad(δ…) are left out of each sum"]
    heading = f"{step.index}. {step.name if step.name != step.kind else 'conv2d'} backward"
    return Step("backward", heading, tuple(rules), tuple(matrices), tuple(entries), tuple(notes), step.index, hidden)


# --- conv_transpose2d ------------------------------------------------------------------------------


def conv_transpose_forward(
    ctx: Context, step: LayerStep, params: dict[str, np.ndarray], x_name: str, x: np.ndarray, y: np.ndarray
) -> Step:
    """U = the equivalent direct convolution: pad(zero-inserted I) * flip(K), cropped by p."""
    K, b = step.params["weight"], step.params.get("bias")
    w = params["weight"]
    bias = params.get("bias")
    (sh, sw), (dh, dw), groups = _stride_dilation_groups(step)
    (ph, pw), (oph, opw) = step.options["padding"], step.options.get("output_padding", (0, 0))
    _n, c_in, _ih, _iw = x.shape
    kh, kw = w.shape[2:]
    c_out_g = w.shape[1]
    spread = windows.insert_zeros(x, (sh, sw))
    full = ((dh * (kh - 1), dh * (kh - 1)), (dw * (kw - 1), dw * (kw - 1)))
    padded = windows.pad(spread, full)
    structural = _structural(x.shape, full, (sh, sw))
    flipped = windows.flip(w, 2)
    _oh, _ow = y.shape[2:]
    src = f"pad({x_name})" if (sh, sw) == (1, 1) else f"pad(zero-inserted {x_name})"
    sums = ExplainedSums(ctx, y, f"{step.label} forward", lambda index: ctx.label(step.output, index, y.shape), src)
    for index in np.ndindex(*y.shape):
        b_, co, yy, xx = index
        g, cl = co // c_out_g, co % c_out_g
        p, q = yy + ph, xx + pw
        terms, cells, labels = [], [], []
        for ci in range(g * (c_in // groups), (g + 1) * (c_in // groups)):
            for u in range(kh):
                for v in range(kw):
                    cell = (b_, ci, p + u * dh, q + v * dw)
                    if cell[2] >= padded.shape[2] or cell[3] >= padded.shape[3] or structural[cell]:
                        continue  # output_padding rows past the buffer, and zeros: nothing to add
                    terms.append((padded[cell], flipped[ci, cl, u, v]))
                    cells.append(ctx.cell(cell, padded.shape))
                    if sums.explaining:
                        labels.append(
                            (ctx.label(src, cell, padded.shape), ctx.param_label(f"flip({K.name})", K, (ci, cl, u, v)))
                        )
        sums.add(index, terms, cells, labels, (bias[co],) if bias is not None else ())
    entries = sums.check()
    matrices = [Matrix(x_name, ctx.show(x))]
    if (sh, sw) != (1, 1):
        matrices.append(
            Matrix(
                f"zero-inserted {x_name}",
                ctx.show(spread),
                structural=ctx.show(_structural(x.shape, ((0, 0), (0, 0)), (sh, sw))),
            )
        )
    matrices.append(
        Matrix(
            src,
            ctx.show(padded),
            structural=ctx.show(structural),
            caption=f"padded by d·(k − 1) = {_pair((full[0][0], full[1][0]))} on every side",
        )
    )
    matrices.append(Matrix(f"flip({K.name})", ctx.show_param(K, flipped), caption="rotated by 180°"))
    if b is not None:
        matrices.append(Matrix(b.name, ctx.show_param(b, bias)))
    matrices.append(Matrix(step.output, ctx.show(y)))
    rules = (
        f"{step.output} = conv_transpose({x_name}, {K.name}): the stride-1 correlation of {src} with flip({K.name})"
        + (f", cropped by the padding {_pair((ph, pw))}" if (ph, pw) != (0, 0) else "")
        + (f", output_padding {_pair((oph, opw))} extra row(s)/column(s) at the end" if (oph, opw) != (0, 0) else "")
        + f"   ({_hyper_text(step)})",
        f"equivalently: every input entry scatters {x_name}[c,i,j]·{K.name}[c,co,:,:] into the output at "
        f"({sh}i − {ph}, {sw}j − {pw})",
    )
    name = step.name if step.name != step.kind else "conv_transpose2d"
    heading = f"{step.index}. {name}: {step.output} = {x_name} ⊛ᵀ {K.name}"
    return Step("forward", heading, rules, tuple(matrices), tuple(entries), tuple(step.notes), step.index, sums.hidden)


def conv_transpose_backward(
    ctx: Context,
    step: LayerStep,
    params: dict[str, np.ndarray],
    x_name: str,
    x: np.ndarray,
    dy: np.ndarray,
    grads: dict[str, np.ndarray],
    dx: np.ndarray,
) -> Step:
    """δI = δU * K (a direct conv, stride s, padding p); δK[ci,co,u,v] = Σ I[ci,t]·pad(δU)[co, s·t + d·u]."""
    K, b = step.params["weight"], step.params.get("bias")
    w = params["weight"]
    (sh, sw), (dh, dw), groups = _stride_dilation_groups(step)
    (ph, pw) = step.options["padding"]
    n, c_in, ih, iw = x.shape
    c_out_g, kh, kw = w.shape[1:]
    oh, ow = dy.shape[2:]
    fh = max((ih - 1) * sh + dh * (kh - 1) + 1, ph + oh)
    fw = max((iw - 1) * sw + dw * (kw - 1) + 1, pw + ow)
    pads = ((ph, fh - ph - oh), (pw, fw - pw - ow))
    padded = windows.pad(dy, pads)
    out, dK, dI = f"δ{step.output}", f"δ{K.name}", f"δ{x_name}"
    src = out if pads == ((0, 0), (0, 0)) else f"pad({out})"
    matrices = [Matrix(out, ctx.show(dy))]
    if src != out:
        matrices.append(
            Matrix(
                src,
                ctx.show(padded),
                structural=ctx.show(_structural(dy.shape, pads)),
                caption="the cropped border restored as zeros",
            )
        )
    rules = []
    if b is not None:
        _check_bias_grad(step, b, dy, grads)
        rules.append(f"δ{b.name} = Σ {out} (per output channel)")
    dk_sums = ExplainedSums(ctx, grads["weight"], f"{step.label} {dK}", lambda index: ctx.param_label(dK, K, index),
                            src)
    for index in np.ndindex(*w.shape):
        ci, cl, u, v = index
        co = (ci // (c_in // groups)) * c_out_g + cl
        terms, cells, labels = [], [], []
        for b_ in range(n):
            for i in range(ih):
                for j in range(iw):
                    cell = (b_, co, i * sh + u * dh, j * sw + v * dw)
                    terms.append((x[b_, ci, i, j], padded[cell]))
                    cells.append(ctx.cell(cell, padded.shape))
                    if dk_sums.explaining:
                        labels.append(
                            (ctx.label(x_name, (b_, ci, i, j), x.shape), ctx.label(src, cell, padded.shape))
                        )
        dk_sums.add(index, terms, cells, labels)
    di_sums = ExplainedSums(ctx, dx, f"{step.label} {dI}", lambda index: ctx.label(dI, index, x.shape), src)
    for index in np.ndindex(*x.shape):
        b_, ci, i, j = index
        g = ci // (c_in // groups)
        terms, cells, labels = [], [], []
        for cl in range(c_out_g):
            co = g * c_out_g + cl
            for u in range(kh):
                for v in range(kw):
                    cell = (b_, co, i * sh + u * dh, j * sw + v * dw)
                    terms.append((padded[cell], w[ci, cl, u, v]))
                    cells.append(ctx.cell(cell, padded.shape))
                    if di_sums.explaining:
                        labels.append(
                            (ctx.label(src, cell, padded.shape), ctx.param_label(K.name, K, (ci, cl, u, v)))
                        )
        di_sums.add(index, terms, cells, labels)
    entries = dk_sums.check() + di_sums.check()
    rules.append(
        f"{dK}[ci,co,u,v] = Σ_n Σ_i Σ_j {x_name}[n,ci,i,j]·{src}[n,co, {_index_text('i', sh, 'u', dh)}, "
        f"{_index_text('j', sw, 'v', dw)}]"
    )
    rules.append(
        f"{dI} = {src} * {K.name}: a direct convolution (stride {_pair((sh, sw))}"
        + (f", dilation {_pair((dh, dw))}" if (dh, dw) != (1, 1) else "")
        + ") — the transpose of the transpose is the ordinary conv"
    )
    matrices.append(Matrix(K.name, ctx.show_param(K, w)))
    matrices += _gradient_matrices(ctx, K, b, grads, dK, dI, dx)
    hidden = dk_sums.hidden + di_sums.hidden
    heading = f"{step.index}. {step.name if step.name != step.kind else 'conv_transpose2d'} backward"
    return Step("backward", heading, tuple(rules), tuple(matrices), tuple(entries), (), step.index, hidden)
