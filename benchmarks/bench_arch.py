"""Benchmark: ``convcalc arch`` against PyTorch building and summarising the same network.

    python benchmarks/bench_arch.py [--runs 10]

Reports, measured in the same run on this machine:
* the median wall time of a cold ``convcalc arch resnet152 --json`` process (goal: < 0.4 s);
* the median of a cold Python process that builds the same ResNet-152 in torch.nn (our own
  builder, no torchvision), runs it once on zeros with shape hooks and counts its parameters,
  and the ratio (goal: convcalc ≤ 1/10 of it);
* walks of synthetic conv/relu chains of 1,250 to 10,000 layers (goal: 10,000 in < 1 s, the
  cost growing linearly with depth).
Exit status 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import statistics
import time

from timing import convcalc_command, ratio_to_torch, wall

TORCH_SUMMARY = """
import torch
from convcalc import zoo
from convcalc.network.torch_build import build_torch
model = build_torch(zoo.get("resnet152"))
shapes = []
for m in model.modules():
    if not list(m.children()):
        m.register_forward_hook(lambda mod, i, o: shapes.append(tuple(o.shape)))
with torch.no_grad():
    model(torch.zeros(1, 3, 224, 224))
print(sum(p.numel() for p in model.parameters()), len(shapes))
"""


def chain_seconds(layers: int) -> float:
    from convcalc.network.build import conv, relu, seq
    from convcalc.network.model import Network
    from convcalc.network.walk import walk

    body = seq(*[conv(8, 3, pad=1) if i % 2 == 0 else relu() for i in range(layers)])
    network = Network(f"chain{layers}", (8, 32, 32), body)
    start = time.perf_counter()
    report = walk(network)
    elapsed = time.perf_counter() - start
    assert len(report.leaves()) == layers
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    cmd = convcalc_command() + ["arch", "resnet152", "--json"]
    missed = []

    wall(cmd, 1)
    ours = statistics.median(wall(cmd, args.runs))
    print(f"convcalc arch resnet152 --json (cold, median of {args.runs}): {ours * 1000:.0f} ms   goal < 400 ms")
    if ours >= 0.4:
        missed.append("arch latency")

    if not ratio_to_torch(ours, TORCH_SUMMARY, max(3, args.runs // 3),
                          "torch.nn build + forward + summary of ResNet-152"):
        missed.append("ratio against PyTorch")

    timings = {n: min(chain_seconds(n) for _ in range(3)) for n in (1250, 2500, 5000, 10000)}
    for n, seconds in timings.items():
        print(f"walk of a {n:>6,}-layer chain: {seconds * 1000:7.1f} ms   ({seconds / n * 1e6:.1f} µs per layer)")
    growth = timings[10000] / timings[1250]
    print(f"10,000 / 1,250 layers time ratio: {growth:.1f}   (linear ≈ 8)   goal: 10,000 layers < 1 s")
    if timings[10000] >= 1 or growth > 12:
        missed.append("chain walk")

    print("all goals met" if not missed else f"missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
