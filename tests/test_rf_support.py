"""Receptive fields exactly: which input positions an output unit reads (dilation holes,
transposed convolutions' per-unit variation, unions of branches), checked against the gradient
support of one output unit in PyTorch (the positions where ∂y_t/∂x ≠ 0 ARE its receptive field)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc.engine import support
from convcalc.network import build
from convcalc.network.model import Network
from convcalc.network.walk import walk
from tests.conftest import golden


def _last_rf(body, shape):
    report = walk(Network("t", tuple(shape), body), tuple(shape))
    return report.leaves()[-1].rf if report.leaves()[-1].rf is not None else report.rows[-1].rf


def _positions(intervals) -> list[int]:
    return [x for lo, hi in intervals for x in range(lo, hi + 1)]


# --- the cases ----------------------------------------------------------------------

def test_dilated_3x3_reads_3_of_9():
    rf = _last_rf(build.seq(build.conv(4, 3, dilation=4)), (1, 32, 32))
    for axis in rf:
        assert axis.support.extents == (9, 9) and axis.support.reads == (3, 3)
        assert axis.support.offsets() == [0, 4, 8]
        assert axis.size == 9 and axis.start == 4


def test_kernel_3x5_dilation_2x1_reads_3_of_5_rows():
    rf = _last_rf(build.seq(build.conv(4, (3, 5), dilation=(2, 1))), (1, 32, 32))
    assert [a.support.extents[1] for a in rf] == [5, 5]
    assert [a.support.reads[1] for a in rf] == [3, 5]
    assert rf[0].support.offsets() == [0, 2, 4] and not rf[1].support.has_holes


def test_dilated_maxpool_reads_3_of_5():
    rf = _last_rf(build.seq(build.maxpool(3, 2, 1, dilation=2)), (1, 32, 32))
    assert rf[0].support.extents == (5, 5) and rf[0].support.reads == (3, 3)
    assert rf[0].support.first() == -1  # the padding before the input is position −1


def test_dilations_1_2_4_8_fill_the_holes():
    body = build.seq(*(build.conv(4, 3, pad=d, dilation=d) for d in (1, 2, 4, 8)))
    rf = _last_rf(body, (1, 64, 64))
    assert rf[0].support.extents == (31, 31) and rf[0].support.reads == (31, 31)
    assert not rf[0].support.has_holes


def test_transposed_k3_s2_p1_reads_1_and_2_alternately():
    rf = _last_rf(build.seq(build.conv_t(4, 3, 2, 1)), (1, 8, 8))
    s = rf[0].support
    assert s.period == 2 and s.mean_jump == Fraction(1, 2)
    assert [s.read(t % 2) for t in range(6)] == [1, 2, 1, 2, 1, 2]
    assert s.extents == (1, 2) and s.varies


def test_transposed_k4_s2_p1_reads_2_and_moves_every_2_units():
    rf = _last_rf(build.seq(build.conv_t(4, 4, 2, 1)), (1, 8, 8))
    s = rf[0].support
    assert s.extents == (2, 2) and s.reads == (2, 2) and s.period == 2
    firsts = [s.unit(t)[0][0] for t in range(6)]
    assert firsts == [-1, 0, 0, 1, 1, 2]


def test_residual_union_keeps_the_holes():
    body = build.seq(build.conv(4, 3, pad=1), build.residual(build.conv(4, 3, pad=3, dilation=3)))
    rf = _last_rf(body, (4, 32, 32))
    # the shortcut reads [−1, 1]; the body the same shifted by −3, 0, +3: [−4, 4] without holes
    assert rf[0].support.units[0] == ((-4, 4),)
    body = build.seq(build.residual(build.conv(4, 3, pad=2, dilation=2)))
    rf = _last_rf(body, (4, 32, 32))
    assert rf[0].support.offsets() == [0, 2, 4] and rf[0].support.first() == -2


def test_concat_union_of_two_dilations():
    body = build.seq(build.parallel(build.conv(2, 3, pad=2, dilation=2), build.conv(2, 3, pad=3, dilation=3)))
    rf = _last_rf(body, (1, 32, 32))
    assert _positions(rf[0].support.units[0]) == [-3, -2, 0, 2, 3]


def test_arch_json_reports_holes_and_variation(cli):
    doc = cli("arch", "1x32x32 | conv 4 k3 d4", "--json").json()
    rf = doc["layers"][0]["rf"]
    assert rf["size"] == [9, 9] and rf["read"] == [3, 3] and rf["offsets"] == [[0, 4, 8], [0, 4, 8]]
    assert rf["first"] == [0, 0] and "varies" not in rf
    doc = cli("arch", "1x8x8 | convT 4 k3 s2 p1", "--json").json()
    rf = doc["layers"][0]["rf"]
    assert rf["varies"] == [True, True] and rf["period"] == [2, 2] and rf["jump"] == ["1/2", "1/2"]
    assert rf["size_range"] == [[1, 2], [1, 2]] and rf["read_range"] == [[1, 2], [1, 2]]
    assert rf["units"][0] == [{"first": 0, "offsets": [0]}, {"first": 0, "offsets": [0, 1]}]
    # a plain conv keeps today's three keys only
    rf = cli("arch", "1x32x32 | conv 4 k3", "--json").json()["layers"][0]["rf"]
    assert rf == {"size": [3, 3], "jump": [1, 1], "start": [1, 1]}


def test_arch_table_shows_read_counts_and_ranges(cli):
    out = cli("arch", "1x32x32 | conv 4 k3 d4", "--table").out
    assert "9 (3 read)" in out and "a unit reads 3 of the 9 input positions" in out
    out = cli("arch", "1x8x8 | convT 4 k3 s2 p1", "--table").out
    assert "1–2" in out and "varies from unit to unit (period 2" in out and "mean jump 1/2" in out


def test_golden_rf_holes_and_variation(cli):
    """What users see: a dilated stack and a transposed-conv decoder, table and JSON."""
    chain = "1x64x64 | conv 8 k3 d2 p2 | maxpool k3 s2 p1 d2 | conv 8 k3x5 d2x1 | convT 4 k3 s2 p1 | convT 1 k4 s2 p1"
    golden("arch_rf_holes.txt", cli("arch", chain, "--table").out)
    golden("arch_rf_holes.json", cli("arch", chain, "--json").out)


def test_adaptive_pool_bins_vary():
    rf = _last_rf(build.seq(build.adaptive_avgpool(3)), (1, 7, 7))
    s = rf[0].support
    assert s.period == 3 and s.shift == 7
    assert [s.unit(t) for t in range(3)] == [((0, 2),), ((2, 4),), ((4, 6),)]


def test_upsampling_supports():
    assert support.nearest(3).units == (((0, 0),),) * 3
    linear = support.interpolated(2, 1, 1)  # x = (t + ½)/2 − ½: −¼, ¼ → reads ⌊x⌋, ⌊x⌋ + 1
    assert linear.units == (((-1, 0),), ((0, 1),))
    odd = support.interpolated(3, 1, 1)  # x = −⅓, 0, ⅓: the middle unit copies one input
    assert odd.units == (((-1, 0),), ((0, 0),), ((0, 1),))


def test_symbolic_sizes_have_no_exact_support():
    assert support.window(3, 1, 1) is not None
    assert support.adaptive(7, 0) is None


# --- against PyTorch autograd ---------------------------------------------------------------

LAYER = st.one_of(
    st.tuples(st.just("conv"), st.integers(1, 4), st.integers(1, 3), st.integers(0, 3), st.integers(1, 4)),
    st.tuples(st.just("convT"), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(1, 3)),
    st.tuples(st.just("avgpool"), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.just(1)),
    st.tuples(st.just("nearest"), st.integers(2, 3), st.just(1), st.just(0), st.just(1)),
    st.tuples(st.just("linear"), st.integers(2, 3), st.just(1), st.just(0), st.just(1)),
)


def _fix(layer):
    kind, k, s, p, d = layer
    if kind == "avgpool":
        p = min(p, k // 2)  # PyTorch: pad at most half the kernel
    if kind == "convT":
        p = min(p, d * (k - 1))
    return kind, k, s, p, d


def _ours(layer):
    kind, k, s, p, d = layer
    if kind == "conv":
        return build.conv(1, k, s, p, d, rank=1)
    if kind == "convT":
        return build.conv_t(1, k, s, p, dilation=d, rank=1)
    if kind == "avgpool":
        return build.avgpool(k, s, p, rank=1)
    return build.upsample(k, kind)


def _theirs(torch, layer):
    kind, k, s, p, d = layer
    nn = torch.nn
    if kind == "conv":
        return nn.Conv1d(1, 1, k, s, p, d)
    if kind == "convT":
        return nn.ConvTranspose1d(1, 1, k, s, p, dilation=d)
    if kind == "avgpool":
        return nn.AvgPool1d(k, s, p)
    return nn.Upsample(scale_factor=k, mode=kind)


def _positive(torch, module):
    with torch.no_grad():  # positive weights: no two paths cancel, so a zero gradient means "not read"
        for param in module.parameters():
            param.copy_(torch.rand_like(param) + 0.5)
    return module


def _gradient_support(torch, model, length: int, unit: int) -> list[int]:
    x = torch.rand(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = model(x)
    y[0, 0, unit].backward()
    return [int(i) for i in torch.nonzero(x.grad[0, 0]).flatten()]


def _check(torch, body_ours, model, length):
    report = walk(Network("t", (1, length), body_ours), (1, length))
    rf = report.rows[-1].rf
    out_length = report.output[-1]
    assert rf is not None and rf[0].support is not None
    checked = 0
    for unit in range(out_length // 3, out_length - out_length // 3):
        predicted = _positions(rf[0].support.unit(unit))
        if not predicted or predicted[0] < 0 or predicted[-1] >= length:
            continue  # a unit at the border reads padding: the interior rule does not describe it
        assert _gradient_support(torch, model, length, unit) == predicted, unit
        checked += 1
        if checked >= 6:
            break
    return checked


@pytest.mark.torch
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LAYER, min_size=1, max_size=4))
def test_random_stacks_match_gradient_support(layers):
    torch = pytest.importorskip("torch")
    layers = [_fix(layer) for layer in layers]
    model = torch.nn.Sequential(*(_positive(torch, _theirs(torch, layer)) for layer in layers)).double()
    body = build.seq(*(_ours(layer) for layer in layers))
    try:
        walk(Network("t", (1, 160), body), (1, 160))
    except Exception:  # a stack that shrinks the input to nothing: nothing to compare
        return
    _check(torch, body, model, 160)


class _Sum:
    """Two branches added (a residual block), for torch."""

    def __init__(self, torch, prefix, left, right):
        self.torch, self.prefix, self.left, self.right = torch, prefix, left, right

    def __call__(self, x):
        h = self.prefix(x)
        return self.left(h) + self.right(h)


@pytest.mark.torch
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LAYER, min_size=0, max_size=2),
       st.lists(st.tuples(st.integers(1, 3), st.integers(1, 4)), min_size=1, max_size=2),
       st.lists(st.tuples(st.integers(1, 3), st.integers(1, 4)), min_size=0, max_size=2))
def test_branch_unions_match_gradient_support(prefix, left, right):
    """Stride-1 'same' convs (odd kernels 2k + 1 − ... : k_eff odd) in two branches, added."""
    torch = pytest.importorskip("torch")
    prefix = [_fix(layer) for layer in prefix]

    def same(k, d):  # kernel 2k + 1 keeps the size with padding d·k
        return ("conv", 2 * k + 1, 1, d * k, d)

    left_layers = [same(*x) for x in left]
    right_layers = [same(*x) for x in right]
    nn = torch.nn
    model = _Sum(torch,
                 nn.Sequential(*(_positive(torch, _theirs(torch, layer)) for layer in prefix)).double(),
                 nn.Sequential(*(_positive(torch, _theirs(torch, layer)) for layer in left_layers)).double(),
                 nn.Sequential(*(_positive(torch, _theirs(torch, layer)) for layer in right_layers)).double())
    shortcut = build.seq(*(_ours(layer) for layer in right_layers)) if right_layers else None
    block = build.residual(*(_ours(layer) for layer in left_layers), shortcut=shortcut)
    body = build.seq(*(_ours(layer) for layer in prefix), block)
    try:
        walk(Network("t", (1, 200), body), (1, 200))
    except Exception:
        return
    _check(torch, body, model, 200)
