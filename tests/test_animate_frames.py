"""The frames of ``convcalc animate`` are the forward pass's own reads.

For every figure of Dumoulin & Visin's conv_arithmetic (tests/reference/conv_arithmetic.json)
and the harder cases (output padding, dilation, ceil-mode pooling, asymmetric padding, padding
modes, 1-d, 3-d), the sequence (output entry, window cells) behind the frames is rebuilt into
an output on random numbers and must equal the layer's forward — and PyTorch's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.animation.build import animation, request_layer
from convcalc.animation.model import CROPPED, INPUT, OUTSIDE, PAD, ZERO
from convcalc.errors import InputError

REFERENCE = json.loads((Path(__file__).parent / "reference" / "conv_arithmetic.json").read_text())
RNG = np.random.default_rng(14)


def _raw(**options) -> dict:
    return {key.replace("_", "-"): value if isinstance(value, bool) else str(value) for key, value in options.items()}


def _inputs(anim, spatial):
    x = RNG.standard_normal(spatial)
    kernel = tuple(1 + max(link.tap[a] for f in anim.frames for link in f.links) for a in range(len(spatial)))
    w = RNG.standard_normal(kernel)
    return x, w


def rebuild_window(anim, x, w) -> np.ndarray:
    """Σ_taps w[tap]·x[entry read] for every frame (padding reads 0): the output the frames describe."""
    out = np.full(anim.target.shape, np.nan)
    for frame in anim.frames:
        out[frame.cell] = sum(w[link.tap] * (x[link.entry] if link.entry is not None else 0.0) for link in frame.links)
    return out


def rebuild_scatter(anim, x, w) -> np.ndarray:
    """Y[entry written] += w[tap]·x[t] for every input t (cropped cells dropped)."""
    out = np.zeros(tuple(int(v) for v in _output_shape(anim)))
    for frame in anim.frames:
        for link in frame.links:
            if link.entry is not None:
                out[link.entry] += w[link.tap] * x[frame.index]
    return out


def _output_shape(anim):
    cells = [cell for cell in np.ndindex(*anim.target.shape) if anim.target.kind(cell) != CROPPED]
    return tuple(1 + max(c[a] for c in cells) - min(c[a] for c in cells) for a in range(anim.rank))


def forward(raw: dict, x, w):
    _, layer, _, _ = request_layer(raw)
    from convcalc.animation.conv import single_channel

    if hasattr(layer, "out_channels"):
        layer = single_channel(layer)
        return layer.forward(x[None, None], {"weight": w[None, None]}).output[0, 0]
    return layer.forward(x[None, None], {}).output[0, 0]


def _check_order(anim, out_shape):
    assert [f.index for f in anim.frames] == list(np.ndindex(*out_shape)), "frames follow the output in row-major order"
    for frame in anim.frames:
        taps = [link.tap for link in frame.links]
        assert taps == sorted(taps), "taps in row-major order"


CONV_FIGURES = REFERENCE["convolution"] + REFERENCE["dilation"]


@pytest.mark.parametrize("figure", CONV_FIGURES, ids=[f["name"] for f in CONV_FIGURES])
def test_convolution_figures_are_the_forward_reads(figure):
    raw = _raw(**{"in": f"{figure['i']}x{figure['i']}"}, k=figure["k"], stride=figure["s"], pad=figure["p"],
               dilation=figure.get("d", 1))
    anim = animation(raw)
    o = figure["o"]
    assert anim.target.shape == (o, o) and len(anim.frames) == o * o
    p = figure["p"]
    assert anim.source.shape == (figure["i"] + 2 * p,) * 2
    _check_order(anim, (o, o))
    x, w = _inputs(anim, (figure["i"],) * 2)
    np.testing.assert_allclose(rebuild_window(anim, x, w), forward(raw, x, w), rtol=1e-12, atol=1e-12)
    for frame in anim.frames:
        y, xx = frame.index
        s, d = figure["s"], figure.get("d", 1)
        # conv_arithmetic's picture: window (y, x) covers padded rows s·y + d·u and columns s·x + d·v
        assert [link.cell for link in frame.links] == [(s * y + d * u, s * xx + d * v)
                                                      for u in range(figure["k"]) for v in range(figure["k"])]


@pytest.mark.parametrize("figure", REFERENCE["transposed"], ids=[f["name"] for f in REFERENCE["transposed"]])
def test_transposed_figures_scatter_and_direct_views_are_the_forward(figure):
    raw = _raw(op="conv-transpose", **{"in": f"{figure['i']}x{figure['i']}"}, k=figure["k"], stride=figure["s"],
               pad=figure["p"], output_padding=figure["a"])
    i, o, k = figure["i"], figure["o"], figure["k"]
    x = RNG.standard_normal((i, i))
    w = RNG.standard_normal((k, k))
    expected = forward(raw, x, w)
    assert expected.shape == (o, o)

    scatter = animation(raw)
    assert scatter.view == "scatter" and len(scatter.frames) == i * i
    assert all(len(f.links) == k * k for f in scatter.frames), "every product lands in the uncropped output"
    np.testing.assert_allclose(rebuild_scatter(scatter, x, w), expected, rtol=1e-12, atol=1e-12)

    direct = animation(raw, view="direct")
    e = figure["equivalent"]
    assert direct.source.shape == (e, e), "the zero-inserted, padded input of the figure"
    assert sum(kind == INPUT for kind in direct.source.kinds) == i * i
    assert sum(kind == ZERO for kind in direct.source.kinds) == (e * e - i * i - direct.source.kinds.count(PAD))
    _check_order(direct, (o, o))
    np.testing.assert_allclose(rebuild_window(direct, x, w[::-1, ::-1]), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("figure", REFERENCE["transposed"], ids=[f["name"] for f in REFERENCE["transposed"]])
def test_transposed_figures_match_torch(figure):
    import torch

    raw = _raw(op="conv-transpose", **{"in": f"{figure['i']}x{figure['i']}"}, k=figure["k"], stride=figure["s"],
               pad=figure["p"], output_padding=figure["a"])
    x = RNG.standard_normal((figure["i"],) * 2)
    w = RNG.standard_normal((figure["k"],) * 2)
    reference = torch.nn.functional.conv_transpose2d(
        torch.tensor(x)[None, None], torch.tensor(w)[None, None], stride=figure["s"], padding=figure["p"],
        output_padding=figure["a"])[0, 0].numpy()
    np.testing.assert_allclose(rebuild_scatter(animation(raw), x, w), reference, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rebuild_window(animation(raw, view="direct"), x, w[::-1, ::-1]), reference,
                               rtol=1e-10, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("figure", CONV_FIGURES, ids=[f["name"] for f in CONV_FIGURES])
def test_convolution_figures_match_torch(figure):
    import torch

    raw = _raw(**{"in": f"{figure['i']}x{figure['i']}"}, k=figure["k"], stride=figure["s"], pad=figure["p"],
               dilation=figure.get("d", 1))
    anim = animation(raw)
    x, w = _inputs(anim, (figure["i"],) * 2)
    reference = torch.nn.functional.conv2d(torch.tensor(x)[None, None], torch.tensor(w)[None, None],
                                           stride=figure["s"], padding=figure["p"], dilation=figure.get("d", 1))
    np.testing.assert_allclose(rebuild_window(anim, x, w), reference[0, 0].numpy(), rtol=1e-10, atol=1e-12)


# ---- beyond the figures ----

CASES = {
    "asymmetric padding": dict(**{"in": "5x6"}, k="3x2", stride="2x1", pad="0:1x2:1"),
    "same, even kernel": dict(**{"in": "5x5"}, k="4", pad="same"),
    "tf-same, stride 2": dict(**{"in": "6x7"}, k="3", stride="2", pad="tf-same"),
    "dilation and stride": dict(**{"in": "9x8"}, k="3x2", stride="2", dilation="2x3", pad="1"),
    "reflect padding": dict(**{"in": "5x5"}, k="3", pad="2", padding_mode="reflect"),
    "circular padding": dict(**{"in": "4x5"}, k="3", pad="1", padding_mode="circular"),
    "full padding": dict(**{"in": "4x4"}, k="3", pad="full", dilation="2"),
    "1-d": dict(**{"in": "7"}, k="3", dilation="2", dims="1"),
    "1-d strided": dict(**{"in": "9"}, k="4", stride="3", pad="2", dims="1"),
    "channels and groups": dict(**{"in": "4x5x5"}, out="6", groups="2", k="3", pad="1"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_convolution_cases_are_the_forward_reads(name):
    raw = _raw(**CASES[name])
    anim = animation(raw)
    _, layer, spatial, report = request_layer(raw)
    out = tuple(int(v) for v in report.output[-layer.rank:])
    _check_order(anim, out)
    x, w = _inputs(anim, spatial)
    np.testing.assert_allclose(rebuild_window(anim, x, w), forward(raw, x, w), rtol=1e-12, atol=1e-12)


def test_padding_cells_of_reflect_padding_name_the_entry_they_copy():
    anim = animation(_raw(**{"in": "4x4"}, k="3", pad="1", padding_mode="reflect"))
    corner = anim.frames[0].links[0]
    assert anim.source.kind(corner.cell) == PAD and corner.entry == (1, 1)  # reflect: x[−1] = x[1]


def test_full_padding_is_d_times_k_minus_one():
    anim = animation(_raw(**{"in": "4x4"}, k="3", pad="full", dilation="2"))
    assert anim.source.shape == (12, 12) and anim.target.shape == (8, 8)


@pytest.mark.torch
@pytest.mark.parametrize("name", [n for n in CASES if "padding" not in n or n == "asymmetric padding"])
def test_convolution_cases_match_torch(name):
    import torch

    raw = _raw(**CASES[name])
    anim = animation(raw)
    _, layer, spatial, report = request_layer(raw)
    x, w = _inputs(anim, spatial)
    pads = [int(v) for pair in reversed(report.hyper["padding"]) for v in pair]
    xt = torch.nn.functional.pad(torch.tensor(x)[None, None], pads)
    op = torch.nn.functional.conv1d if layer.rank == 1 else torch.nn.functional.conv2d
    reference = op(xt, torch.tensor(w)[None, None], stride=layer.stride, dilation=layer.dilation)[0, 0].numpy()
    np.testing.assert_allclose(rebuild_window(anim, x, w), reference, rtol=1e-10, atol=1e-12)


def test_transposed_with_output_padding_and_dilation():
    raw = _raw(op="conv-transpose", **{"in": "3x4"}, k="3x2", stride="3x2", pad="1x0", dilation="2x1",
               output_padding="1")
    x, w = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 2))
    expected = forward(raw, x, w)
    np.testing.assert_allclose(rebuild_scatter(animation(raw), x, w), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rebuild_window(animation(raw, view="direct"), x, w[::-1, ::-1]), expected,
                               rtol=1e-12, atol=1e-12)


def test_transposed_1d_direct_view():
    raw = _raw(op="conv-transpose", **{"in": "3"}, k="3", stride="2", dims="1", output_padding="1")
    x, w = RNG.standard_normal(3), RNG.standard_normal(3)
    anim = animation(raw, view="direct")
    assert anim.source.kinds == ("pad", "pad", "input", "zero", "input", "zero", "input", "pad", "pad", "pad")
    np.testing.assert_allclose(rebuild_window(anim, x, w[::-1]), forward(raw, x, w), rtol=1e-12, atol=1e-12)


def test_scatter_view_marks_the_cropped_border():
    anim = animation(_raw(op="conv-transpose", **{"in": "3x3"}, k="3", stride="2", pad="1"))
    assert anim.target.shape == (7, 7)
    assert anim.target.kind((0, 0)) == CROPPED and anim.target.kind((1, 1)) == "output"
    first = anim.frames[0]
    assert first.links[0].cell == (0, 0) and first.links[0].entry is None
    assert first.links[4].cell == (1, 1) and first.links[4].entry == (0, 0)


# ---- pooling ----

POOLS = {
    "max ceil, window past the end": dict(op="maxpool", **{"in": "6x6"}, k="3", stride="2", ceil_mode=True),
    "max ceil, last window dropped": dict(op="maxpool", **{"in": "5x5"}, k="2", stride="2", pad="1", ceil_mode=True),
    "max dilated, padded": dict(op="maxpool", **{"in": "7x6"}, k="3", stride="2", pad="1", dilation="2"),
    "avg ceil, padded": dict(op="avgpool", **{"in": "6x7"}, k="3", stride="2", pad="1", ceil_mode=True),
    "avg without the padding": dict(op="avgpool", **{"in": "5x5"}, k="3", stride="2", pad="1",
                                    count_include_pad=False),
    "avg floor drops a row": dict(op="avgpool", **{"in": "5x5"}, k="2"),
    "adaptive avg": dict(op="adaptive-avgpool", **{"in": "7x5"}, output_size="3x2"),
    "adaptive max": dict(op="adaptive-maxpool", **{"in": "6x6"}, output_size="4"),
    "max 1-d ceil": dict(op="maxpool1d", **{"in": "8"}, k="3", stride="2", ceil_mode=True),
}


def _pooled(raw, x):
    import torch

    _, layer, _, report = request_layer(raw)
    name = layer.name[:-2]
    t = torch.tensor(x)[None, None]
    if name.startswith("adaptive"):
        size = tuple(int(v) for v in report.output[-layer.rank:])
        fn = torch.nn.functional.adaptive_max_pool2d if "max" in name else torch.nn.functional.adaptive_avg_pool2d
        return fn(t, size)[0, 0].numpy()
    pad = [p for p, _ in report.hyper["padding"]]
    if name == "maxpool":
        fn = torch.nn.functional.max_pool1d if layer.rank == 1 else torch.nn.functional.max_pool2d
        return fn(t, layer.kernel_size, layer.stride, pad, layer.dilation, ceil_mode=layer.ceil_mode)[0, 0].numpy()
    return torch.nn.functional.avg_pool2d(t, layer.kernel_size, layer.stride, pad, ceil_mode=layer.ceil_mode,
                                          count_include_pad=layer.count_include_pad)[0, 0].numpy()


@pytest.mark.torch
@pytest.mark.parametrize("name", list(POOLS))
def test_pooling_windows_are_the_forward_reads(name):
    raw = _raw(**POOLS[name])
    anim = animation(raw)
    _, _, spatial, _ = request_layer(raw)
    x = RNG.standard_normal(spatial)
    reference = _pooled(raw, x)
    assert anim.target.shape == reference.shape
    _check_order(anim, reference.shape)
    for frame in anim.frames:
        real = [x[link.entry] for link in frame.links if link.entry is not None]
        if "max" in name:
            assert max(real) == reference[frame.index]
        else:  # the window's real entries, whatever the divisor: their mean over ones is the same ratio
            ones = _pooled(raw, np.ones(spatial))[frame.index]
            assert np.isclose(reference[frame.index] / ones, sum(real) / len(real), rtol=1e-12)
    np.testing.assert_allclose(forward(raw, x, None), reference, rtol=1e-12)


def test_ceil_mode_shows_the_window_past_the_padded_end():
    anim = animation(_raw(op="maxpool", **{"in": "6x6"}, k="3", stride="2", ceil_mode=True))
    assert anim.target.shape == (3, 3) and anim.source.shape == (7, 7)
    last = anim.frames[-1]
    outside = [link for link in last.links if anim.source.kind(link.cell) == OUTSIDE]
    assert len(outside) == 5 and all(link.entry is None for link in outside)
    assert any(n.startswith("ceil mode") for n in anim.notes)


def test_floor_mode_leaves_the_last_row_unread():
    from convcalc.render.animation.scene import unread_cells

    anim = animation(_raw(op="avgpool", **{"in": "5x5"}, k="2"))
    assert unread_cells(anim) == {(4, c) for c in range(5)} | {(r, 4) for r in range(5)}


# ---- 3-d: one slice ----

@pytest.mark.torch
def test_3d_draws_one_output_slice_of_the_forward():
    import torch

    raw = _raw(**{"in": "4x5x5"}, dims="3", k="3", stride="2x1x2", pad="1")
    anim = animation(raw, plane=1)
    assert anim.plane == 1 and all(f.index[0] == 1 for f in anim.frames) and len(anim.frames) == 5 * 3
    assert any("one depth slice" in n for n in anim.notes)
    x, w = RNG.standard_normal((4, 5, 5)), RNG.standard_normal((3, 3, 3))
    reference = torch.nn.functional.conv3d(torch.tensor(x)[None, None], torch.tensor(w)[None, None], stride=(2, 1, 2),
                                           padding=1)[0, 0].numpy()
    for frame in anim.frames:
        value = sum(w[link.tap] * (x[link.entry] if link.entry is not None else 0.0) for link in frame.links)
        assert np.isclose(value, reference[frame.index])


# ---- properties ----

@settings(max_examples=40, deadline=None)
@given(i=st.integers(1, 9), k=st.integers(1, 4), s=st.integers(1, 3), d=st.integers(1, 3),
       before=st.integers(0, 3), after=st.integers(0, 3), transposed=st.booleans(), extra=st.integers(0, 2))
def test_any_1d_configuration_draws_its_forward(i, k, s, d, before, after, transposed, extra):
    options = dict(**{"in": str(i)}, k=str(k), stride=str(s), dilation=str(d), pad=f"{before}:{after}", dims="1")
    if transposed:
        options.update(op="conv-transpose", output_padding=str(min(extra, max(s, d) - 1)))
        options["pad"] = str(min(before, after))
    raw = _raw(**options)
    try:
        anim = animation(raw)
    except InputError:
        return  # the shape rule refuses it (kernel larger than the padded input, empty output)
    x, w = RNG.standard_normal(i), RNG.standard_normal(k)
    rebuilt = rebuild_scatter(anim, x, w) if transposed else rebuild_window(anim, x, w)
    np.testing.assert_allclose(rebuilt, forward(raw, x, w), rtol=1e-12, atol=1e-12)
    if transposed:
        direct = animation(raw, view="direct")
        np.testing.assert_allclose(rebuild_window(direct, x, w[::-1]), forward(raw, x, w), rtol=1e-12, atol=1e-12)


# ---- refusals ----

@pytest.mark.parametrize(("raw", "kwargs", "words"), [
    (dict(**{"in": "40x40"}, k="3"), {}, "--max-frames"),
    (dict(**{"in": "200x200"}, k="3", stride="40"), {}, "cells"),
    (dict(**{"in": "3xHxW"}, k="3"), {}, "numbers"),
    (dict(op="linear", **{"in": "8"}, out="3"), {}, "no sliding window"),
    (dict(**{"in": "5x5"}, k="3"), {"view": "direct"}, "transposed"),
    (dict(op="conv-transpose", dims="3", **{"in": "3"}, k="2"), {"view": "direct"}, "1-d and 2-d"),
    (dict(**{"in": "3x4x4"}, dims="3", k="2"), {"plane": 5}, "valid are 0 to 1"),
    (dict(**{"in": "5x5"}, k="3"), {"plane": 0}, "3-d"),
    (dict(**{"in": "5x5"}, k="3"), {"view": "sideways"}, "not one of"),
    (dict(**{"in": "2x2"}, k="3"), {}, "larger"),
])
def test_refusals_are_input_errors(raw, kwargs, words):
    with pytest.raises(InputError) as error:
        animation(_raw(**raw), **kwargs)
    assert words in str(error.value)


def test_max_frames_can_be_raised():
    assert len(animation(_raw(**{"in": "40x40"}, k="3"), max_frames=38 * 38).frames) == 38 * 38
