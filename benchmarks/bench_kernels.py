"""Benchmark: the NumPy windowed kernels against PyTorch CPU, measured in the same run.

    python benchmarks/bench_kernels.py [--runs 7]

Cases (float32, both libraries at their default thread counts):
* conv 64→64 channels, 3x3, padding 1, on 8x64x56x56: forward + backward (input, weight and
  bias gradients). Goal: NumPy ≤ 2x PyTorch's time.
* 2x2 max pooling (stride 2) on the same tensor: forward + backward (reported, no goal).
Each case is warmed up, then timed ``--runs`` times in a child process per library: in one
process, the threads one library leaves spinning after a parallel region (torch's OpenMP,
OpenBLAS) steal the two cores from the other and make both look several times slower. The
children alternate for ``--rounds`` rounds so both see the same machine load; the medians
over all rounds and their ratio are printed. Exit status 1 if the conv goal is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

from convcalc.layers.conv import Conv
from convcalc.layers.pool import MaxPool

SHAPE = (8, 64, 56, 56)
CONV_GOAL = 2.0


def median_seconds(step, runs: int) -> float:
    step()  # warm-up: page faults, thread pools
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def numpy_steps():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE, dtype=np.float32)
    conv = Conv(rank=2, out_channels=64, kernel_size=3, padding=1)
    params = {k: rng.standard_normal(s, dtype=np.float32) * 0.05 for k, s in conv.parameter_shapes(SHAPE).items()}
    grad = rng.standard_normal(SHAPE, dtype=np.float32)
    pool = MaxPool(rank=2, kernel_size=2)
    pool_grad = rng.standard_normal((8, 64, 28, 28), dtype=np.float32)

    def conv_step():
        forward = conv.forward(x, params)
        conv.backward(grad, forward.cache)

    def pool_step():
        forward = pool.forward(x, {})
        pool.backward(pool_grad, forward.cache)

    return conv_step, pool_step


def torch_steps():
    import torch

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(SHAPE, generator=gen, requires_grad=True)
    weight = (torch.randn(64, 64, 3, 3, generator=gen) * 0.05).requires_grad_()
    bias = torch.randn(64, generator=gen).requires_grad_()
    grad = torch.randn(SHAPE, generator=gen)
    pool_grad = torch.randn(8, 64, 28, 28, generator=gen)

    def conv_step():
        x.grad = weight.grad = bias.grad = None
        torch.nn.functional.conv2d(x, weight, bias, padding=1).backward(grad)

    def pool_step():
        x.grad = None
        torch.nn.functional.max_pool2d(x, 2).backward(pool_grad)

    return conv_step, pool_step, torch.get_num_threads()


def measure(library: str, runs: int) -> dict:
    """Median seconds per case for one library, timed in this process."""
    if library == "numpy":
        steps = numpy_steps()
        info = {}
    else:
        *steps, threads = torch_steps()
        info = {"threads": threads}
    import resource

    times = {"conv": median_seconds(steps[0], runs), "pool": median_seconds(steps[1], runs)}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return info | times | {"peak_mb": peak}


def measure_in_child(library: str, runs: int) -> dict | None:
    done = subprocess.run([sys.executable, __file__, "--child", library, "--runs", str(runs)],
                          check=False, capture_output=True, text=True)
    if done.returncode != 0:
        if library == "torch" and "ModuleNotFoundError" in done.stderr:
            return None
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=["numpy", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.runs)))
        return 0
    rounds: dict[str, list[dict]] = {"numpy": [], "torch": []}
    for _ in range(args.rounds):
        for library, results in rounds.items():
            result = measure_in_child(library, args.runs)
            if result is None:
                print("torch is not installed: nothing to compare against")
                return 0
            results.append(result)
    ours = {key: statistics.median(r[key] for r in rounds["numpy"]) for key in ("conv", "pool")}
    theirs = {key: statistics.median(r[key] for r in rounds["torch"]) for key in ("conv", "pool")}
    print(f"float32, input {'x'.join(map(str, SHAPE))}; torch threads {rounds['torch'][0]['threads']}; "
          f"median of {args.rounds} rounds x {args.runs} runs")
    peaks = {library: max(r["peak_mb"] for r in results) for library, results in rounds.items()}
    print(f"peak memory of the process (both cases): numpy {peaks['numpy']:.0f} MB, torch {peaks['torch']:.0f} MB")
    missed = False
    for key, name, goal in [("conv", "conv 64→64 3x3 pad 1, forward+backward", CONV_GOAL),
                            ("pool", "maxpool 2x2, forward+backward", None)]:
        ratio = ours[key] / theirs[key]
        verdict = "" if goal is None else f"  (goal ≤ {goal:g}x: {'met' if ratio <= goal else 'MISSED'})"
        print(f"{name:40} numpy {ours[key] * 1e3:7.1f} ms   torch {theirs[key] * 1e3:7.1f} ms   ratio {ratio:4.2f}x{verdict}")
        missed |= goal is not None and ratio > goal
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
