"""Benchmark: cold ``convcalc shape`` processes against PyTorch doing the same job.

    python benchmarks/bench_shape.py [--runs 20]

Reports, measured in the same run on this machine:
* the median wall time of a cold ``convcalc shape`` process (goal: < 0.15 s);
* the median of a Python one-liner that builds and runs the same layer in PyTorch, and the
  ratio (goal: convcalc ≤ 1/10 of PyTorch's time);
* a ``--jsonl`` batch of 3,000 layers (goal: < 2 s);
* which heavy modules the plain path imports (goal: none of sympy, torch, numpy).
Exit status 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import convcalc_command, ratio_to_torch, wall

SHAPE_ARGS = ["shape", "--in", "3x32x32", "--k", "5", "--stride", "2", "--out", "2", "--format", "plain"]
TORCH_ONE_LINER = (
    "import torch; m = torch.nn.Conv2d(3, 2, 5, stride=2); "
    "print('x'.join(map(str, m(torch.zeros(1, 3, 32, 32)).shape[1:])))"
)


def jsonl_batch(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        op = rng.choice(["conv", "maxpool", "avgpool", "conv-transpose"])
        size = rng.randint(8, 64)
        k = rng.randint(1, 5)
        entry = {"op": op, "in": f"{rng.randint(1, 64)}x{size}x{size}", "k": k, "stride": rng.randint(1, 3)}
        if op.startswith("conv"):
            entry["out"] = rng.randint(1, 64)
            entry["pad"] = rng.randint(0, k - 1)
        else:
            entry["pad"] = rng.randint(0, k // 2)
        lines.append(json.dumps(entry))
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    cmd = convcalc_command()
    missed = []

    wall(cmd + SHAPE_ARGS, 2)  # warm the file cache, as a user's second call would be
    ours = statistics.median(wall(cmd + SHAPE_ARGS, args.runs))
    print(f"convcalc shape (cold process, median of {args.runs}): {ours * 1000:.0f} ms   goal < 150 ms")
    if ours >= 0.15:
        missed.append("shape latency")

    if not ratio_to_torch(ours, TORCH_ONE_LINER, max(3, args.runs // 4), "PyTorch one-liner (same layer)"):
        missed.append("ratio against PyTorch")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "layers.jsonl"
        path.write_text(jsonl_batch(3000))
        batch = min(wall(cmd + ["shape", "--jsonl", str(path)], 3))
    print(f"--jsonl batch of 3,000 layers (best of 3): {batch:.2f} s   goal < 2 s")
    if batch >= 2:
        missed.append("jsonl batch")

    probe = (
        f"import sys; from convcalc.cli.app import main; sys.argv = ['convcalc'] + {SHAPE_ARGS!r}\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print([m for m in ('sympy', 'torch', 'numpy') if m in sys.modules], file=sys.stderr)"
    )
    heavy = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stderr.strip()
    print(f"heavy modules imported on the plain path: {heavy}   goal []")
    if heavy != "[]":
        missed.append("imports")

    print("all goals met" if not missed else f"missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
