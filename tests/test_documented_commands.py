"""Every command line the documentation shows is run, as a user would type it in a shell.

Sources: README.md and examples/README.md (``$ `` lines of ```console blocks, every line of
```sh blocks, the indented ``convcalc …`` lines of examples/README.md) and the Examples of each
command's ``--help`` epilog. Each runs in a scratch directory that holds the input files the
examples name (image.csv, weights.npz, course.json, …), piped, at 80 columns, without colour.
It must exit 0 (or the exit code its documentation gives) without a traceback; where a console
block shows the output, the output must be exactly what it shows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

# Commands that belong to installing and testing, not to convcalc.
NOT_CONVCALC = ("pip ", "python ")
# The documented exit code where it is not 0.
EXIT_CODES = {
    # one line of the two is bad on purpose: "exit 2 at the end if any line failed"
    "printf '{\"in\": \"3x32x32\", \"k\": 5, \"out\": 2}\\n{\"in\": \"3x32x32\", \"k\": 0}\\n' "
    "| convcalc shape --jsonl - | cut -c1-80": 2,
    # refusals the README shows on purpose
    'convcalc arch "3x28x28 | conv 6 k5 | maxpool k2 | conv 16 k5 | maxpool k2 | flatten | fc 120 in=400 | fc 10" '
    "2>&1 >/dev/null": 2,
    "convcalc train lenet5 --data synthetic:bars:64 --steps 1 --save /dev/null 2>&1": 2,
    'convcalc conv "1 2; 3 4" "1" --pad 3000 2>&1 | cut -c1-60': 2,
    "convcalc arch tests/fixtures/cifar_cnn_tutorial.py:CifarCNN --in 3x32x32 2>&1 >/dev/null | head -6": 2,
    "convcalc arch efficientnet 2>&1 | cut -c1-80": 2,
    "convcalc arch resnet50 --aux 2>&1 | cut -c1-80": 2,
}
# Documented commands another open issue is about; strict, so they are noticed when fixed.
KNOWN_FAILURES: dict[str, str] = {}


@dataclass(frozen=True)
class Documented:
    source: str  # README.md, examples/README.md or "convcalc arch --help"
    command: str
    shown: str | None = None  # the output a console block shows, if any

    @property
    def id(self) -> str:
        return f"{self.source}: {self.command[:70]}"


def _blocks(text: str):
    """(info string, lines) of each fenced block of a Markdown text."""
    fence = re.compile(r"^(\s*)```(\w*)\s*$")
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = fence.match(lines[i])
        if match:
            indent, info = match.groups()
            body = []
            i += 1
            while i < len(lines) and not fence.match(lines[i]):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
                i += 1
            yield info, body
        i += 1


def markdown_commands(path: Path) -> list[Documented]:
    source = str(path.relative_to(ROOT))
    text = path.read_text(encoding="utf-8")
    found: list[Documented] = []
    for info, body in _blocks(text):
        if info == "console":
            command, shown = None, []
            for line in body + ["$ "]:
                if line.startswith("$ "):
                    if command:
                        found.append(Documented(source, command, "\n".join(shown)))
                    command, shown = line[2:].strip(), []
                else:
                    shown.append(line)
        elif info in ("sh", "bash", "shell"):
            found += [Documented(source,
                                 line.strip()) for line in body if line.strip() and not line.lstrip().startswith("#")]
    # indented code (four spaces) outside fences: examples/README.md's last lines
    outside = re.sub(r"^\s*```.*?^\s*```", "", text, flags=re.S | re.M)
    found += [Documented(source, line.strip()) for line in outside.splitlines()
              if line.startswith("    ") and line.strip().startswith("convcalc ")]
    return [d for d in found if not d.command.startswith(NOT_CONVCALC)]


def _epilogs() -> dict[str, str]:
    """Each command's --help epilog (and the root's), by the command line that shows it."""
    from typer.main import get_command

    from convcalc.cli import app as app_module

    root = get_command(app_module.app)
    epilogs = {"convcalc --help": root.epilog or ""}
    ctx = root.context_class(root)  # typer's own click (vendored by newer typer releases)
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        epilogs[f"convcalc {name} --help"] = command.epilog or ""
    return epilogs


def epilog_commands() -> list[Documented]:
    found: list[Documented] = []
    for source, epilog in _epilogs().items():
        for line in epilog.splitlines():
            line = re.sub(r"\s*\[dim\].*?\[/\]", "", line).replace("\\[", "[").strip()
            runs = line.startswith("convcalc ") or (" | convcalc " in line and line.startswith(("echo ", "printf ")))
            if runs and not any(d.command == line for d in found if d.source == source):
                found.append(Documented(source, line))
    return found


def documented() -> list[Documented]:
    return (markdown_commands(ROOT / "README.md") + markdown_commands(ROOT / "examples" / "README.md")
            + epilog_commands())


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FORCE_COLOR", None)
    env.update(PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               COLUMNS="80", NO_COLOR="1", TERM="dumb", LC_ALL="C.UTF-8")
    return env


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=cwd, env=_environment(),
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A directory with every input file the documented commands name."""
    where = tmp_path_factory.mktemp("documented")
    shutil.copytree(ROOT / "examples", where / "examples")
    shutil.copytree(ROOT / "tests" / "reference", where / "tests" / "reference")
    shutil.copytree(ROOT / "tests" / "fixtures", where / "tests" / "fixtures")
    _own_models(where)
    shutil.copy(ROOT / "examples" / "lenet5.json", where / "my_net.json")
    (where / "image.csv").write_text("1,3,2,4,6\n4,8,3,1,0\n2,1,4,3,9\n4,7,2,3,9\n0,1,2,3,4\n")
    (where / "kernel.json").write_text(json.dumps([[1, 0, -1], [2, 0, -2], [1, 0, -1]]))
    rng = np.random.default_rng(0)
    np.save(where / "image.npy", rng.standard_normal((3, 32, 32)).astype(np.float32))
    np.savez(where / "test.npz", x=rng.standard_normal((4, 1, 32, 32)).astype(np.float32), y=np.arange(4) % 10)
    np.savez(where / "digits.npz", x=rng.standard_normal((64, 1, 28, 28)).astype(np.float32), y=np.arange(64) % 10)
    # convcalc quiz/grade: a roster, a key and a class's answers (as the README's console block makes them)
    (where / "roster.csv").write_text("student\nann\nbo\n")
    (where / "answers.csv").write_text("ann,Q1,8x15x15\nann,Q2,6464\nbo,Q1,8x16x16\nbo,Q2,6400\n")
    (where / "answers.jsonl").write_text('{"student": "ann", "question": "Q1", "answer": [8, 15, 15]}\n'
                                         '{"student": "bo", "question": "Q2", "answer": 6400}\n')
    for setup in ("convcalc quiz --topics shape,params --seed 7 -o sheet.md --key key.json",
                  "convcalc backprop --example course > course.json",
                  "convcalc train lenet5 --data synthetic:bars:64 --steps 1 --save weights.npz",
                  "cp weights.npz lenet.npz"):
        done = _shell(setup, where)
        assert done.returncode == 0, done.stderr
    return where


_TORCH_NET = """import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width=1):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Linear(8 * width * 16 * 16, 10)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))
"""


def _own_models(where: Path) -> None:
    """The user's own models the README's examples name: a PyTorch file and package, an ONNX
    file and a Keras archive (written only when the packages they need are installed)."""
    import zipfile

    (where / "my_net.py").write_text(_TORCH_NET)
    (where / "my_package").mkdir()
    (where / "my_package" / "__init__.py").write_text("")
    (where / "my_package" / "models.py").write_text(
        _TORCH_NET.replace("self.classifier = nn.Linear(8 * width * 16 * 16, 10)",
                           "self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), "
                           "nn.Linear(8 * width, 10))")
        .replace("self.features(x).flatten(1)", "self.features(x)")
        + "\n\ndef resnet_custom(width=1):\n    return Net(width)\n")
    with zipfile.ZipFile(where / "model.keras", "w") as archive:
        archive.write(ROOT / "tests" / "reference" / "keras_vgg16.json", "config.json")
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError:
        return
    weight = helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], [0.0] * 216)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["y"], ["z"])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 8, 32, 32])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(where / "model.onnx"))


COMMANDS = documented()


def test_the_documentation_shows_commands():
    sources = {d.source for d in COMMANDS}
    assert {"README.md", "examples/README.md", "convcalc arch --help", "convcalc shape --help"} <= sources
    assert any(d.command == "convcalc arch alexnet --table" for d in COMMANDS)
    assert len(COMMANDS) > 60


@pytest.mark.parametrize("doc",
                         [pytest.param(d, id=d.id,
                                       marks=[pytest.mark.xfail(reason=KNOWN_FAILURES[d.command], strict=True)]
                                              if d.command in KNOWN_FAILURES else []) for d in COMMANDS])
def test_documented_command_runs(doc: Documented, workdir: Path):
    if any(w in doc.command for w in ("--verify", "--compare", "--backend torch", ".py:", "my_pkg", "my_package")):
        pytest.importorskip("torch")
    done = _shell(doc.command, workdir)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == EXIT_CODES.get(doc.command, 0), f"exit {done.returncode}: {done.stderr}"
    if doc.shown:
        shown = [line.rstrip() for line in doc.shown.rstrip("\n").splitlines()]
        printed = [line.rstrip() for line in done.stdout.rstrip("\n").splitlines()]
        assert printed == shown


def test_arch_table_contract(cli):
    """``convcalc arch alexnet --table``: the per-layer table, also when piped (a contract probe)."""
    result = cli("arch", "alexnet", "--table")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["name", "type", "output", "params", "MACs", "act", "RF", "jump", "start"]
    assert any(line.split()[:3] == ["features.0", "conv2d", "64x55x55"] for line in lines)
    assert "61,100,840" in result.out
