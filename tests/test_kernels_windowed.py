"""Forward and backward of the windowed layer types: conv, transposed conv and pooling.

Checked against PyTorch autograd (float64, 1e-9) on hundreds of seeded random
configurations, against finite differences, against the course's worked examples with
exact arithmetic, and for dtype preservation.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from convcalc.compute import windows
from convcalc.errors import InputError
from convcalc.layers.base import analyze_batched
from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.pool import AdaptivePool, AvgPool, MaxPool

TOL = {"rtol": 1e-9, "atol": 1e-9}
TORCH_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


@pytest.fixture(autouse=True, scope="module")
def _torch_single_thread():
    """Tiny tensors: torch's OpenMP threads spinning beside numpy's BLAS threads cost ~50 ms a call."""
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(layer, x, params, grad=None, seed=0):
    """Forward, then backward with ``grad`` (a seeded random upstream gradient if None)."""
    forward = layer.forward(x, params)
    if grad is None:
        grad = np.random.default_rng(seed).standard_normal(forward.output.shape)
    return forward, layer.backward(grad, forward.cache), grad


def random_params(layer, shape, rng, dtype=np.float64):
    return {name: rng.standard_normal(s).astype(dtype) for name, s in layer.parameter_shapes(shape).items()}


_to_fraction = np.frompyfunc(lambda v: v if isinstance(v, Fraction) else Fraction(int(v)), 1, 1)


def exact(array) -> np.ndarray:
    """An object array of Fractions (exact copy of a whole-number or fraction array)."""
    return _to_fraction(np.array(array, dtype=object)).astype(object)


def random_fractions(shape, rng) -> np.ndarray:
    nums = rng.integers(-9, 10, shape)
    dens = rng.integers(1, 5, shape)
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        out[index] = Fraction(int(nums[index]), int(dens[index]))
    return out


def assert_exact(array) -> None:
    assert array.dtype == object
    assert all(isinstance(v, (int, Fraction)) for v in array.flat), "an exact result contains a non-exact entry"


def as_float(array) -> np.ndarray:
    return np.array([float(v) for v in array.flat], dtype=np.float64).reshape(array.shape)


# ---- random configurations (the shape rule decides what is valid) -------------------------


def _draw(rng, make, shape_of):
    for _ in range(500):
        try:
            layer = make()
            shape = shape_of(layer)
            analyze_batched(layer, shape)
            return layer, shape
        except InputError:
            continue
    raise AssertionError("no valid configuration drawn")


def _ints(rng, low, high, rank):
    return tuple(int(v) for v in rng.integers(low, high + 1, rank))


def random_conv(seed: int):
    rng = np.random.default_rng(seed)
    state = {}

    def make():
        rank = int(rng.integers(1, 4))
        size = {1: 11, 2: 8, 3: 5}[rank]
        groups = int(rng.choice([1, 1, 2, 3]))
        c_in = groups * int(rng.integers(1, 3))
        depthwise = rng.random() < 0.12
        c_out = (c_in if depthwise else groups) * int(rng.integers(1, 3))
        stride = _ints(rng, 1, 3, rank)
        kind = rng.choice(["int", "pairs", "same", "valid", "tf-same"], p=[0.35, 0.35, 0.1, 0.1, 0.1])
        if kind == "int":
            padding = _ints(rng, 0, 2, rank)
        elif kind == "pairs":
            padding = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, (rank, 2)))
        elif kind == "same":
            padding, stride = "same", (1,) * rank
        else:
            padding = str(kind)
        state["shape"] = (int(rng.integers(1, 3)), c_in, *_ints(rng, 1, size, rank))
        return Conv(rank=rank, out_channels=c_out, kernel_size=_ints(rng, 1, 4 if rank < 3 else 3, rank), stride=stride,
                    padding=padding, dilation=_ints(rng, 1, 2, rank), groups=1 if depthwise else groups,
                    depthwise=depthwise, bias=bool(rng.random() < 0.7),
                    padding_mode=str(rng.choice(["zeros", "zeros", "reflect", "replicate", "circular"])))

    return _draw(rng, make, lambda layer: state["shape"]) + (rng,)


def random_conv_transpose(seed: int):
    rng = np.random.default_rng(10_000 + seed)
    state = {}

    def make():
        rank = int(rng.integers(1, 4))
        size = {1: 7, 2: 5, 3: 3}[rank]
        groups = int(rng.choice([1, 1, 2, 3]))
        stride, dilation = _ints(rng, 1, 3, rank), _ints(rng, 1, 2, rank)
        if rng.random() < 0.5:
            padding = _ints(rng, 0, 3, rank)
        else:
            padding = tuple((int(a), int(b)) for a, b in rng.integers(0, 4, (rank, 2)))
        state["shape"] = (int(rng.integers(1, 3)), groups * int(rng.integers(1, 3)), *_ints(rng, 1, size, rank))
        return ConvTranspose(rank=rank, out_channels=groups * int(rng.integers(1, 3)),
                             kernel_size=_ints(rng, 1, 4, rank),
                             stride=stride, padding=padding, dilation=dilation, groups=groups,
                             output_padding=tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation)),
                             bias=bool(rng.random() < 0.7))

    return _draw(rng, make, lambda layer: state["shape"]) + (rng,)


def random_window_pool(seed: int, kind: str):
    rng = np.random.default_rng(20_000 + seed + (0 if kind == "max" else 5_000))
    state = {}

    def shape_of(layer):  # the shape rule refuses dilated windows that read only padding
        return state["shape"]

    def make():
        rank = int(rng.integers(1, 4))
        size = {1: 12, 2: 8, 3: 5}[rank]
        kernel = _ints(rng, 1, 4 if rank < 3 else 3, rank)
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        stride = None if rng.random() < 0.25 else _ints(rng, 1, 3, rank)
        state["shape"] = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), *_ints(rng, 1, size, rank))
        common = {"rank": rank, "kernel_size": kernel, "stride": stride, "padding": padding,
                  "ceil_mode": bool(rng.random() < 0.5)}
        if kind == "max":
            return MaxPool(dilation=_ints(rng, 1, 2, rank), **common)
        override = int(rng.integers(1, 6)) if rank > 1 and rng.random() < 0.25 else None
        return AvgPool(count_include_pad=bool(rng.random() < 0.5), divisor_override=override, **common)

    return _draw(rng, make, shape_of) + (rng,)


def random_adaptive(seed: int):
    rng = np.random.default_rng(30_000 + seed)
    rank = int(rng.integers(1, 4))
    spatial = _ints(rng, 1, {1: 12, 2: 8, 3: 5}[rank], rank)
    out = tuple(int(rng.integers(1, 2 * i + 2)) for i in spatial)  # includes O > I
    if rank > 1 and rng.random() < 0.3:
        out = (None,) + out[1:]
    layer = AdaptivePool(rank=rank, mode=str(rng.choice(["avg", "max"])), output_size=out)
    return layer, (int(rng.integers(1, 3)), int(rng.integers(1, 3)), *spatial), rng


# ---- torch references --------------------------------------------------------------------


def torch_pad_list(pads) -> list[int]:
    """F.pad's order: last axis first, (before, after) each."""
    flat: list[int] = []
    for before, after in reversed(list(pads)):
        flat += [int(before), int(after)]
    return flat


def torch_grads(torch, inputs: dict, make_output, grad):
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items() if v is not None}
    out = make_output(tensors)
    out.backward(torch.tensor(grad))
    return out.detach().numpy(), {k: t.grad.numpy() for k, t in tensors.items()}


def compare(ours_forward, ours_backward, ref_out, ref_grads) -> None:
    np.testing.assert_allclose(ours_forward.output, ref_out, **TOL)
    np.testing.assert_allclose(ours_backward.grad_input, ref_grads.pop("x"), **TOL)
    assert set(ours_backward.grads) == set(ref_grads)
    for name, ref in ref_grads.items():
        np.testing.assert_allclose(ours_backward.grads[name], ref, **TOL, err_msg=name)


def check_conv_against_torch(torch, layer, shape, rng, seed):
    """Our forward and backward of ``layer`` on seeded random numbers against torch autograd;
    returns our Forward (its cache tells which kernel path ran)."""
    F = torch.nn.functional
    x = rng.standard_normal(shape)
    params = random_params(layer, shape, rng)
    forward, backward, grad = run(layer, x, params, seed=seed)
    report = analyze_batched(layer, shape)
    assert forward.output.shape == tuple(report.output)
    conv = [F.conv1d, F.conv2d, F.conv3d][layer.rank - 1]
    groups = report.hyper["groups"]

    def make(t):
        if layer.padding == "same" and layer.padding_mode == "zeros":  # torch's own 'same' resolution
            return conv(t["x"], t["weight"], t.get("bias"), 1, "same", layer.dilation, groups)
        padded = F.pad(t["x"], torch_pad_list(report.hyper["padding"]), mode=TORCH_PAD_MODES[layer.padding_mode])
        return conv(padded, t["weight"], t.get("bias"), layer.stride, 0, layer.dilation, groups)

    ref_out, ref_grads = torch_grads(torch, {"x": x, **params}, make, grad)
    compare(forward, backward, ref_out, ref_grads)
    return forward


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("seed", range(240))
def test_conv_matches_torch(seed):
    torch = pytest.importorskip("torch")
    check_conv_against_torch(torch, *random_conv(seed), seed)


@pytest.fixture
def correlate_everywhere(monkeypatch):
    """Every stride-1, ungrouped, zero-padded float conv (im2col path) takes its dX by
    correlation, however few its channels."""
    from convcalc.compute import conv_kernels

    monkeypatch.setattr(conv_kernels, "CORRELATE_MIN_CHANNELS", 0)
    monkeypatch.setattr(conv_kernels, "row_shift_applies", lambda *args: False)


@pytest.mark.usefixtures("correlate_everywhere")
@pytest.mark.parametrize("kind", ["any conv", "stride 1"])
@pytest.mark.parametrize("seed", range(100))
def test_correlated_input_gradient_equals_the_fold(seed, kind, monkeypatch):
    """dX = pad(δY) ∗ flip(W) by im2col and one matmul must equal col2im(W_rowᵀ @ δY_row) to
    rounding — rank 1–3, dilation, paddings up to the kernel's reach (past it the fold is kept)."""
    from convcalc.compute import conv_kernels

    layer, shape, rng = (random_conv if kind == "any conv" else random_row_shift_conv)(seed)
    x = rng.standard_normal(shape)
    params = random_params(layer, shape, rng)
    taken: list[int] = []
    real = conv_kernels._correlated_input_gradient
    monkeypatch.setattr(conv_kernels, "_correlated_input_gradient",
                        lambda *args: taken.append(1) or real(*args))
    correlated = run(layer, x, params, seed=seed)
    monkeypatch.setattr(conv_kernels, "CORRELATE_MIN_CHANNELS", 1 << 30)
    folded = run(layer, x, params, correlated[2])
    np.testing.assert_allclose(correlated[1].grad_input, folded[1].grad_input, rtol=1e-12, atol=1e-12)
    for name in folded[1].grads:
        np.testing.assert_array_equal(correlated[1].grads[name], folded[1].grads[name])
    eligible = (correlated[0].cache.groups == 1 and all(st == 1 for st in layer.stride)
                and layer.padding_mode == "zeros"
                and all(a <= d * (k - 1) and b <= d * (k - 1) for (a, b), k, d in
                        zip(correlated[0].cache.pads, layer.kernel_size, layer.dilation)))
    assert bool(taken) == eligible


@pytest.mark.usefixtures("correlate_everywhere")
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("seed", range(60))
def test_correlated_input_gradient_matches_torch(seed):
    torch = pytest.importorskip("torch")
    check_conv_against_torch(torch, *random_conv(seed), seed)


def random_row_shift_conv(seed: int):
    """A 2-D stride-1 ungrouped conv: the configurations the row-shift path serves, with
    paddings up to past the kernel's reach (their gradient crops δY), dilation and every mode."""
    rng = np.random.default_rng(40_000 + seed)
    state = {}

    def make():
        kernel = _ints(rng, 1, 5, 2)
        padding = tuple((int(a), int(b)) for a, b in rng.integers(0, 5, (2, 2)))
        state["shape"] = (int(rng.integers(1, 4)), int(rng.integers(1, 5)), *_ints(rng, 1, 9, 2))
        return Conv(rank=2, out_channels=int(rng.integers(1, 5)), kernel_size=kernel, stride=(1, 1),
                    padding=padding if rng.random() < 0.8 else "same", dilation=_ints(rng, 1, 3, 2),
                    bias=bool(rng.random() < 0.7),
                    padding_mode=str(rng.choice(["zeros", "zeros", "reflect", "replicate", "circular"])))

    return _draw(rng, make, lambda layer: state["shape"]) + (rng,)


@pytest.fixture
def row_shift_everywhere(monkeypatch):
    """Every stride-1 2-D float conv takes the row-shift path, however small."""
    from convcalc.compute import conv_kernels

    monkeypatch.setattr(conv_kernels, "ROW_SHIFT_MIN_IMAGES", 0)
    monkeypatch.setattr(conv_kernels, "ROW_SHIFT_MIN_POSITIONS", 0)
    monkeypatch.setattr(conv_kernels, "ROW_SHIFT_MIN_DEPTH", 0)


@pytest.mark.parametrize("seed", range(120))
def test_row_shift_conv_equals_im2col(seed, row_shift_everywhere, monkeypatch):
    from convcalc.compute import conv_kernels

    layer, shape, rng = random_row_shift_conv(seed)
    x = rng.standard_normal(shape)
    params = random_params(layer, shape, rng)
    fast_forward, fast_backward, grad = run(layer, x, params, seed=seed)
    assert isinstance(fast_forward.cache, conv_kernels.RowShiftConvCache)
    monkeypatch.setattr(conv_kernels, "row_shift_applies", lambda *args: False)
    forward, backward, _ = run(layer, x, params, grad)
    assert isinstance(forward.cache, conv_kernels.ConvCache)
    np.testing.assert_allclose(fast_forward.output, forward.output, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast_backward.grad_input, backward.grad_input, rtol=1e-12, atol=1e-12)
    for name in backward.grads:
        np.testing.assert_allclose(fast_backward.grads[name], backward.grads[name], rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("seed", range(120))
def test_row_shift_conv_matches_torch(seed, row_shift_everywhere):
    torch = pytest.importorskip("torch")
    from convcalc.compute import conv_kernels

    forward = check_conv_against_torch(torch, *random_row_shift_conv(seed), seed)
    assert isinstance(forward.cache, conv_kernels.RowShiftConvCache)


def test_row_shift_path_is_chosen_by_size_and_keeps_float32():
    from convcalc.compute import blas_threads, conv_kernels

    big = Conv(rank=2, out_channels=4, kernel_size=(3, 3), stride=(1, 1), padding=1)
    images = blas_threads.workers()  # the row-shift path shares images over the threads: one each at least
    x = np.ones((images, 16, 32, 32), np.float32)
    forward = big.forward(x, random_params(big, x.shape, np.random.default_rng(0), np.float32))
    assert isinstance(forward.cache, conv_kernels.RowShiftConvCache)
    assert forward.output.dtype == np.float32
    assert big.backward(np.ones_like(forward.output), forward.cache).grad_input.dtype == np.float32
    too_few = [np.ones((images - 1, 16, 32, 32))] if images > 1 else []
    for small_input in [np.ones((images, 16, 8, 8)), np.ones((images, 2, 32, 32)),
                        exact(np.ones((images, 16, 32, 32), int)), *too_few]:
        params = random_params(big, small_input.shape, np.random.default_rng(0))
        if small_input.dtype == object:
            params = {k: exact(np.round(v)) for k, v in params.items()}
        assert isinstance(big.forward(small_input, params).cache, conv_kernels.ConvCache)


@pytest.mark.parametrize("seed", range(150))
def test_conv_transpose_matches_torch(seed):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    layer, shape, rng = random_conv_transpose(seed)
    x = rng.standard_normal(shape)
    params = random_params(layer, shape, rng)
    forward, backward, grad = run(layer, x, params, seed=seed)
    assert forward.output.shape == tuple(analyze_batched(layer, shape).output)
    conv_t = [F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d][layer.rank - 1]

    def make(t):
        if all(a == b for a, b in layer.padding):
            return conv_t(t["x"], t["weight"], t.get("bias"), layer.stride, [a for a, _ in layer.padding],
                          layer.output_padding, layer.groups, layer.dilation)
        # asymmetric: no padding, then crop (before, after) — what the padding removes
        full = conv_t(t["x"], t["weight"], t.get("bias"), layer.stride, 0, layer.output_padding, layer.groups,
                      layer.dilation)
        index = (slice(None), slice(None)) + tuple(slice(a, n - b) for (a, b), n in zip(layer.padding, full.shape[2:]))
        return full[index]

    ref_out, ref_grads = torch_grads(torch, {"x": x, **params}, make, grad)
    compare(forward, backward, ref_out, ref_grads)


def torch_max_pool(torch, layer, shape):
    F = torch.nn.functional
    pool = [F.max_pool1d, F.max_pool2d, F.max_pool3d][layer.rank - 1]
    pads = analyze_batched(layer, shape).hyper["padding"]
    if all(a == b for a, b in pads):
        return lambda t: pool(t["x"], layer.kernel_size, layer.stride, [a for a, _ in pads], layer.dilation,
                              layer.ceil_mode, return_indices=True)
    assert not layer.ceil_mode
    return lambda t: pool(F.pad(t["x"], torch_pad_list(pads), value=float("-inf")), layer.kernel_size, layer.stride, 0,
                          layer.dilation, False, return_indices=True)


def check_max_pool(torch, layer, x, seed, exact_grad=False):
    shape = x.shape
    forward, backward, grad = run(layer, x, {}, seed=seed)
    if exact_grad:
        grad = np.random.default_rng(seed).integers(-3, 4, forward.output.shape).astype(np.float64)
        backward = layer.backward(grad, forward.cache)
    xt = torch.tensor(x, requires_grad=True)
    out, indices = torch_max_pool(torch, layer, shape)({"x": xt})
    out.backward(torch.tensor(grad))
    np.testing.assert_allclose(forward.output, out.detach().numpy(), **TOL)
    # torch's indices then number the unpadded input
    if all(a == b for a, b in analyze_batched(layer, shape).hyper["padding"]):
        np.testing.assert_array_equal(forward.cache.indices, indices.numpy())
    if exact_grad:
        np.testing.assert_array_equal(backward.grad_input, xt.grad.numpy())
    else:
        np.testing.assert_allclose(backward.grad_input, xt.grad.numpy(), **TOL)


@pytest.mark.parametrize("seed", range(150))
def test_max_pool_matches_torch(seed):
    torch = pytest.importorskip("torch")
    layer, shape, rng = random_window_pool(seed, "max")
    check_max_pool(torch, layer, rng.standard_normal(shape), seed)


@pytest.mark.parametrize("seed", range(80))
def test_max_pool_tie_rule_matches_torch(seed):
    """Integer inputs with many ties: indices and gradients must equal PyTorch's exactly."""
    torch = pytest.importorskip("torch")
    layer, shape, rng = random_window_pool(seed, "max")
    x = rng.integers(0, 3, shape).astype(np.float64)
    check_max_pool(torch, layer, x, seed, exact_grad=True)


@pytest.mark.parametrize("seed", range(120))
def test_max_pool_float_path_equals_the_exact_scan(seed):
    """Float max pooling takes the maxima of −∞-padded strided views and settles the winners
    later (a tap number per window, and a backward that adds through each tap's view); it
    must give, bit for bit, the values, winners and input gradient of ATen's scan run on the
    zero-padded input with indexed adds — with ties, −∞ entries beside padding, NaNs,
    overlapping and dilated windows, and ceil_mode."""
    from convcalc.compute import pool_kernels

    layer, shape, rng = random_window_pool(seed, "max")
    kind = seed % 4
    x = rng.integers(0, 3, shape).astype(np.float64) if kind == 0 else rng.standard_normal(shape)
    if kind == 2:
        x[rng.random(shape) < 0.3] = -np.inf
    if kind == 3:
        x[rng.random(shape) < 0.05] = np.nan
    if seed % 5 == 0:
        x = x.astype(np.float32)
    forward = layer.forward(x, {})
    table = forward.cache.windows
    best, indices = pool_kernels._scan(table.prepare(x), table)
    np.testing.assert_array_equal(forward.output, best)
    np.testing.assert_array_equal(forward.cache.indices, indices)
    grad = rng.standard_normal(best.shape).astype(x.dtype)
    if seed % 7 == 0:
        grad.flat[0] = np.inf  # ∞·0 must not turn a lost window's ±0 into NaN
    scanned = pool_kernels.MaxPoolCache(tuple(x.shape), best, table, table.prepare(x), indices)
    fast = pool_kernels.max_pool_backward(grad, layer.forward(x, {}).cache)  # winners found in the backward
    np.testing.assert_array_equal(fast, pool_kernels.max_pool_backward(grad, scanned))


@pytest.mark.parametrize("seed", range(10))
def test_max_pool_asymmetric_and_tf_same_match_torch(seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(40_000 + seed)
    rank = 1 + seed % 3
    shape = (2, 2, *_ints(rng, 3, 7, rank))
    padding = "tf-same" if seed % 2 else tuple((int(rng.integers(0, 2)), int(rng.integers(0, 2))) for _ in range(rank))
    layer = MaxPool(rank=rank, kernel_size=_ints(rng, 2, 3, rank), stride=_ints(rng, 1, 3, rank), padding=padding)
    check_max_pool(torch, layer, rng.integers(0, 4, shape).astype(np.float64), seed, exact_grad=True)


@pytest.mark.parametrize("seed", range(150))
def test_avg_pool_matches_torch(seed):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    layer, shape, rng = random_window_pool(seed, "avg")
    x = rng.standard_normal(shape)
    forward, backward, grad = run(layer, x, {}, seed=seed)
    pool = [F.avg_pool1d, F.avg_pool2d, F.avg_pool3d][layer.rank - 1]
    pads = [a for a, _ in layer.padding]
    extra = {} if layer.rank == 1 else {"divisor_override": layer.divisor_override}

    def make(t):
        return pool(t["x"], layer.kernel_size, layer.stride, pads, layer.ceil_mode, layer.count_include_pad, **extra)

    ref_out, ref_grads = torch_grads(torch, {"x": x}, make, grad)
    compare(forward, backward, ref_out, ref_grads)


@pytest.mark.parametrize("seed", range(120))
def test_adaptive_pool_matches_torch(seed):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    layer, shape, rng = random_adaptive(seed)
    x = rng.integers(0, 4, shape).astype(np.float64) if seed % 3 == 0 else rng.standard_normal(shape)  # ties too
    forward, backward, grad = run(layer, x, {}, seed=seed)
    assert forward.output.shape == tuple(analyze_batched(layer, shape).output)
    if layer.mode == "avg":
        pool = [F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d][layer.rank - 1]
        ref_out, ref_grads = torch_grads(torch, {"x": x}, lambda t: pool(t["x"], layer.output_size), grad)
        compare(forward, backward, ref_out, ref_grads)
        return
    pool = [F.adaptive_max_pool1d, F.adaptive_max_pool2d, F.adaptive_max_pool3d][layer.rank - 1]
    xt = torch.tensor(x, requires_grad=True)
    out, indices = pool(xt, layer.output_size, return_indices=True)
    out.backward(torch.tensor(grad))
    np.testing.assert_allclose(forward.output, out.detach().numpy(), **TOL)
    np.testing.assert_array_equal(forward.cache.indices, indices.numpy())
    np.testing.assert_allclose(backward.grad_input, xt.grad.numpy(), **TOL)


def test_global_pooling_is_the_mean_and_the_max():
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 4))
    avg = AdaptivePool(rank=2, mode="avg", output_size=1, global_=True).forward(x, {}).output
    top = AdaptivePool(rank=2, mode="max", output_size=1, global_=True).forward(x, {}).output
    np.testing.assert_allclose(avg[..., 0, 0], x.mean(axis=(2, 3)), **TOL)
    np.testing.assert_array_equal(top[..., 0, 0], x.max(axis=(2, 3)))


# ---- the helpers against torch, and composed into the course's rules ----------------------


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_pad_and_its_gradient_match_torch(mode, rank):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(rank)
    x = rng.standard_normal((2, 2, *[4] * rank))
    pads = [(int(a), int(b)) for a, b in rng.integers(0, 4, (rank, 2))]
    padded = windows.pad(x, pads, mode)
    grad = rng.standard_normal(padded.shape)
    ref_out, ref_grads = torch_grads(
        torch, {"x": x},
        lambda t: torch.nn.functional.pad(t["x"], torch_pad_list(pads), mode=TORCH_PAD_MODES[mode]), grad
    )
    np.testing.assert_allclose(padded, ref_out, **TOL)
    np.testing.assert_allclose(windows.pad_backward(grad, pads, mode), ref_grads["x"], **TOL)


def test_im2col_and_col2im_match_torch_unfold_and_fold():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 7, 6))
    k, s, d = (3, 2), (2, 1), (1, 2)
    cols = windows.im2col(x, k, s, d)
    np.testing.assert_allclose(cols, F.unfold(torch.tensor(x), k, dilation=d, stride=s).numpy(), **TOL)
    folded = windows.col2im(cols, x.shape, k, s, d)
    ref = F.fold(torch.tensor(cols), x.shape[2:], k, dilation=d, stride=s).numpy()
    np.testing.assert_allclose(folded, ref, **TOL)
    gemm = windows.im2col(x, k, s, d, layout="gemm")  # (C·Πk, N·L): the same columns, batch side by side
    np.testing.assert_array_equal(gemm, np.concatenate(list(cols), axis=1))
    np.testing.assert_allclose(windows.col2im(gemm, x.shape, k, s, d, layout="gemm"), folded, **TOL)


def test_im2col_rows_follow_the_weight_layout():
    """Y = W.reshape(C_out, −1) @ cols is the convolution (docs/arithmetic.md §7.2)."""
    rng = np.random.default_rng(6)
    layer = Conv(rank=2, out_channels=4, kernel_size=3, bias=False)
    x = rng.standard_normal((1, 2, 5, 5))
    params = random_params(layer, x.shape, rng)
    y = params["weight"].reshape(4, -1) @ windows.im2col(x, (3, 3))[0]
    np.testing.assert_allclose(y.reshape(4, 3, 3), layer.forward(x, params).output[0], **TOL)


def test_flip_and_insert_zeros_course_examples():
    """The course's worked example 13 and the zero-inserted δJ of a stride-2 conv."""
    np.testing.assert_array_equal(windows.flip(np.array([[1, 3, 5], [2, 4, 6]])), [[6, 4, 2], [5, 3, 1]])
    np.testing.assert_array_equal(windows.flip(np.arange(1, 10).reshape(3, 3)), np.arange(9, 0, -1).reshape(3, 3))
    np.testing.assert_array_equal(windows.flip(np.arange(8).reshape(2, 1, 2, 2), rank=2)[1, 0], [[7, 6], [5, 4]])
    dj = exact([[1, 2], [3, 4]])
    np.testing.assert_array_equal(windows.insert_zeros(dj, (2, 2)), [[1, 0, 2], [0, 0, 0], [3, 0, 4]])
    np.testing.assert_array_equal(windows.insert_zeros(dj, (3, 1)), [[1, 2], [0, 0], [0, 0], [3, 4]])
    assert windows.window_starts(3, 2, 1) == [-1, 1, 3]


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 0), (2, 1), (3, 1)])
def test_backward_is_the_course_rule(stride, padding):
    """δK = I * δJ and δI = pad(zero-inserted δJ) * flip(K), then a zeros appended and p cropped
    (docs/arithmetic.md §7.1)."""
    rng = np.random.default_rng(stride * 10 + padding)
    x = exact(rng.integers(-3, 4, (1, 1, 7, 8)))
    k = exact(rng.integers(-3, 4, (1, 1, 3, 3)))
    layer = Conv(rank=2, out_channels=1, kernel_size=3, stride=stride, padding=padding, bias=False)
    forward = layer.forward(x, {"weight": k})
    grad = exact(rng.integers(-3, 4, forward.output.shape))
    backward = layer.backward(grad, forward.cache)
    correlate = Conv(rank=2, out_channels=1, bias=False, kernel_size=grad.shape[2:], dilation=stride)
    xp = windows.pad(x, [(padding, padding)] * 2)
    dk = correlate.forward(xp, {"weight": grad})  # dW: Xp correlated with δJ, sampled at steps of s
    np.testing.assert_array_equal(dk.output[..., :3, :3], backward.grads["weight"])
    spread = windows.pad(windows.insert_zeros(grad, (stride, stride)), [(2, 2)] * 2)
    conv = Conv(rank=2, out_channels=1, kernel_size=3, bias=False)
    full = conv.forward(spread, {"weight": windows.flip(k, 2)}).output
    a = [(size + 2 * padding - 3) % stride for size in x.shape[2:]]
    on_padded = windows.pad(full, [(0, extra) for extra in a])
    np.testing.assert_array_equal(windows.crop(on_padded, [(padding, padding)] * 2), backward.grad_input)
    assert_exact(backward.grad_input)


def test_rows_the_floor_dropped_get_zero_gradient():
    """i = 6, k = 3, s = 2: (6 − 3) mod 2 = 1, so the last row and column are never read."""
    layer = Conv(rank=2, out_channels=1, kernel_size=3, stride=2, bias=False)
    x = exact(np.arange(36).reshape(1, 1, 6, 6))
    forward = layer.forward(x, {"weight": exact(np.ones((1, 1, 3, 3)))})
    grad_input = layer.backward(exact(np.ones(forward.output.shape)), forward.cache).grad_input[0, 0]
    assert forward.output.shape == (1, 1, 2, 2)
    assert (grad_input[5, :] == 0).all() and (grad_input[:, 5] == 0).all()
    assert (grad_input[:5, :5] != 0).all()
    np.testing.assert_array_equal(grad_input[2, :5], [2, 2, 4, 2, 2])  # row 2 is in both windows' rows


# ---- exact arithmetic and the worked examples ---------------------------------------------


def conv2d_exact(image, kernel):
    layer = Conv(rank=2, out_channels=1, kernel_size=np.shape(kernel), bias=False)
    out = layer.forward(exact(image)[None, None], {"weight": exact(kernel)[None, None]}).output[0, 0]
    assert_exact(out)
    return out


@pytest.mark.parametrize("image,kernel,expected", [
    ([[1, 3, 2, 4, 6, 4], [4, 8, 3, 1, 0, 2], [2, 1, 4, 3, 9, 1], [4, 7, 2, 3, 9, 2]], [[-1, 0, 1]] * 3,
     [[2, -4, 6, -1], [-1, -9, 9, -2]]),
    ([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]],
     [[1, 0, 1], [0, 1, 0], [1, 0, 1]], [[4, 3, 4], [2, 4, 3], [2, 3, 4]]),
    ([[12, 3, 19], [25, 10, 1], [9, 7, 17]], [[1, 2], [3, 4]], [[133, 75], [100, 101]]),
])
def test_worked_example_convolutions(image, kernel, expected):
    np.testing.assert_array_equal(conv2d_exact(image, kernel), expected)


def test_worked_example_max_pool_3x3_stride_1():
    x = exact([[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]])[None, None]
    out = MaxPool(rank=2, kernel_size=3, stride=1).forward(x, {}).output
    np.testing.assert_array_equal(out[0, 0], [[3, 3, 3], [3, 3, 3], [3, 2, 3]])
    assert_exact(out)


def test_max_pool_tie_demo_of_spec_7_3():
    layer = MaxPool(rank=2, kernel_size=2, stride=1)
    forward, backward, _ = run(layer, exact([[1, 3, 3], [3, 2, 0], [3, 1, 3]])[None, None], {},
                               grad=exact(np.ones((1, 1, 2, 2))))
    np.testing.assert_array_equal(forward.cache.indices[0, 0], [[1, 1], [3, 8]])
    np.testing.assert_array_equal(backward.grad_input[0, 0], [[0, 2, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(forward.cache.tie_counts()[0, 0], [[2, 2], [2, 1]])  # three windows had a tie
    assert_exact(backward.grad_input)


@pytest.mark.parametrize("options,expected", [
    ({"kernel_size": 2, "stride": 2, "ceil_mode": True}, ["3/2", "7/2", "5"]),
    ({"kernel_size": 3, "stride": 2, "padding": 1}, ["1", "3", "3"]),
    ({"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}, ["3/2", "3", "9/2"]),
])
def test_avg_pool_examples_of_spec_3_4(options, expected):
    out = AvgPool(rank=1, **options).forward(exact([[[1, 2, 3, 4, 5]]]), {}).output
    assert_exact(out)
    assert list(out[0, 0]) == [Fraction(v) for v in expected]


def test_adaptive_bins_of_spec_3_5():
    table = windows.WindowTable.adaptive((10,), (4,))
    bins = [(int(p[v].min()), int(p[v].max()) + 1) for p, v in zip(table.positions[0], table.valid[0])]
    assert bins == [(0, 3), (2, 5), (5, 8), (7, 10)]


def _exact_cases():
    yield "conv", Conv(rank=2, out_channels=4, kernel_size=(3, 2), stride=(2, 1), padding=((1, 0), (2, 1)), groups=2,
                       dilation=(1, 2), padding_mode="reflect"), (2, 4, 6, 5)
    yield "conv1d-circular", Conv(rank=1, out_channels=2, kernel_size=3, padding=2, padding_mode="circular"), (1, 2, 5)
    yield "conv-transpose", ConvTranspose(rank=2, out_channels=4, kernel_size=3, stride=2, padding=1, output_padding=1,
                                          groups=2), (1, 2, 3, 4)
    yield "maxpool", MaxPool(rank=2, kernel_size=3, stride=2, padding=1, ceil_mode=True), (2, 2, 6, 5)
    yield "avgpool", AvgPool(rank=2, kernel_size=3, stride=2, padding=1, ceil_mode=True,
                             count_include_pad=False), (1, 2, 6, 5)
    yield "avgpool-override", AvgPool(rank=2, kernel_size=2, divisor_override=3), (1, 1, 4, 4)
    yield "adaptive-avg", AdaptivePool(rank=2, mode="avg", output_size=(3, 7)), (1, 2, 5, 4)
    yield "adaptive-max", AdaptivePool(rank=1, mode="max", output_size=4), (2, 1, 7)


@pytest.mark.parametrize("name,layer,shape", list(_exact_cases()), ids=[c[0] for c in _exact_cases()])
def test_exact_inputs_give_exact_results_equal_to_float64(name, layer, shape):
    rng = np.random.default_rng(7)
    x = random_fractions(shape, rng)
    params = {k: random_fractions(s, rng) for k, s in layer.parameter_shapes(shape).items()}
    forward = layer.forward(x, params)
    grad = random_fractions(forward.output.shape, rng)
    backward = layer.backward(grad, forward.cache)
    floats = layer.forward(as_float(x), {k: as_float(v) for k, v in params.items()})
    float_back = layer.backward(as_float(grad), floats.cache)
    for ours, ref in [(forward.output, floats.output), (backward.grad_input, float_back.grad_input),
                      *[(backward.grads[k], float_back.grads[k]) for k in backward.grads]]:
        assert_exact(ours)
        np.testing.assert_allclose(as_float(ours), ref, **TOL)


class Number:
    """A number-like object with only + − * / and comparisons (what a symbolic trace supplies)."""

    def __init__(self, value):
        self.value = value.value if isinstance(value, Number) else Fraction(value)

    def _other(self, other):
        if isinstance(other, Number):
            return other.value
        if isinstance(other, (int, Fraction)) and not isinstance(other, bool):
            return Fraction(other)
        return NotImplemented

    def _op(op):
        def method(self, other):
            value = self._other(other)
            return NotImplemented if value is NotImplemented else Number(op(self.value, value))
        return method

    __add__ = _op(lambda a, b: a + b)
    __radd__ = _op(lambda a, b: b + a)
    __sub__ = _op(lambda a, b: a - b)
    __rsub__ = _op(lambda a, b: b - a)
    __mul__ = _op(lambda a, b: a * b)
    __rmul__ = _op(lambda a, b: b * a)
    __truediv__ = _op(lambda a, b: a / b)
    __rtruediv__ = _op(lambda a, b: b / a)

    def _cmp(op):
        def method(self, other):
            value = self._other(other)
            return NotImplemented if value is NotImplemented else op(self.value, value)
        return method

    __lt__ = _cmp(lambda a, b: a < b)
    __le__ = _cmp(lambda a, b: a <= b)
    __gt__ = _cmp(lambda a, b: a > b)
    __ge__ = _cmp(lambda a, b: a >= b)
    __eq__ = _cmp(lambda a, b: a == b)
    __hash__ = None


@pytest.mark.parametrize("name,layer,shape", list(_exact_cases()), ids=[c[0] for c in _exact_cases()])
def test_number_like_objects_go_through_the_same_code(name, layer, shape):
    rng = np.random.default_rng(8)
    wrap = np.frompyfunc(Number, 1, 1)
    unwrap = np.frompyfunc(lambda v: v.value if isinstance(v, Number) else Fraction(v), 1, 1)
    x = random_fractions(shape, rng)
    params = {k: random_fractions(s, rng) for k, s in layer.parameter_shapes(shape).items()}
    forward = layer.forward(x, params)
    grad = random_fractions(forward.output.shape, rng)
    backward = layer.backward(grad, forward.cache)
    wrapped = layer.forward(wrap(x), {k: wrap(v) for k, v in params.items()})
    wrapped_back = layer.backward(wrap(grad), wrapped.cache)
    assert (unwrap(wrapped.output) == forward.output).all()
    assert (unwrap(wrapped_back.grad_input) == backward.grad_input).all()
    for k in backward.grads:
        assert (unwrap(wrapped_back.grads[k]) == backward.grads[k]).all()


def test_symbolic_kernel_gives_the_sum_of_products():
    sympy = pytest.importorskip("sympy")
    k = np.array(sympy.symbols("k0:4"), dtype=object).reshape(1, 1, 2, 2)
    x = exact([[12, 3, 19], [25, 10, 1], [9, 7, 17]])[None, None]
    out = Conv(rank=2, out_channels=1, kernel_size=2, bias=False).forward(x, {"weight": k}).output
    k0, k1, k2, k3 = k.ravel()
    assert sympy.expand(out[0, 0, 0, 0] - (12 * k0 + 3 * k1 + 25 * k2 + 10 * k3)) == 0


# ---- finite differences -------------------------------------------------------------------


def _fd_cases():
    yield Conv(rank=2, out_channels=3, kernel_size=(2, 3), stride=(2, 1), padding=((1, 2), (0, 1)), dilation=(2, 1),
               padding_mode="reflect"), (2, 2, 6, 5)
    yield Conv(rank=3, out_channels=2, kernel_size=2, stride=2, padding=1, groups=2,
               padding_mode="replicate"), (1, 2, 4, 3, 5)
    yield ConvTranspose(rank=1, out_channels=4, kernel_size=3, stride=3, padding=((1, 2),), dilation=2,
                        output_padding=2,
                        groups=2), (2, 2, 4)
    yield MaxPool(rank=2, kernel_size=3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True), (2, 1, 7, 8)
    yield AvgPool(rank=3, kernel_size=2, stride=(1, 2, 2), padding=1, ceil_mode=True,
                  count_include_pad=False), (1, 2, 3, 4, 5)
    yield AdaptivePool(rank=2, mode="avg", output_size=(3, 6)), (1, 2, 5, 4)
    yield AdaptivePool(rank=2, mode="max", output_size=(2, 3)), (2, 1, 5, 7)


@pytest.mark.parametrize("case", range(7))
def test_gradients_match_finite_differences(case):
    layer, shape = list(_fd_cases())[case]
    rng = np.random.default_rng(100 + case)
    x = rng.permutation(np.linspace(-2, 2, int(np.prod(shape)))).reshape(shape)  # distinct values: no max ties
    params = random_params(layer, shape, rng)
    _forward, backward, grad = run(layer, x, params, seed=case)

    def loss(x_, params_):
        return float(np.sum(layer.forward(x_, params_).output * grad))

    eps = 1e-6
    for name, value, analytic in [("x", x, backward.grad_input), *[(k, params[k], backward.grads[k]) for k in params]]:
        direction = rng.standard_normal(value.shape)
        if name == "x":
            plus, minus = loss(x + eps * direction, params), loss(x - eps * direction, params)
        else:
            plus = loss(x, {**params, name: params[name] + eps * direction})
            minus = loss(x, {**params, name: params[name] - eps * direction})
        numeric = (plus - minus) / (2 * eps)
        assert numeric == pytest.approx(float(np.sum(analytic * direction)), rel=1e-6, abs=1e-7), name


# ---- dtypes and bad input -----------------------------------------------------------------


@pytest.mark.parametrize("layer,shape", [
    (Conv(rank=2, out_channels=3, kernel_size=3, padding=1, padding_mode="circular"), (2, 2, 5, 6)),
    (Conv(rank=1, out_channels=4, kernel_size=3, groups=2, stride=2), (1, 2, 9)),
    (ConvTranspose(rank=2, out_channels=2, kernel_size=2, stride=2), (1, 3, 4, 4)),
    (MaxPool(rank=2, kernel_size=2, padding=1), (2, 3, 5, 5)),
    (AvgPool(rank=2, kernel_size=3, stride=2, ceil_mode=True), (1, 2, 6, 6)),
    (AdaptivePool(rank=2, mode="avg", output_size=3), (1, 2, 7, 5)),
    (AdaptivePool(rank=3, mode="max", output_size=2), (1, 1, 3, 4, 5)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_dtypes_are_kept(layer, shape, dtype):
    rng = np.random.default_rng(9)
    x = rng.standard_normal(shape).astype(dtype)
    params = random_params(layer, shape, rng, dtype)
    forward = layer.forward(x, params)
    backward = layer.backward(np.ones(forward.output.shape, dtype=dtype), forward.cache)
    assert forward.output.dtype == dtype
    assert backward.grad_input.dtype == dtype and backward.grad_input.shape == shape
    assert all(g.dtype == dtype for g in backward.grads.values())


def test_float32_agrees_with_float64():
    layer = Conv(rank=2, out_channels=8, kernel_size=3, padding=1)
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 4, 9, 9))
    params = random_params(layer, x.shape, rng)
    f64 = layer.forward(x, params).output
    f32 = layer.forward(x.astype(np.float32), {k: v.astype(np.float32) for k, v in params.items()}).output
    np.testing.assert_allclose(f32, f64, rtol=1e-4, atol=1e-4)


def test_max_pool_nan_wins_as_in_torch():
    x = np.array([[[1.0, np.nan, 3.0, 2.0]]])
    forward = MaxPool(rank=1, kernel_size=2).forward(x, {})
    assert np.isnan(forward.output[0, 0, 0]) and forward.output[0, 0, 1] == 3.0
    np.testing.assert_array_equal(forward.cache.indices[0, 0], [1, 2])


@pytest.mark.parametrize("call,message", [
    (lambda: Conv(rank=2, out_channels=2, kernel_size=3).forward(np.zeros((1, 3, 5, 5)),
                                                                 {"weight": np.zeros((2, 3, 2, 2)),
                                                                  "bias": np.zeros(2)}),
     "parameter 'weight' has shape 2x3x2x2 but this input needs 2x3x3x3"),
    (lambda: Conv(rank=2, out_channels=2, kernel_size=3).forward(np.zeros((1, 3, 5, 5)),
                                                                 {"weight": np.zeros((2, 3, 3, 3))}),
     "'bias'"),
    (lambda: Conv(rank=2, out_channels=2, kernel_size=3, bias=False).forward(
        np.zeros((1, 3, 5, 5)), {"weight": np.zeros((2, 3, 3, 3)), "gamma": 1}),
     "unknown parameter"),
    (lambda: Conv(rank=2, out_channels=2, kernel_size=3).forward(np.zeros((3, 5, 5)), {}), "batched input"),
    (lambda: Conv(rank=2, out_channels=2, kernel_size=7).forward(np.zeros((1, 1, 5, 5)), {}),
     "larger than the padded input"),
    (lambda: MaxPool(rank=2, kernel_size=2).forward(np.zeros((1, 1, 4, 4), dtype=bool), {}), "dtype bool"),
    (lambda: MaxPool(rank=1, kernel_size=2, stride=3, padding=1, dilation=2,
                     ceil_mode=True).forward(np.zeros((1, 1, 1)), {}),
     "reads only padding"),
    (lambda: MaxPool(rank=1, kernel_size=2).backward(
        np.zeros((1, 1, 3)), MaxPool(rank=1, kernel_size=2).forward(np.zeros((1, 1, 4)), {}).cache),
     "expected the output's shape 1x1x2"),
])
def test_bad_input_is_refused_with_a_message(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_integer_arrays_are_exact():
    """numpy integer arrays become Python ints: exact, never wrapped at 64 bits."""
    image = np.array([[12, 3, 19], [25, 10, 1], [9, 7, 17]])[None, None] * 10**15
    layer = Conv(rank=2, out_channels=1, kernel_size=2, bias=False)
    out = layer.forward(image, {"weight": np.array([[1, 2], [3, 4]])[None, None] * 10**6}).output
    assert out.dtype == object and type(out[0, 0, 0, 0]) is int
    assert out[0, 0, 0, 0] == 133 * 10**21


def _empty_window_configs():
    """Every 1-d max-pool configuration (small sizes) the shape rule accepts apart from empty
    windows, with whether one of its windows reads only padding (by the window table)."""
    import itertools

    from convcalc.engine import axis

    sizes, kernels, strides, dilations, pads = range(1, 7), range(1, 5), range(1, 4), range(1, 4), range(3)
    for i, k, s, d, p, ceil in itertools.product(sizes, kernels, strides, dilations, pads, (False, True)):
        o, _ = axis.pool_output_size(i, k, s, p, p, d, ceil)
        if p > k // 2 or o < 1:
            continue
        table = windows.WindowTable.regular((i,), (k,), (s,), (d,), [p], (o,))
        yield MaxPool(rank=1, kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil), i, any(
            not row.any() for row in table.valid[0])


def test_shape_rule_refuses_exactly_the_windows_that_read_only_padding():
    """MaxPool.analyze (what `convcalc shape` runs) and forward refuse the same configurations."""
    refused = 0
    for layer, i, empty in _empty_window_configs():
        try:
            layer.analyze((1, i))
        except InputError as exc:
            assert empty and "reads only padding" in str(exc), (layer, i, str(exc))
            refused += 1
            with pytest.raises(InputError, match="reads only padding"):
                layer.forward(np.zeros((1, 1, i)), {})
        else:
            assert not empty, (layer, i)
    assert refused > 10  # the sweep does reach such windows


def test_shape_command_refuses_a_window_of_padding_like_forward(cli):
    result = cli("shape", "--op", "maxpool1d", "--in", "1x1", "--k", "2", "--dilation", "2", "--pad", "1",
                 "--format", "plain")
    assert result.code == 2, result.out
    assert "window 0 along L reads only padding" in result.err


@pytest.mark.parametrize("layer,params,message", [
    (Conv(rank=1, out_channels=2, kernel_size=3), {"weight": np.zeros((2, 1, 3))},
     r"conv1d: parameter 'bias' is missing; it should have shape 2$"),
    (Conv(rank=1, out_channels=2, kernel_size=3, bias=False), {"weight": np.zeros((2, 1, 3)), "bias": np.zeros(2)},
     r"conv1d: unknown parameter 'bias'; its parameters are: weight$"),
    (MaxPool(rank=1, kernel_size=2), {"weight": np.zeros(2)},
     r"maxpool1d: unknown parameter 'weight'; its parameters are: none$"),
    (AdaptivePool(rank=1, output_size=2), {"w": 1}, r"adaptive-avgpool1d: unknown parameter 'w'"),
    (ConvTranspose(rank=1, out_channels=2, kernel_size=3), {"weight": np.zeros((2, 1, 3)), "bias": np.zeros(2)},
     r"conv-transpose1d: parameter 'weight' has shape 2x1x3 but this input needs 1x2x3$"),
])
def test_one_wording_for_parameter_checks(layer, params, message):
    """The windowed layers check their parameters with compute.params.require, as the others do."""
    with pytest.raises(InputError, match=message):
        layer.forward(np.zeros((1, 1, 6)), params)
