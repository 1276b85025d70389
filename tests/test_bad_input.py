"""Bad input of any kind: exit code 2, one clear line on stderr, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

BAD = {
    "zero dimension": (["--in", "3x0x32", "--k", "5"], "3x0x32"),
    "word shape": (["--in", "abc", "--k", "5"], "abc"),
    "fractional shape": (["--in", "3.5x32x32", "--k", "5"], "3.5"),
    "empty shape": (["--in", "", "--k", "5"], "empty"),
    "zero kernel": (["--in", "3x32x32", "--k", "0"], "at least 1"),
    "negative kernel": (["--in", "3x32x32", "--k", "-3"], "at least 1"),
    "zero stride": (["--in", "3x32x32", "--k", "3", "--stride", "0"], "--stride"),
    "zero dilation": (["--in", "3x32x32", "--k", "3", "--dilation", "0"], "--dilation"),
    "negative padding": (["--in", "3x32x32", "--k", "3", "--pad", "-1"], "negative"),
    "unknown op": (["--op", "convolve", "--in", "3x32x32", "--k", "3"], "unknown op"),
    "impossible groups": (["--in", "3x32x32", "--k", "3", "--out", "6", "--groups", "2"], "groups=2"),
    "kernel larger than input": (["--in", "3x4x4", "--k", "7"], "larger than the padded input"),
    "output padding too large": (["--op", "conv-transpose", "--in", "3x4x4", "--k", "3", "--stride", "2",
                                  "--output-padding", "2"],
                                 "smaller than either stride"),
    "pool padding too large": (["--op", "maxpool", "--in", "3x8x8", "--k", "3", "--pad", "2"],
                               "at most half the kernel"),
    "same with stride": (["--in", "3x32x32", "--k", "3", "--stride", "2", "--pad", "same"], "strided"),
    "reflect too large": (["--in", "3x4x4", "--k", "3", "--pad", "4", "--padding-mode", "reflect"], "reflect"),
    "bad padding mode": (["--in", "3x4x4", "--k", "3", "--padding-mode", "mirror"], "padding-mode"),
    "bad expectation": (["--in", "3x32x32", "--k", "3", "--expect", "2xx"], "--expect"),
    "bad expected params": (["--in", "3x32x32", "--k", "3", "--expect-params", "lots"], "--expect-params"),
    "option for another op": (["--in", "3x32x32", "--k", "3", "--ceil-mode"], "does not apply"),
    "wrong rank input": (["--in", "1x2x3x32x32", "--k", "3"], "takes a 2-d input"),
    "per-axis count": (["--in", "3x32x32", "--k", "3x3x3"], "3 values"),
    "missing kernel": (["--in", "3x32x32"], "needs --k"),
    "missing input": (["--k", "3"], "input shape is required"),
    "linear without out": (["--op", "linear", "--in", "9216"], "--out"),
    "flatten out of range": (["--op", "flatten", "--in", "3x4x4", "--start-dim", "3"], "out of range"),
    "divisor zero": (["--op", "avgpool", "--in", "3x8x8", "--k", "2", "--divisor-override", "0"], "divisor"),
    "dims conflict": (["--op", "conv3d", "--dims", "2", "--in", "3x8x8", "--k", "2"], "--dims"),
    "bad format": (["--in", "3x8x8", "--k", "2", "--format", "yaml"], "--format"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_input_exits_2_with_one_line(cli, name):
    args, fragment = BAD[name]
    result = cli("shape", *args)
    assert result.code == 2, (result.out, result.err)
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("convcalc: error:")
    assert fragment in lines[0]
    assert "Traceback" not in result.err


def test_unknown_op_suggests(cli):
    assert "did you mean maxpool" in cli("shape", "--op", "maxpol", "--in", "3x8x8", "--k", "2").err


@pytest.mark.parametrize("args", [["shape", "--in", "3x0x32", "--k", "5"], ["shape", "--bogus"], ["nosuchcommand"]])
def test_real_process_never_prints_a_traceback(args):
    result = subprocess.run([sys.executable, "-m", "convcalc", *args], capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("convcalc: error:"), result.stderr
