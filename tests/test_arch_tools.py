"""--as TOOL against the real tools: every number in tests/reference/tool_counts.json (measured by
tests/reference/make_tool_counts.py running torchinfo, fvcore, ptflops, thop, ultralytics-thop,
calflops and torch's FlopCounterMode on our torch builds) is reproduced exactly from the walk.
Where a tool is importable here, a live run on two small networks checks the rules again."""

from __future__ import annotations

import importlib.util
import json
import sys
from functools import cache
from pathlib import Path

import pytest

from convcalc.engine.dims import product
from convcalc.network.tools import TOOLS, as_tool
from convcalc.network.walk import walk
from tests.reference.make_tool_counts import TOOLS as MEASURED
from tests.reference.make_tool_counts import cases, measure, network, split_case

REFERENCE = json.loads((Path(__file__).parent / "reference" / "tool_counts.json").read_text())
PAIRS = [(case, tool) for case, entry in REFERENCE["networks"].items() for tool in entry["counts"]]


@cache
def _report(case: str):
    name, batch = split_case(case)
    return walk(network(name), batch=batch)


@pytest.mark.parametrize("case,tool", PAIRS, ids=[f"{t}-{c}" for c, t in PAIRS])
def test_reproduces_recorded_count(case, tool):
    expected = REFERENCE["networks"][case]["counts"][tool]
    got = as_tool(_report(case), tool)
    assert got.value == expected, f"{tool} on {case}: {got.value:,} here, {expected:,} from the tool ({got.parts})"


PRINTED = [(case, tool) for case, entry in REFERENCE["networks"].items() for tool in entry.get("printed", {})]


@pytest.mark.parametrize("case,tool", PRINTED, ids=[f"{t}-{c}" for c, t in PRINTED])
def test_prints_the_number_as_the_tool_does(case, tool):
    recorded = REFERENCE["networks"][case]["printed"][tool]
    # torchinfo 1.8.0 formats its Units enum with f"{...}": "(M)" up to Python 3.10, "(Units.MEGABYTES)" from 3.11
    for spelled, unit in (("Units.TERABYTES", "T"), ("Units.GIGABYTES", "G"), ("Units.MEGABYTES", "M")):
        recorded = recorded.replace(spelled, unit)
    assert as_tool(_report(case), tool).printed == recorded


def test_reference_covers_every_tool_and_network():
    assert set(REFERENCE["tools"]) == set(TOOLS) == set(MEASURED)
    assert list(REFERENCE["networks"]) == cases()
    for case, entry in REFERENCE["networks"].items():
        assert set(entry["counts"]) == set(TOOLS), case
        assert set(entry.get("printed", {})) == {name for name, rule in TOOLS.items() if rule.printed}, case
        assert entry["batch"] == split_case(case)[1]


def test_rules_name_the_versions_they_were_checked_against():
    for tool, info in REFERENCE["tools"].items():
        assert TOOLS[tool].checked.split(" (")[0] == f"{info['package']} {info['version']}"


def test_parts_add_up_and_difference_names_them():
    report = _report("conv_transpose_decoder")
    count = as_tool(report, "thop")
    assert count.value == sum(count.parts.values())
    # thop counts a transposed conv at its output positions: 4× (stride²) our MACs here, less the border
    assert count.parts["conv/linear"] > 3 * report.totals.macs
    assert "transposed convs counted at their output positions" in count.difference
    assert "32,768 norm" in count.difference
    assert as_tool(report, "flop_counter").difference == "equals our FLOPs (2 × MACs)"


def test_ptflops_counts_relu_and_pooling_twice():
    report = _report("alexnet")
    parts = as_tool(report, "ptflops").parts
    relu_outputs = sum(product(row.output) for row in report.leaves() if row.type == "relu")
    pool_inputs = sum(product(row.input) for row in report.leaves() if "pool" in row.type)
    assert parts["activation"] == 2 * relu_outputs  # the nn.ReLU hook, then the patched F.relu it calls
    assert parts["pool"] == 2 * pool_inputs


def test_cli_as_shows_value_rule_and_version(cli):
    r = cli("arch", "lenet5", "--as", "ultralytics-thop", "--json")
    assert r.code == 0
    doc = r.json()["as"]
    assert doc["tool"] == "ultralytics_thop"
    assert doc["value"] == REFERENCE["networks"]["lenet5"]["counts"]["ultralytics_thop"]
    assert doc["checked"].startswith("ultralytics-thop 2.2.3")
    assert sum(doc["parts"].values()) == doc["value"]
    text = cli("arch", "lenet5", "--as", "calflops").out
    assert "as calflops" in text and "calflops 0.3.2" in text


def test_unknown_tool_lists_the_names(cli):
    r = cli("arch", "lenet5", "--as", "nvprof")
    assert r.code == 2 and "ultralytics-thop" in r.err and "flop_counter" in r.err


# --- live: only where the tools are installed (never in CI; see tests/reference/make_tool_counts.py)

def _importable(tool: str) -> str | None:
    """The --as name of the installed tool for ``tool``'s module, or None when it is not installed."""
    module = {"flop_counter": "torch", "ultralytics_thop": "thop"}.get(tool, tool)
    if module not in sys.modules and importlib.util.find_spec(module) is None:
        return None
    if module == "thop":
        import thop

        installed = "thop" if getattr(thop, "__version__", "0").startswith("0.") else "ultralytics_thop"
        return tool if installed == tool else None
    return tool


@pytest.mark.torch
@pytest.mark.extra_tool
@pytest.mark.parametrize("tool", list(TOOLS))
@pytest.mark.parametrize("case", ["lenet5", "transposed_2d"])
def test_live_tool_agrees(tool, case):
    if _importable(tool) is None:
        pytest.skip(f"{tool} is not installed")
    assert measure(tool, case) == as_tool(_report(case), tool).value
