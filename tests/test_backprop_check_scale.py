"""Issue 12: the backprop finite-difference check stays linear in memory — perturbed copies go
through the network in chunks, and a tensor of more than ``MAX_CHECKED`` entries is checked on
a seeded sample that the output names — and ``backprop`` refuses, from the shapes alone, a
trace above the memory limit."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from convcalc import limits
from convcalc.trace import check
from convcalc.trace.check import MAX_CHECKED, choose_entries, gradient_check
from convcalc.trace.spec import parse

ADDRESS_SPACE = 2 * 2**30  # NumPy and the interpreter need ~0.5 GiB of address space; the old check took 12.6 GB


def image_spec(n: int) -> dict:
    rng = random.Random(1)
    return {"input": [[rng.randint(-5, 5) for _ in range(n)] for _ in range(n)],
            "layers": [{"type": "conv2d", "weight": [[1, 0], [0, -1]]}, {"type": "relu"},
                       {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"}],
            "loss": {"type": "sum"}}


# The command runs under a small launcher process, which sets the limit and reaps it with wait4:
# a child forked straight from pytest would count pytest's own resident pages (torch and all,
# ~0.5 GiB in a full run) in its peak, since ru_maxrss keeps the high-water mark from before exec.
LAUNCHER = """
import os, resource, subprocess, sys
limit = int(sys.argv[1])
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
with open(sys.argv[2], "w") as out, open(sys.argv[3], "w") as err:
    child = subprocess.Popen(sys.argv[4:], stdout=out, stderr=err, stdin=subprocess.DEVNULL, preexec_fn=cap)
    _, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024)
"""


def run_limited(path, tmp_path, *args: str) -> tuple[int, str, str, int]:
    """``convcalc backprop PATH ARGS`` in a subprocess under an address-space limit: exit code,
    stdout, stderr and the child's own peak resident memory in bytes (wait4's rusage)."""
    env = dict(os.environ, NO_COLOR="1", COLUMNS="80")
    env.pop("CONVCALC_MAX_MEMORY", None)
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    command = [sys.executable, "-m", "convcalc", "backprop", str(path), *args]
    launcher = subprocess.run([sys.executable, "-c", LAUNCHER, str(ADDRESS_SPACE), str(out_path),
                               str(err_path), *command],
                              env=env, capture_output=True, text=True, check=True)
    code, peak = (int(v) for v in launcher.stdout.split())
    return code, out_path.read_text(), err_path.read_text(), peak


def test_a_100x100_input_is_checked_on_a_sample_in_bounded_memory(tmp_path):
    path = tmp_path / "bp100.json"
    path.write_text(json.dumps(image_spec(100)))
    code, out, err, peak = run_limited(path, tmp_path, "--json")
    assert code == 0, err[-2000:]
    (fd,) = [c for c in json.loads(out)["checks"] if c["name"] == "finite differences"]
    assert fd["ok"] and "sampled entries" in fd["summary"]
    assert fd["sampled"] == [{"tensor": "I", "checked": MAX_CHECKED, "entries": 10_000, "seed": 0}]
    assert any("1,000 of the 10,000 entries of I" in d for d in fd["details"])
    assert peak < 500 * 2**20, f"peak resident memory {peak / 2**20:.0f} MiB"


def test_a_200x200_input_runs_without_memory_error(tmp_path):
    path = tmp_path / "bp200.json"
    path.write_text(json.dumps(image_spec(200)))
    code, out, err, _ = run_limited(path, tmp_path, "--format", "text")
    assert code == 0, err[-2000:]
    assert "over " in out and "sampled entries" in out and "1,000 of the 40,000 entries of I" in out


def test_small_tensors_are_checked_whole_and_say_nothing_of_samples(cli):
    data = cli("backprop", "-", "--json", input=cli("backprop", "--example", "course").out).json()
    (fd,) = [c for c in data["checks"] if c["name"] == "finite differences"]
    assert "sampled" not in fd and "sampled" not in fd["summary"]


def test_the_sample_is_seeded_sorted_and_without_repeats():
    first = choose_entries("I", (50, 40), np.random.default_rng(0), limit=100)
    again = choose_entries("I", (50, 40), np.random.default_rng(0), limit=100)
    assert first == again and first.sampled and first.entries == 2000
    assert len(set(first.indices)) == 100 and list(first.indices) == sorted(first.indices)
    assert all(0 <= i < 50 and 0 <= j < 40 for i, j in first.indices)
    whole = choose_entries("K", (3, 3), np.random.default_rng(0), limit=100)
    assert not whole.sampled and whole.indices == tuple(np.ndindex(3, 3))


def _quadratic_loss(values):
    x = values["x"]
    return float((x ** 2).sum() / 2), []


def test_perturbed_copies_go_through_in_chunks():
    """``many`` never sees more copies than ``copies_per_pass`` allows, and every entry is still checked."""
    x = np.arange(30.0).reshape(5, 6)
    seen = []

    def many(name, variants):
        seen.append(len(variants))
        return [_quadratic_loss({name: v}) for v in variants]

    result = gradient_check(_quadratic_loss, {"x": x}, {"x": x.copy()}, many=many, copies_per_pass=lambda name: 8)
    assert result.ok and "over 30 entries" in result.summary and not result.sampled
    assert max(seen) <= 8 and sum(seen) == 2 * 30


def test_a_wrong_gradient_is_still_caught_on_a_sample():
    x = np.linspace(-1, 1, 2500).reshape(50, 50)
    wrong = x.copy()
    wrong[::2] += 1.0  # half the rows wrong: any sample of 1,000 meets them
    result = gradient_check(_quadratic_loss, {"x": x}, {"x": wrong})
    assert not result.ok and result.sampled == (("x", MAX_CHECKED, 2500),)
    assert "✗ at x[" in result.summary and "sampled entries" in result.summary


def test_the_copies_per_pass_follow_the_network_size():
    spec = parse(image_spec(100), "test")
    from convcalc.trace.run import forward_backward, initial_arrays

    x, params = initial_arrays(spec, ())
    per_copy = check._values_per_pass(spec, forward_backward(spec, x, params))
    # conv 1→1 2x2 (10,000 in, 99² out, 4·99² columns), relu, pool (49² out, 4·49² columns), flatten
    assert per_copy == 10_000 + 99**2 + 4 * 99**2 + 2 * 99**2 + 99**2 + 49**2 + 4 * 49**2 + 2 * 49**2


def test_a_trace_above_the_memory_limit_is_refused_before_it_runs(cli, tmp_path):
    spec = {"input": [[1, 2], [3, 4]], "layers": [{"type": "conv2d", "weight": [[1]], "padding": 30000}],
            "loss": {"type": "sum"}}
    (tmp_path / "pad.json").write_text(json.dumps(spec))
    result = cli("backprop", tmp_path / "pad.json")
    assert result.code == 2 and "backprop would need about" in result.err and "TiB" in result.err
    assert "--max-memory" in result.err and "Traceback" not in result.err
    small = {**spec, "layers": [{"type": "conv2d", "weight": [[1]], "padding": 3}]}
    (tmp_path / "small.json").write_text(json.dumps(small))
    assert cli("backprop", tmp_path / "small.json", "--max-memory", "200M").code == 0
    refused = cli("backprop", tmp_path / "small.json", "--max-memory", "1K")
    assert refused.code == 2 and "the limit is 1 KiB" in refused.err


@pytest.mark.parametrize("exact", [True, False])
def test_the_trace_estimate_counts_tensors_windows_and_the_check(exact):
    spec = parse(image_spec(100), "test")
    estimate = limits.trace_estimate(spec, exact=exact)
    traced = 2 * ((10_000 + 99**2) + 2 * 99**2 + (99**2 + 49**2) + 2 * 49**2)
    windows = 2 * (4 * 100**2 + 4 * 99**2)
    entry = limits.EXACT_ENTRY if exact else limits.FLOAT_ENTRY
    assert estimate.total == limits.TRACE_ENTRY * traced + entry * windows + limits.CHECK_PASS_BYTES
    assert f"{traced:,} traced entries" in estimate.detail


def test_the_graph_form_is_estimated_and_sampled(cli, tmp_path):
    n = 40
    spec = {"inputs": {"X": [[(i * n + j) % 7 - 3 for j in range(n)] for i in range(n)]},
            "params": {"W": [[(i + 2 * j) % 5 - 2 for j in range(n)] for i in range(n)]},
            "nodes": [{"name": "Y", "op": "matmul", "inputs": ["X", "W"]}, {"name": "L", "op": "sum", "inputs": ["Y"]}]}
    (tmp_path / "g.json").write_text(json.dumps(spec))
    data = cli("backprop", tmp_path / "g.json", "--json").json()
    (fd,) = [c for c in data["checks"] if c["name"] == "finite differences"]
    assert fd["ok"] and [s["tensor"] for s in fd["sampled"]] == ["X", "W"]
    assert limits.trace_estimate(parse(spec, "g"), exact=True).total > limits.TRACE_ENTRY * 2 * 3 * n * n
