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

from convcalc.dims import product
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


MODULE_PAIRS = [(case, tool) for case, entry in REFERENCE["networks"].items()
                for tool in entry.get("counts_modules", {})]


@pytest.mark.parametrize("case,tool", MODULE_PAIRS, ids=[f"{t}-{c}" for c, t in MODULE_PAIRS])
def test_reproduces_recorded_count_with_every_layer_a_module(case, tool):
    """--code modules: the same network written with nn.Modules only (today's torch_build before the
    functional calls); measured by the real tools too."""
    expected = REFERENCE["networks"][case]["counts_modules"][tool]
    got = as_tool(_report(case), tool, code="modules")
    assert got.value == expected, f"{tool} on {case}: {got.value:,} here, {expected:,} from the tool ({got.parts})"


# torchvision's forward calls these instead of modules (read in torchvision/models/*.py, main):
# googlenet.py / inception.py BasicConv2d.forward F.relu(x, inplace=True); inception.py InceptionA/C/E
# F.avg_pool2d(x, kernel_size=3, stride=1, padding=1), InceptionB/D F.max_pool2d(x, kernel_size=3, stride=2);
# densenet.py DenseNet.forward F.relu, F.adaptive_avg_pool2d(out, (1, 1)); mobilenetv2.py
# nn.functional.adaptive_avg_pool2d(x, (1, 1)); shufflenetv2.py and mnasnet.py x.mean([2, 3]).
TORCHVISION_CALLS = {
    "googlenet": {"F.relu": 57},
    "inception_v3": {"F.relu": 94, "F.avg_pool2d": 9, "F.max_pool2d": 2},
    "densenet121": {"F.relu": 1, "F.adaptive_avg_pool2d": 1},
    "mobilenet_v2": {"F.adaptive_avg_pool2d": 1},
    "shufflenet_v2_x1_0": {"Tensor.mean": 1},
    "mnasnet1_0": {"Tensor.mean": 1},
    "resnet50": {}, "vgg16": {}, "mobilenet_v3_small": {}, "efficientnet_b0": {},
}


@pytest.mark.parametrize("name", list(TORCHVISION_CALLS))
def test_zoo_records_torchvision_functional_calls(name):
    calls: dict[str, int] = {}
    for row in _report(name).leaves():
        if row.functional:
            calls[row.functional] = calls.get(row.functional, 0) + 1
    assert calls == TORCHVISION_CALLS[name]


def test_code_modules_keeps_the_all_modules_answer(cli):
    """A functional call changes what hook-based tools see, never our own numbers."""
    tv = cli("arch", "densenet121", "--as", "thop", "--json").json()
    modules = cli("arch", "densenet121", "--as", "thop", "--code", "modules", "--json").json()
    assert tv["totals"] == modules["totals"]
    assert tv["as"]["value"] < modules["as"]["value"]  # thop has no hook for F.adaptive_avg_pool2d
    assert cli("arch", "densenet121", "--as", "thop", "--code", "nonsense").code == 2


@pytest.mark.torch
@pytest.mark.parametrize("name", ["inception_v3", "shufflenet_v2_x1_0"])
def test_torch_build_makes_the_calls(name):
    """The torchvision-code build calls functions where torchvision does: no nn.ReLU / pooling module
    there, and the same output as the all-modules build with the same weights."""
    torch = pytest.importorskip("torch")
    from convcalc import zoo
    from convcalc.network.torch_build import build_torch

    net = zoo.get(name)
    calls = build_torch(net).eval()
    modules = build_torch(net, code="modules").eval()
    modules.load_state_dict(calls.state_dict())
    kinds = {type(m).__name__ for m in calls.modules()}
    assert "FunctionalCall" in kinds
    if name == "inception_v3":
        assert "ReLU" not in kinds and "AvgPool2d" not in kinds
    x = torch.randn(1, *net.input)
    with torch.no_grad():
        assert torch.allclose(calls(x), modules(x), atol=1e-5)


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
