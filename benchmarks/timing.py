"""What the benchmark scripts share: how to call convcalc and how to time a cold process."""

from __future__ import annotations

import importlib.util
import shutil
import statistics
import subprocess
import sys
import time


def convcalc_command() -> list[str]:
    """The installed console script (what a user runs), else ``python -m convcalc``."""
    exe = shutil.which("convcalc")
    return [exe] if exe else [sys.executable, "-m", "convcalc"]


def wall(cmd: list[str], runs: int) -> list[float]:
    """Wall-clock seconds of ``runs`` fresh processes of ``cmd``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def paired(commands: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    """Wall-clock seconds of ``runs`` rounds, each running every command once, one after the
    other: on a loaded machine the commands of one round see the same load, so the ratio of
    two commands within a round is steadier than the ratio of their separate medians."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            times[name] += wall(cmd, 1)
    return times


def median_ratio(ours: list[float], anchor: list[float]) -> float:
    """The median over rounds of ours/anchor (paired runs from :func:`paired`)."""
    return statistics.median(a / b for a, b in zip(ours, anchor))


def ratio_to_torch(ours: float, torch_code: str, runs: int, what: str, goal: float = 0.1) -> bool:
    """Time cold ``python -c torch_code`` processes (one warm-up, then the median of ``runs``),
    print their time and ``ours``/theirs against ``goal``; False only when the goal is missed
    (without PyTorch nothing is measured)."""
    try:
        has_torch = importlib.util.find_spec("torch") is not None
    except ValueError:
        has_torch = False
    if not has_torch:
        print("PyTorch not installed: ratio not measured")
        return True
    cmd = [sys.executable, "-c", torch_code]
    wall(cmd, 1)
    theirs = statistics.median(wall(cmd, runs))
    ratio = ours / theirs
    print(f"{what} (cold, median): {theirs * 1000:.0f} ms")
    print(f"ratio convcalc / PyTorch: {ratio:.3f}   goal ≤ {goal:.3f}")
    return ratio <= goal
