"""Issue 12's reproducers: every hostile input is answered or refused (exit 2, one message) in
seconds with bounded memory, and files are never written over devices, FIFOs or directories."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from convcalc import files
from convcalc.engine import axis
from convcalc.errors import InputError

HUGE = "1" + "0" * 400
MATRIX_10X10 = "; ".join(" ".join(str(10 * r + c) for c in range(10)) for r in range(10))  # > 255 characters
DEEP = "[" * 100_000 + "]" * 100_000


def refused(result, *words: str) -> None:
    assert result.code == 2, (result.code, result.out[-300:], result.err)
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    if result.err.startswith("convcalc: error:"):  # (click's own usage errors are one line only through main())
        assert result.err.count("\n") == 1, result.err
    for word in words:
        assert word in result.err, result.err


# --- files written safely ------------------------------------------------------------------------

TRAIN = ("train", "4 | fc 4", "--data", "synthetic:blobs:8", "--steps", "1")


@pytest.mark.parametrize("target, words", [
    ("/dev/null", ("character device", "not a regular file")),
    ("/dev/full", ("character device",)),
])
def test_save_refuses_devices_and_leaves_them_alone(cli, target, words):
    if not os.path.exists(target):
        pytest.skip(f"{target} is missing here")
    refused(cli(*TRAIN, "--save", target), *words)
    assert stat.S_ISCHR(os.stat(target).st_mode)


def test_save_refuses_fifo_directory_empty_and_missing_directory(cli, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    refused(cli(*TRAIN, "--save", fifo), "FIFO")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    refused(cli(*TRAIN, "--save", tmp_path), "is a directory")
    refused(cli(*TRAIN, "--save", f"{tmp_path}/"), "directory")
    refused(cli(*TRAIN, "--save", ""), "empty")
    refused(cli(*TRAIN, "--save", tmp_path / "missing" / "w.npz"), "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]  # no temporary files left


def test_save_is_checked_before_training(cli, tmp_path, monkeypatch):
    from convcalc.executor import training

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --save")

    monkeypatch.setattr(training, "train", no_training)
    refused(cli(*TRAIN, "--save", tmp_path / "missing" / "w.npz"), "does not exist")


def test_save_writes_through_a_symlink_with_the_umask_mode(cli, tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to(tmp_path / "real.npz")
    old = os.umask(0o027)
    try:
        assert cli(*TRAIN, "--save", link).code == 0
    finally:
        os.umask(old)
    assert link.is_symlink() and (tmp_path / "real.npz").is_file()
    assert stat.S_IMODE(os.stat(tmp_path / "real.npz").st_mode) == 0o640  # 0o666 & ~0o027, not mkstemp's 0o600


def test_write_atomically_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "w.npz"
    target.write_bytes(b"old")

    def fail(stream):
        raise OSError(28, "No space left on device")

    with pytest.raises(InputError, match="No space left"):
        files.write_atomically(str(target), fail, "--save")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["w.npz"]


def test_unreadable_files_are_one_message(cli, tmp_path, monkeypatch):
    """Tests run as root (who may read anything): simulate a file without read permission."""
    spec = tmp_path / "net.json"
    spec.write_text('{"input": "4", "layers": [{"type": "fc", "out": 2}]}')
    real_access = os.access
    monkeypatch.setattr(os, "access",
                        lambda path, mode, **kw: False if str(path) == str(spec) else real_access(path, mode, **kw))
    refused(cli("arch", spec), "permission denied")
    refused(cli("run", "4 | fc 2", "--load", spec), "permission denied")
    refused(cli("train", "4 | fc 4", "--data", "synthetic:blobs:8", "--load", spec), "permission denied")
    refused(cli("backprop", spec), "permission denied")


def test_a_directory_is_named_a_directory(cli, tmp_path):
    refused(cli("arch", tmp_path), "is a directory")
    refused(cli("run", tmp_path), "is a directory")
    refused(cli("backprop", tmp_path), "is a directory")
    refused(cli("conv", tmp_path, "1"), "is a directory")


# --- exit 3 → exit 2 -----------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["conv", "pool", "conv-transpose", "im2col"])
def test_long_inline_matrix_is_not_probed_as_a_path(cli, command):
    args = {"conv": ("1",), "conv-transpose": ("1",), "pool": ("--k", "2"), "im2col": ("--k", "2")}[command]
    result = cli(command, MATRIX_10X10, *args, "--format", "plain")
    assert result.code == 0 and len(result.out.splitlines()) >= 4


def test_a_400_digit_number_as_a_matrix_is_refused(cli):
    refused(cli("conv", HUGE, "1"), "digit")


@pytest.mark.parametrize("args", [
    ("arch", "{deep}"), ("backprop", "{deep}"), ("conv", "{deep}", "1"), ("pool", "{deep}", "--k", "2"),
    ("run", "{deep}"), ("run", "4 | fc 2", "--input", "{deep}"), ("arch", "{nested}"),
])
def test_deeply_nested_json_is_refused(cli, tmp_path, args):
    (tmp_path / "deep.json").write_text(DEEP)
    block: dict = {"type": "conv", "out": 1, "k": 1}
    for _ in range(300):
        block = {"type": "residual", "body": [block]}
    (tmp_path / "nested.json").write_text(json.dumps({"input": "1x4x4", "layers": [block]}))
    args = [a.format(deep=tmp_path / "deep.json", nested=tmp_path / "nested.json") for a in args]
    refused(cli(*args), "nested more than 100 levels")


def test_nesting_up_to_the_limit_still_works(cli, tmp_path):
    block: dict = {"type": "conv", "out": 1, "k": 1}
    for _ in range(45):  # 2 JSON levels per container
        block = {"type": "residual", "body": [block]}
    (tmp_path / "nested.json").write_text(json.dumps({"input": "1x4x4", "layers": [block]}))
    assert cli("arch", tmp_path / "nested.json").code == 0


@pytest.mark.parametrize("content", [bytes(range(256)) * 4, '{"input": "1x8x8"}'.encode("utf-16"),
                                     '{"name": "café"}'.encode("latin-1")])
@pytest.mark.parametrize("command", [("arch",), ("run",), ("shape", "--jsonl")])
def test_non_utf8_files_are_refused(cli, tmp_path, content, command):
    path = tmp_path / "spec.json"
    path.write_bytes(content)
    result = cli(*command, path)
    if command[0] == "shape":  # each line gets its own error document
        assert result.code == 2 and all('"error"' in line for line in result.out.splitlines())
    else:
        refused(result, "not UTF-8")


def test_jsonl_goes_on_after_bad_lines(cli, tmp_path):
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b'{"in": "3x32x32", "k": 3}\n\xff\xfe\n' + b"[" * 100_000 + b'\n{"in": "3x32x32", "k": 5}\n')
    result = cli("shape", "--jsonl", path)
    docs = [json.loads(line) for line in result.out.splitlines()]
    assert result.code == 2 and [d["line"] for d in docs] == [1, 2, 3, 4]
    assert "not UTF-8" in docs[1]["error"] and "nested" in docs[2]["error"]
    assert docs[3]["output"] == [3, 28, 28]


@pytest.mark.parametrize("args", [
    ("shape", "--in", f"3x{HUGE}x32", "--k", "3"), ("shape", "--in", "3x32x32", "--k", "3", "--pad", HUGE),
    ("shape", "--in", "3x32x32", "--k", "3", "--batch", HUGE),
    ("shape", "--in", "3x32x32", "--k", "3", "--stride", HUGE),
    ("arch", f"3x32x32 | conv {HUGE} k3"), ("arch", "resnet18", "--in", f"3x{HUGE}x{HUGE}"),
    ("conv", "1 2; 3 4", "1", "--pad", HUGE), ("conv", "1 2; 3 4", "1", "--stride", HUGE),
    ("run", "4 | fc 2", "--batch", HUGE), ("run", "4 | fc 2", "--backward", "--loss", "cross-entropy", "--label", HUGE),
    ("train", "4 | fc 2", "--data", f"synthetic:bars:{HUGE}"), ("run", "4 | fc 2", "--seed", "-1"),
    ("train", "4 | fc 4", "--data", "synthetic:blobs:8", "--seed", "-5"),
    ("run", "4 | fc 2", "--init", "uniform:1e308"),
])
def test_huge_and_negative_numbers_are_refused(cli, args):
    refused(cli(*args))


def test_huge_numbers_in_a_spec(cli, tmp_path):
    huge_conv = {"type": "conv", "out": 10**400, "k": 1}
    (tmp_path / "net.json").write_text(json.dumps({"input": "1x4x4", "layers": [huge_conv]}))
    refused(cli("arch", tmp_path / "net.json"), "too large")
    (tmp_path / "bp.json").write_text('{"input": [[1, 2], [3, 4]], "layers": [{"type": "relu"}], '
                                      '"loss": {"type": "sum"}, '
                                      '"lr": ' + "1" * 5000 + "}")
    refused(cli("backprop", tmp_path / "bp.json"), "too long")


@pytest.mark.parametrize("args, words", [
    (("conv-transpose", "1e308 1e308; 1e308 1e308", "1 1; 1 1"), ("overflows",)),
    (("im2col", "1e400 1 2; 3 4 5; 6 7 8", "--k", "2"), ("float64 range",)),
    (("conv", "1e400 1; 2 3", "1"), ("float64 range",)),
    (("conv", "1e300 1; 2 3", "1e10"), ("overflows",)),
])
def test_float_overflow_is_refused_not_computed(cli, args, words):
    refused(cli(*args), *words)


def test_train_data_npy_and_json_are_named_for_what_they_are(cli, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 4)))
    refused(cli("train", "4 | fc 2", "--data", tmp_path / "x.npy"), "single .npy array")
    (tmp_path / "course.json").write_text("{}")
    result = cli("train", "4 | fc 2", "--data", tmp_path / "course.json")
    refused(result, "not an .npz")
    assert "pickle" not in result.err


# --- hangs and memory ----------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ("shape", "--op", "maxpool", "--in", "3x1000000000000x1000000000000", "--k", "3", "--stride", "2", "--ceil-mode"),
    ("shape", "--op", "avgpool", "--in", "3x1000000000000x1000000000000", "--k", "3", "--stride", "2", "--pad", "1"),
    ("shape", "--op", "maxpool", "--in", "3x1000000000000x1000000000000", "--k", "3", "--dilation", "5", "--pad", "1"),
    ("shape", "--op", "adaptive-avgpool", "--in", "3x1000000000000x1000000000000", "--output-size", "999999999999"),
    ("arch", "resnet50", "--in", "3x1000000000000x1000000000000"),
])
def test_huge_sizes_are_answered(cli, args):
    assert cli(*args).code == 0


def test_huge_runs_are_refused_with_the_estimate(cli):
    refused(cli("run", "lenet5", "--in", "1x1000000000000x1000000000000"), "would need about", "--max-memory")
    refused(cli("run", "lenet5", "--in", "1x30000x30000"), "would need about")
    refused(cli("run", "1x32x32 | conv 100000000 k3"), "would need about")
    refused(cli("conv", "1 2; 3 4", "1", "--pad", "3000"), "would need about")
    refused(cli("conv", "1 2; 3 4", "1", "--pad", "100000"), "TiB")
    refused(cli("train", "4 | fc 4", "--data", "synthetic:blobs:1000000000"), "would need about")
    refused(cli("run", "4 | fc 2", "--max-memory", "lots"), "amount of memory")
    assert cli("conv", "1 2; 3 4", "1", "--pad", "3", "--max-memory", "1M").code == 0


def test_a_huge_repeat_is_refused(cli, tmp_path):
    for times in (1_000_000, 10**9):
        (tmp_path / "r.json").write_text(json.dumps({"input": "1x8x8", "layers": [{"type": "repeat", "times": times,
                                                                                  "layers": ["relu"]}]}))
        refused(cli("arch", tmp_path / "r.json"), "at most 10,000")


def test_repeat_copies_get_their_own_parameters(cli, tmp_path):
    (tmp_path / "r.json").write_text(json.dumps({"input": "2x4x4", "layers": [
        {"type": "repeat", "times": 3, "layers": [{"type": "conv", "out": 2, "k": 1}, "relu"]}]}))
    data = json.loads(cli("run", tmp_path / "r.json", "--json").out)
    assert json.loads(cli("arch", tmp_path / "r.json", "--json").out)["totals"]["params"] == 18
    assert len(data["layers"]) == 6


# --- the closed forms agree with the loops they replace ----------------------------------------

def _brute_floor_sum(n, m, a, b):
    return sum((a * t + b) // m for t in range(n))


def test_floor_sum_matches_the_loop():
    from hypothesis import given
    from hypothesis import strategies as st

    @given(st.integers(0, 40), st.integers(1, 30), st.integers(-60, 60), st.integers(-60, 60))
    def check(n, m, a, b):
        assert axis.floor_sum(n, m, a, b) == _brute_floor_sum(n, m, a, b)

    check()


def test_pool_totals_match_the_window_loops():
    from hypothesis import assume, given
    from hypothesis import strategies as st

    @given(st.integers(1, 40), st.integers(1, 6), st.integers(1, 5), st.integers(1, 4), st.integers(0, 6),
           st.integers(0, 3), st.booleans())
    def check(i, k, s, d, pl, pr, ceil_mode):
        assume(pr <= k // 2 and i + pl + pr >= d * (k - 1) + 1)  # PyTorch: right padding ≤ k/2
        o, _ = axis.pool_output_size(i, k, s, pl, pr, d, ceil_mode)
        counts = axis.window_real_counts(i, k, s, pl, o, d)
        brute_first = next((t for t, c in enumerate(counts) if c == 0), None)
        assert axis.first_padding_only_window(i, k, s, pl, o, d) == brute_first
        if brute_first is None:
            assert axis.real_reads_total(i, k, s, pl, o, d) == sum(counts)

    check()


def test_adaptive_bin_lengths_match_the_bins():
    from hypothesis import given
    from hypothesis import strategies as st

    @given(st.integers(1, 80), st.integers(1, 80))
    def check(size_in, size_out):
        lengths = [end - start for start, end in axis.adaptive_bins(size_in, size_out)]
        assert axis.adaptive_bin_lengths(size_in, size_out) == (min(lengths), max(lengths), sum(lengths))

    check()
