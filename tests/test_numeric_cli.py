"""``convcalc conv``, ``pool``, ``conv-transpose``, ``im2col`` through the command line: the
course's "Numeric operations" worked examples (8–13) and the transposed-convolution
equivalences of item 4 as golden outputs plus the numbers themselves (via --json), the
output formats, files, --expect, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import golden

# the course's worked examples, "Numeric operations"
ITEM8_I = "1 3 2 4 6 4; 4 8 3 1 0 2; 2 1 4 3 9 1; 4 7 2 3 9 2"
ITEM8_K = "-1 0 1; -1 0 1; -1 0 1"
ITEM9_I = "1 1 1 0 0; 0 1 1 1 0; 0 0 1 1 1; 0 0 1 1 0; 0 1 1 0 0"
ITEM9_K = "1 0 1; 0 1 0; 1 0 1"
ITEM10_I = "12 3 19; 25 10 1; 9 7 17"
ITEM10_K = "1 2; 3 4"
ITEM11_PATCH = "200 150 150; 100 50 100; 25 25 10"
ITEM11_K = "1 0 -1; 2 0 -2; 1 0 -1"
ITEM12_I = "3 3 2 1 0; 0 0 1 3 1; 3 1 2 2 3; 2 0 0 2 2; 2 0 0 0 1"


def output_of(cli, *args, input=None):
    result = cli(*args, "--json", input=input)
    assert result.code == 0, result.err
    return result.json()


# --------------------------------------------------------------------------- items 8–13

def test_item8_correlation_with_vertical_edge_kernel(cli):
    data = output_of(cli, "conv", ITEM8_I, ITEM8_K)
    assert data["schema"] == "convcalc/conv/v1"
    assert data["operation"] == "cross-correlation"
    assert data["output"] == [[2, -4, 6, -1], [-1, -9, 9, -2]]
    result = cli("conv", ITEM8_I, ITEM8_K, "--explain")
    assert result.code == 0
    assert "J[0,0] = 1·(−1) + 3·0 + 2·1 + 4·(−1) + 8·0 + 3·1 + 2·(−1) + 1·0 + 4·1 = 2" in result.out
    golden("numeric_item08_conv_explain.txt", result.out)


def test_item9_five_by_five_image(cli):
    assert output_of(cli, "conv", ITEM9_I, ITEM9_K)["output"] == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    golden("numeric_item09_conv_explain.txt", cli("conv", ITEM9_I, ITEM9_K, "--explain").out)


def test_item10_two_by_two_kernel(cli):
    assert output_of(cli, "conv", ITEM10_I, ITEM10_K)["output"] == [[133, 75], [100, 101]]
    result = cli("conv", ITEM10_I, ITEM10_K, "--explain")
    assert "J[0,0] = 12·1 + 3·2 + 25·3 + 10·4 = 133" in result.out
    golden("numeric_item10_conv_explain.txt", result.out)


def test_item11_patch_times_sobel_kernel_is_65_plus_bias(cli):
    assert output_of(cli, "conv", ITEM11_PATCH, ITEM11_K)["output"] == [[65]]
    data = output_of(cli, "conv", ITEM11_PATCH, ITEM11_K, "--bias", "1", "--explain")
    assert data["output"] == [[66]]
    entry = data["entries"][0]
    assert entry["bias"] == 1 and entry["value"] == 66
    assert sum(t["x"] * t["w"] for t in entry["terms"]) == 65
    result = cli("conv", ITEM11_PATCH, ITEM11_K, "--bias", "1", "--explain")
    assert "+ b = 65 + 1 = 66" in result.out
    golden("numeric_item11_patch_bias.txt", result.out)


def test_item12_max_pool_3x3_stride_1(cli):
    data = output_of(cli, "pool", ITEM12_I, "--k", "3", "--stride", "1", "--explain")
    assert data["schema"] == "convcalc/pool/v1"
    assert data["output"] == [[3, 3, 3], [3, 3, 3], [3, 2, 3]]
    first = data["entries"][0]
    assert first["winner"] == [0, 0, 0] and first["ties"] == 3  # three 3s: the first in row-major order wins
    result = cli("pool", ITEM12_I, "--k", "3", "--stride", "1", "--explain")
    assert ("J[0,0] = max(3, 3, 2, 0, 0, 1, 3, 1, 2) = 3  at I[0,0] (tie: 3 entries equal 3; the first one wins)"
            in result.out)
    golden("numeric_item12_maxpool_explain.txt", result.out)


def test_item13_flip_rotates_by_180_degrees(cli):
    # Correlating a single 1 (full padding) reads the kernel backwards: the result is flip(K);
    # the true convolution (--flip) gives K back, and shows flip(K).
    assert output_of(cli, "conv", "1", "1 3 5; 2 4 6", "--pad", "full")["output"] == [[6, 4, 2], [5, 3, 1]]
    data = output_of(cli, "conv", "1", "1 3 5; 2 4 6", "--pad", "full", "--flip")
    assert data["operation"] == "convolution"
    assert data["flipped_kernel"] == [[6, 4, 2], [5, 3, 1]]
    assert data["output"] == [[1, 3, 5], [2, 4, 6]]
    nine = output_of(cli, "conv", "0 0 0; 0 1 0; 0 0 0", "1 2 3; 4 5 6; 7 8 9", "--pad", "1", "--flip")
    assert nine["flipped_kernel"] == [[9, 8, 7], [6, 5, 4], [3, 2, 1]]
    result = cli("conv", "1", "1 3 5; 2 4 6", "--pad", "full", "--flip")
    assert "flip(K), rotated 180° (2x3):\n  6  4  2\n  5  3  1" in result.out
    golden("numeric_item13_flip.txt", result.out)


# --------------------------------------------------------------------------- item 4: transposed convolution

def test_item4_transposed_conv_2_to_5_is_conv_over_zero_inserted_input_padded_by_2(cli):
    args = ("conv-transpose", "1 2; 3 4", "1 0 1; 0 1 0; 1 0 1", "--stride", "2")
    data = output_of(cli, *args)
    assert data["schema"] == "convcalc/conv-transpose/v1"
    assert data["output_shape"] == [1, 5, 5]
    eq = data["equivalent_conv"]
    assert eq["zero_inserted_input"] == [[1, 0, 2], [0, 0, 0], [3, 0, 4]]  # 1 zero between entries: 3x3
    assert eq["padding"] == [[2, 2], [2, 2]]
    assert np.array(eq["padded_input"]).shape == (7, 7)
    assert eq["output"] == data["output"]
    golden("numeric_item04_transpose_p0.txt", cli(*args).out)


def test_item4_transposed_conv_3_to_5_with_padding_1(cli):
    args = ("conv-transpose", "1 2 3; 4 5 6; 7 8 9", "1 1 1; 1 1 1; 1 1 1", "--stride", "2", "--pad", "1")
    data = output_of(cli, *args)
    assert data["output_shape"] == [1, 5, 5]
    eq = data["equivalent_conv"]
    assert np.array(eq["zero_inserted_input"]).shape == (5, 5)
    assert eq["padding"] == [[1, 1], [1, 1]]
    assert eq["output"] == data["output"]
    golden("numeric_item04_transpose_p1_explain.txt", cli(*args, "--explain", "--at", "2,2").out)


def test_transposed_conv_output_padding_adds_at_the_end(cli):
    data = output_of(cli, "conv-transpose", "1 2; 3 4", "1 1; 1 1", "--stride", "2", "--pad", "1",
                     "--output-padding", "1")
    assert data["output_shape"] == [1, 3, 3]  # (2 − 1)·2 − 2 + 1 + 1 + 1
    assert data["equivalent_conv"]["padding"] == [[0, 1], [0, 1]]


# --------------------------------------------------------------------------- im2col

def test_im2col_patch_matrix_and_gemm(cli):
    data = output_of(cli, "im2col", ITEM8_I, ITEM8_K)
    assert data["schema"] == "convcalc/im2col/v1"
    assert np.array(data["columns"]).shape == (9, 8)
    assert data["columns"][0] == [1, 3, 2, 4, 4, 8, 3, 1]  # kernel tap (0,0) across the 8 windows
    assert data["output"] == [[2, -4, 6, -1], [-1, -9, 9, -2]]
    assert data["product"] == [[2, -4, 6, -1, -1, -9, 9, -2]]
    golden("numeric_im2col_gemm.txt", cli("im2col", ITEM8_I, ITEM8_K).out)


def test_im2col_multichannel_rows_are_channel_then_kernel_row_then_column(cli):
    data = output_of(cli, "im2col", "1 2; 3 4 | 5 6; 7 8", "--k", "2")
    assert data["row_labels"][:5] == [[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1], [1, 0, 0]]
    assert data["columns"] == [[1], [2], [3], [4], [5], [6], [7], [8]]
    assert data["output"] is None


# --------------------------------------------------------------------------- options and formats

def test_padding_words(cli):
    assert output_of(cli, "conv", "1 2; 3 4", "1 1; 1 1",
                     "--pad", "same")["padding"] == [[0, 1], [0, 1]]  # extra at the end
    full = output_of(cli, "conv", "1 2; 3 4", "1 1; 1 1", "--pad", "full")["output"]
    assert full == [[1, 3, 2], [4, 10, 6], [3, 7, 4]]
    assert output_of(cli, "conv", "1 2; 3 4", "1 1; 1 1", "--pad", "valid")["output"] == [[10]]
    assert output_of(cli, "conv", "1 2 3", "1 1", "--pad", "0x1")["output"] == [[1, 3, 5, 3]]
    assert output_of(cli, "conv", "1 2 3", "1 1", "--pad", "0:0x1:0")["output"] == [[1, 3, 5]]


def test_stride_dilation_and_multichannel(cli):
    data = output_of(cli, "conv", "1 2 3 4 5", "1 0 -1", "--dilation", "2")
    assert data["output"] == [[1 - 5]]
    two = output_of(cli, "conv", "1 2; 3 4 | 5 6; 7 8", "1 0; 0 1 | 0 1; 1 0")  # one kernel over two channels
    assert two["output"] == [[[1 + 4 + 6 + 7]]]
    outs = output_of(cli, "conv", "1 2; 3 4", "1 0; 0 0 | 0 0; 0 1")  # one channel in: two output channels
    assert outs["output"] == [[[1]], [[4]]]
    assert any("output channels" in n for n in outs["notes"])


def test_exact_fractions_and_floats(cli):
    data = output_of(cli, "pool", "1 2; 3 5", "--k", "2", "--mode", "avg")
    assert data["output"] == [["11/4"]] and data["exact"] is True
    text = cli("pool", "1 2; 3 5", "--k", "2", "--mode", "avg", "--explain").out
    assert "J[0,0] = (1 + 2 + 3 + 5) / 4 = 11/4 ≈ 2.75" in text
    floats = output_of(cli, "conv", "0.5 1; 1 1", "1 1; 1 1")
    assert floats["exact"] is False and floats["output"] == [[3.5]]
    assert output_of(cli, "conv", "1/2 1/3", "1 1")["output"] == [["5/6"]]


def test_avg_pool_divisors(cli):
    args = ("pool", "1 2 3 4; 5 6 7 8; 9 10 11 12", "--k", "2", "--mode", "avg", "--pad", "1", "--explain")
    counted = output_of(cli, *args)
    real = output_of(cli, *args, "--no-count-include-pad")
    assert counted["entries"][0]["divisor"] == 4 and counted["output"][0][0] == "1/4"
    assert real["entries"][0]["divisor"] == 1 and real["output"][0][0] == 1
    fixed = output_of(cli, *args, "--divisor-override", "3")
    assert fixed["entries"][0]["divisor"] == 3 and fixed["output"][0][0] == "1/3"


def test_ceil_mode(cli):
    assert output_of(cli, "pool", "1 2 3; 4 5 6; 7 8 9", "--k", "2")["output"] == [[5]]
    assert output_of(cli, "pool", "1 2 3; 4 5 6; 7 8 9", "--k", "2", "--ceil-mode")["output"] == [[5, 6], [8, 9]]


def test_formats(cli):
    plain = cli("conv", ITEM10_I, ITEM10_K, "--format", "plain")
    assert plain.out == "133 75\n100 101\n"
    assert cli("conv", ITEM10_I, ITEM10_K, "--format", "csv").out == "133,75\n100,101\n"
    markdown = cli("conv", ITEM10_I, ITEM10_K, "--format", "markdown", "--explain").out
    assert "| **0** | 133 | 75 |" in markdown and "- `J[1,1] = 10·1 + 1·2 + 7·3 + 17·4 = 101`" in markdown
    latex = cli("conv", ITEM10_I, ITEM10_K, "--format", "latex", "--explain").out
    assert r"J = \begin{bmatrix} 133 & 75 \\ 100 & 101 \end{bmatrix}" in latex
    assert r"J_{0,0} &= 12 \cdot 1 + 3 \cdot 2 + 25 \cdot 3 + 10 \cdot 4 = 133" in latex
    golden("numeric_pool_avg_latex.txt", cli("pool", "1 2 3; 4 5 6", "--k", "2", "--stride", "1", "--mode", "avg",
                                             "--explain", "--format", "latex").out)
    multi = ("conv", "1 2; 3 4 | 5 6; 7 8", "1 0; 0 1 | 0 1; 1 0", "--pad", "1")
    rows = output_of(cli, *multi)["output"][0]
    assert cli(*multi, "--format", "plain").out == "".join(" ".join(map(str, r)) + "\n" for r in rows)
    assert rows[1][1] == 1 + 4 + 6 + 7  # the centre window reads both channels whole


def test_rich_output_draws_the_window(cli):
    result = cli("conv", ITEM10_I, ITEM10_K, "--explain", "--format", "rich")
    assert result.code == 0
    assert "window of J[0,0]" in result.out and "╭" in result.out


def test_at_selects_one_entry(cli):
    result = cli("conv", ITEM8_I, ITEM8_K, "--at", "1,2")
    assert "J[1,2] = 3·(−1)" in result.out and "J[0,0] =" not in result.out
    bad = cli("conv", ITEM8_I, ITEM8_K, "--at", "5,5")
    assert bad.code == 2 and "--at 5,5" in bad.err


def test_expect(cli):
    assert cli("conv", ITEM10_I, ITEM10_K, "--expect", "133 75; 100 101").code == 0
    wrong = cli("conv", ITEM10_I, ITEM10_K, "--expect", "133 75; 100 100")
    assert wrong.code == 1 and "entry [1,1] is 101, expected 100" in wrong.err
    assert cli("conv", ITEM10_I, ITEM10_K, "--expect", "133 75").code == 1
    assert cli("pool", "1 2; 3 5", "--k", "2", "--mode", "avg", "--expect", "2.75").code == 0


def test_plain_output_reads_back(cli, tmp_path):
    csv_file = tmp_path / "result.csv"
    csv_file.write_text(cli("pool", "1 2; 3 4 | 4 3; 2 1", "--k", "1", "--format", "csv").out)
    again = output_of(cli, "pool", str(csv_file), "--k", "1")
    assert again["output"] == [[[1, 2], [3, 4]], [[4, 3], [2, 1]]]


def test_files(cli, tmp_path):
    (tmp_path / "i.json").write_text(json.dumps([[12, 3, 19], [25, 10, 1], [9, 7, 17]]))
    (tmp_path / "k.csv").write_text("1,2\n3,4\n")
    np.save(tmp_path / "k.npy", np.array([[1, 2], [3, 4]]))
    np.save(tmp_path / "kf.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert output_of(cli, "conv", str(tmp_path / "i.json"),
                     str(tmp_path / "k.csv"))["output"] == [[133, 75], [100, 101]]
    exact = output_of(cli, "conv", str(tmp_path / "i.json"), str(tmp_path / "k.npy"))
    assert exact["exact"] is True and exact["output"] == [[133, 75], [100, 101]]
    floats = output_of(cli, "conv", str(tmp_path / "i.json"), str(tmp_path / "kf.npy"))
    assert floats["exact"] is False and floats["output"] == [[133.0, 75.0], [100.0, 101.0]]
    assert output_of(cli, "conv", "-", ITEM10_K,
                     input="[[12, 3, 19], [25, 10, 1], [9, 7, 17]]")["output"][0] == [133, 75]


# --------------------------------------------------------------------------- bad input

BAD = {
    "ragged": (["conv", "1 2; 3", "1"], "ragged"),
    "kernel larger than padded input": (["conv", "1 2; 3 4", "1 2 3; 4 5 6; 7 8 9"], "larger than the padded input"),
    "missing file": (["conv", "missing.json", "1"], "no such file"),
    "bad number": (["conv", "1 x; 3 4", "1"], "'x' is not a number"),
    "nan": (["conv", "1 nan; 3 4", "1"], "nan"),
    "fraction by zero": (["conv", "1 2", "1/0"], "divides by zero"),
    "channels disagree": (["conv", "1 2; 3 4 | 5 6; 7 8", "1 0; 0 1"], "input channel"),
    "kernel matrices per channel": (["conv", "1 2; 3 4 | 5 6; 7 8", "1 0; 0 1 | 0 1; 1 0 | 1 1; 1 1"], "channels"),
    "bias count": (["conv", "1 2; 3 4 | 5 6; 7 8", "1 0; 0 1 | 1 1; 1 1", "--bias", "1 2"], "--bias"),
    "same with stride": (["conv", "1 2; 3 4", "1", "--pad", "same", "--stride", "2"], "strided"),
    "zero stride": (["conv", "1 2; 3 4", "1", "--stride", "0"], "--stride"),
    "negative padding": (["conv", "1 2; 3 4", "1", "--pad", "-1"], "negative"),
    "bad format": (["conv", "1 2", "1", "--format", "yaml"], "--format"),
    "pool without k": (["pool", "1 2; 3 4"], "--k"),
    "pool padding too large": (["pool", "1 2; 3 4", "--k", "2", "--pad", "2"], "half"),
    "pool bad mode": (["pool", "1 2; 3 4", "--k", "2", "--mode", "median"], "--mode"),
    "pool full padding": (["pool", "1 2; 3 4", "--k", "2", "--pad", "full"], "pooling"),
    "avg dilation": (["pool", "1 2; 3 4", "--k", "1", "--mode", "avg", "--dilation", "2"], "dilation"),
    "output padding too large": (["conv-transpose", "1 2", "1 1", "--stride", "2", "--output-padding", "2"],
                                 "smaller than"),
    "transpose crops everything": (["conv-transpose", "1", "1", "--pad", "1"], "less padding"),
    "transpose padding word": (["conv-transpose", "1 2", "1 1", "--pad", "same"], "--pad same"),
    "im2col without k": (["im2col", "1 2; 3 4"], "--k"),
    "im2col k disagrees": (["im2col", "1 2; 3 4", "1 1", "--k", "2"], "disagrees"),
    "bad --at": (["conv", "1 2", "1", "--at", "x"], "--at"),
    "four-d input batch": (["conv", "[[[[1]]],[[[2]]]]", "1"], "INPUT"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_exits_2_with_one_line(cli, name):
    args, fragment = BAD[name]
    result = cli(*args)
    assert result.code == 2, (result.out, result.err)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("convcalc: error:") and fragment in lines[0], lines[0]


def test_bad_files(cli, tmp_path):
    (tmp_path / "bad.json").write_text('[[1, 2],\n [3, 4,]]')
    result = cli("conv", str(tmp_path / "bad.json"), "1")
    assert result.code == 2 and "line 2, column" in result.err
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    result = cli("conv", str(tmp_path / "obj.npy"), "1")
    assert result.code == 2 and "object arrays are refused" in result.err
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]]))
    result = cli("conv", str(tmp_path / "nan.npy"), "1")
    assert result.code == 2 and "NaN" in result.err
    (tmp_path / "nan.json").write_text("[[1, NaN]]")
    result = cli("conv", str(tmp_path / "nan.json"), "1")
    assert result.code == 2 and "NaN" in result.err


def test_real_process_exit_codes_and_negative_matrices():
    """A real shell: a kernel starting with '-' is a matrix, not an option; errors are one line."""
    run = [sys.executable, "-m", "convcalc"]
    ok = subprocess.run(run + ["conv", ITEM10_I, "-1 -2; -3 -4", "--format", "plain"], capture_output=True,
                        text=True, check=False)
    assert ok.returncode == 0 and ok.stdout == "-133 -75\n-100 -101\n"
    bad = subprocess.run(run + ["conv", "1 2; 3", "1"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    check = subprocess.run(run + ["conv", ITEM10_I, ITEM10_K, "--expect", "0 0; 0 0", "-f", "plain"],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 1 and "check failed" in check.stderr


@pytest.mark.parametrize("command", ["conv", "pool", "conv-transpose", "im2col"])
def test_help_has_examples(cli, command):
    result = cli(command, "--help")
    assert result.code == 0 and "Examples" in result.out and f"convcalc {command} " in result.out
