"""The command-line contract of ``convcalc shape`` (README, "convcalc shape — one layer")."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import golden

CONTRACT_KEYS = {"schema", "op", "input", "output", "params", "macs", "flops", "warnings"}


def test_json_has_contract_keys(cli):
    d = cli("shape", "--in", "3x32x32", "--k", "5", "--out", "2", "--json").json()
    assert set(d) >= CONTRACT_KEYS
    assert d["schema"] == "convcalc/shape/v1"
    assert d["op"] == "conv2d" and d["input"] == [3, 32, 32] and d["output"] == [2, 28, 28]
    assert d["macs"] == 28 * 28 * 2 * 3 * 25 and d["flops"] == 2 * d["macs"]


def test_explain_adds_steps(cli):
    d = cli("shape", "--in", "3x32x32", "--k", "5", "--stride", "2", "--out", "2", "--json", "--explain").json()
    titles = [s["title"] for s in d["steps"]]
    assert titles[:1] == ["output"] and "parameters" in titles and "MACs" in titles
    assert d["steps"][0]["axis"] == "H, W"
    assert "floor(27/2 = 13.5)" in d["steps"][0]["substituted"]
    assert any("never covered" in w for w in d["warnings"])


@pytest.mark.parametrize("shape,expected", [
    ("3x32x32", "2x14x14"), ("3,32,32", "2,14,14"), ("(3, 32, 32)", "(2, 14, 14)"), ("3×32×32", "2×14×14"),
    ("[3, 32, 32]", "[2, 14, 14]"), ("32", "14x14"), ("1x3x32x32", "1x2x14x14"),
])
def test_plain_output_keeps_the_users_notation(cli, shape, expected):
    result = cli("shape", "--in", shape, "--k", "5", "--stride", "2", "--out", "2", "--format", "plain")
    assert result.code == 0, result.err
    assert result.out == expected + "\n"


def test_expect_pass_and_fail(cli):
    ok = cli("shape", "--in", "3x32x32", "--k", "5", "--out", "2", "--expect", "2x28x28", "--format", "plain")
    assert ok.code == 0
    bad = cli("shape", "--in", "3x32x32", "--k", "5", "--out", "2", "--expect", "2x27x27")
    assert bad.code == 1
    assert "expected output 2x27x27, got 2x28x28" in bad.err
    assert cli("shape", "--in", "3x32x32", "--k", "5", "--out", "2", "--expect-params", "152").code == 0
    wrong = cli("shape", "--in", "3x32x32", "--k", "5", "--out", "2", "--expect-params", "150")
    assert wrong.code == 1 and "expected 150 parameters, got 152" in wrong.err


def test_expect_ignores_batch(cli):
    assert cli("shape", "--in", "1x3x32x32", "--k", "5", "--out", "2", "--expect", "2x28x28").code == 0


def test_symbolic_dimensions(cli):
    d = cli("shape", "--in", "3xHxW", "--k", "3", "--stride", "2", "--pad", "1", "--json").json()
    assert d["output"] == [3, "floor((H - 1)/2) + 1", "floor((W - 1)/2) + 1"]
    assert d["params"]["total"] == 84
    assert "H" in str(d["macs"])
    plain = cli("shape", "--in", "3xHxW", "--k", "3", "--stride", "2", "--pad", "1", "--format", "plain").out.strip()
    assert plain == "3x(floor((H - 1)/2) + 1)x(floor((W - 1)/2) + 1)"


def test_symbolic_expect(cli):
    args = ("shape", "--in", "3xHxW", "--k", "3", "--pad", "1", "--out", "8")
    assert cli(*args, "--expect", "8xHxW").code == 0
    assert cli(*args, "--expect", "8xHx(W-1)").code == 2  # not a valid shape
    assert cli(*args, "--expect", "8xWxH").code == 1


def test_jsonl_batch(cli):
    lines = "\n".join([
        json.dumps({"op": "conv", "in": "3x32x32", "k": 5, "stride": 2, "out": 2}),
        json.dumps({"in": "3x32x32", "k": 0}),
        "not json",
        json.dumps({"op": "maxpool", "in": [64, 55, 55], "k": 3, "stride": 2, "ceil_mode": True}),
        json.dumps({"op": "conv-transpose", "in": "16x14x14", "k": 3, "stride": 2, "pad": 1,
                    "output-padding": 1, "out": 8}),
    ]) + "\n"
    result = cli("shape", "--jsonl", "-", input=lines)
    assert result.code == 2
    docs = [json.loads(line) for line in result.out.splitlines()]
    assert len(docs) == 5
    assert docs[0]["output"] == [2, 14, 14] and docs[0]["line"] == 1
    assert docs[1]["line"] == 2 and "at least 1" in docs[1]["error"]
    assert docs[2]["line"] == 3 and "invalid JSON" in docs[2]["error"]
    assert docs[3]["output"] == [64, 27, 27]
    assert docs[4]["output"] == [8, 28, 28]


def test_jsonl_all_good_exits_0_and_checks_exit_1(cli, tmp_path):
    path = tmp_path / "layers.jsonl"
    path.write_text('{"in": "3x32x32", "k": 5}\n{"in": "3x32x32", "k": 3, "pad": "same"}\n')
    assert cli("shape", "--jsonl", str(path)).code == 0
    path.write_text('{"in": "3x32x32", "k": 5, "expect": "3x28x28"}\n{"in": "3x32x32", "k": 5, "expect": "3x30x30"}\n')
    result = cli("shape", "--jsonl", str(path))
    assert result.code == 1
    checks = [json.loads(line)["check"]["ok"] for line in result.out.splitlines()]
    assert checks == [True, False]


def test_jsonl_uses_command_line_options_as_defaults(cli):
    result = cli("shape", "--op", "maxpool", "--k", "2", "--jsonl", "-",
                 input='{"in": "8x32x32"}\n{"in": "8x9x9", "ceil-mode": true}\n')
    assert result.code == 0
    assert [json.loads(line)["output"] for line in result.out.splitlines()] == [[8, 16, 16], [8, 5, 5]]


def test_jsonl_missing_file(cli):
    result = cli("shape", "--jsonl", "/nonexistent/layers.jsonl")
    assert result.code == 2 and "cannot read" in result.err


@pytest.mark.parametrize("fmt", ["csv", "markdown", "text"])
def test_other_formats(cli, fmt):
    result = cli("shape", "--in", "3x32x32", "--k", "5", "--out", "2", "--format", fmt)
    assert result.code == 0
    assert "152" in result.out and "2x28x28" in result.out


def test_golden_text_conv(cli):
    golden("shape_conv_explain.txt",
           cli("shape", "--in", "3x32x32", "--k", "5", "--stride", "2", "--out", "2", "--explain").out)


def test_golden_text_transposed(cli):
    golden("shape_conv_transpose.txt", cli("shape", "--op", "conv-transpose", "--in", "16x14x14", "--k", "3",
                                          "--stride", "2", "--pad", "1", "--output-padding", "1", "--out",
                                          "8", "--explain").out)


def test_golden_text_maxpool_ceil(cli):
    golden("shape_maxpool_ceil.txt", cli("shape", "--op", "maxpool1d", "--in", "4x5", "--k", "1", "--stride", "3",
                                        "--ceil-mode", "--explain").out)


def test_rich_panel_fits_80_columns():
    from rich.console import Console

    from convcalc.layers.registry import analyze_layer
    from convcalc.notation import DEFAULT_NOTATION
    from convcalc.render.layer import shape_rich

    report = analyze_layer("conv", {"k": (5,), "stride": (2,), "out": 2}, (3, 32, 32), explain=True)
    console = Console(width=80, record=True, color_system=None)
    console.print(shape_rich(report, DEFAULT_NOTATION))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("2x14x14" in line for line in lines)


def test_help_has_examples(cli):
    out = cli("shape", "--help").out
    assert "convcalc shape --in 3x32x32 --k 5 --stride 2 --out 2" in out


def test_plain_path_imports_no_heavy_modules():
    code = (
        "import sys\n"
        "from convcalc.cli.app import main\n"
        "sys.argv = ['convcalc', 'shape', '--in', '3x32x32', '--k', '5', '--format', 'plain']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('sympy', 'torch', 'numpy') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_entry_points():
    version = subprocess.run([sys.executable, "-m", "convcalc", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("convcalc ")


@pytest.mark.parametrize("tail, code", [("", 0), ('{"in": "3x32x32", "k": 5, "expect": "3x30x30"}\n', 1),
                                        ("not json\n", 2)])
def test_jsonl_file_shared_among_workers_gives_the_serial_output(cli, tmp_path, monkeypatch, tail, code):
    """A large file is evaluated by one process per processor, in chunks: the same lines, numbers,
    errors, checks and exit code as one process reading it line by line."""
    import sys

    from convcalc.cli import batch

    if sys.platform != "linux":
        pytest.skip("files are shared among worker processes on Linux only (fork)")
    lines = [json.dumps({"op": op, "in": f"{c}x{size}x{size}", "k": k} | ({} if op == "maxpool" else {"out": c + 1}))
             for op in ("conv", "maxpool", "conv-transpose") for c in (1, 3) for size in (5, 9, 17) for k in (1, 3, 5)]
    text = "\n".join(lines[:20]) + "\n\n" + "\n".join(lines[20:] * 3) + "\n" + tail + "\n".join(lines[:5]) + "\n"
    path = tmp_path / "many.jsonl"
    path.write_text(text)
    monkeypatch.setattr(batch, "PARALLEL_BYTES", 10**12)
    assert batch._workers(str(path)) == 1
    serial = cli("shape", "--jsonl", str(path))
    monkeypatch.setattr(batch, "PARALLEL_BYTES", 1)
    monkeypatch.setattr(batch, "CHUNK_LINES", 7)  # chunk ends fall inside the repeats, the blank line and the tail
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    assert batch._workers(str(path)) == 2 and batch._workers("-") == 1
    shared = cli("shape", "--jsonl", str(path))
    assert shared.code == serial.code == code
    assert shared.out == serial.out
    numbers = [json.loads(line)["line"] for line in shared.out.splitlines()]
    assert numbers == [n for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
