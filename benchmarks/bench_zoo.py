"""Benchmark: the big zoo networks and the zoo list, cold.

    python benchmarks/bench_zoo.py [--runs 11]

Reports, measured in the same run on this machine (median of cold processes, one warm-up):
* ``convcalc arch vit_h_14 --json`` and ``convcalc arch regnet_y_128gf --json`` (goal: < 0.5 s);
* ``convcalc arch --list`` (goal: < 0.2 s);
* the bare interpreter (``python -c pass``) and what each command takes beyond it — the part
  convcalc is responsible for — in wall time and in CPU time (user + system, which a loaded
  machine inflates far less);
* each against the anchor ``convcalc arch resnet152 --json`` (its own goal is < 0.4 s, see
  bench_arch.py): the ratios stay meaningful on a loaded machine (goals: ≤ 1.25 for the big
  networks, ≤ 0.5 for the list).
Exit status 1 if a goal is missed. Run it as a user would: with bytecode caching on (unset
PYTHONDONTWRITEBYTECODE), else every run compiles every module it imports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

from timing import convcalc_command, wall

CASES = [  # (arguments, absolute goal in seconds, goal as a ratio to the anchor)
    (["arch", "vit_h_14", "--json"], 0.5, 1.25),
    (["arch", "regnet_y_128gf", "--json"], 0.5, 1.25),
    (["arch", "--list"], 0.2, 0.5),
]
ANCHOR = ["arch", "resnet152", "--json"]


def median(args: list[str], runs: int, cmd: list[str] | None = None) -> float:
    cmd = (convcalc_command() if cmd is None else cmd) + args
    wall(cmd, 1)
    return statistics.median(wall(cmd, runs))


def cpu_median(args: list[str], runs: int, cmd: list[str] | None = None) -> float:
    """Median CPU seconds (user + system) of ``runs`` fresh processes: on a machine other work
    keeps busy, wall time mostly measures the wait for a core; CPU time what the run costs."""
    cmd = (convcalc_command() if cmd is None else cmd) + args
    times = []
    for _ in range(runs):
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(child.pid, 0)
        times.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    bare = median(["-c", "pass"], args.runs, [sys.executable])
    bare_cpu = cpu_median(["-c", "pass"], args.runs, [sys.executable])
    print(f"bare interpreter: python -c pass (cold, median of {args.runs}): {bare * 1000:.0f} ms, "
          f"CPU {bare_cpu * 1000:.0f} ms")
    anchor = median(ANCHOR, args.runs)
    print(f"anchor: convcalc {' '.join(ANCHOR)} (cold, median of {args.runs}): {anchor * 1000:.0f} ms")
    missed = []
    for case, goal, ratio_goal in CASES:
        ours = median(case, args.runs)
        cpu = cpu_median(case, args.runs)
        ratio = ours / anchor
        print(f"convcalc {' '.join(case):32s} {ours * 1000:6.0f} ms  goal < {goal * 1000:.0f} ms   "
              f"beyond the interpreter {(ours - bare) * 1000:4.0f} ms (CPU {cpu * 1000:.0f} ms, "
              f"{(cpu - bare_cpu) * 1000:.0f} ms beyond)   ratio to anchor {ratio:.2f}  goal ≤ {ratio_goal}")
        if ours >= goal or ratio > ratio_goal:
            missed.append(" ".join(case))
    print("all goals met" if not missed else f"missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
