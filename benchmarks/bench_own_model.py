"""Benchmark: ``convcalc arch`` on a user's own model against torchinfo on the same model.

    python benchmarks/bench_own_model.py [--runs 5]

Two rows, measured in the same run (cold processes: one warm-up, then the median of ``--runs``):

* ``convcalc arch resnet50.onnx`` — ResNet-50 built by convcalc's own torch builder and exported
  once with ``torch.onnx.export`` into a temporary folder — against a cold
  ``torchinfo.summary`` of that same torch module (the ONNX path needs the onnx package only);
* ``convcalc arch my_net.py:Net --in 3x32x32`` — a LeNet-style module written to the temporary
  folder — against a cold ``torchinfo.summary`` of that ``Net``.

Each row prints both times and the ratio convcalc / torchinfo; there is no goal (both sides
import torch for the second row). Without torch nothing can be exported or imported and the
script says so; without onnx the first row is skipped, without torchinfo each row gives
convcalc's time alone (``pip install --no-deps torchinfo`` installs it; it needs only torch).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import statistics
import sys
import tempfile
import warnings
from pathlib import Path

from timing import convcalc_command, wall

NET = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
"""

TORCHINFO_RESNET = """
import torchinfo
from convcalc import zoo
from convcalc.network.torch_build import build_torch
torchinfo.summary(build_torch(zoo.get("resnet50")).eval(), input_size=(1, 3, 224, 224), verbose=0)
"""

TORCHINFO_NET = """
import sys
import torchinfo
sys.path.insert(0, {folder!r})
from my_net import Net
torchinfo.summary(Net(), input_size=(1, 3, 32, 32), verbose=0)
"""


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ValueError:
        return False


def _median(cmd: list[str], runs: int) -> float:
    wall(cmd, 1)
    return statistics.median(wall(cmd, runs))


def _export_resnet50(path: Path) -> None:
    import torch

    from convcalc import zoo
    from convcalc.network.torch_build import build_torch

    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            build_torch(zoo.get("resnet50")).eval(), torch.zeros(1, 3, 224, 224), str(path),
            dynamo=False, do_constant_folding=False,
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    if not _installed("torch"):
        print("PyTorch not installed: nothing to export or import, nothing measured")
        return 0
    has_torchinfo = _installed("torchinfo")
    if not has_torchinfo:
        print("torchinfo not installed (pip install --no-deps torchinfo): convcalc's times only")
    with tempfile.TemporaryDirectory(prefix="convcalc_bench_own_") as name:
        _measure(Path(name), runs, has_torchinfo)
    return 0


def _measure(folder: Path, runs: int, has_torchinfo: bool) -> None:
    (folder / "my_net.py").write_text(NET, encoding="utf-8")
    rows = []
    if _installed("onnx"):
        onnx_path = folder / "resnet50.onnx"
        _export_resnet50(onnx_path)
        rows.append(("arch resnet50.onnx", convcalc_command() + ["arch", str(onnx_path), "--json"],
                     TORCHINFO_RESNET))
    else:
        print("onnx not installed (pip install onnx): the resnet50.onnx row is skipped")
    rows.append(("arch my_net.py:Net --in 3x32x32",
                 convcalc_command() + ["arch", f"{folder / 'my_net.py'}:Net", "--in", "3x32x32", "--json"],
                 TORCHINFO_NET.format(folder=str(folder))))
    for what, ours_cmd, theirs_code in rows:
        ours = _median(ours_cmd, runs)
        if not has_torchinfo:
            print(f"{what}: convcalc {ours * 1000:.0f} ms (torchinfo not installed: no ratio)")
            continue
        theirs = _median([sys.executable, "-c", theirs_code], runs)
        print(f"{what}: convcalc {ours * 1000:.0f} ms, torchinfo.summary {theirs * 1000:.0f} ms, "
              f"ratio convcalc / torchinfo {ours / theirs:.2f}")


if __name__ == "__main__":
    sys.exit(main())
