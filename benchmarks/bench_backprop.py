"""Benchmark: cold ``convcalc backprop`` processes on the course's networks.

    python benchmarks/bench_backprop.py [--runs 5]

Reports the median wall time of
* the full numeric trace of the course exercise (conv → ReLU → max-pool → linear, with the
  finite-difference check), goal < 0.5 s;
* the symbolic trace (every parameter a symbol) of a 5x5 input, 3x3 kernel, 2x2 pool, linear
  network, goal < 3 s;
and, for scale, the same numeric trace with ``--verify torch`` (no goal: torch's import alone
takes most of it). Exit status 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import convcalc_command, wall

GOALS = {"numeric course exercise": 0.5, "symbolic 5x5 / 3x3 / 2x2-pool / linear": 3.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cmd = convcalc_command()
    with tempfile.TemporaryDirectory() as tmp:
        specs = {}
        for name in ("course", "course-5x5"):
            text = subprocess.run(
                cmd + ["backprop", "--example", name], capture_output=True, text=True, check=True
            ).stdout
            specs[name] = Path(tmp) / f"{name}.json"
            specs[name].write_text(text, encoding="utf-8")
        cases = {
            "numeric course exercise": cmd + ["backprop", str(specs["course"]), "--format", "text"],
            "symbolic 5x5 / 3x3 / 2x2-pool / linear": cmd
            + ["backprop", str(specs["course-5x5"]), "--symbolic", "--format", "text"],
        }
        try:
            import torch  # noqa: F401

            cases["numeric course exercise + --verify torch"] = cmd + [
                "backprop",
                str(specs["course"]),
                "--format",
                "text",
                "--verify",
                "torch",
            ]
        except ImportError:
            pass
        missed = []
        print(f"{'case':45} {'median':>8} {'min':>8}  goal")
        for label, command in cases.items():
            times = wall(command, args.runs)
            median = statistics.median(times)
            goal = GOALS.get(label)
            verdict = "" if goal is None else (f"< {goal:.1f} s ✓" if median < goal else f"< {goal:.1f} s ✗")
            if goal is not None and median >= goal:
                missed.append(label)
            print(f"{label:45} {median:7.3f}s {min(times):7.3f}s  {verdict}")
    if missed:
        print(f"missed: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
