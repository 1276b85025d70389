"""Benchmark: the NumPy executor against PyTorch on the CPU, measured in the same run.

    python benchmarks/bench_executor.py [--repeat 7] [--case lenet5|conv|maxpool|resnet18|train ...]
                                        [--blas-env as-is|unset|both] [--threads default|1]

Cases (float32, both backends with their default threads):
* ``lenet5``   — LeNet-5 (zoo ``lenet5``) forward + backward at batch 64 (training mode,
  gradients of every parameter and the input; loss Σ outputs);       goal ≤ 2x torch;
* ``conv``     — one 64→64-channel 3x3 conv, pad 1, on 8x64x56x56, forward + backward
  (δx, δW, δb);                                                    goal ≤ 1.3x torch;
* ``maxpool``  — 2x2 max pooling (stride 2) on the same 8x64x56x56 tensor, forward + backward;
  reported, no goal;
* ``resnet18`` — ResNet-18 forward at 3x224x224, batch 1, evaluation mode, no caches kept;
  goal ≤ 1.5x torch;
* ``train``    — one ``convcalc train`` step of the course's CIFAR-10 CNN (zoo ``cifar_cnn``) at
  batch 32: forward in training mode, cross-entropy, backward, SGD update (what
  ``executor.training`` does per step), against the plain torch loop (``zero_grad``, forward,
  ``F.cross_entropy``, ``backward``, ``torch.optim.SGD.step``);      goal ≤ 1.5x torch.

Each table says which BLAS kernel ran (threadpoolctl) and whether this machine's forced-kernel
variables (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) were kept (``--blas-env as-is``) or unset for the
benchmark's children (``--blas-env unset``: what a user's machine selects by itself); ``both``
(the default) prints one table each. They are never changed for tests or CI.

``--threads 1`` runs both libraries on one thread (OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1))
and compares CPU seconds: the per-core cost of the kernels, which the load of a shared machine
barely moves. With the default threads both libraries' worker threads compete with everything
else on the machine, and the wall-clock ratio swings with that load (torch's spinning OpenMP
threads suffer most), so both ratios are printed: wall and CPU.

Each (case, backend) runs in its own fresh process (the two libraries' spinning worker threads
would slow each other down in one): the median of ``--repeat`` runs after a warm-up. NumPy and
torch processes alternate for ``--rounds`` rounds and the ratio is the median of the per-round
ratios, so a busy moment of a shared machine hits both alike. Memory: the peak resident set of
the process (``ru_maxrss``: interpreter and libraries included) and, for NumPy, the
``tracemalloc`` peak of the arrays one run allocates.
The graph walk's own cost is measured on a chain of 2,000 ReLUs on a 1x8 tensor (the executor
against calling the same layers in a loop) and scaled to each case's number of layers.
Exit status 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

GOALS = {"lenet5": 2.0, "conv": 1.3, "maxpool": None, "resnet18": 1.5, "train": 1.5}  # conv, resnet18, train: issue 18
TITLES = {
    "lenet5": "LeNet-5 forward+backward, batch 64",
    "conv": "conv 64→64 3x3 pad 1, 8x64x56x56, fwd+bwd",
    "maxpool": "maxpool 2x2, 8x64x56x56, fwd+bwd",
    "resnet18": "ResNet-18 forward, 1x3x224x224",
    "train": "train step, course CIFAR CNN, batch 32",
}

CHILD = r'''
import json, resource, statistics, sys, time, tracemalloc
import numpy as np

case, mode, repeat, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

from convcalc import zoo
from convcalc.executor import init
from convcalc.executor.graph import backward, build_graph, forward
from convcalc.network.build import conv, maxpool, seq
from convcalc.network.model import Network

if case == "lenet5":
    net, shape, batch, train = zoo.get("lenet5"), None, 64, True
elif case == "conv":
    net, shape, batch, train = Network("conv", (64, 56, 56), seq(("conv", conv(64, 3, pad=1)))), None, 8, True
elif case == "maxpool":
    net, shape, batch, train = Network("maxpool", (64, 56, 56), seq(("pool", maxpool(2)))), None, 8, True
elif case == "train":
    net, shape, batch, train = zoo.get("cifar_cnn"), None, 32, True
else:
    net, shape, batch, train = zoo.get("resnet18"), (3, 224, 224), 1, False

graph = build_graph(net, shape)
rng = np.random.default_rng(0)
params = init.initial_parameters(graph, init.parse_scheme("pytorch"), rng, np.float32)
buffers = init.initial_buffers(graph, np.float32)
x = rng.standard_normal((batch,) + graph.input).astype(np.float32)
labels = rng.integers(0, 10, batch)
LR = 0.01


from convcalc.executor.memory import keep_freed_memory  # noqa: E402  (as convcalc run/train do)

keep_freed_memory()


def numpy_once():
    passed = forward(graph, x, params, buffers, training=train, keep=train)
    if train:
        backward(graph, passed, np.ones_like(passed.output))


def numpy_train():
    from convcalc.executor.losses import LOSSES
    from convcalc.executor.optim import Optimizer, OptimizerState

    loss, optimizer = LOSSES["cross-entropy"], Optimizer("sgd", LR)
    state = {"params": params, "buffers": buffers, "optimizer": OptimizerState()}
    dropout = np.random.default_rng(1)

    def once():  # executor.training._loop's step
        passed = forward(graph, x, state["params"], state["buffers"], training=True, rng=dropout)
        _, grad = loss.value_and_grad(passed.output, labels)
        grads = backward(graph, passed, grad).params
        state["params"], state["optimizer"] = optimizer.step(state["params"], grads, state["optimizer"])
        state["buffers"] = dict(passed.buffers)
    return once


def torch_runner():
    import torch
    from convcalc.executor.torch_backend import build_model

    if threads == "1":
        torch.set_num_threads(1)
    model = build_model(graph, params, buffers, np.float32).train(train)
    tx = torch.from_numpy(x)
    if case == "train":
        ty = torch.from_numpy(labels)
        sgd = torch.optim.SGD(model.parameters(), lr=LR)

        def step():  # the plain torch training loop's step
            sgd.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(tx), ty)
            loss.backward()
            sgd.step()
        return step
    if train:
        tx.requires_grad_(True)

    def once():
        if train:
            model.zero_grad(set_to_none=True)
            tx.grad = None
            out = model(tx)
            out.backward(torch.ones_like(out))
        else:
            with torch.no_grad():
                model(tx)
    return once


def timed(run):
    start, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - start, time.process_time() - cpu


result = {"layers": len(graph.rows)}
once = (numpy_train() if case == "train" else numpy_once) if mode == "numpy" else torch_runner()
once()  # warm-up
times = [timed(once) for _ in range(repeat)]
result.update(seconds=statistics.median(t for t, _ in times), cpu=statistics.median(c for _, c in times),
              best=min(t for t, _ in times))
if mode == "numpy":
    tracemalloc.start()
    once()
    result["traced_peak"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
result["maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(result))
'''


#: The variables this machine sets to force OpenBLAS's kernel; ``--blas-env unset`` drops them for
#: the benchmark's children only (what users' machines run), never for tests or CI.
FORCED_KERNEL = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
SETTINGS = {"blas_env": "as-is", "threads": "default"}


def child_env() -> dict:
    """The children's environment: this one, minus the forced kernel for ``--blas-env unset``,
    with one BLAS thread for ``--threads 1``; this process's own environment is never changed."""
    env = dict(os.environ)
    if SETTINGS["blas_env"] == "unset":
        for name in FORCED_KERNEL:
            env.pop(name, None)
    if SETTINGS["threads"] == "1":
        env["OPENBLAS_NUM_THREADS"] = "1"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def child(case: str, mode: str, repeat: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, case, mode, str(repeat), SETTINGS["threads"]],
                          capture_output=True, text=True, env=child_env(), check=False)
    if done.returncode != 0:
        raise SystemExit(f"{case} ({mode}) failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_kernel() -> dict:
    """Which BLAS library and kernel NumPy runs in a child with the benchmark's environment."""
    env = child_env()
    code = ("import json, numpy; from convcalc.compute import blas_threads; "
            "print(json.dumps(blas_threads.kernel() | {'small': blas_threads.SMALL_PRODUCT}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"library": "unknown"}


def walk_cost_per_layer(layers: int = 2000, repeat: int = 5) -> tuple[float, float]:
    """Seconds per layer of forward + backward through a chain of ReLUs on a 1x8 tensor, by the
    executor and by calling the same layers directly: the difference is the walk's own cost."""
    import statistics
    import time

    import numpy as np

    from convcalc.executor.graph import backward, build_graph, forward
    from convcalc.network.build import relu, seq
    from convcalc.network.model import Network

    graph = build_graph(Network("relus", (8,), seq(*[relu() for _ in range(layers)])))
    x = np.random.default_rng(0).standard_normal((1, 8)).astype(np.float32)
    chain = [leaf.layer for leaf in graph.leaves]

    def executor():
        passed = forward(graph, x, {}, {}, training=True)
        backward(graph, passed, np.ones_like(passed.output))

    def direct():
        h, caches = x, []
        for layer in chain:
            f = layer.forward(h, {}, training=True, rng=None)
            caches.append(f.cache)
            h = f.output
        g = np.ones_like(h)
        for layer, cache in zip(reversed(chain), reversed(caches)):
            g = layer.backward(g, cache).grad_input

    ours, plain = [], []
    for _ in range(repeat):
        for run, into in ((executor, ours), (direct, plain)):
            start = time.perf_counter()
            run()
            into.append(time.perf_counter() - start)
    return statistics.median(ours) / layers, statistics.median(plain) / layers


def mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


def sharing(kernel: dict) -> str:
    """How the executor uses the BLAS threads it found."""
    threads = kernel.get("threads")
    if threads == 1:
        return "1 thread (every product on it)"
    return (f"{threads} threads (products of {kernel.get('small', 0):,} multiply-adds and more shared over {threads} "
            "Python threads, one BLAS thread each; smaller ones on one thread)")


def table(args, cases: list[str], versions: list[str]) -> tuple[list[str], dict, dict]:
    """One table (one BLAS environment): per case, the medians over ``--rounds`` alternating
    numpy/torch processes, the wall and CPU ratios (medians of the per-round ratios) and the
    goal, judged on the CPU ratio with ``--threads 1`` and on the wall ratio otherwise."""
    forced = {name: os.environ[name] for name in FORCED_KERNEL if name in os.environ}
    kernel = child_kernel()
    unset = SETTINGS["blas_env"] == "unset"
    forced_text = ', '.join(f'{k}={v}' for k, v in forced.items()) or 'nothing forced'
    print(f"BLAS environment: {SETTINGS['blas_env']} ({forced_text}"
          f"{'; unset for the children' if unset and forced else ''}); kernel that ran: "
          f"{kernel.get('library')} {kernel.get('version', '')} {kernel.get('architecture', '')}, {sharing(kernel)}")
    one = SETTINGS["threads"] == "1"
    torch_threads = '1 thread (--threads 1)' if one else versions[2] + ' threads'
    print(f"numpy {versions[0]}, torch {versions[1]} ({torch_threads}), "
          f"{os.cpu_count()} CPUs, float32; medians over {args.rounds} alternating numpy/torch processes of the median "
          f"of {args.repeat} runs; goal judged on the {'CPU' if one else 'wall'} ratio\n")
    header = f"{'case':<44} {'numpy':>9} {'torch':>9} {'wall':>6} {'cpu':>6} {'goal':>5}"
    print(header)
    print("-" * len(header))
    missed, timings, memory = [], {}, {}
    for case in cases:
        rounds = []
        for _ in range(args.rounds):  # alternating processes: a busy moment of the machine hits both alike
            ours, theirs = child(case, "numpy", args.repeat), child(case, "torch", args.repeat)
            rounds.append((ours, theirs))
            memory.setdefault(case, (ours, theirs))
        numpy_s = statistics.median(a["seconds"] for a, _ in rounds)
        torch_s = statistics.median(b["seconds"] for _, b in rounds)
        wall = statistics.median(a["seconds"] / b["seconds"] for a, b in rounds)
        cpu = statistics.median(a["cpu"] / b["cpu"] for a, b in rounds)
        timings[case] = (numpy_s, memory[case][0]["layers"])
        goal = GOALS[case]
        judged = cpu if one else wall
        ok = goal is None or judged <= goal
        missed += [] if ok else [f"{case} ({SETTINGS['blas_env']})"]
        print(f"{TITLES[case]:<44} {numpy_s * 1000:7.1f}ms {torch_s * 1000:7.1f}ms {wall:5.2f}x {cpu:5.2f}x "
              f"{'—' if goal is None else '≤' + str(goal):>4}{'' if ok else '  MISSED'}")
    return missed, timings, memory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per process (the median is kept)")
    parser.add_argument("--rounds", type=int, default=5, help="numpy/torch process pairs per case")
    parser.add_argument("--case", action="append", choices=list(GOALS))
    parser.add_argument("--blas-env", choices=("as-is", "unset", "both"), default="both",
                        help="run the children with the environment as it is, or with "
                             + " and ".join(FORCED_KERNEL) + " unset (users' default kernel selection), or both")
    parser.add_argument("--threads", choices=("default", "1"), default="default",
                        help="both libraries with their default threads (wall ratio), or on one thread (CPU ratio)")
    args = parser.parse_args()
    SETTINGS["threads"] = args.threads
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        print("PyTorch is not installed: nothing to compare against (pip install torch)")
        return 1
    # Versions from a child: importing torch here would raise every child's ru_maxrss (kept across fork).
    versions = subprocess.run([sys.executable, "-c", ("import numpy, torch; print(numpy.__version__, "
                                                      "torch.__version__.split('+')[0], torch.get_num_threads())")],
                              capture_output=True, text=True, check=True).stdout.split()
    cases = args.case or list(GOALS)
    missed: list[str] = []
    environments = ("as-is", "unset") if args.blas_env == "both" else (args.blas_env,)
    for n, environment in enumerate(environments):
        SETTINGS["blas_env"] = environment
        if n:
            print()
        lost, timings, memory = table(args, cases, versions)
        missed += lost

    ours_per_layer, direct_per_layer = walk_cost_per_layer()
    walk = max(ours_per_layer - direct_per_layer, 0.0)
    print(f"\ngraph walk: {walk * 1e6:.1f} µs per layer, forward + backward (2,000 ReLUs on 1x8: "
          f"{ours_per_layer * 1e6:.1f} µs per layer through the executor, {direct_per_layer * 1e6:.1f} µs calling "
          f"the layers directly)")
    for case in cases:
        seconds, layers = timings[case]
        print(f"  {case}: {layers} layers and merges, about {walk * layers * 1e6:.0f} µs of "
              f"{seconds * 1000:.1f} ms ({100 * walk * layers / seconds:.3f}%)")

    print("\npeak memory (whole process: interpreter, libraries, data; the last table's environment)")
    for case in cases:
        ours, theirs = memory[case]
        print(f"  {case:<9} numpy {mib(ours['maxrss'])} (arrays traced during one run {mib(ours['traced_peak'])}), "
              f"torch {mib(theirs['maxrss'])}")
    if missed:
        print(f"\ngoal missed: {', '.join(missed)}")
        return 1
    print("\nall goals met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
