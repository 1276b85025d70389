"""Fuzzing the command line: real option names (read from the commands themselves) with hostile
values, and spec / matrix / data files generated on the fly, each run as a subprocess with an
address-space limit and a 10 s timeout. Every case must end with exit code 0, 1 or 2, without a
traceback or an "internal error".

The default budget is small (``CONVCALC_FUZZ_EXAMPLES``, 150 cases, under a minute); run it
larger locally, e.g. ``CONVCALC_FUZZ_EXAMPLES=10000 python -m pytest -q tests/test_fuzz.py``.
Cases it found are kept below as regression tests (:data:`FOUND`).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "150"))
TIMEOUT = 10  # seconds per case
ADDRESS_SPACE = 2 * 2**30  # bytes: NumPy and the interpreter need ~0.5 GiB of address space
COMMANDS = ("shape", "arch", "run", "train", "backprop", "conv", "pool", "conv-transpose", "im2col")
# Options left out: torch (its import needs more address space than the limit), completion.
SKIPPED = {"--backend", "--compare", "--verify", "--verify-torch", "--install-completion", "--show-completion",
           "--help", "-h", "--version", "-V"}

HUGE = "1" + "0" * 400
HOSTILE = ["", " ", "0", "-1", "-5", "1", "2", "3", "7", "1e400", "1e308", "-1e308", HUGE, "9" * 5000, "nan", "inf",
           "-inf", "1/0", "1/3", "0.5", "3x32x32", "3x1000000000000x1000000000000", "1x0x0", "3x", "x", "3xHxW",
           "same", "valid", "full", "tf-same", "0:1x0:1", "2x2", "3x5", ",,,", "|", "||", "; ;", "１２", "²", "٣",
           "-", "relu", "conv 4 k3", "1x8x8 | conv 2 k3 | relu | flatten | fc 4", "lenet5", "resnet18",
           "synthetic:bars:8", "synthetic:blobs:1000000000000", "synthetic:x", "cross-entropy", "adam", "sgd",
           "momentum", "uniform:1e308", "uniform:0.1", "float64", "json", "plain", "csv", "course", "1 2; 3 4",
           "1 3 2; 4 8 3; 2 1 4", "; ".join(" ".join(str(r * 10 + c) for c in range(10)) for r in range(10)),
           "a" * 300, "/dev/null", "/dev/full", "/proc/x.npz", "/nonexistent/x.json", "{file}"]


def _files(root: Path) -> list[str]:
    """Generated inputs of every kind the commands read."""
    (root / "deep.json").write_text("[" * 50_000 + "]" * 50_000)
    (root / "binary.json").write_bytes(bytes(range(256)) * 8)
    (root / "utf16.json").write_bytes('{"input": "1x8x8"}'.encode("utf-16"))
    layers = [{"type": "conv", "out": 2, "k": 3}, "relu", {"type": "flatten"}, {"type": "linear", "out": 4}]
    (root / "spec.json").write_text(json.dumps({"input": "1x8x8", "layers": layers}))
    (root / "repeat.json").write_text(json.dumps({"input": "1x8x8", "layers": [{"type": "repeat", "times": 10**9,
                                                                               "layers": ["relu"]}]}))
    (root / "backprop.json").write_text(json.dumps({"input": [[1, 2], [3, 4]], "layers": [{"type": "relu"}],
                                                    "loss": {"type": "sum"}}))
    (root / "matrix.csv").write_text("1,2\n3,4\n")
    (root / "lines.jsonl").write_bytes(b'{"in": "3x8x8", "k": 3}\n\xff\n[[[[\n{"in": "3x8x8", "k": 1e400}\n')
    np.save(root / "x.npy", np.zeros((2, 1, 8, 8)))
    np.savez(root / "data.npz", x=np.zeros((4, 1, 8, 8)), y=np.array([0, 1, 2, 3]))
    (root / "dir").mkdir(exist_ok=True)
    return sorted(str(p) for p in root.iterdir()) + [str(root / "new.npz")]


def _options() -> dict[str, list[tuple[str, bool]]]:
    """Each command's option names and whether each takes a value, from the commands themselves."""
    from typer.main import get_command

    from convcalc.cli.app import app

    group = get_command(app)
    found = {}
    with group.make_context("convcalc", [], resilient_parsing=True) as ctx:
        for name in COMMANDS:
            command = group.get_command(ctx, name)
            found[name] = [(opt, not param.is_flag) for param in command.params if param.param_type_name == "option"
                           for opt in param.opts if opt not in SKIPPED]
    return found


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run_case(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_COLOR="1", COLUMNS="80")
    env.pop("CONVCALC_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "convcalc", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, errors="replace", timeout=TIMEOUT, preexec_fn=_limit, stdin=subprocess.DEVNULL)


def check(argv: list[str], cwd: Path) -> None:
    try:
        result = run_case(argv, cwd)
    except subprocess.TimeoutExpired:
        pytest.fail(f"took more than {TIMEOUT} s: convcalc {' '.join(argv)!r}")
    if os.environ.get("CONVCALC_FUZZ_LOG"):  # a local long run: one line per case, to count them
        with open(os.environ["CONVCALC_FUZZ_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps([result.returncode, argv]) + "\n")
    assert result.returncode in (0, 1, 2), (argv, result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, (argv, result.stderr[-2000:])


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    return root, _files(root), _options()


# Cases the fuzzer found, kept as regression tests.
FOUND = [
    ["conv", "{root}/binary.json", "1"],
    ["shape", "--jsonl", "{root}/lines.jsonl"],
    ["arch", "{root}/repeat.json"],
    ["train", "{root}/spec.json", "--data", "{root}/x.npy"],
    ["pool", "1 2; 3 4", "--k", "2", "--dilation", "2", "--pad", "1"],
    ["conv", "~0", ""],  # ~user of a user that does not exist: expanduser raised RuntimeError
    ["conv", "~0/x.json", "1"],
]


@pytest.mark.parametrize("argv", FOUND)
def test_found_cases(workspace, argv):
    root, _, _ = workspace
    check([a.format(root=root) for a in argv], root)


def test_fuzz_command_lines(workspace):
    root, paths, options = workspace

    @st.composite
    def command_lines(draw):
        command = draw(st.sampled_from(COMMANDS))
        values = st.one_of(st.sampled_from(HOSTILE), st.sampled_from(paths), st.text(max_size=12))
        argv = [command]
        if command != "shape":
            argv += draw(st.lists(values, min_size=0, max_size=2))
        for name, takes_value in draw(st.lists(st.sampled_from(options[command]), max_size=4)):
            argv.append(name)
            if takes_value:
                argv.append(draw(values))
        return [a.replace("{file}", draw(st.sampled_from(paths))).replace("\x00", "") for a in argv]

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100,
              suppress_health_check=list(HealthCheck))
    @given(command_lines())
    def fuzz(argv):
        check(argv, root)

    fuzz()
