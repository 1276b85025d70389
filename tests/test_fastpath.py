"""``convcalc shape`` read without typer (convcalc.cli.fastpath) is the typer command: the same
options, spelling by spelling, and for any call the same bytes on stdout and stderr and the same
exit code; what the fast path does not read plainly goes to typer."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc.cli import fastpath

TYPER_MAIN = "import sys; from convcalc.cli.app import main; sys.argv = ['convcalc', *sys.argv[1:]]; main()"


def _shape_command():
    import typer.main

    from convcalc.cli.app import app

    group = typer.main.get_command(app)
    ctx = group.make_context("convcalc", ["shape"], resilient_parsing=True)
    return group.get_command(ctx, "shape")


def test_the_fast_path_reads_every_option_of_the_typer_command_and_no_other():
    values, flags = {}, {}
    for param in _shape_command().params:
        if param.name == "help" or not param.opts:
            continue
        table = flags if param.is_flag else values
        for spelling in (*param.opts, *param.secondary_opts):
            table[spelling] = param.name
    assert values == fastpath.SHAPE_VALUES
    assert flags == fastpath.SHAPE_FLAGS


def _in_process(main, argv, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["convcalc", *argv])
    with pytest.raises(SystemExit) as ended:
        main()
    out, err = capsys.readouterr()
    return ended.value.code, out, err


def _both(argv, capsys, monkeypatch):
    from convcalc.cli import app

    return (_in_process(fastpath.main, argv, capsys, monkeypatch),
            _in_process(app.main, argv, capsys, monkeypatch))


CALLS = [
    ["--in", "3x32x32", "--k", "5", "--stride", "2", "--out", "2"],
    ["--in=3x32x32", "--k=5", "--stride=2", "--out=2", "--format=plain"],
    ["-i", "3x32x32", "-k", "5", "-s", "2", "-p", "1", "-d", "2", "-g", "1", "--json"],
    ["--op", "conv-transpose", "--in", "16x7x7", "--k", "4", "--stride", "2", "--pad", "1", "--explain"],
    ["--op", "maxpool1d", "--in", "2x9", "--k", "3", "--dilation", "2", "--pad", "1", "--ceil-mode", "-e"],
    ["--op", "avgpool3d", "--in", "2x6x6x6", "--k", "2", "--pad", "1", "--no-count-include-pad", "-f", "csv"],
    ["--op", "adaptive-maxpool", "--in", "8x7x5", "--output-size", "3x2", "--format", "markdown"],
    ["--op", "depthwise-separable", "--in", "32x56x56", "--k", "3", "--out", "64", "--multiplier", "2"],
    ["--op", "linear", "--in", "9216", "--out", "4096", "--no-bias", "--batch", "8", "--dtype", "float16"],
    ["--op", "flatten", "--in", "256x6x6", "--start-dim", "1", "--end-dim", "-1"],
    ["--op", "pixel-unshuffle", "--in", "3x8x8", "--factor", "2", "--json"],
    ["--in", "3xHxW", "--k", "3", "--stride", "2", "--pad", "1", "--explain"],
    ["--in", "1x28x28", "--k", "5", "--out", "6", "--pad", "P", "--expect", "1x6x28x28", "--solve"],
    ["--in", "3x32x32", "--k", "5", "--expect", "3x27x27"],  # a failed check: exit 1
    ["--in", "3x32x32", "--k", "5", "--expect-params", "228"],
    ["--in", "3x32x32", "--k", "50"],  # bad input: exit 2
    ["--in", "3x32x32", "--k", "5", "--json", "--format", "csv"],
    ["--in", "3x32x32", "--count-include-pad", "--no-count-include-pad", "--op", "avgpool", "--k", "2"],
    ["--k", "3"],  # no --in
    ["--in", "3x32x32", "--k", "-1"],  # a value that starts with '-': typer reads it
    ["--in", "3x32x32", "--k", "3", "--k", "5"],  # repeated: typer reads it
    ["--in", "3x32x32", "--bogus"],  # not an option: typer's usage error
    ["--in", "3x32x32", "--k"],  # a value missing: typer's usage error
    ["--help"],
    ["--in", "3x32x32", "--op", "conv", "--padding-mode", "reflect", "--pad", "2", "--k", "5", "--depthwise"],
    ["--in", "4x10x10", "--op", "avgpool", "--k", "3", "--divisor-override", "4", "--count-include-pad"],
    ["--in", "16x9x9", "--op", "conv-transpose", "--k", "3", "--stride", "2", "--output-padding", "1", "--dims", "2"],
]


@pytest.mark.parametrize("argv", CALLS, ids=lambda a: " ".join(a)[:60])
def test_a_call_gives_the_same_bytes_and_exit_code_on_both_paths(argv, capsys, monkeypatch):
    fast, typer_path = _both(["shape", *argv], capsys, monkeypatch)
    assert fast == typer_path
    assert fast[0] in (0, 1, 2)


def test_which_calls_the_fast_path_reads():
    assert fastpath.shape_options(["--in", "3x32x32", "--k=5", "-e"]) == {"input_shape": "3x32x32", "k": "5",
                                                                         "explain": True}
    for typer_reads in (["--in"], ["--in", "-3"], ["--k", "3", "--k", "3"], ["--help"], ["-ek", "3"],
                        ["--explain=yes"], ["-k=3"], ["3x32x32"]):
        assert fastpath.shape_options(typer_reads) is None, typer_reads


def test_a_jsonl_batch_and_the_console_script_take_the_fast_path(tmp_path):
    lines = tmp_path / "b.jsonl"
    lines.write_text('{"in": "3x32x32", "k": 5}\n{"in": "3x32x32", "k": 50}\n')
    runs = [subprocess.run([*prefix, "shape", "--jsonl", str(lines)], capture_output=True, text=True)
            for prefix in ([sys.executable, "-m", "convcalc"], [sys.executable, "-c", TYPER_MAIN])]
    assert runs[0].returncode == runs[1].returncode == 2
    assert runs[0].stdout == runs[1].stdout and '"line":2,"error"' in runs[0].stdout
    code = ("import sys; sys.argv = ['convcalc', 'shape', '--in', '3x32x32', '--k', '5', '--format', 'plain']\n"
            "from convcalc.cli.fastpath import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('TYPER', [m for m in ('typer', 'click', 'rich') if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("3x28x28") and "TYPER []" in out


_VALUE_WORDS = st.sampled_from(["3", "2", "1", "0", "5x3", "same", "valid", "tf-same", "x", "3x32x32", "8x8",
                                "1:2", "float16", "json", "plain", "text", "csv", "conv", "maxpool", "avgpool1d",
                                "linear", "K", "", "2**70"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.one_of(
    st.tuples(st.sampled_from(sorted(fastpath.SHAPE_VALUES)), _VALUE_WORDS),
    st.tuples(st.sampled_from(sorted(fastpath.SHAPE_FLAGS)))), max_size=6),
    in_shape=st.sampled_from(["3x32x32", "2x9", "16x7x7x7", "3xHxW", "9216"]))
def test_any_call_is_the_same_on_both_paths(words, in_shape, capsys, monkeypatch):
    """Random calls, plain or not, valid or not (solver and jsonl calls apart: they are above)."""
    argv = ["shape", "--in", in_shape]
    for word in words:
        if word[0] in ("--jsonl", "--solve", "--in", "-i"):
            continue
        argv += list(word)
    capsys.readouterr()
    fast, typer_path = _both(argv, capsys, monkeypatch)
    assert fast == typer_path
