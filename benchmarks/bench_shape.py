"""Benchmark: cold ``convcalc shape`` processes against a bare interpreter and PyTorch.

    python benchmarks/bench_shape.py [--runs 20]

Reports, measured in the same run on this machine, in paired rounds (each round runs every
command once, so a round's commands share the machine's load; ratios are the median over
rounds):
* a cold ``convcalc shape --in 3x32x32 --k 5 --stride 2 --out 2`` process against a bare
  interpreter (``python -c pass``; goal: ≤ 5×) and against a Python one-liner that builds and
  runs the same layer in PyTorch (goal: ≤ 0.04×); the medians in ms beside them;
* ``python -c "import typer"`` beside them: the CLI library's own start-up, the floor of any
  typer command (reported, no goal);
* a ``--jsonl`` batch of 3,000 layers (goal: < 2 s);
* which heavy modules the plain path imports (goal: none of sympy, torch, numpy).
Exit status 1 if a goal is missed. The package is byte-compiled first, as ``pip install``
does (with PYTHONDONTWRITEBYTECODE set, every cold process would compile what changed).
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import convcalc_command, median_ratio, paired, wall

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


def has_torch() -> bool:
    try:
        return importlib.util.find_spec("torch") is not None
    except ValueError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    cmd = convcalc_command()
    missed = []

    import convcalc

    compileall.compile_dir(Path(convcalc.__file__).parent, quiet=1)
    wall(cmd + SHAPE_ARGS, 2)  # warm the file cache, as a user's second call would be
    commands = {"bare": [sys.executable, "-c", "pass"], "typer": [sys.executable, "-c", "import typer"],
                "shape": cmd + SHAPE_ARGS}
    if has_torch():
        commands["torch"] = [sys.executable, "-c", TORCH_ONE_LINER]
        wall(commands["torch"], 1)
    times = paired(commands, args.runs)
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"cold processes, {args.runs} paired rounds (median ms): "
          + ", ".join(f"{name} {ms:.0f}" for name, ms in medians.items()))
    to_bare = median_ratio(times["shape"], times["bare"])
    print(f"convcalc shape / bare interpreter (python -c pass): {to_bare:.2f}×   goal ≤ 5×")
    if to_bare > 5:
        missed.append("ratio to the bare interpreter")
    print(f"import typer alone / bare interpreter: {median_ratio(times['typer'], times['bare']):.2f}×   (no goal)")
    if "torch" in times:
        to_torch = median_ratio(times["shape"], times["torch"])
        print(f"convcalc shape / PyTorch one-liner (same layer): {to_torch:.3f}×   goal ≤ 0.04×")
        if to_torch > 0.04:
            missed.append("ratio to PyTorch")
        print("import typer alone / PyTorch one-liner: "
              f"{median_ratio(times['typer'], times['torch']):.3f}×   (no goal)")
    else:
        print("PyTorch not installed: the ratio to the one-liner is not measured")

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
