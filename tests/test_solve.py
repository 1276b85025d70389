"""convcalc solve: every answer runs forward to the asked size, random valid configs are found
again (completeness within the bounds), the course's inverse questions, plans, RF stacks, bad input.

Golden facts (copied from the course material, tests/reference names no file of it):
padding 2 keeps 28 with a 5x5 kernel, 1 keeps 32 with 3x3 (worked examples §3, §1);
AlexNet conv1 227 → 55 with k11 s4 p0 (CS231n notes); conv_arithmetic's transposed conv
k3 s2 p1 maps 3 → 5 and output_padding 1 gives 6 (Dumoulin & Visin §4.6, docs/arithmetic.md §2.4);
VGG-16 takes 224 to 7 with five 2x2 stride-2 max pools.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.errors import InputError
from convcalc.inverse.plan import plan_chain, rf_stacks
from convcalc.inverse.solve import (
    AxisProblem,
    Bounds,
    Fixed,
    expand_fixed,
    layer_options,
    rows_never_read,
    solve_layer,
)
from convcalc.layers.registry import analyze_layer

SMALL = Bounds(max_k=5, max_stride=3, max_dilation=2)


def _forward(op, rank, solution, spatial, family):
    return analyze_layer(op, layer_options(family, solution.axes), tuple(spatial), dims=rank).output


@settings(max_examples=40, deadline=None)
@given(op=st.sampled_from(["conv1d", "conv-transpose1d", "maxpool1d", "avgpool1d", "adaptive-avgpool1d"]),
       i=st.integers(1, 40), o=st.integers(1, 40))
def test_every_answer_runs_forward_to_the_asked_size(op, i, o):
    try:
        result = solve_layer(op, 1, (i,), (o,), expand_fixed(1), SMALL)
    except InputError as error:
        assert "reachable" in str(error) or "nothing" in str(error)
        return
    assert result.count == len(result.solutions) >= 1
    for solution in result.solutions:
        assert _forward(op, 1, solution, (i,), result.family) == (o,)
    keys = [s.key for s in result.solutions]
    assert keys == sorted(keys)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_random_valid_config_is_among_the_answers_for_its_own_sizes(data):
    family = data.draw(st.sampled_from(["conv", "conv-transpose", "maxpool", "avgpool"]))
    k = data.draw(st.integers(1, SMALL.max_k))
    s = data.draw(st.integers(1, SMALL.max_stride))
    d = 1 if k == 1 or family == "avgpool" else data.draw(st.integers(1, SMALL.max_dilation))
    i = data.draw(st.integers(1, 30))
    if family == "conv":
        total = data.draw(st.integers(0, d * (k - 1)))
        pads, extra = (total // 2, total - total // 2), {}
    elif family == "conv-transpose":
        p = data.draw(st.integers(0, d * (k - 1) // 2))
        pads, extra = (p, p), {"output-padding": (data.draw(st.integers(0, max(s, d) - 1)),)}
    else:
        total = data.draw(st.integers(0, 2 * (k // 2)))
        pads, extra = (total // 2, total - total // 2), {}
        if data.draw(st.booleans()):
            extra["ceil-mode"] = True
    options = {"k": (k,), "stride": (s,), "pad": (pads,), **extra}
    if family != "avgpool":
        options["dilation"] = (d,)
    try:
        report = analyze_layer(f"{family}1d", options, (i,), dims=1)
    except InputError:
        return  # not a valid layer: nothing to find
    (o,) = report.output
    found = solve_layer(f"{family}1d", 1, (i,), (o,), expand_fixed(1), SMALL)
    configs = {(c.k, c.stride, c.pad, c.dilation, c.output_padding, c.ceil_mode) for sol in found.solutions
               for c in sol.axes}
    want = (k, s, pads, d, extra.get("output-padding", (0,))[0], extra.get("ceil-mode", False))
    assert want in configs


def test_rows_never_read_counts_like_brute_force():
    for i in range(1, 14):
        for k in range(1, 5):
            for s in range(1, 5):
                for d in range(1, 4):
                    for pl in range(3):
                        for o in range(1, 8):
                            read = {t * s + u * d - pl for t in range(o) for u in range(k)}
                            expected = sum(1 for x in range(i) if x not in read)
                            assert rows_never_read(i, k, s, pl, d, o) == expected, (i, k, s, pl, d, o)


def _best(op, i, o, **fixed):
    result = solve_layer(op, 2, (i, i), (o, o), expand_fixed(2, **fixed))
    return result, result.solutions[0].axes[0]


def test_padding_that_keeps_28_with_k5_is_2_and_32_with_k3_is_1():
    result, best = _best("conv2d", 28, 28, k=(5,))
    assert (best.pad, best.stride, best.dilation) == ((2, 2), 1, 1)
    assert result.count == 3  # and the dilated kernels: d = 2 with pad 4, d = 3 with pad 6
    result, best = _best("conv2d", 32, 32, k=(3,), dilation=(1,))
    assert (best.pad, best.stride, result.count) == ((1, 1), 1, 1)


def test_keep_32_with_k5_dilation_2_is_pad_4():
    result, best = _best("conv2d", 32, 32, k=(5,), dilation=(2,))
    assert best.pad == (4, 4) and result.count == 1


def test_alexnet_227_to_55_is_k11_s4_p0_first():
    _result, best = _best("conv2d", 227, 55)
    assert (best.k, best.stride, best.pad, best.dilation) == (11, 4, (0, 0), 1)
    assert best.rows_never_read == 0


def test_conv_arithmetic_transposed_3_to_6_needs_output_padding_1():
    result, best = _best("conv-transpose2d", 3, 6, k=(3,), stride=(2,), pad=((1, 1),))
    assert best.output_padding == 1 and result.count == 1
    _, best = _best("conv-transpose2d", 3, 5, k=(3,), stride=(2,), pad=((1, 1),))
    assert best.output_padding == 0


def test_transposed_14_to_28_with_k3_is_stride_2_pad_1_output_padding_1():
    result, best = _best("conv-transpose2d", 14, 28, k=(3,))
    assert (best.stride, best.pad, best.output_padding) == (2, (1, 1), 1)
    assert result.count >= 2  # and the dilated alternatives


def test_maxpool_55_to_27_puts_alexnets_k3_s2_first_and_lists_ceil_mode():
    result, best = _best("maxpool2d", 55, 27)
    assert (best.k, best.stride, best.pad, best.ceil_mode) == (3, 2, (0, 0), False)
    choices = {(s.axes[0].k, s.axes[0].stride, s.axes[0].ceil_mode) for s in result.solutions}
    assert (2, 2, False) in choices and (3, 2, True) in choices


def test_per_axis_sizes_combine_and_count_the_product():
    result = solve_layer("conv2d", 2, (32, 64), (16, 64), expand_fixed(2), limit=50)
    h = solve_layer("conv1d", 1, (32,), (16,), expand_fixed(1)).count
    w = solve_layer("conv1d", 1, (64,), (64,), expand_fixed(1)).count
    assert result.count == h * w and not result.uniform
    for solution in result.solutions:
        assert _forward("conv2d", 2, solution, (32, 64), "conv") == (16, 64)
    keys = [s.key for s in result.solutions]
    assert keys == sorted(keys)


def test_vgg_224_to_7_in_5_pools():
    result = plan_chain("maxpool2d", 2, (224, 224), (7, 7), expand_fixed(2), 5)
    plan = result.plans[0]
    assert plan.sizes == tuple((n, n) for n in (224, 112, 56, 28, 14, 7))
    for stage in plan.stages:
        best = stage.solutions[0].axes[0]
        assert (best.k, best.stride, best.pad) == (2, 2, (0, 0))


def test_every_plan_stage_runs_forward():
    result = plan_chain("conv2d", 2, (224, 224), (7, 7), expand_fixed(2), 5, channels=(3, 512))
    for plan in result.plans:
        size = (3, 224, 224)
        for stage in plan.stages:
            size = stage.solutions[0].report.output
            assert size[-2:] == stage.target
        assert size == (512, 7, 7)


def test_rf_stacks_reach_exactly_the_receptive_field():
    result = rf_stacks(99, Fixed(k=3))
    assert result.stacks and all(s.rf == 99 for s in result.stacks)
    plain = rf_stacks(7, Fixed(k=3), Bounds(max_k=3, max_stride=1, max_dilation=1))
    assert plain.depth == 3 and plain.count == 1  # three 3x3 convs see 7x7


def test_no_solution_names_the_largest_reachable_size():
    with pytest.raises(InputError, match="largest size reachable from 5 is 5"):
        solve_layer("conv2d", 2, (5, 5), (10, 10), expand_fixed(2))


def test_explosive_bounds_are_refused_with_the_count():
    with pytest.raises(InputError, match=r"would check [\d,]+ candidates"):
        solve_layer("conv2d", 2, (224, 224), (112, 112), expand_fixed(2), Bounds(1000, 100, 3))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "convcalc", "solve", *args], capture_output=True, text=True)


def test_cli_json_schema_and_every_solution():
    run = _cli("--in", "224", "--out", "112", "--json")
    doc = json.loads(run.stdout)
    assert run.returncode == 0 and doc["schema"] == "convcalc/solve/v1"
    assert doc["count"] == len(doc["solutions"]) == doc["listed"]
    assert doc["solutions"][0]["kernel_size"] == [2, 2]


def test_cli_markdown_and_limit():
    run = _cli("--op", "maxpool", "--in", "55", "--out", "27", "--format", "markdown", "--limit", "3")
    assert run.returncode == 0 and run.stdout.count("\n| ") == 4  # header + 3 rows


@pytest.mark.parametrize("args,needle", [
    (["--in", "5", "--out", "10"], "largest size reachable"),
    (["--in", "224", "--out", "112", "--max-k", "900", "--max-stride", "90"], "candidates"),
    (["--in", "224"], "needs --in and --out"),
    (["--in", "2x2x2x2x2", "--out", "1"], "numbers"),
    (["--op", "linear", "--in", "4", "--out", "2"], "no spatial size"),
    (["--in", "224", "--out", "112", "--max-k", "0"], "--max-k"),
    (["--rf", "1"], "--rf"),
    (["--in", "224", "--out", "7", "--stages", "99"], "--stages"),
])
def test_bad_input_exits_2_with_one_line(args, needle):
    run = _cli(*args)
    assert run.returncode == 2 and needle in run.stderr and "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1


def test_axis_problem_is_hashable_for_grouping():
    assert len({AxisProblem("conv", 3, 3), AxisProblem("conv", 3, 3)}) == 1


def _brute_rf_counts(rf: int, bounds: Bounds, depth: int) -> int:
    """Stacks of ``depth`` layers (k ≥ 2, the last stride 1) with receptive field exactly ``rf``."""
    import itertools

    layers = [(k, s, d) for k in range(2, bounds.max_k + 1) for s in range(1, bounds.max_stride + 1)
              for d in range(1, bounds.max_dilation + 1)]
    count = 0
    for stack in itertools.product(layers, repeat=depth):
        if stack[-1][1] != 1:
            continue
        r, jump = 1, 1
        for k, s, d in stack:
            r, jump = r + d * (k - 1) * jump, jump * s
        count += r == rf
    return count


@pytest.mark.parametrize("rf", [5, 9, 12, 17])
def test_rf_stacks_count_every_depth_like_brute_force(rf):
    bounds = Bounds(max_k=4, max_stride=2, max_dilation=2)
    result = rf_stacks(rf, Fixed(), bounds, limit=1000, depths=3)
    assert result.by_depth and result.by_depth[0] == (result.depth, result.count)
    assert [n for n, _ in result.by_depth] == list(range(result.depth, result.depth + len(result.by_depth)))
    for n, count in result.by_depth:
        assert count == _brute_rf_counts(rf, bounds, n), (rf, n)
    for shallower in range(1, result.depth):
        assert _brute_rf_counts(rf, bounds, shallower) == 0
    assert len(result.stacks) == min(1000, sum(c for _, c in result.by_depth))
    depths = [len(s.layers) for s in result.stacks]
    assert depths == sorted(depths) and all(s.rf == rf for s in result.stacks)


def test_rf_exact_depth_and_the_plain_stack():
    result = rf_stacks(99, Fixed(k=3), Bounds(max_k=3, max_stride=4, max_dilation=1), depth=6)
    assert result.depth == 6 and result.by_depth == ((6, result.count),) and result.count >= 1
    assert all(len(s.layers) == 6 and s.layers[-1].stride == 1 for s in result.stacks)
    assert result.plain_depth == 49  # (99 − 1)/(3 − 1) stride-1 3x3 convs
    deeper = rf_stacks(99, Fixed(k=3), depths=3)
    assert [n for n, _ in deeper.by_depth] == [3, 4, 5] and deeper.count == 1
    with pytest.raises(InputError, match="--depths"):
        rf_stacks(99, Fixed(k=3), depths=0)


def test_cli_rf_lists_more_depths():
    run = _cli("--rf", "99", "--k", "3", "--format", "text")
    assert run.returncode == 0
    assert "stacks per depth: 3 layers: 1, 4 layers: 56, 5 layers: 522" in run.stdout
    assert "without strides or dilation: 49 layers" in run.stdout
    doc = json.loads(_cli("--rf", "99", "--k", "3", "--json").stdout)
    assert [d["depth"] for d in doc["by_depth"]] == [3, 4, 5] and doc["plain_depth"] == 49


@pytest.mark.parametrize("form", ["text", "json", "markdown"])
def test_cli_chain_plan_in_every_format(form):
    run = _cli("--in", "3x224x224", "--out", "512x7x7", "--stages", "5", "--format", form)
    assert run.returncode == 0, run.stderr
    if form == "json":
        doc = json.loads(run.stdout)
        assert doc["kind"] == "chain" and doc["plans"][0]["sizes"][-1] == [7, 7]
    else:
        assert "224" in run.stdout and "7" in run.stdout
