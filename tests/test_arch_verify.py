"""--verify: our module tree built in torch.nn agrees leaf by leaf with the walk."""

from __future__ import annotations

from pathlib import Path

import pytest

from convcalc import zoo
from convcalc.network.spec import load_spec_file
from convcalc.network.walk import walk

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.json"))

pytestmark = pytest.mark.torch


def _names():
    return [e.name for e in zoo.entries()]


@pytest.mark.parametrize("name", _names())
def test_zoo_network_verifies(name):
    pytest.importorskip("torch")
    from convcalc.network.torch_build import verify

    net = zoo.get(name)
    result = verify(net, walk(net))
    assert result.ok, result.text()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_verifies(path):
    pytest.importorskip("torch")
    from convcalc.network.torch_build import verify

    net = load_spec_file(str(path))
    assert verify(net, walk(net)).ok


def test_verify_cli(cli):
    pytest.importorskip("torch")
    r = cli("arch", "3x32x32 | conv 6 k5 | relu | maxpool k2 | flatten | fc 10", "--verify")
    assert r.code == 0 and "verify: OK" in r.out


def test_verify_without_torch(cli, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("no torch")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    r = cli("arch", "alexnet", "--verify")
    assert r.code == 2 and "PyTorch" in r.err
