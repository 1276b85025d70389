"""What the benchmark scripts share: how to call convcalc and how to time a cold process."""

from __future__ import annotations

import shutil
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
