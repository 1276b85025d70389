"""--as: other tools' headline numbers, checked against torch where we can run the tool."""

from __future__ import annotations

import pytest

from convcalc import zoo
from convcalc.network.tools import TOOLS, as_tool
from convcalc.network.walk import walk

MACS = 714_188_480


def test_every_tool_has_a_rule_and_source(cli):
    for name, rule in TOOLS.items():
        assert rule.rule and rule.source
        r = cli("arch", "alexnet", "--as", name, "--json")
        assert r.code == 0
        assert r.json()["as"]["tool"] == name


def test_known_values_alexnet():
    report = walk(zoo.get("alexnet"))
    assert as_tool(report, "flop_counter").value == 2 * MACS
    assert as_tool(report, "torchinfo").value == MACS + 494_184  # + bias per output element
    assert as_tool(report, "fvcore").value == MACS + 256 * 6 * 6  # + adaptive avg pool input
    assert as_tool(report, "thop").value == MACS + 2 * 256 * 6 * 6  # (1·1 + 1) per output of the 6x6 pool


def test_unknown_tool(cli):
    r = cli("arch", "alexnet", "--as", "nvprof")
    assert r.code == 2 and "flop_counter" in r.err


@pytest.mark.torch
def test_flop_counter_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from convcalc.network.torch_build import build_torch

    net = zoo.get("alexnet")
    model = build_torch(net).eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros((1,) + net.input))
    assert counter.get_total_flops() == as_tool(walk(net), "flop_counter").value
