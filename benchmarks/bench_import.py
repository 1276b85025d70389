"""Benchmark: ``convcalc arch`` on users' own models against torchinfo on the same models.

    python benchmarks/bench_import.py [--runs 5]

Measured in the same run on this machine (cold processes, medians), reported as ratios:
* ``convcalc arch resnet50.onnx`` (ResNet-50 from convcalc's torch builder, exported once with
  torch.onnx.export) against a cold ``torchinfo.summary`` of the same torch module;
* ``convcalc arch my_net.py:Net --in 3x32x32`` (a LeNet-style file written here) against a cold
  ``torchinfo.summary`` of the same ``Net``.
No goal: the ratios are reported (convcalc's import path needs onnx or torch itself).
Needs torch, onnx and torchinfo (``pip install --no-deps torchinfo``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import warnings
from pathlib import Path

from timing import convcalc_command, wall

NET = """
import torch.nn as nn
import torch.nn.functional as F
import torch

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
torchinfo.summary(build_torch(zoo.get("resnet50")), input_size=(1, 3, 224, 224), verbose=0)
"""

TORCHINFO_NET = """
import sys, torchinfo
sys.path.insert(0, {folder!r})
from my_net import Net
torchinfo.summary(Net(), input_size=(1, 3, 32, 32), verbose=0)
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    import torch

    from convcalc import zoo
    from convcalc.network.torch_build import build_torch

    folder = Path(tempfile.mkdtemp(prefix="convcalc_bench_"))
    onnx_path = folder / "resnet50.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            build_torch(zoo.get("resnet50")).eval(),
            torch.zeros(1, 3, 224, 224),
            str(onnx_path),
            dynamo=False,
            do_constant_folding=False,
        )
    (folder / "my_net.py").write_text(NET)
    cases = [
        ("arch resnet50.onnx", convcalc_command() + ["arch", str(onnx_path), "--json"], TORCHINFO_RESNET),
        (
            "arch my_net.py:Net",
            convcalc_command() + ["arch", f"{folder / 'my_net.py'}:Net", "--in", "3x32x32", "--json"],
            TORCHINFO_NET.format(folder=str(folder)),
        ),
    ]
    for what, ours_cmd, theirs_code in cases:
        wall(ours_cmd, 1)
        ours = statistics.median(wall(ours_cmd, runs))
        theirs_cmd = [sys.executable, "-c", theirs_code]
        wall(theirs_cmd, 1)
        theirs = statistics.median(wall(theirs_cmd, runs))
        print(
            f"{what}: convcalc {ours * 1000:.0f} ms, torchinfo.summary {theirs * 1000:.0f} ms, "
            f"ratio convcalc / torchinfo {ours / theirs:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
