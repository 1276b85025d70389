"""The course's "Backpropagation" worked examples 14–19 (docs/arithmetic.md §7) as golden CLI tests:
the command a student types, the key lines of the trace, and numbers checked against an
independent computation (plain loops here, and PyTorch autograd where installed)."""

from __future__ import annotations

import json
import re
from fractions import Fraction

import numpy as np
import pytest

from convcalc.trace.examples import get, to_json
from tests.conftest import golden


def normalised(text: str) -> str:
    """Float noise of the finite-difference check differs between BLAS builds: mask it."""
    return re.sub(r"(error|difference) \d\.\de[−+-]\d+", r"\1 <n>", text)


def run_example(cli, name: str, *args: str, spec: dict | None = None):
    text = to_json(spec if spec is not None else get(name).spec)
    return cli("backprop", "-", *args, input=text)


def as_fraction(value):
    return Fraction(value) if not isinstance(value, str) else Fraction(value.replace("−", "-"))


def fractions(nested):
    return np.vectorize(as_fraction, otypes=[object])(np.array(nested, dtype=object))


def correlate(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Plain valid cross-correlation (the course's '*'), written out independently."""
    oh, ow = a.shape[0] - k.shape[0] + 1, a.shape[1] - k.shape[1] + 1
    out = np.empty((oh, ow), dtype=object)
    for i in range(oh):
        for j in range(ow):
            out[i, j] = sum(a[i + u, j + v] * k[u, v] for u in range(k.shape[0]) for v in range(k.shape[1]))
    return out


# --- item 14: δK = I * δJ, δI = pad(δJ) * flip(K) ------------------------------------------------


def test_item14_given_delta_conv(cli):
    result = run_example(cli, "given-delta")
    assert result.code == 0, result.err
    golden("backprop_given_delta.txt", normalised(result.out))
    out = result.out
    # item 8's forward result, then the course's two rules with pad(δJ) (H+h−1)x(W+w−1) = 6x8 and flip(K)
    assert "J[0,0] = 1·(−1) + 3·0 + 2·1 + 4·(−1) + 8·0 + 3·1 + 2·(−1) + 1·0 + 4·1 = 2" in out
    assert "δK = I * δJ" in out
    assert "δI = pad(δJ) * flip(K)" in out and "so pad(δJ) is 6x8" in out
    assert "flip(K) = " in out and "pad(δJ) = " in out

    data = json.loads(run_example(cli, "given-delta", "--json").out)
    spec = get("given-delta").spec
    I, K = fractions(spec["input"]), fractions(spec["layers"][0]["weight"])
    dJ = fractions(spec["loss"]["grad"])
    assert (fractions(data["activations"][0]) == correlate(I, K)).all()
    assert data["activations"][0] == [[2, -4, 6, -1], [-1, -9, 9, -2]]  # worked example 8
    assert (fractions(data["grads"][0]["weight"]) == correlate(I, dJ)).all()
    h, w = K.shape
    padded = np.zeros((dJ.shape[0] + 2 * (h - 1), dJ.shape[1] + 2 * (w - 1)), dtype=object)
    padded[h - 1 : h - 1 + dJ.shape[0], w - 1 : w - 1 + dJ.shape[1]] = dJ
    assert (fractions(data["grad_input"]) == correlate(padded, K[::-1, ::-1])).all()


# --- item 15: max-pool routing (first index on ties), ReLU mask ------------------------------------


def test_item15_maxpool_tie_routes_to_the_first_maximum(cli):
    # docs/arithmetic.md §7.3's demo: indices [[1,1],[3,8]], gradient [[0,2,0],[1,0,0],[0,0,1]]
    spec = {
        "input": [[1, 3, 3], [3, 2, 0], [3, 1, 3]],
        "layers": [{"type": "maxpool2d", "kernel_size": 2, "stride": 1}],
        "loss": {"type": "sum"},
    }
    result = run_example(cli, "", spec=spec)
    assert result.code == 0, result.err
    assert "P[0,0] = max(1, 3, 3, 2) = 3   ← I[0,1]" in result.out
    assert "tie with I[1,0]" in result.out and "first maximum in row-major order" in result.out
    data = json.loads(run_example(cli, "", "--json", spec=spec).out)
    assert data["grad_input"] == [[0, 2, 0], [1, 0, 0], [0, 0, 1]]


def test_item15_relu_mask_and_relu_prime_at_zero(cli):
    out = run_example(cli, "course").out
    assert "δJ = δR ⊙ [J > 0]" in out
    assert "J[0,2] = 0: ReLU′(0) = 0 (PyTorch's convention), so δJ[0,2] = 0" in out
    assert "routing of δP" in out


# --- item 16: the course exercise, values against autograd ------------------------------------------


def test_item16_course_exercise(cli):
    result = run_example(cli, "course")
    assert result.code == 0, result.err
    golden("backprop_course.txt", normalised(result.out))
    for line in (
        "1. conv2d: J = I * K",
        "3. maxpool2d: P = maxpool(R)",
        "L = ½·(1² + (−4)²) = 17/2",
        "δW = δOᵀ·F",
        "δK = I * δJ",
        "gradient-descent update (lr = 1/10)",
        "K ← K − lr·δK",
        "finite differences: central differences",
    ):
        assert line in result.out

    data = json.loads(run_example(cli, "course", "--json").out)
    spec = get("course").spec
    I, K = fractions(spec["input"]), fractions(spec["layers"][0]["weight"])
    W, target = fractions(spec["layers"][4]["weight"]), fractions(spec["loss"]["target"])
    # independent forward: J, ReLU, 2x2 max-pool, flatten, O = W·F
    J = correlate(I, K)
    R = np.where(J > 0, J, 0)
    P = np.array(
        [[max(R[2 * a : 2 * a + 2, 2 * b : 2 * b + 2].flat) for b in range(2)] for a in range(2)], dtype=object
    )
    O = W.dot(P.reshape(-1))
    assert (fractions(data["activations"][0]) == J).all()
    assert (fractions(data["activations"][2]) == P).all()
    assert (fractions(data["activations"][4]) == O).all()
    assert as_fraction(data["loss"]) == sum((O - target) ** 2) / 2
    dO = O - target
    assert (fractions(data["grad_activations"][4]) == dO).all()
    assert (fractions(data["grads"][4]["weight"]) == np.outer(dO, P.reshape(-1))).all()
    dK = fractions(data["grads"][0]["weight"])
    new_K = fractions(data["updated"][0]["weight"])
    assert (new_K == K - dK * Fraction(1, 10)).all()

    torch = pytest.importorskip("torch")

    def t(a, grad=False):
        return torch.tensor(np.array(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)

    x, k, w = t(I).reshape(1, 1, 6, 6), t(K, True), t(W, True)
    j = torch.nn.functional.conv2d(x, k.reshape(1, 1, 3, 3))
    j.retain_grad()
    p = torch.nn.functional.max_pool2d(torch.relu(j), 2, 2)
    p.retain_grad()
    o = torch.nn.functional.linear(p.flatten(1), w)
    o.retain_grad()
    loss = 0.5 * ((o - t(target)) ** 2).sum()
    loss.backward()
    assert float(as_fraction(data["loss"])) == pytest.approx(loss.item(), abs=1e-12)
    for ours, theirs in (
        (data["grads"][0]["weight"], k.grad),
        (data["grads"][4]["weight"], w.grad),
        (data["grad_activations"][0], j.grad[0, 0]),
        (data["grad_activations"][2], p.grad[0, 0]),
        (data["grad_activations"][4], o.grad[0]),
    ):
        np.testing.assert_allclose(fractions(ours).astype(float), theirs.numpy(), atol=1e-12)


# --- item 17: shared weights -----------------------------------------------------------------------


def test_item17_shared_weights_show_both_contributions(cli):
    result = run_example(cli, "shared-weights")
    assert result.code == 0, result.err
    golden("backprop_shared_weights.txt", normalised(result.out))
    out = result.out
    for line in (
        "δY = (Y − X)·δL",
        "δZ2 = δY·Wᵀ",
        "δZ1 = δZ2 ⊙ [Z1 > 0]",
        "δW = Z2ᵀ·δY",
        "δW = Xᵀ·δZ1",
        "δW = δW (from Y) + δW (from Z1)",
    ):
        assert line in out

    data = json.loads(run_example(cli, "shared-weights", "--json").out)
    spec = get("shared-weights").spec
    X, W = fractions(spec["inputs"]["X"]), fractions(spec["params"]["W"])
    Z1 = X.dot(W)
    Z2 = np.where(Z1 > 0, Z1, 0)
    Y = Z2.dot(W)
    dY = Y - X
    dZ1 = np.where(Z1 > 0, dY.dot(W.T), 0)
    via = {c["via"]: fractions(c["value"]) for c in data["contributions"]["W"]}
    assert (via["Y"] == Z2.T.dot(dY)).all()
    assert (via["Z1"] == X.T.dot(dZ1)).all()
    assert (fractions(data["grads"]["W"]) == Z2.T.dot(dY) + X.T.dot(dZ1)).all()


# --- item 18: the two-layer MLP of the NumPy/PyTorch comparison ----------------------------------------


def test_item18_two_layer_mlp(cli):
    result = run_example(cli, "mlp")
    assert result.code == 0, result.err
    golden("backprop_mlp.txt", normalised(result.out))
    assert "δy_pred = 2·(y_pred − T)" in result.out
    assert "δw2 = h_reluᵀ·δy_pred" in result.out and "δw1 = xᵀ·δh" in result.out

    data = json.loads(run_example(cli, "mlp", "--json").out)
    spec = get("mlp").spec
    x, w1, w2 = (fractions(spec["inputs"]["x"]), fractions(spec["params"]["w1"]), fractions(spec["params"]["w2"]))
    y = fractions(spec["loss"]["target"])
    # the seed's NumPy code, line by line (its mask h < 0 equals ReLU′ here: h has no zero)
    h = x.dot(w1)
    h_relu = np.where(h > 0, h, 0)
    y_pred = h_relu.dot(w2)
    grad_y_pred = 2 * (y_pred - y)
    grad_w2 = h_relu.T.dot(grad_y_pred)
    grad_h = grad_y_pred.dot(w2.T)
    grad_h[h < 0] = 0
    grad_w1 = x.T.dot(grad_h)
    assert as_fraction(data["loss"]) == ((y_pred - y) ** 2).sum()
    assert (fractions(data["grads"]["w2"]) == grad_w2).all()
    assert (fractions(data["grads"]["w1"]) == grad_w1).all()


# --- item 19: batch norm, biased and unbiased variance ------------------------------------------------


@pytest.mark.parametrize("variance", ["biased", "unbiased"])
def test_item19_batchnorm_variance_is_visible_and_selectable(cli, variance):
    spec = json.loads(to_json(get("batchnorm").spec))
    spec["layers"][0]["variance"] = variance
    result = run_example(cli, "", spec=spec)
    assert result.code == 0, result.err
    if variance == "unbiased":
        golden("backprop_batchnorm_unbiased.txt", normalised(result.out))
    assert f"variance {variance}" in result.out
    assert ("÷" in result.out or "(M − 1)" in result.out) if variance == "unbiased" else "Σ(x − μ)²/M" in result.out
    assert "γ and β are learnable (2C parameters); running_mean and running_var are buffers" in result.out

    data = json.loads(run_example(cli, "", "--json", spec=spec).out)
    x = np.array(spec["input"], dtype=np.float64)
    gamma, beta = spec["layers"][0]["weight"][0], spec["layers"][0]["bias"][0]
    m = x.size
    mean = x.mean()
    var = ((x - mean) ** 2).sum() / (m - 1 if variance == "unbiased" else m)
    x_hat = (x - mean) / np.sqrt(var + 1e-5)
    y = gamma * x_hat + beta
    np.testing.assert_allclose(np.array(data["activations"][0], dtype=float), y, atol=1e-12)
    dy = y - np.array(spec["loss"]["target"], dtype=float)
    d = m - 1 if variance == "unbiased" else m
    dx = gamma / np.sqrt(var + 1e-5) * (dy - dy.mean() - x_hat * (dy * x_hat).sum() / d)
    np.testing.assert_allclose(np.array(data["grad_input"], dtype=float), dx, atol=1e-12)
    assert set(data["grads"][0]) == {"weight", "bias"}  # γ and β: the 2C parameters
    np.testing.assert_allclose(data["grads"][0]["weight"][0], (dy * x_hat).sum(), atol=1e-12)
    np.testing.assert_allclose(data["grads"][0]["bias"][0], dy.sum(), atol=1e-12)
    if variance == "biased":
        torch = pytest.importorskip("torch")
        xt = torch.tensor(x, requires_grad=True)
        g = torch.tensor([float(gamma)], dtype=torch.float64, requires_grad=True)
        b = torch.tensor([float(beta)], dtype=torch.float64, requires_grad=True)
        yt = torch.nn.functional.batch_norm(xt, None, None, g, b, training=True, eps=1e-5)
        (0.5 * ((yt - torch.tensor(np.array(spec["loss"]["target"], dtype=float))) ** 2).sum()).backward()
        np.testing.assert_allclose(np.array(data["grad_input"], dtype=float), xt.grad.numpy(), atol=1e-12)
