"""Benchmark: cold ``convcalc backprop`` processes on the course's networks.

    python benchmarks/bench_backprop.py [--runs 5] [--sizes 16,32,64,128]

Reports the median wall time and CPU seconds of
* the full numeric trace of the course exercise (conv → ReLU → max-pool → linear, with the
  finite-difference check), goal < 0.5 s;
* the symbolic trace (every parameter a symbol) of a 5x5 input, 3x3 kernel, 2x2 pool, linear
  network, goal < 3 s;
* ``--symbolic K`` of the course network on a 16×16 input (issue 18), goal ≤ 1 s, judged on CPU
  seconds (single-threaded work: on a quiet machine wall ≈ CPU, on a busy one only the wall
  grows), against the numeric trace of the same spec measured in the same rounds;
* for scale, the same numeric trace with ``--verify torch`` (no goal: torch's import alone
  takes most of it);
and a scaling table of the numeric trace (with its finite-difference check) of the course
network on n×n inputs, 16² … 128²: wall, CPU, peak resident memory (``ru_maxrss`` of the child),
and how each grows against the input (goal: 128×128 ≤ 5 s, memory linear in the input, i.e. the
memory above the interpreter's grows no faster than n²). Exit status 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import convcalc_command

ROOT = Path(__file__).resolve().parent.parent
#: The children import convcalc from this tree (the console script of an editable install
#: elsewhere would run that install's code).
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))

GOALS = {"numeric course exercise": 0.5, "symbolic 5x5 / 3x3 / 2x2-pool / linear": 3.0,
         "--symbolic K, course network 16×16": 1.0}
LARGEST_GOAL = 5.0  # seconds for the 128×128 numeric trace


def course_spec(n: int) -> dict:
    """The course exercise (conv 3x3 → ReLU → 2x2 max-pool → linear → ½·squared error) on n×n,
    with a fixed integer input pattern (the same spec ``bench_scale.py`` uses)."""
    features = ((n - 2) // 2) ** 2
    return {"title": f"course network on {n}x{n}",
            "input": [[(3 * i + 5 * j) % 4 for j in range(n)] for i in range(n)],
            "layers": [{"type": "conv2d", "weight": [[1, 0, -1], [0, 1, 0], [-1, 0, 1]]}, {"type": "relu"},
                       {"type": "maxpool2d", "kernel_size": 2, "stride": 2}, {"type": "flatten"},
                       {"type": "linear", "weight": [[(i + j) % 3 - 1 for j in range(features)] for i in range(2)]}],
            "loss": {"type": "mse_half_sum", "target": [7, 10]}, "lr": "1/10"}


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak resident bytes of one child process."""
    start = time.perf_counter()
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV) as child:
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        raise SystemExit(f"failed ({child.returncode}): {' '.join(cmd)}")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def medians(cases: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float, int]]:
    """Each case once per round, ``runs`` rounds (a busy moment hits them alike): medians of
    wall and CPU, the largest peak memory."""
    seen: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, cmd in cases.items():
            seen[name].append(timed(cmd))
    return {name: (statistics.median(w for w, _, _ in t), statistics.median(c for _, c, _ in t),
                   max(m for _, _, m in t)) for name, t in seen.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="16,32,64,128", help="n of the n×n numeric traces in the scaling table")
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "convcalc")], check=False)
    cmd = convcalc_command()
    missed = []
    with tempfile.TemporaryDirectory() as tmp:
        specs = {}
        for name in ("course", "course-5x5"):
            text = subprocess.run(cmd + ["backprop", "--example", name], capture_output=True, text=True,
                                  check=True, env=ENV).stdout
            specs[name] = Path(tmp) / f"{name}.json"
            specs[name].write_text(text, encoding="utf-8")
        specs["16"] = Path(tmp) / "course16.json"
        specs["16"].write_text(json.dumps(course_spec(16)), encoding="utf-8")
        cases = {
            "numeric course exercise": cmd + ["backprop", str(specs["course"]), "--format", "text"],
            "symbolic 5x5 / 3x3 / 2x2-pool / linear": cmd + ["backprop", str(specs["course-5x5"]), "--symbolic",
                                                            "--format", "text"],
            "--symbolic K, course network 16×16": cmd + ["backprop", str(specs["16"]), "--symbolic", "K",
                                                        "--format", "text"],
            "numeric trace, course network 16×16": cmd + ["backprop", str(specs["16"]), "--format", "text"],
        }
        import importlib.util

        if importlib.util.find_spec("torch") is not None:  # not imported: the children would inherit its pages
            cases["numeric course exercise + --verify torch"] = cmd + ["backprop", str(specs["course"]), "--format",
                                                                       "text", "--verify", "torch"]
        print(f"{'case':45} {'wall':>8} {'cpu':>8}  goal (cpu)")
        measured = medians(cases, args.runs)
        for label, (wall, cpu, _) in measured.items():
            goal = GOALS.get(label)
            verdict = "" if goal is None else f"≤ {goal:.1f} s {'✓' if cpu <= goal else '✗'}"
            if goal is not None and cpu > goal:
                missed.append(label)
            print(f"{label:45} {wall:7.3f}s {cpu:7.3f}s  {verdict}")
        symbolic = measured["--symbolic K, course network 16×16"]
        numeric = measured["numeric trace, course network 16×16"]
        print(f"  --symbolic K / numeric trace of the same spec: {symbolic[1] / numeric[1]:.2f}× (cpu)")

        print(f"\nnumeric trace of the course network on n×n (finite-difference check included), "
              f"median of {max(1, args.runs // 2)}")
        print(f"{'input':>9} {'entries':>8} {'wall':>8} {'cpu':>8} {'peak memory':>12} {'cpu ×':>7} {'memory ×':>9} "
              f"{'input ×':>8}")
        base = None
        bare = timed([sys.executable, "-c", "import numpy"])[2]  # the interpreter and numpy alone
        for n in (int(v) for v in args.sizes.split(",")):
            spec = Path(tmp) / f"course{n}.json"
            spec.write_text(json.dumps(course_spec(n)), encoding="utf-8")
            wall, cpu, peak = medians({"n": cmd + ["backprop", str(spec), "--format", "text"]},
                                      max(1, args.runs // 2))["n"]
            if base is None:
                base = (n, cpu, max(peak - bare, 1))
            growth_cpu, growth_mem, growth_in = cpu / base[1], max(peak - bare, 1) / base[2], (n / base[0]) ** 2
            print(f"{f'{n}×{n}':>9} {n * n:8,} {wall:7.2f}s {cpu:7.2f}s {peak / 2**20:8.0f} MiB {growth_cpu:6.1f}× "
                  f"{growth_mem:8.1f}× {growth_in:7.0f}×")
            if n == 128 and cpu > LARGEST_GOAL:
                missed.append(f"backprop 128×128 ({cpu:.2f} s cpu > {LARGEST_GOAL} s)")
            if growth_mem > 1.5 * growth_in and n > base[0]:
                missed.append(f"backprop memory at {n}×{n} grows faster than the input")
        print(f"(memory × is the peak above the interpreter with numpy, {bare / 2**20:.0f} MiB, against the first "
              "size's; input × the number of input entries against the first size's)")
    if missed:
        print(f"missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    print("all goals met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
