"""Benchmark: cold ``convcalc solve`` processes, against an anchor measured in the same run.

    python benchmarks/bench_solve.py [--runs 10]

Reports, measured in the same run on this machine:
* the anchor: a cold ``convcalc shape`` process (the fastest thing convcalc does);
* ``solve --in 224 --out 112`` cold (goal: < 0.3 s), and its ratio to the anchor;
* the chain plan ``solve --in 3x224x224 --out 512x7x7 --stages 5`` cold (goal: < 1 s), and its ratio;
* ``solve --rf 99 --k 3`` (three depths searched) cold, and its ratio (no goal in the issue).
The issue's goals are absolute times on an idle machine, where the anchor's own goal is
0.15 s (benchmarks/bench_shape.py). So each goal is checked as a ratio to the anchor measured
in the same run: 0.3 s / 0.15 s = 2x for one layer, 1 s / 0.15 s ≈ 6.7x for the plan; a busy
machine slows both alike. The absolute times are printed beside them. Exit status 1 if a
ratio goal is missed.
"""

from __future__ import annotations

import argparse
import statistics

from timing import convcalc_command, wall

ANCHOR_GOAL = 0.15  # seconds: bench_shape.py's goal for the anchor command
ANCHOR = ["shape", "--in", "3x32x32", "--k", "5", "--stride", "2", "--out", "2", "--format", "plain"]
CASES = [
    ("solve --in 224 --out 112", ["solve", "--in", "224", "--out", "112", "--format", "text"], 0.3),
    ("solve --in 3x224x224 --out 512x7x7 --stages 5",
     ["solve", "--in", "3x224x224", "--out", "512x7x7", "--stages", "5", "--format", "text"], 1.0),
    ("solve --rf 99 --k 3", ["solve", "--rf", "99", "--k", "3", "--format", "text"], None),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    cmd = convcalc_command()
    missed = []

    wall(cmd + ANCHOR, 2)  # warm the file cache, as a user's second call would be
    anchor = statistics.median(wall(cmd + ANCHOR, args.runs))
    print(f"anchor: convcalc shape (cold process, median of {args.runs}): {anchor * 1000:.0f} ms")
    for what, case, goal in CASES:
        wall(cmd + case, 1)
        ours = statistics.median(wall(cmd + case, args.runs))
        ratio = ours / anchor
        target = (f"goal ≤ {goal / ANCHOR_GOAL:.1f}x (the issue's {goal * 1000:.0f} ms at the anchor's "
                  f"{ANCHOR_GOAL * 1000:.0f} ms)" if goal is not None else "no goal")
        print(f"{what} (cold, median of {args.runs}): {ours * 1000:.0f} ms, {ratio:.2f}x the anchor   {target}")
        if goal is not None and ratio > goal / ANCHOR_GOAL:
            missed.append(what)

    print("all goals met" if not missed else f"missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
