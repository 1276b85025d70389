"""Random small networks of every supported layer type, in both spec forms:

* the trace's gradients pass the finite-difference check (float64 and exact inputs);
* they agree with PyTorch autograd in float64 to 1e-9 (skipped cleanly without torch);
* every derivation shown on the board agreed with the layers' own numbers (the engine
  raises otherwise, so merely running the trace checks that).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc.trace.run import Options, run
from convcalc.trace.spec import parse

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _tensor(draw, shape, exact: bool):
    if exact:
        values = st.integers(-3, 3)
    else:
        values = st.floats(-2, 2, allow_nan=False, allow_infinity=False, width=32).map(lambda v: round(v, 3) + 0.0005)
    flat = draw(st.lists(values, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return np.array(flat, dtype=object if exact else float).reshape(shape).tolist()


@st.composite
def image_networks(draw, exact: bool = False):
    """input N x C x H x W → one or two image layers (+ activation) → flatten → linear (+ softmax) → a loss."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(3, 6)), draw(st.integers(3, 6))
    spec = {"input": _tensor(draw, (n, c, h, w), exact), "layers": []}
    blocks = draw(st.integers(1, 2))
    for block in range(blocks):
        kind = draw(st.sampled_from(["conv2d", "conv_transpose2d", "maxpool2d", "avgpool2d", "batchnorm2d"]))
        layer: dict = {"type": kind}
        if kind == "conv2d":
            k = draw(st.integers(1, min(3, h, w)))
            groups = draw(st.sampled_from([1, c])) if c > 1 else 1
            out = draw(st.sampled_from([groups, 2 * groups]))
            stride, pad = draw(st.integers(1, 2)), draw(st.integers(0, 1))
            dil = draw(st.integers(1, 2))
            if dil * (k - 1) + 1 > min(h, w) + 2 * pad:
                dil = 1
            layer.update(
                weight=_tensor(draw, (out, c // groups, k, k), exact),
                stride=stride,
                padding=pad,
                dilation=dil,
                groups=groups,
            )
            if draw(st.booleans()):
                layer["bias"] = _tensor(draw, (out,), exact)
            h = (h + 2 * pad - dil * (k - 1) - 1) // stride + 1
            w = (w + 2 * pad - dil * (k - 1) - 1) // stride + 1
            c = out
        elif kind == "conv_transpose2d":
            k, stride = draw(st.integers(1, 3)), draw(st.integers(1, 2))
            pad = draw(st.integers(0, (k - 1) // 2))
            out = draw(st.integers(1, 2))
            opad = draw(st.integers(0, stride - 1))
            layer.update(weight=_tensor(draw, (c, out, k, k), exact), stride=stride, padding=pad, output_padding=opad)
            if draw(st.booleans()):
                layer["bias"] = _tensor(draw, (out,), exact)
            h = (h - 1) * stride - 2 * pad + k + opad
            w = (w - 1) * stride - 2 * pad + k + opad
            c = out
        elif kind in ("maxpool2d", "avgpool2d"):
            k = draw(st.integers(1, min(3, h, w)))
            stride, pad = draw(st.integers(1, 2)), draw(st.integers(0, k // 2))
            layer.update(kernel_size=k, stride=stride, padding=pad, ceil_mode=draw(st.booleans()))
            if kind == "avgpool2d":
                layer["count_include_pad"] = draw(st.booleans())
            spec["layers"].append(layer)
            from convcalc.trace.spec import parse as _parse  # the layer's own shape rule gives the size

            probe = _parse({**spec, "loss": {"type": "sum"}}, "probe")
            _, c, h, w = probe.layers[-1].output_shape
            layer = None
        else:
            if n * h * w < 2:
                continue
            layer.update(
                weight=_tensor(draw, (c,), exact),
                bias=_tensor(draw, (c,), exact),
                variance=draw(st.sampled_from(["biased", "unbiased"])),
            )
        if layer is not None:
            spec["layers"].append(layer)
        # An exact network keeps sigmoid and tanh (irrational values) out of a block a ReLU or a max
        # pool follows: where their values cancel exactly (-3·tanh 4 + 3·tanh 4) the exact trace sits on
        # the kink, while float64 rounding (2.2e-16) puts torch on one side of it — torch is off there.
        smooth = ["sigmoid", "tanh"] if not exact or block == blocks - 1 else []
        activation = draw(st.sampled_from(["relu", "leaky_relu", *smooth, None]))
        if activation:
            spec["layers"].append({"type": activation})
    spec["layers"].append({"type": "flatten"})
    out = draw(st.integers(1, 3))
    linear = {"type": "linear", "weight": _tensor(draw, (out, c * h * w), exact)}
    if draw(st.booleans()):
        linear["bias"] = _tensor(draw, (out,), exact)
    spec["layers"].append(linear)
    loss = draw(st.sampled_from(["mse_half_sum", "mse", "sse", "sum", "upstream", "cross_entropy", "softmax"]))
    if loss == "softmax":
        spec["layers"].append({"type": "softmax"})
        loss = "mse_half_sum"
    if loss in ("mse_half_sum", "mse", "sse"):
        spec["loss"] = {"type": loss, "target": _tensor(draw, (n, out), exact)}
    elif loss == "upstream":
        spec["loss"] = {"type": "upstream", "grad": _tensor(draw, (n, out), exact)}
    elif loss == "cross_entropy":
        spec["loss"] = {
            "type": "cross_entropy",
            "target": draw(st.lists(st.integers(0, out - 1), min_size=n, max_size=n)),
            "reduction": draw(st.sampled_from(["mean", "sum"])),
        }
    else:
        spec["loss"] = {"type": "sum"}
    return spec


@st.composite
def graph_networks(draw, exact: bool = False):
    """Random chains of the graph form's ops, with a parameter that may be used twice."""
    m, k = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    spec = {
        "inputs": {"X": _tensor(draw, (m, k), exact)},
        "params": {"W": _tensor(draw, (k, k), exact), "B": _tensor(draw, (k,), exact)},
        "nodes": [],
    }
    current = "X"
    for i in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["matmul", "add", "sub", "mul", "relu"]))
        other = {"matmul": "W", "add": "B", "sub": "X", "mul": current, "relu": None}[op]
        name = f"Z{i}"
        spec["nodes"].append({"name": name, "op": op, "inputs": [current] if other is None else [current, other]})
        current = name
    if draw(st.booleans()):
        spec["nodes"].append({"name": "L", "op": "half_sum_squares", "inputs": [current, "X"]})
    else:
        spec["nodes"].append({"name": "L", "op": "sum", "inputs": [current]})
    return spec


@SETTINGS
@given(image_networks())
def test_random_image_networks_pass_the_finite_difference_check(spec):
    trace = run(parse(spec, "random"), Options(max_entries=4))
    (check,) = trace.checks
    assert check.ok, (check.summary, check.details, spec)


@SETTINGS
@given(image_networks(exact=True))
def test_exact_networks_stay_exact_and_pass_the_check(spec):
    parsed = parse(spec, "random")
    trace = run(parsed, Options(max_entries=4))
    assert trace.checks[0].ok, (trace.checks[0].summary, spec)
    has_float_layers = any(s.kind in ("sigmoid", "tanh", "softmax", "batchnorm2d") for s in parsed.layers)
    if not has_float_layers and spec["loss"]["type"] != "cross_entropy":
        from fractions import Fraction

        grads = trace.results["grad_input"]
        assert all(isinstance(v, (int, Fraction)) for v in np.asarray(grads, dtype=object).flat)


@SETTINGS
@given(graph_networks())
def test_random_graphs_pass_the_finite_difference_check(spec):
    trace = run(parse(spec, "random"), Options())
    assert trace.checks[0].ok, (trace.checks[0].summary, spec)


@pytest.mark.torch
@SETTINGS
@given(image_networks())
def test_random_image_networks_agree_with_torch_autograd(spec):
    pytest.importorskip("torch")
    trace = run(parse(spec, "random"), Options(finite_differences=False, verify_torch=True, max_entries=0))
    (check,) = trace.checks
    assert check.ok, (check.details, spec)


@pytest.mark.torch
@SETTINGS
@given(image_networks(exact=True))
def test_exact_networks_agree_with_torch_autograd(spec):
    """Integer inputs bring ReLU zeros and pool ties: PyTorch's conventions must match exactly."""
    pytest.importorskip("torch")
    trace = run(parse(spec, "random"), Options(finite_differences=False, verify_torch=True, max_entries=0))
    assert trace.checks[0].ok, (trace.checks[0].details, spec)


@pytest.mark.torch
@SETTINGS
@given(graph_networks(exact=True))
def test_random_graphs_agree_with_torch_autograd(spec):
    pytest.importorskip("torch")
    trace = run(parse(spec, "random"), Options(finite_differences=False, verify_torch=True))
    assert trace.checks[0].ok, (trace.checks[0].details, spec)


def test_a_near_constant_batch_norm_passes_the_check_by_richardson_extrapolation():
    # Found by hypothesis: the pooled values are all 3, so batch norm divides by √ε and the loss's
    # third derivative along I[0,0,3,2] is of order 1/√ε³. Autograd's 0 is exact (by hand: the BN
    # backward of g = (0, -1, -2) at x̂ = 0 is (g - mean g)/√ε = (1, 0, -1)/√ε, and I[0,0,3,2] feeds
    # the middle pooled value); central differences read 2.1e-3 at h and 2.1e-5 at h/10, and their
    # extrapolation cancels the h² term.
    spec = {"input": [[[[0, 0, 0], [0, 0, 3], [0, 0, 0], [0, 0, 3], [0, 0, 0], [0, 0, 3]]]],
            "layers": [{"type": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 0, "ceil_mode": True},
                       {"type": "relu"}, {"type": "batchnorm2d", "weight": [1], "bias": [0], "variance": "biased"},
                       {"type": "tanh"}, {"type": "flatten"}, {"type": "linear", "weight": [[0, 1, 2]]}],
            "loss": {"type": "mse_half_sum", "target": [[1]]}}
    trace = run(parse(spec, "random"), Options(max_entries=4))
    assert trace.checks[0].ok, trace.checks[0].summary
    assert "max relative error" in trace.checks[0].summary
