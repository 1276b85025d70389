"""Property tests of the numeric calculator's engines (convcalc.calculator) against references
derived here independently — plain loops over the definitions, the adjoint identity of the
transposed convolution, commutativity of true convolution — and against PyTorch (float64)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.calculator.conv import convolve
from convcalc.calculator.im2col import im2col
from convcalc.calculator.pool import pool
from convcalc.calculator.transpose import conv_transpose
from convcalc.errors import InputError

SETTINGS = settings(max_examples=40, deadline=None)


def exact(array) -> np.ndarray:
    """An int array as an exact object array of Python ints."""
    out = np.empty(np.shape(array), dtype=object)
    out[...] = np.asarray(array).tolist()
    return out


def reference_correlation(x, w, b, stride, pads, dilation):
    """J[co,y,x] = b[co] + Σ_ci Σ_u Σ_v Ip[ci, s·y + d·u, s·x + d·v]·K[co,ci,u,v], by loops."""
    c_in, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    (pt, pb), (pl, pr) = pads
    padded = [[[0] * (wd + pl + pr) for _ in range(h + pt + pb)] for _ in range(c_in)]
    for c in range(c_in):
        for i in range(h):
            for j in range(wd):
                padded[c][i + pt][j + pl] = x[c, i, j]
    hp, wp = h + pt + pb, wd + pl + pr
    oh = (hp - (dilation[0] * (kh - 1) + 1)) // stride[0] + 1
    ow = (wp - (dilation[1] * (kw - 1) + 1)) // stride[1] + 1
    out = np.empty((c_out, oh, ow), dtype=object)
    for co in range(c_out):
        for y in range(oh):
            for xx in range(ow):
                total = b[co] if b is not None else 0
                for ci in range(c_in):
                    for u in range(kh):
                        for v in range(kw):
                            row, column = stride[0] * y + dilation[0] * u, stride[1] * xx + dilation[1] * v
                            total += padded[ci][row][column] * w[co, ci, u, v]
                out[co, y, xx] = total
    return out


small = st.integers(-4, 4)


@st.composite
def conv_cases(draw):
    c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pads = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(2))
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - sum(pads[0])), 6))
    w = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - sum(pads[1])), 6))
    x = np.array(draw(st.lists(small, min_size=c_in * h * w, max_size=c_in * h * w))).reshape(c_in, h, w)
    n_k = c_out * c_in * kh * kw
    k = np.array(draw(st.lists(small, min_size=n_k, max_size=n_k))).reshape(c_out, c_in, kh, kw)
    bias = draw(st.none() | st.lists(small, min_size=c_out, max_size=c_out))
    return x, k, bias, stride, pads, dilation


def bias_text(bias):
    return None if bias is None else " ".join(map(str, bias))


@SETTINGS
@given(conv_cases(), st.booleans())
def test_conv_matches_the_definition_and_explains_every_entry(case, flip):
    x, k, bias, stride, pads, dilation = case
    result = convolve(exact(x), exact(k), stride=stride, padding=pads, dilation=dilation,
                      bias=bias_text(bias), flip=flip,
                      explain=True)
    applied = k[:, :, ::-1, ::-1] if flip else k
    expected = reference_correlation(x, applied, bias, stride, pads, dilation)
    assert result.output.shape == expected.shape
    assert (result.output == expected).all()
    assert all(type(v) is int for v in result.output.ravel())  # exact ints stay Python ints
    assert len(result.entries) == expected.size
    for entry in result.entries:  # each term reads the window's entry and meets the right kernel entry
        co, y, xx = entry.index
        for t in entry.terms:
            ci, r, c = t.input_index
            _, _, u, v = t.kernel_index
            assert (r, c) == (stride[0] * y + dilation[0] * u, stride[1] * xx + dilation[1] * v)
            assert t.input_value == result.padded[ci, r, c] and t.kernel_value == applied[co, ci, u, v]


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.data())
def test_true_convolution_is_commutative_and_correlation_is_not_in_general(h, w, kh, kw, data):
    """With full padding, I ∗ K = K ∗ I (true convolution); correlation gives the reversal."""
    a = np.array(data.draw(st.lists(small, min_size=h * w, max_size=h * w))).reshape(h, w)
    b = np.array(data.draw(st.lists(small, min_size=kh * kw, max_size=kh * kw))).reshape(kh, kw)
    ab = convolve(exact(a), exact(b), padding="full", flip=True).output
    ba = convolve(exact(b), exact(a), padding="full", flip=True).output
    assert (ab == ba).all()
    cross_ab = convolve(exact(a), exact(b), padding="full").output
    cross_ba = convolve(exact(b), exact(a), padding="full").output
    assert (cross_ab == cross_ba[:, ::-1, ::-1]).all()  # correlate(x, w) = reverse(correlate(w, x))


@SETTINGS
@given(conv_cases())
def test_transposed_conv_is_the_adjoint_of_conv(case):
    """⟨conv(X, W), Y⟩ = ⟨X, conv_transpose(Y, W)⟩ with output_padding = (i + 2p − k_eff) mod s,
    and the equivalent direct convolution gives the same result (checked inside, shown here)."""
    x, k, _, stride, pads, dilation = case
    pads = tuple((p[0], p[0]) for p in pads)  # PyTorch's ConvTranspose pads both sides alike
    kh, kw = k.shape[2:]
    h, w = x.shape[1:]
    if any(h_ + 2 * p < d * (kk - 1) + 1 for h_, (p, _), d, kk in zip((h, w), pads, dilation, (kh, kw))):
        return
    forward = convolve(exact(x), exact(k), stride=stride, padding=pads, dilation=dilation).output
    y = (np.arange(forward.size).reshape(forward.shape) % 5 - 2).astype(object)
    op = tuple((i + 2 * p - (d * (kk - 1) + 1)) % s
               for i, (p, _), d, kk, s in zip((h, w), pads, dilation, (kh, kw), stride))
    if any(o >= max(s, d) for o, s, d in zip(op, stride, dilation)):
        return
    back = conv_transpose(y, exact(k), stride=stride, padding=pads, output_padding=op, dilation=dilation, explain=True)
    assert back.output.shape == x.shape
    assert (forward * y).sum() == (exact(x) * back.output).sum()
    assert (back.equivalent_output == back.output).all()
    assert back.stretched.shape[1:] == tuple((n - 1) * s + 1 for n, s in zip(y.shape[1:], stride))


def reference_pool(x, k, s, pads, mode, ceil_mode, count_include_pad):
    """Max: the first maximum of the real entries in row-major order; average: PyTorch's divisor."""
    c, h, w = x.shape
    out_sizes = []
    for i, kk, ss, (pl, pr) in zip((h, w), k, s, pads):
        span = i + pl + pr - kk
        o = (-(-span // ss) if ceil_mode else span // ss) + 1
        if ceil_mode and (o - 1) * ss >= i + pl:
            o -= 1
        out_sizes.append(o)
    oh, ow = out_sizes
    values = np.empty((c, oh, ow), dtype=object)
    winners = {}
    for ch in range(c):
        for y in range(oh):
            for xx in range(ow):
                r0, c0 = y * s[0] - pads[0][0], xx * s[1] - pads[1][0]
                cells = [(r, q) for r in range(r0, r0 + k[0]) for q in range(c0, c0 + k[1])]
                real = [(r, q) for r, q in cells if 0 <= r < h and 0 <= q < w]
                if mode == "max":
                    best = None
                    for r, q in real:
                        if best is None or x[ch, r, q] > x[ch, best[0], best[1]]:
                            best = (r, q)
                    values[ch, y, xx] = x[ch, best[0], best[1]]
                    winners[(ch, y, xx)] = best
                else:
                    inside = [(r, q) for r, q in cells if r < h + pads[0][1] and q < w + pads[1][1]]
                    divisor = len(inside) if count_include_pad else len(real)
                    values[ch, y, xx] = Fraction(sum(x[ch, r, q] for r, q in real), divisor)
    return values, winners


@SETTINGS
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.sampled_from(["max", "avg"]), st.booleans(), st.booleans(), st.data())
def test_pooling_matches_the_definition(c, kh, kw, sh, sw, mode, ceil_mode, count_include_pad, data):
    pads = ((data.draw(st.integers(0, kh // 2)),) * 2, (data.draw(st.integers(0, kw // 2)),) * 2)
    h = data.draw(st.integers(max(1, kh - 2 * pads[0][0]), 6))
    w = data.draw(st.integers(max(1, kw - 2 * pads[1][0]), 6))
    x = np.array(data.draw(st.lists(st.integers(0, 3), min_size=c * h * w,
                                    max_size=c * h * w))).reshape(c, h, w)  # many ties
    result = pool(exact(x), kernel_size=(kh, kw), stride=(sh, sw), padding=pads, mode=mode, ceil_mode=ceil_mode,
                  count_include_pad=count_include_pad, explain=True)
    expected, winners = reference_pool(x, (kh, kw), (sh, sw), pads, mode, ceil_mode, count_include_pad)
    assert (result.output == expected).all()
    for entry in result.entries:
        if mode == "max":
            _, r, q = entry.winner
            assert (r - pads[0][0], q - pads[1][0]) == winners[entry.index]
        else:
            assert entry.value == Fraction(sum(v for _, v in entry.cells), entry.divisor)


@SETTINGS
@given(conv_cases())
def test_im2col_product_is_the_convolution(case):
    x, k, bias, stride, pads, dilation = case
    result = im2col(exact(x), exact(k), stride=stride, padding=pads, dilation=dilation, bias=bias_text(bias))
    expected = reference_correlation(x, k, bias, stride, pads, dilation)
    assert (result.output == expected).all()
    c, (kh, kw), (oh, ow) = x.shape[0], k.shape[2:], expected.shape[1:]
    for row, (ch, u, v) in enumerate(result.row_labels):  # X_col[(c,u,v), (y,x)] = Ip[c, s·y + d·u, s·x + d·v]
        for col, (y, xx) in enumerate(result.column_labels):
            assert result.columns[row, col] == result.padded[ch, stride[0] * y + dilation[0] * u,
                                                             stride[1] * xx + dilation[1] * v]
    assert result.columns.shape == (c * kh * kw, oh * ow)


def test_fractions_stay_exact_and_decimals_give_floats():
    halves = exact([[1, 2], [3, 4]]) * Fraction(1, 2)
    result = convolve(halves, exact([[1, 1], [1, 1]]))
    assert result.output[0, 0, 0] == 5 and result.exact
    floats = convolve(np.array([[0.5, 1.0], [1.0, 1.0]]), exact([[1, 1], [1, 1]]))
    assert floats.output.dtype == np.float64 and floats.output[0, 0, 0] == 3.5


def test_kernel_larger_than_padded_input_is_refused():
    with pytest.raises(InputError, match="larger than the padded input"):
        convolve(exact([[1, 2], [3, 4]]), exact(np.ones((3, 3), dtype=int)))


# --------------------------------------------------------------------------- PyTorch (float64)

@pytest.mark.torch
@settings(max_examples=30, deadline=None)
@given(conv_cases(), st.data())
def test_against_torch_float64(case, data):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    x, k, bias, stride, pads, dilation = case
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    xf, kf = rng.standard_normal(x.shape), rng.standard_normal(k.shape)
    bf = rng.standard_normal(k.shape[0]) if bias is not None else None
    b_text = " ".join(repr(float(v)) for v in bf) if bf is not None else None
    ours = convolve(xf, kf, stride=stride, padding=pads, dilation=dilation, bias=b_text, explain=True).output
    padded = F.pad(torch.tensor(xf)[None], (pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
    theirs = F.conv2d(padded, torch.tensor(kf), torch.tensor(bf) if bf is not None else None, stride=stride,
                      dilation=dilation)[0]
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-9, atol=1e-9)

    sym = tuple((p[0], p[0]) for p in pads)
    if all(h + 2 * p >= d * (kk - 1) + 1 for h, (p, _), d, kk in zip(x.shape[1:], sym, dilation, k.shape[2:])):
        y = rng.standard_normal(convolve(xf, kf, stride=stride, padding=sym, dilation=dilation).output.shape)
        wt = rng.standard_normal((y.shape[0], x.shape[0], *k.shape[2:]))  # ConvTranspose layout: C_in x C_out
        op = tuple(min(data.draw(st.integers(0, 2)), max(s, d) - 1) for s, d in zip(stride, dilation))
        sizes = [(i - 1) * s - 2 * p + d * (kk - 1) + o + 1
                 for i, s, (p, _), d, kk, o in zip(y.shape[1:], stride, sym, dilation, k.shape[2:], op)]
        if min(sizes) < 1:  # too much padding: PyTorch refuses it, and so do we (tested in the CLI tests)
            return
        ours_t = conv_transpose(y, wt, stride=stride, padding=sym, output_padding=op, dilation=dilation,
                                explain=True).output
        theirs_t = F.conv_transpose2d(torch.tensor(y)[None], torch.tensor(wt), stride=stride,
                                      padding=(sym[0][0], sym[1][0]),
                                      output_padding=op, dilation=dilation)[0]
        np.testing.assert_allclose(ours_t, theirs_t.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.torch
def test_max_pool_ties_and_winners_match_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(7)
    for _ in range(20):
        x = rng.integers(0, 3, (2, 5, 6))
        k, s = (int(rng.integers(1, 4)), int(rng.integers(1, 4))), (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        pads = ((k[0] // 2,) * 2, (k[1] // 2,) * 2)
        ceil = bool(rng.integers(0, 2))
        ours = pool(exact(x), kernel_size=k, stride=s, padding=pads, ceil_mode=ceil, explain=True)
        values, indices = F.max_pool2d(torch.tensor(x, dtype=torch.float64), k, s, (pads[0][0], pads[1][0]),
                                       ceil_mode=ceil, return_indices=True)
        assert (ours.output.astype(float) == values.numpy()).all()
        for entry in ours.entries:
            _, r, q = entry.winner
            assert (r - pads[0][0]) * x.shape[2] + (q - pads[1][0]) == int(indices[entry.index])
