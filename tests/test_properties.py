"""Property tests: the per-axis size rules (``convcalc.engine.axis``) against brute-force
definitions, and ``analyze_layer``'s parameter / MAC counts against their closed forms.

No torch here. Every expected value is derived from a definition (count the windows that
fit, scatter a transposed kernel, cover an axis with adaptive bins, ...), never copied
from the engine.
"""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convcalc.engine import axis
from convcalc.errors import InputError
from convcalc.layers.registry import analyze_layer

SETTINGS = settings(max_examples=300, deadline=None)
LAYER_SETTINGS = settings(max_examples=150, deadline=None)

sizes = st.integers(1, 60)
kernels = st.integers(1, 7)
strides = st.integers(1, 5)
dilations = st.integers(1, 4)
pads = st.integers(0, 6)


# --------------------------------------------------------------------------------------
# Brute-force definitions
# --------------------------------------------------------------------------------------


def taps(k: int, d: int) -> list[int]:
    """Offsets a dilated kernel reads, relative to its first element."""
    return [u * d for u in range(k)]


def window_starts(i: int, k: int, s: int, pl: int, pr: int, d: int) -> list[int]:
    """Starts (in padded coordinates) of every stride-s window that fits the padded input."""
    length = i + pl + pr
    return [t for t in range(0, length, s) if t + max(taps(k, d)) < length]


def ceil_mode_windows(i: int, k: int, s: int, pl: int, pr: int, d: int) -> tuple[list[int], list[int]]:
    """ceil_mode windows: lay windows until the padded input is covered (the last one may
    hang past the end), then drop a last window that would start in the right padding.
    Returns (windows laid, windows kept)."""
    length = i + pl + pr
    span = max(taps(k, d))
    laid: list[int] = []
    covered_to = -1  # last padded position reached by a window so far
    t = 0
    while covered_to < length - 1:
        laid.append(t * s)
        covered_to = t * s + span
        t += 1
    kept = [start for start in laid if start < i + pl]
    return laid, kept


def scatter_length(i: int, k: int, s: int, d: int) -> int:
    """Length a transposed convolution writes before cropping: input t scatters its kernel
    to t·s + u·d."""
    return max(t * s + u for t in range(i) for u in taps(k, d)) + 1


def adaptive_bin_brute(t: int, size_in: int, size_out: int) -> tuple[int, int]:
    return math.floor(Fraction(t * size_in, size_out)), math.ceil(Fraction((t + 1) * size_in, size_out))


# --------------------------------------------------------------------------------------
# axis.py
# --------------------------------------------------------------------------------------


@SETTINGS
@given(kernels, dilations)
def test_effective_kernel_is_the_span_of_the_taps(k, d):
    offsets = taps(k, d)
    assert axis.effective_kernel(k, d) == offsets[-1] - offsets[0] + 1


@SETTINGS
@given(sizes, kernels, strides, pads, pads, dilations)
def test_conv_output_size_counts_the_windows_that_fit(i, k, s, pl, pr, d):
    k_eff = (k - 1) * d + 1
    starts = window_starts(i, k, s, pl, pr, d)
    o = axis.conv_output_size(i, k, s, pl, pr, d)
    if i + pl + pr >= k_eff:
        assert o == len(starts)
    else:  # no window fits: the formula gives no positive size
        assert starts == [] and o <= 0


@SETTINGS
@given(sizes, kernels, strides, pads, pads, dilations)
def test_uncovered_is_the_padded_tail_no_window_reaches(i, k, s, pl, pr, d):
    assume(i + pl + pr >= (k - 1) * d + 1)
    starts = window_starts(i, k, s, pl, pr, d)
    last_read = starts[-1] + max(taps(k, d))
    a = axis.uncovered(i, k, s, pl, pr, d)
    assert a == (i + pl + pr - 1) - last_read
    assert 0 <= a < s


@SETTINGS
@given(sizes, kernels, strides, pads, dilations)
def test_sizes_that_floor_together(i, k, s, p, d):
    """When (i + 2p − k_eff) is a multiple of s, i, i+1, …, i+s−1 give the same output and
    i+s gives one more; the extra rows are exactly the uncovered ones."""
    k_eff = (k - 1) * d + 1
    assume(i + 2 * p >= k_eff and (i + 2 * p - k_eff) % s == 0)
    o = axis.conv_output_size(i, k, s, p, p, d)
    for extra in range(s):
        assert axis.conv_output_size(i + extra, k, s, p, p, d) == o
        assert axis.uncovered(i + extra, k, s, p, p, d) == extra
    assert axis.conv_output_size(i + s, k, s, p, p, d) == o + 1


@SETTINGS
@given(sizes, kernels, dilations)
def test_torch_same_padding_keeps_the_size_at_stride_one(i, k, d):
    pl, pr = axis.torch_same_padding(k, d)
    assert pl + pr == d * (k - 1)
    assert pr - pl in (0, 1)  # the extra element goes at the end
    assert len(window_starts(i, k, 1, pl, pr, d)) == i
    assert axis.conv_output_size(i, k, 1, pl, pr, d) == i


@SETTINGS
@given(sizes, kernels, strides, dilations)
def test_tf_same_padding_gives_ceil_i_over_s_with_the_least_padding(i, k, s, d):
    pl, pr = axis.tf_same_padding(i, k, s, d)
    wanted = len(range(0, i, s))  # ceil(i / s)
    assert pl >= 0 and pr - pl in (0, 1)
    assert len(window_starts(i, k, s, pl, pr, d)) == wanted
    assert axis.conv_output_size(i, k, s, pl, pr, d) == wanted
    total = pl + pr
    if total > 0:  # one element less of padding loses the last window
        assert len(window_starts(i, k, s, 0, total - 1, d)) < wanted


@SETTINGS
@given(sizes, kernels, strides, pads, dilations, st.integers(0, 4))
def test_transposed_output_size_is_the_scatter_length_cropped(i, k, s, p, d, op):
    expected = scatter_length(i, k, s, d) - 2 * p + op
    assert axis.transposed_output_size(i, k, s, p, p, d, op) == expected


@SETTINGS
@given(sizes, kernels, strides, pads, pads, dilations, st.integers(0, 4))
def test_transposed_output_size_with_before_after_padding(i, k, s, pl, pr, d, op):
    assert axis.transposed_output_size(i, k, s, pl, pr, d, op) == scatter_length(i, k, s, d) - pl - pr + op


@SETTINGS
@given(sizes, kernels, strides, pads, dilations)
def test_transposed_conv_with_output_padding_a_recovers_the_input_size(n, k, s, p, d):
    """Conv maps n to o; the transposed conv of o with output_padding = a = uncovered gives
    n back whenever that output_padding is allowed (a < max(s, d))."""
    assume(n + 2 * p >= (k - 1) * d + 1)
    o = axis.conv_output_size(n, k, s, p, p, d)
    a = axis.uncovered(n, k, s, p, p, d)
    assume(a < max(s, d))
    assert axis.transposed_output_size(o, k, s, p, p, d, a) == n


@SETTINGS
@given(sizes, kernels, strides, pads, dilations, st.data())
def test_conv_of_a_transposed_conv_returns_its_input_size(i, k, s, p, d, data):
    op = data.draw(st.integers(0, s - 1))
    t = axis.transposed_output_size(i, k, s, p, p, d, op)
    assume(t >= 1)
    assert axis.conv_output_size(t, k, s, p, p, d) == i


@st.composite
def pool_axis(draw):
    """One valid pooling axis: padding at most half the (nominal) kernel, window fits."""
    k = draw(st.integers(1, 7))
    d = draw(st.integers(1, 3))
    s = draw(st.integers(1, 5))
    pl = draw(st.integers(0, k // 2))
    pr = draw(st.one_of(st.just(pl), st.integers(0, k // 2)))
    i = draw(st.integers(max(1, (k - 1) * d + 1 - pl - pr), 60))
    return i, k, s, pl, pr, d


@SETTINGS
@given(pool_axis())
def test_pool_output_size_floor_mode_counts_full_windows(geometry):
    i, k, s, pl, pr, d = geometry
    o, dropped = axis.pool_output_size(i, k, s, pl, pr, d, False)
    assert o == len(window_starts(i, k, s, pl, pr, d))
    assert dropped is False


@SETTINGS
@given(pool_axis())
def test_pool_output_size_ceil_mode_keeps_windows_starting_in_input_or_left_padding(geometry):
    i, k, s, pl, pr, d = geometry
    laid, kept = ceil_mode_windows(i, k, s, pl, pr, d)
    o, dropped = axis.pool_output_size(i, k, s, pl, pr, d, True)
    assert o == len(kept)
    assert dropped == (len(kept) < len(laid))
    assert all(start <= i + pl + pr - 1 for start in kept)  # every kept window starts inside the padded input
    floor_o, _ = axis.pool_output_size(i, k, s, pl, pr, d, False)
    assert o - floor_o in (0, 1)
    if axis.uncovered(i, k, s, pl, pr, d) == 0:
        assert o == floor_o


@SETTINGS
@given(st.integers(1, 80), st.integers(1, 40))
def test_adaptive_bins_cover_the_axis(size_in, size_out):
    bins = axis.adaptive_bins(size_in, size_out)
    assert len(bins) == size_out
    assert bins == [adaptive_bin_brute(t, size_in, size_out) for t in range(size_out)]
    assert bins[0][0] == 0 and bins[-1][1] == size_in
    for (start, end), (next_start, next_end) in pairwise(bins):
        assert start <= next_start and end <= next_end  # nondecreasing
        assert next_start <= end  # no gap between bins
    assert all(0 <= start < end <= size_in for start, end in bins)
    covered = set()
    for start, end in bins:
        covered.update(range(start, end))
    assert covered == set(range(size_in))
    if size_in % size_out == 0:  # plain pooling with k = s = I/O
        width = size_in // size_out
        assert bins == [(t * width, (t + 1) * width) for t in range(size_out)]


# --------------------------------------------------------------------------------------
# analyze_layer
# --------------------------------------------------------------------------------------


@st.composite
def conv_layers(draw, transposed: bool = False):
    rank = draw(st.integers(1, 3))
    c_in = draw(st.integers(1, 12))
    groups = draw(st.sampled_from([g for g in range(1, c_in + 1) if c_in % g == 0]))
    out = groups * draw(st.integers(1, 4))
    k = tuple(draw(st.integers(1, 5)) for _ in range(rank))
    s = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    d = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    p = tuple(draw(st.integers(0, 3)) for _ in range(rank))
    if transposed:
        op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
        spatial = tuple(draw(st.integers(max(1, -(-(2 * pi - di * (ki - 1) - opi) // si) + 1), 12))
                        for ki, si, di, pi, opi in zip(k, s, d, p, op))
    else:
        op = None
        spatial = tuple(draw(st.integers(max(1, di * (ki - 1) + 1 - 2 * pi), 16)) for ki, di, pi in zip(k, d, p))
    n = draw(st.integers(1, 3))
    bias = draw(st.booleans())
    options = {"out": out, "k": k, "stride": s, "dilation": d, "pad": tuple((x, x) for x in p), "groups": groups}
    if op is not None:
        options["output-padding"] = op
    if not bias:
        options["no-bias"] = True
    return rank, (n, c_in, *spatial), options


@LAYER_SETTINGS
@given(conv_layers())
def test_conv_params_and_macs(layer):
    rank, shape, o = layer
    n, c_in, spatial = shape[0], shape[1], shape[2:]
    report = analyze_layer(f"conv{rank}d", o, shape)
    out_spatial = tuple(len(window_starts(i, k, s, p, p, d))
                        for i, k, s, (p, _), d in zip(spatial, o["k"], o["stride"], o["pad"], o["dilation"]))
    assert report.output == (n, o["out"], *out_spatial)
    weight = o["out"] * (c_in // o["groups"]) * math.prod(o["k"])
    bias = 0 if o.get("no-bias") else o["out"]
    assert (report.params.weight, report.params.bias, report.params.total) == (weight, bias, weight + bias)
    assert report.macs == math.prod(out_spatial) * o["out"] * (c_in // o["groups"]) * math.prod(o["k"]) * n
    assert report.flops == 2 * report.macs


@LAYER_SETTINGS
@given(conv_layers(transposed=True))
def test_conv_transpose_params_and_macs(layer):
    rank, shape, o = layer
    n, c_in, spatial = shape[0], shape[1], shape[2:]
    report = analyze_layer(f"conv-transpose{rank}d", o, shape)
    out_spatial = tuple(scatter_length(i, k, s, d) - 2 * p + op
                        for i, k, s, d, (p, _), op in zip(spatial, o["k"], o["stride"], o["dilation"], o["pad"],
                                                          o["output-padding"]))
    assert report.output == (n, o["out"], *out_spatial)
    weight = c_in * (o["out"] // o["groups"]) * math.prod(o["k"])
    bias = 0 if o.get("no-bias") else o["out"]
    assert report.params.total == weight + bias
    # counted on the input size: every input element meets the whole kernel once
    assert report.macs == n * math.prod(spatial) * c_in * (o["out"] // o["groups"]) * math.prod(o["k"])
    assert report.flops == 2 * report.macs


@LAYER_SETTINGS
@given(st.integers(1, 3), st.integers(1, 32), st.integers(1, 64), st.data())
def test_depthwise_separable_cost_ratio(rank, c_in, out, data):
    k = tuple(data.draw(st.integers(1, 5)) for _ in range(rank))
    spatial = tuple(data.draw(st.integers(1, 9)) for _ in range(rank))
    n = data.draw(st.integers(1, 2))
    bias = data.draw(st.booleans())
    options = {"out": out, "k": k, "pad": "same"}
    if not bias:
        options["no-bias"] = True
    report = analyze_layer(f"depthwise-separable{rank}d", options, (n, c_in, *spatial))
    positions = n * math.prod(spatial)  # 'same' keeps every spatial size
    assert report.output == (n, out, *spatial)
    assert report.macs == positions * c_in * math.prod(k) + positions * c_in * out
    assert report.comparison["macs_ratio"] == Fraction(1, out) + Fraction(1, math.prod(k))
    depthwise_params = c_in * math.prod(k) + (c_in if bias else 0)
    pointwise_params = c_in * out + (out if bias else 0)
    assert report.params.total == depthwise_params + pointwise_params
    if not bias:
        assert report.comparison["params_ratio"] == Fraction(1, out) + Fraction(1, math.prod(k))


@LAYER_SETTINGS
@given(st.lists(st.integers(1, 5), min_size=0, max_size=3), st.integers(1, 64), st.integers(1, 64), st.booleans())
def test_linear_params_and_macs(leading, in_features, out_features, bias):
    shape = (*leading, in_features)
    options = {"out": out_features} | ({} if bias else {"no-bias": True})
    report = analyze_layer("linear", options, shape)
    assert report.output == (*leading, out_features)
    assert report.params.total == in_features * out_features + (out_features if bias else 0)
    assert report.macs == math.prod(leading) * in_features * out_features


@LAYER_SETTINGS
@given(st.integers(1, 3), st.sampled_from(["maxpool", "avgpool"]), st.booleans(), st.data())
def test_pooling_has_no_params_or_macs_and_counts_windows(rank, kind, ceil, data):
    geometries = [data.draw(pool_axis()) for _ in range(rank)]
    if kind == "avgpool":  # no dilation; AvgPool3d also wants the unpadded input ≥ kernel
        geometries = [(max(i, k), k, s, pl, pl, 1) for i, k, s, pl, _, _ in geometries]
    else:
        geometries = [(i, k, s, pl, pl, d) for i, k, s, pl, _, d in geometries]
    geometries = [(max(i, (k - 1) * d + 1 - 2 * pl), k, s, pl, pr, d) for i, k, s, pl, pr, d in geometries]
    spatial = tuple(g[0] for g in geometries)
    options = {"k": tuple(g[1] for g in geometries), "stride": tuple(g[2] for g in geometries),
               "pad": tuple((g[3], g[4]) for g in geometries), "ceil-mode": ceil}
    if kind == "maxpool":
        options["dilation"] = tuple(g[5] for g in geometries)
    if ceil:
        starts = [ceil_mode_windows(*g)[1] for g in geometries]
    else:
        starts = [window_starts(*g) for g in geometries]
    # A dilated max-pool window whose taps all fall in the padding is refused (torch 2.13 returns
    # -inf with an invalid index there); the window starts above are in unpadded coordinates + pl.
    blind = kind == "maxpool" and any(
        all(not (0 <= start - pl + j * d < i) for j in range(k))
        for (i, k, s, pl, pr, d), axis_starts in zip(geometries, starts) for start in axis_starts
    )
    if blind:
        with pytest.raises(InputError, match="reads only padding"):
            analyze_layer(f"{kind}{rank}d", options, (2, 3, *spatial))
        return
    report = analyze_layer(f"{kind}{rank}d", options, (2, 3, *spatial))
    expected = tuple(len(axis_starts) for axis_starts in starts)
    assert report.output == (2, 3, *expected)
    assert report.params.total == 0
    assert report.macs == 0


@LAYER_SETTINGS
@given(st.integers(1, 3), st.data())
def test_adaptive_pool_output_keeps_none_axes(rank, data):
    spatial = tuple(data.draw(st.integers(1, 20)) for _ in range(rank))
    wanted = tuple(data.draw(st.one_of(st.none(), st.integers(1, 25))) for _ in range(rank))
    if rank == 1:
        assume(wanted[0] is not None)  # AdaptiveAvgPool1d takes an int only
    report = analyze_layer(f"adaptive-avgpool{rank}d", {"output-size": wanted}, (1, 4, *spatial))
    assert report.output == (1, 4, *(i if w is None else w for i, w in zip(spatial, wanted)))
    assert report.macs == 0 and report.params.total == 0


@LAYER_SETTINGS
@given(st.lists(st.integers(1, 6), min_size=1, max_size=5), st.data())
def test_flatten_merges_the_dims_between_start_and_end(shape, data):
    ndim = len(shape)
    a = data.draw(st.integers(0, ndim - 1))
    b = data.draw(st.integers(a, ndim - 1))
    start = a - ndim if data.draw(st.booleans()) else a
    end = b - ndim if data.draw(st.booleans()) else b
    report = analyze_layer("flatten", {"start-dim": start, "end-dim": end}, tuple(shape))
    assert report.output == (*shape[:a], math.prod(shape[a:b + 1]), *shape[b + 1:])
    assert math.prod(report.output) == math.prod(shape)
    assert report.params.total == 0 and report.macs == 0
