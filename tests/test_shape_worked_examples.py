"""The "Shapes and parameters" worked examples of the course (numbers 1-4, 7),
as the command a student would type and the numbers it must print."""

from __future__ import annotations

from fractions import Fraction

import pytest


def plain(cli, *args):
    result = cli("shape", *args, "--format", "plain")
    assert result.code == 0, result.err
    return result.out.strip()


def doc(cli, *args):
    result = cli("shape", *args, "--json")
    assert result.code == 0, result.err
    return result.json()


# 1. Input 1x3x32x32, two 3x5x5 filters, no padding, stride 1 → 1x2x28x28; 152 parameters.
def test_example_1_two_filters(cli):
    assert plain(cli, "--in", "1x3x32x32", "--k", "5", "--out", "2") == "1x2x28x28"
    d = doc(cli, "--in", "1x3x32x32", "--k", "5", "--out", "2")
    assert d["params"] == {"weight": 150, "bias": 2, "total": 152}
    assert plain(cli, "--in", "1x3x32x32", "--k", "5", "--out", "2", "--stride", "2") == "1x2x14x14"


# 2. N filters of k1 x k2 over 3 channels: N·(k1·k2·3+1); k=3x3, N=4 → 112.
@pytest.mark.parametrize("n,k1,k2", [(4, 3, 3), (1, 1, 1), (7, 3, 5), (16, 5, 2)])
def test_example_2_parameter_formula(cli, n, k1, k2):
    d = doc(cli, "--in", "3x32x32", "--k", f"{k1}x{k2}", "--out", str(n))
    assert d["params"]["total"] == n * (k1 * k2 * 3 + 1)


def test_example_2_value(cli):
    assert doc(cli, "--in", "3x32x32", "--k", "3", "--out", "4")["params"]["total"] == 112


# 3. 28x28, 5x5 filter, padding 2 → 28; 2x2 max-pool → 14; again → 14 → 7; 7·7 = 49 per channel.
def test_example_3_padding_keeps_size_and_pools_halve(cli):
    assert plain(cli, "--in", "1x28x28", "--k", "5", "--pad", "2", "--out", "1") == "1x28x28"
    assert plain(cli, "--op", "maxpool", "--in", "1x28x28", "--k", "2") == "1x14x14"
    assert plain(cli, "--in", "1x14x14", "--k", "5", "--pad", "2", "--out", "1") == "1x14x14"
    assert plain(cli, "--op", "maxpool", "--in", "1x14x14", "--k", "2") == "1x7x7"
    assert plain(cli, "--op", "flatten", "--in", "1x7x7") == "1x49"


# 4. conv_arithmetic figures.
@pytest.mark.parametrize("args,expected", [
    (("--in", "4", "--k", "3"), "2x2"),
    (("--in", "5", "--k", "4", "--pad", "2"), "6x6"),
    (("--in", "7", "--k", "3", "--dilation", "2"), "3x3"),
])
def test_example_4_conv_arithmetic(cli, args, expected):
    assert plain(cli, *args) == expected


def test_example_4_transposed_no_padding(cli):
    # The transpose of (i=5, k=3, s=2, p=0) maps 2 -> 5: one zero between entries (3x3), padded by 2.
    assert plain(cli, "--op", "conv-transpose", "--in", "1x2x2", "--k", "3", "--stride", "2", "--out", "1") == "1x5x5"
    steps = doc(cli, "--op", "conv-transpose", "--in", "1x2x2", "--k", "3", "--stride", "2", "--out",
                "1", "--explain")["steps"]
    direct = next(s for s in steps if s["title"] == "equivalent direct conv")
    assert direct["axis"] == "H, W"
    assert "2 → 1 zero between entries → 3" in direct["substituted"]
    assert "pad 2 at the start, pad 2 at the end" in direct["substituted"]
    assert direct["result"].endswith("→ 5")


def test_example_4_transposed_with_padding(cli):
    # The transpose of (i=5, k=3, s=2, p=1) maps 3 -> 5: a 5x5 zero-inserted input padded by 1.
    args = ("--op", "conv-transpose", "--in", "1x3x3", "--k", "3", "--stride", "2", "--pad", "1", "--out", "1")
    assert plain(cli, *args) == "1x5x5"
    direct = next(s for s in doc(cli, *args, "--explain")["steps"] if s["title"] == "equivalent direct conv")
    assert "3 → 1 zero between entries → 5" in direct["substituted"]
    assert "pad 1 at the start, pad 1 at the end" in direct["substituted"]


# 7. MobileNet: a depthwise-separable layer costs 1/N + 1/Dk² of a standard convolution.
def test_example_7_depthwise_separable_cost(cli):
    d = doc(cli, "--op", "depthwise-separable", "--in", "32x112x112", "--k", "3", "--pad", "1", "--out",
            "64", "--no-bias")
    dw, pw = d["parts"]
    assert dw["params"]["total"] == 3 * 3 * 32 and pw["params"]["total"] == 32 * 64
    assert dw["macs"] == 3 * 3 * 32 * 112 * 112 and pw["macs"] == 32 * 64 * 112 * 112
    assert d["comparison"]["standard_macs"] == 3 * 3 * 32 * 64 * 112 * 112
    assert Fraction(d["comparison"]["macs_ratio"]) == Fraction(1, 64) + Fraction(1, 9) == Fraction(73, 576)
    assert Fraction(d["comparison"]["params_ratio"]) == Fraction(73, 576)  # docs/arithmetic.md §4: M=32, N=64, Dk=3


def test_example_7_shown_to_the_user(cli):
    out = cli("shape", "--op", "depthwise-separable", "--in", "32x112x112", "--k", "3", "--out", "64", "--explain").out
    assert "73/576" in out and "1/N + 1/Dk²" in out and "standard conv" in out
