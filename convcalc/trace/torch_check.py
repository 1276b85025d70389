"""``--verify torch``: rebuild the trace's network with ``torch.nn.functional`` in float64,
run PyTorch autograd, and compare every activation, every activation's gradient, every
parameter's gradient and the input's gradient with the trace (|a − t| ≤ 1e-9·max(1, |t|)).

torch is imported only here; without it the command stops with a clean message (exit 2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convcalc.errors import InputError
from convcalc.layers.base import analyze_batched
from convcalc.trace.model import Check
from convcalc.trace.symbolic import values_of

TOLERANCE = 1e-9
FLOAT32_TOLERANCE = 1e-5  # a "dtype": "float32" trace against torch in float32: summation order differs


def _torch():
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        raise InputError(
            "--verify torch needs PyTorch, which is not installed (pip install torch); "
            "the trace itself works without it"
        ) from None
    return torch, F


def _t(torch, array, grad: bool = False):
    single = np.asarray(array).dtype == np.float32  # a "dtype": "float32" trace: torch in float32 too
    values = np.asarray(values_of(np.asarray(array)), dtype=np.float32 if single else np.float64)
    return torch.tensor(values, dtype=torch.float32 if single else torch.float64, requires_grad=grad)


def _compare(pairs: list[tuple[str, Any, Any]], torch_version: str, single: bool = False) -> Check:
    worst, bad = 0.0, []
    for name, ours, theirs in pairs:
        a = np.asarray(values_of(np.asarray(ours)), dtype=np.float64)
        t = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs, dtype=np.float64)
        if a.shape != t.shape:
            a = a.reshape(t.shape) if a.size == t.size else a
        if a.shape != t.shape:
            bad.append(f"{name}: shape {a.shape} vs torch {t.shape}")
            continue
        diff = np.abs(a - t) / np.maximum(1.0, np.abs(t)) if a.size else np.zeros(0)
        err = float(diff.max()) if diff.size else 0.0
        worst = max(worst, err)
        if err > (FLOAT32_TOLERANCE if single else TOLERANCE):
            bad.append(f"{name}: differs by {err:.2e} (convcalc {a.ravel()[:4]}, torch {t.ravel()[:4]})")
    ok = not bad
    summary = (
        f"{len(pairs)} tensors (activations, their gradients, parameter and input gradients) agree with "
        f"torch {torch_version} autograd in {'float32' if single else 'float64'}: max relative difference {worst:.1e} ✓"
        if ok
        else f"{len(bad)} of {len(pairs)} tensors differ from torch {torch_version} autograd ✗"
    )
    return Check("torch", ok, summary, tuple(bad))


def _loss(torch, F, loss, y):
    if loss.kind == "mse_half_sum":
        return 0.5 * ((y - _t(torch, loss.target).reshape(y.shape)) ** 2).sum()
    if loss.kind == "mse":
        return F.mse_loss(y, _t(torch, loss.target).reshape(y.shape))
    if loss.kind == "sse":
        return ((y - _t(torch, loss.target).reshape(y.shape)) ** 2).sum()
    if loss.kind == "sum":
        return y.sum()
    if loss.kind == "upstream":
        return (y * _t(torch, loss.grad).reshape(y.shape)).sum()
    if loss.class_indices:
        target = torch.tensor(np.asarray(loss.target, dtype=np.int64).reshape(-1))
    else:
        target = _t(torch, loss.target).reshape(y.shape)
    return F.cross_entropy(y, target, reduction=loss.reduction)


def _layer(torch, F, step, x, p):
    o = step.options
    kind = step.kind
    if kind == "conv2d":
        report = analyze_batched(step.layer, tuple(x.shape))
        pads = [tuple(v) for v in report.hyper["padding"]]
        mode = o.get("padding_mode", "zeros")
        x = F.pad(
            x,
            (pads[1][0], pads[1][1], pads[0][0], pads[0][1]),
            mode={"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}[mode],
        )
        return F.conv2d(x, p["weight"], p.get("bias"), stride=o["stride"], dilation=o["dilation"], groups=o["groups"])
    if kind == "conv_transpose2d":
        return F.conv_transpose2d(
            x,
            p["weight"],
            p.get("bias"),
            stride=o["stride"],
            padding=o["padding"],
            output_padding=o["output_padding"],
            groups=o["groups"],
            dilation=o["dilation"],
        )
    if kind == "maxpool2d":
        return F.max_pool2d(x, o["kernel_size"], o["stride"], o["padding"], o["dilation"], ceil_mode=o["ceil_mode"])
    if kind == "avgpool2d":
        return F.avg_pool2d(
            x,
            o["kernel_size"],
            o["stride"],
            o["padding"],
            ceil_mode=o["ceil_mode"],
            count_include_pad=o["count_include_pad"],
            divisor_override=o["divisor_override"],
        )
    if kind == "relu":
        return F.relu(x)
    if kind == "leaky_relu":
        return F.leaky_relu(x, float(o["negative_slope"]))
    if kind == "sigmoid":
        return torch.sigmoid(x)
    if kind == "tanh":
        return torch.tanh(x)
    if kind == "elu":
        return F.elu(x)
    if kind == "dropout":  # the spec's mask, scaled by 1/(1 − p), as F.dropout does with its own draw
        p_keep = 1 - float(o["p"])
        return x * _t(torch, step.buffers["mask"]).to(x.dtype) / p_keep
    if kind == "lrn":
        layer = step.layer
        return F.local_response_norm(x, layer.size, float(layer.alpha), float(layer.beta), float(layer.k))
    if kind == "softmax":
        return F.softmax(x, dim=1)
    if kind == "flatten":
        return torch.flatten(x, o["start_dim"], o["end_dim"])
    if kind == "linear":
        return F.linear(x, p["weight"], p.get("bias"))
    if kind == "batchnorm2d":
        eps = float(o["eps"])
        if o["variance"] == "biased":
            return F.batch_norm(
                x,
                _t(torch, step.buffers["running_mean"]),
                _t(torch, step.buffers["running_var"]),
                p.get("weight"),
                p.get("bias"),
                training=True,
                momentum=float(o["momentum"]),
                eps=eps,
            )
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = x.var(dim=(0, 2, 3), unbiased=True, keepdim=True)
        y = (x - mean) / torch.sqrt(var + eps)
        if "weight" in p:
            y = y * p["weight"].reshape(1, -1, 1, 1) + p["bias"].reshape(1, -1, 1, 1)
        return y
    from convcalc.layers.descriptor import find_hook

    hook = find_hook("torch", step.layer)
    if hook is None:
        raise InputError(f"--verify torch: no torch form for {kind}")  # pragma: no cover
    return hook(step.layer, torch.nn, tuple(step.input_shape[1:]))(x)


def torch_check(spec, run_) -> Check:
    torch, F = _torch()
    x0 = _t(torch, run_.inputs[0], grad=True)
    params = []
    for i, step in enumerate(spec.layers):
        params.append({k: _t(torch, run_.params[i][k], grad=True) for k in step.params})
    x, outputs = x0, []
    for step, p in zip(spec.layers, params):
        x = _layer(torch, F, step, x, p)
        x.retain_grad()
        outputs.append(x)
    loss = _loss(torch, F, spec.loss, x)
    loss.backward()
    pairs: list[tuple[str, Any, Any]] = []
    for i, step in enumerate(spec.layers):
        pairs.append((step.output, run_.forwards[i].output, outputs[i]))
        pairs.append((f"δ{step.output}", run_.grads_out[i], outputs[i].grad))
        for k, t in step.params.items():
            pairs.append((f"δ{t.name}", run_.backwards[i].grads[k], params[i][k].grad))
    pairs.append((f"δ{spec.input.name}", run_.backwards[0].grad_input, x0.grad))
    if run_.loss is not None:
        pairs.append(("L", np.asarray(run_.loss, dtype=object), loss))
    return _compare(pairs, torch.__version__, np.asarray(run_.inputs[0]).dtype == np.float32)


def torch_check_graph(spec, run_) -> Check:
    torch, F = _torch()
    leaves = {n: _t(torch, run_.values[n], grad=True) for n in spec.tensors()}
    values = dict(leaves)
    for node in spec.nodes:
        args = [values[a] for a in node.inputs]
        if node.op == "matmul":
            y = args[0] @ args[1]
        elif node.op == "add":
            y = args[0] + args[1]
        elif node.op == "sub":
            y = args[0] - args[1]
        elif node.op == "mul":
            y = args[0] * args[1]
        elif node.op == "relu":
            y = F.relu(args[0])
        elif node.op == "sum":
            y = args[0].sum()
        else:
            d = args[0] - args[1] if len(args) == 2 else args[0]
            y = 0.5 * (d**2).sum()
        y.retain_grad()
        values[node.name] = y
    out = values[spec.output]
    loss = _loss(torch, F, spec.loss, out) if spec.loss is not None else out
    loss.backward()
    pairs: list[tuple[str, Any, Any]] = []
    for node in spec.nodes:
        pairs.append((node.name, run_.values[node.name], values[node.name]))
        if node.name in run_.grads and values[node.name].grad is not None:
            pairs.append((f"δ{node.name}", run_.grads[node.name], values[node.name].grad))
    for n, leaf in leaves.items():
        grad = leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)
        pairs.append((f"δ{n}", run_.grads[n], grad))
    return _compare(pairs, torch.__version__)
