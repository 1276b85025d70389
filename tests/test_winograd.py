"""Winograd's F(2×2, 3×3) convolution (``compute.winograd``, docs/arithmetic.md §7.7) gives the
convolution's forward and gradients to rounding: against the im2col path in float64, against
PyTorch, with odd and non-square planes, both paddings, with and without bias."""

from __future__ import annotations

import numpy as np
import pytest

from convcalc.compute import blas_threads, conv_kernels, winograd


class _TwoThreads:
    num_threads = 2

    def set_num_threads(self, n: int) -> None:
        self.num_threads = n


@pytest.fixture
def two_threads(monkeypatch):
    """Two threads, whatever this machine's BLAS has (the path is for batches shared out)."""
    for name, value in (("library", _TwoThreads()), ("default", 2), ("current", 2), ("looked", True)):
        monkeypatch.setattr(blas_threads._THREADS, name, value)


def _geometry(pad: int, out_spatial) -> dict:
    return {"kernel_size": (3, 3), "stride": (1, 1), "dilation": (1, 1), "pads": ((pad, pad), (pad, pad)),
            "padding_mode": "zeros", "groups": 1, "out_spatial": tuple(out_spatial)}


def _run(x, w, b, pad, grad=None):
    out_spatial = tuple(s + 2 * pad - 2 for s in x.shape[2:])
    y, cache = conv_kernels.conv_forward(x, w, b, **_geometry(pad, out_spatial))
    grad = np.ones_like(y) if grad is None else grad
    dx, grads = conv_kernels.conv_backward(grad, cache, kernel_size=(3, 3), stride=(1, 1), dilation=(1, 1),
                                           padding_mode="zeros")
    return cache, [y, dx, grads["weight"]] + ([grads["bias"]] if b is not None else [])


@pytest.mark.parametrize("seed", range(60))
@pytest.mark.usefixtures("two_threads")
def test_winograd_equals_the_im2col_path(monkeypatch, seed):
    rng = np.random.default_rng(70_000 + seed)
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    pad = int(rng.integers(0, 2))
    n, c_in, c_out = int(rng.integers(2, 5)), int(rng.integers(1, 7)), int(rng.integers(1, 7))
    h, w = (int(v) for v in rng.integers(4 - 2 * pad, 12, 2))
    dtype = np.float32 if seed % 2 else np.float64
    x = rng.standard_normal((n, c_in, h, w)).astype(dtype)
    weight = rng.standard_normal((c_out, c_in, 3, 3)).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype) if seed % 3 else None
    grad = rng.standard_normal((n, c_out, h + 2 * pad - 2, w + 2 * pad - 2)).astype(dtype)
    cache, fast = _run(x, weight, bias, pad, grad)
    assert isinstance(cache, winograd.WinogradConvCache)
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1 << 30)
    as64 = [None if a is None else a.astype(np.float64) for a in (x, weight, bias, grad)]
    reference_cache, reference = _run(*as64[:3], pad, as64[3])
    assert isinstance(reference_cache, conv_kernels.ConvCache)
    tolerance = 2e-6 if dtype == np.float32 else 1e-12
    for got, want in zip(fast, reference):
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=tolerance * max(1.0, float(np.abs(want).max())))


@pytest.mark.torch
@pytest.mark.parametrize("shape, pad", [((4, 256, 8, 8), 1), ((2, 128, 7, 7), 1), ((3, 130, 9, 6), 0)])
@pytest.mark.usefixtures("two_threads")
def test_winograd_layers_match_torch(shape, pad):
    """At the channel counts the path is taken for, in float32, against PyTorch in float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(71_000)
    n, c, h, w = shape
    x = rng.standard_normal(shape).astype(np.float32)
    weight = (rng.standard_normal((c + 3, c, 3, 3)) * 0.05).astype(np.float32)
    bias = rng.standard_normal(c + 3).astype(np.float32)
    grad = rng.standard_normal((n, c + 3, h + 2 * pad - 2, w + 2 * pad - 2)).astype(np.float32)
    cache, (y, dx, dw, db) = _run(x, weight, bias, pad, grad)
    assert isinstance(cache, winograd.WinogradConvCache)
    tx, tw, tb = (torch.from_numpy(a).double().requires_grad_() for a in (x, weight, bias))
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=pad)
    ty.backward(torch.from_numpy(grad).double())
    for got, want in ((y, ty), (dx, tx.grad), (dw, tw.grad), (db, tb.grad)):
        want = want.detach().numpy()
        assert np.abs(got - want).max() <= 3e-6 * np.abs(want).max()


@pytest.mark.parametrize("change", ["stride", "dilation", "groups", "pad 2", "uneven pad", "reflect", "exact",
                                    "few channels", "one image", "weight dtype", "1x1 plane"])
@pytest.mark.usefixtures("two_threads")
def test_winograd_is_taken_only_where_it_applies(change):
    x = np.zeros((2, 128, 8, 8), np.float32)
    weight = np.zeros((128, 128, 3, 3), np.float32)
    args = {"kernel_size": (3, 3), "stride": (1, 1), "dilation": (1, 1), "pads": ((1, 1), (1, 1)),
            "padding_mode": "zeros", "groups": 1, "out_spatial": (8, 8)}
    assert winograd.applies(x, weight, **args)
    if change == "stride":
        args["stride"] = (2, 1)
    elif change == "dilation":
        args["dilation"] = (1, 2)
    elif change == "groups":
        args["groups"] = 2
    elif change == "pad 2":
        args["pads"] = ((2, 2), (2, 2))
    elif change == "uneven pad":
        args["pads"] = ((1, 0), (1, 1))
    elif change == "reflect":
        args["padding_mode"] = "reflect"
    elif change == "exact":
        x = x.astype(object)
    elif change == "few channels":
        weight = weight[:64]
    elif change == "one image":
        x = x[:1]
    elif change == "weight dtype":
        weight = weight.astype(np.float64)
    else:
        args["out_spatial"] = (1, 1)
    assert not winograd.applies(x, weight, **args)


@pytest.mark.usefixtures("two_threads")
def test_a_wider_bias_is_promoted_as_add_bias_promotes(monkeypatch):
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    rng = np.random.default_rng(72_000)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    weight = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(4)  # float64
    y, cache = conv_kernels.conv_forward(x, weight, bias, **_geometry(1, (6, 6)))
    plain, _ = conv_kernels.conv_forward(x, weight, None, **_geometry(1, (6, 6)))
    assert isinstance(cache, winograd.WinogradConvCache) and y.dtype == np.float64
    assert y.tobytes() == (plain + bias.reshape(-1, 1, 1)).tobytes()
