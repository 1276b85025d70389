"""Benchmark: issue 18's table — start-up, long chains, batch grading, symbolic traces — each row
as a ratio to a reference measured in the same run, with its goal, and the scaling tables.

    python benchmarks/bench_scale.py [--runs 7] [--chains 1000,10000,100000] [--backprop 16,32,48]
                                     [--rows start-up,chains,jsonl,symbolic,backprop]

Cold processes of the installed ``convcalc`` (``python -m compileall`` first, so the package
has its bytecode as an installed one would). Rows:
* ``shape --in 3x32x32 --k 5 --stride 2 --out 2`` against a bare ``python -c pass`` (goal ≤ 5×)
  and a torch one-liner building and running the same layer (goal ≤ 0.04×); the medians of
  paired runs (each round runs all three, so a busy moment hits them alike);
* ``arch --json`` on conv/relu chains read from a text file (1,000 … 100,000 layers) against
  ``arch`` of a one-layer chain from a file (its start-up) in the same rounds: seconds, the ratio
  to the start-up, µs a layer above it and the growth against linear (goals: 10,000 ≤ 0.4 s,
  100,000 ≤ 4 s, linear); beside them the 10,000-layer chain as the plain-text table, and a chain
  of 10,000 different layers (no two segments alike, so no layer's analysis is shared: the cost
  of a layer seen once), for information;
* ``shape --jsonl`` on 30,000 lines against a plain script computing the same output sizes with
  the engine's own size rule (goal ≤ 1.2 s): a file, which is shared among the processors, judged
  on wall time; the same lines on stdin (one process) for information;
* ``backprop --symbolic K`` of the course network on 16×16 (goal ≤ 1 s), and the numeric trace
  (with its finite-difference check) on n×n inputs (goal: 128×128 ≤ 5 s, memory linear in the
  input): seconds and peak memory of the process.
Wall times on a shared machine swing with its load: the CPU seconds of each child are shown in
brackets, and the rows that have no second program to pair with (chains, batches, traces) are
judged on them (single-threaded work: on a quiet machine wall ≈ CPU). Start-up is judged on wall
time against its paired references.
The executor rows are ``bench_executor.py``. Exit status 1 if a goal is missed.
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

from bench_shape import SHAPE_ARGS, TORCH_ONE_LINER, jsonl_batch
from timing import convcalc_command

ROOT = Path(__file__).resolve().parent.parent

PLAIN_SCRIPT = r"""
import json, sys
from convcalc.engine.axis import conv_output_size
for line in open(sys.argv[1]):
    d = json.loads(line)
    c, h, w = map(int, d["in"].split("x"))
    k, s, p = d["k"], d["stride"], d.get("pad", 0)
    o = conv_output_size(h, k, s, p, p, 1)
    print(json.dumps({"output": [d.get("out", c), o, o], "params": d.get("out", c) * c * k * k}))
"""


def timed(cmd: list[str], **kwargs) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and peak resident KiB of one child process."""
    start = time.perf_counter()
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs) as child:
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def medians(cases: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float, int]]:
    """Each case once per round, ``runs`` rounds: medians of wall, CPU and peak memory."""
    seen: dict[str, list[tuple[float, float, int]]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, cmd in cases.items():
            seen[name].append(timed(cmd))
    return {name: (statistics.median(w for w, _, _ in t), statistics.median(c for _, c, _ in t),
                   max(m for _, _, m in t)) for name, t in seen.items()}


def row(what: str, value: str, reference: str, goal: str, ok: bool, missed: list[str]) -> None:
    print(f"{what:<44} {value:>22} {reference:>28}  {goal:<22} {'✓' if ok else '✗'}")
    if not ok:
        missed.append(what)


def chain_file(folder: Path, layers: int) -> Path:
    path = folder / f"chain{layers}.txt"
    path.write_text("8x32x32\n" + "\n".join("conv 8 k3 p1" if i % 2 == 0 else "relu" for i in range(layers)) + "\n")
    return path


def distinct_chain_file(folder: Path, layers: int) -> Path:
    """Conv/relu pairs whose convs all differ (their output channels), so each is analysed once."""
    path = folder / f"distinct{layers}.txt"
    path.write_text("8x32x32\n" + "\n".join(f"conv {8 + i // 2} k3 p1" if i % 2 == 0 else "relu" for i in range(layers))
                    + "\n")
    return path


def course_spec(n: int) -> dict:
    """The course exercise (conv 3x3 → ReLU → 2x2 max-pool → linear → ½·squared error) on n×n."""
    features = ((n - 2) // 2) ** 2
    return {"title": f"course network on {n}x{n}",
            "input": [[(3 * i + 5 * j) % 4 for j in range(n)] for i in range(n)],
            "layers": [{"type": "conv2d", "weight": [[1, 0, -1], [0, 1, 0], [-1, 0, 1]]}, {"type": "relu"},
                       {"type": "maxpool2d", "kernel_size": 2, "stride": 2}, {"type": "flatten"},
                       {"type": "linear", "weight": [[(i + j) % 3 - 1 for j in range(features)] for i in range(2)]}],
            "loss": {"type": "mse_half_sum", "target": [7, 10]}, "lr": "1/10"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--chains", default="1000,10000,100000")
    parser.add_argument("--backprop", default="16,32,48",
                        help="n of the n×n numeric traces (the issue's table: 16,32,64,128)")
    parser.add_argument("--rows", default="start-up,chains,jsonl,symbolic,backprop",
                        help="which groups of rows to measure (comma-separated)")
    args = parser.parse_args()
    rows = set(args.rows.split(","))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "convcalc")], check=False)
    cmd = convcalc_command()
    missed: list[str] = []
    print(f"{'case':<44} {'convcalc (cpu)':>22} {'reference':>28}  {'goal':<22}")

    if "start-up" in rows:
        t = medians({"shape": cmd + SHAPE_ARGS, "bare": [sys.executable, "-c", "pass"],
                     "torch": [sys.executable, "-c", TORCH_ONE_LINER]}, args.runs)
        ours, bare, torch_ = t["shape"][0], t["bare"][0], t["torch"][0]
        row("shape start-up / bare interpreter", f"{ours * 1000:.0f} ms ({t['shape'][1] * 1000:.0f})",
            f"python -c pass {bare * 1000:.0f} ms", f"{ours / bare:.2f}× (≤ 5×)", ours / bare <= 5, missed)
        row("shape start-up / torch one-liner", f"{ours * 1000:.0f} ms", f"torch {torch_ * 1000:.0f} ms",
            f"{ours / torch_:.3f}× (≤ 0.04×)", ours / torch_ <= 0.04, missed)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "chains" in rows:
            sizes = [int(n) for n in args.chains.split(",")]
            cases = {str(n): cmd + ["arch", str(chain_file(folder, n)), "--json"] for n in sizes}
            cases["start-up"] = cmd + ["arch", str(chain_file(folder, 1)), "--json"]
            cases["table"] = cmd + ["arch", str(chain_file(folder, 10000))]  # piped: the plain-text table
            cases["distinct"] = cmd + ["arch", str(distinct_chain_file(folder, 10000)), "--json"]
            chains = medians(cases, max(1, args.runs // 3))
            start_cpu = chains["start-up"][1]
            reference = sizes[1] if len(sizes) > 1 else sizes[0]  # large enough to dwarf the start-up's noise
            for n in sizes:  # CPU seconds: what a busy machine's load does not inflate
                wall, cpu, _ = chains[str(n)]
                goal = {10000: 0.4, 100000: 4.0}.get(n)
                row(f"arch --json, {n:,}-layer chain (file)", f"{wall:.2f} s ({cpu:.2f})",
                    f"1-layer chain {start_cpu:.2f} s cpu",
                    f"{cpu / start_cpu:.1f}×" + (f", ≤ {goal} s" if goal else ""),
                    goal is None or cpu <= goal, missed)
            for name, what in (("table", "arch table, 10,000-layer chain"),
                               ("distinct", "arch --json, 10,000 distinct layers")):
                wall, cpu, _ = chains[name]
                row(what, f"{wall:.2f} s ({cpu:.2f})", f"1-layer chain {start_cpu:.2f} s cpu",
                    f"{cpu / start_cpu:.1f}× (information)", True, missed)

            print(f"\n{'arch --json, chain from a file':<32} {'wall':>8} {'cpu':>8} {'µs cpu a layer':>16} "
                  f"{f'per layer / {reference:,}':>18}")
            print(f"{'1 layer (start-up)':<32} {chains['start-up'][0]:7.2f}s {start_cpu:7.2f}s")
            base = (chains[str(reference)][1] - start_cpu) / reference
            for n in sizes:
                wall, cpu, _ = chains[str(n)]
                per_layer = (cpu - start_cpu) / n  # above the start-up
                growth = per_layer / base if base > 0 else float("nan")
                print(f"{f'{n:,} layers':<32} {wall:7.2f}s {cpu:7.2f}s {per_layer * 1e6:16.1f} {f'×{growth:.2f}':>18}")
                if n > reference and growth > 1.5:  # linear: a layer costs no more in a deeper chain
                    missed.append(f"arch linear at {n:,} layers")
            print()

        if "jsonl" in rows:
            lines = folder / "batch.jsonl"
            lines.write_text(jsonl_batch(30000))
            script = folder / "plain.py"
            script.write_text(PLAIN_SCRIPT)
            import shlex

            serial = " ".join(shlex.quote(c) for c in cmd + ["shape", "--jsonl", "-"]) + f" < {shlex.quote(str(lines))}"
            b = medians({"jsonl": cmd + ["shape", "--jsonl", str(lines)],
                         "serial": ["sh", "-c", serial],
                         "plain": [sys.executable, str(script), str(lines)]}, max(1, args.runs // 3))
            # a file this large is shared among the processors (wall time is the user's wait; the
            # CPU seconds add up the workers'); the same lines on stdin are read by one process
            workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
            row(f"shape --jsonl, 30,000 lines ({workers} processes)", f"{b['jsonl'][0]:.2f} s ({b['jsonl'][1]:.2f})",
                f"plain script {b['plain'][1]:.2f} s cpu", f"{b['jsonl'][0] / b['plain'][1]:.1f}×, ≤ 1.2 s",
                b["jsonl"][0] <= 1.2, missed)
            print(f"{'  the same lines on stdin (one process)':<44} {b['serial'][0]:>16.2f} s ({b['serial'][1]:.2f})")

        if "symbolic" in rows:
            spec16 = folder / "course16.json"
            spec16.write_text(json.dumps(course_spec(16)))
            s = medians({"symbolic": cmd + ["backprop", str(spec16), "--symbolic", "K", "--format", "text"],
                         "numeric": cmd + ["backprop", str(spec16), "--format", "text"]}, max(1, args.runs // 3))
            row("backprop --symbolic K, 16×16", f"{s['symbolic'][0]:.2f} s ({s['symbolic'][1]:.2f})",
                f"numeric trace {s['numeric'][1]:.2f} s cpu", f"{s['symbolic'][1] / s['numeric'][1]:.1f}×, ≤ 1 s",
                s["symbolic"][1] <= 1, missed)

        if "backprop" in rows:
            print(f"\n{'backprop trace, n×n':<24} {'wall':>8} {'cpu':>8} {'peak memory':>12}")
            for n in (int(v) for v in args.backprop.split(",")):
                spec = folder / f"course{n}.json"
                spec.write_text(json.dumps(course_spec(n)))
                wall, cpu, peak = medians({"n": cmd + ["backprop", str(spec), "--format", "text"]}, 1)["n"]
                print(f"{f'{n}×{n}':<24} {wall:7.2f}s {cpu:7.2f}s {peak / 1024:9.0f} MiB")
                if n == 128 and cpu > 5:
                    missed.append("backprop 128×128")

    print("all goals met" if not missed else f"missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
