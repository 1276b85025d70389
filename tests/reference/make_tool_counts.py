"""Regenerate ``tests/reference/tool_counts.json``: the headline number each FLOP/MAC-counting tool
prints for our zoo networks, measured by running the real tools.

The networks are built in ``torch.nn`` by ``convcalc.network.torch_build`` (our own builder, never
torchvision) and each tool is run on a zero input of batch 1, in eval mode, the way its README
shows. ``tests/test_arch_tools.py`` then checks that ``convcalc arch NET --as TOOL`` reproduces
every recorded number exactly.

The tools are NOT dependencies of convcalc. Install them in a separate virtual environment so the
project's python is not disturbed (torch first, pinned, or pip pulls the CUDA wheels)::

    python -m venv /tmp/tools-venv
    /tmp/tools-venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    /tmp/tools-venv/bin/pip install torchinfo fvcore ptflops thop
    /tmp/tools-venv/bin/pip install --no-deps calflops        # its deps pull transformers
    /tmp/tools-venv/bin/pip install --no-deps --target /tmp/ultralytics-thop ultralytics-thop
    PYTHONPATH=. /tmp/tools-venv/bin/python tests/reference/make_tool_counts.py

``thop`` on PyPI is Lyken17's pytorch-OpCounter (0.1.1); ``ultralytics-thop`` installs a module of
the same name (ultralytics/thop 2.x), so it is kept in its own directory and run in a child process
with that directory first on ``sys.path``. calflops' package ``__init__`` imports transformers for its
Hugging Face helper; only ``calflops.flops_counter`` is loaded here, which needs torch alone.

Each network's entry holds ``counts`` (the raw headline numbers) and, for the tools that round
when they print, ``printed`` (the tool's own formatter applied to that number: "4.13 GMac").
The builder makes the calls torchvision's forward makes (``F.relu``, ``F.adaptive_avg_pool2d``,
``x.mean([2, 3])``: ``Leaf.functional``) as calls; for the networks that have such calls,
``counts_modules`` holds the numbers measured with every layer an nn.Module (``--code modules``).
Each tool runs in its own child process (several of them patch ``torch.nn.functional``).
Options: ``--only NET[,NET]`` / ``--tools TOOL[,TOOL]`` refresh part of the file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # the repository root: convcalc and tests.reference
OUT = HERE / "tool_counts.json"
ULTRALYTICS_THOP = os.environ.get("ULTRALYTICS_THOP_DIR", "/tmp/ultralytics-thop")

NETWORKS = [
    "alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "densenet121", "googlenet",
    "inception_v3", "squeezenet1_0", "shufflenet_v2_x1_0", "mnasnet1_0", "efficientnet_b0", "convnext_tiny",
    "regnet_y_400mf",
    "lenet5", "resnet20", "alexnet_paper",
]
# Inline chains (convcalc's one-liner syntax) for layers the zoo does not exercise.
CHAINS = {
    "conv_transpose_decoder": "16x8x8 | convT 32 k4 s2 p1 | bn | relu | convT 8 k3 s2 p1 op1 | relu | convT 3 k4 s2 "
                              "p1 nobias | tanh",
    "upsample_decoder": "16x8x8 | upsample 2 | conv 32 k3 p1 | relu | upsample 2 bilinear | conv 3 k3 p1 | sigmoid",
}
# Batch sizes other than 1: "NAME@N" runs NAME on a batch of N.
BATCHED = ["lenet5@3", "mixed_2d@2", "conv_transpose_decoder@2"]


def cases() -> list[str]:
    """Every network recorded: the zoo ones, the chains, tests/reference/networks.py, batched runs."""
    from tests.reference.networks import BUILDERS

    return NETWORKS + list(CHAINS) + list(BUILDERS) + BATCHED


def split_case(case: str) -> tuple[str, int]:
    name, _, batch = case.partition("@")
    return name, int(batch or 1)


TOOLS = {
    # tool: (pip package, what the headline is, how it is read)
    "torchinfo": ("torchinfo", "Mult-Adds", ("torchinfo.summary(model, input_size=(1, *input)).total_mult_adds "
                                              "(printed as 'Total mult-adds (G)')")),
    "fvcore": ("fvcore", "flops", "fvcore.nn.FlopCountAnalysis(model, x).total()"),
    "ptflops": ("ptflops", "MACs", ("ptflops.get_model_complexity_info(model, input, as_strings=False) "
                                    "with its default (pytorch) backend, [0]")),
    "thop": ("thop", "MACs", "thop.profile(model, inputs=(x,))[0]"),
    "ultralytics_thop": ("ultralytics-thop", "MACs", "thop.profile(model, inputs=(x,))[0] from ultralytics-thop"),
    "calflops": ("calflops", "FLOPs", ("calflops.calculate_flops(model, input_shape=(1, *input), "
                                       "output_as_string=False)[0]")),
    "flop_counter": ("torch", "FLOPs", "torch.utils.flop_counter.FlopCounterMode().get_total_flops()"),
}


def network(name: str):
    """The Network called ``name``: a chain above, a builder of tests/reference/networks.py or a zoo name."""
    from convcalc import zoo
    from convcalc.network import spec
    from tests.reference.networks import BUILDERS

    if name in CHAINS:
        return spec.parse_chain(CHAINS[name])
    if name in BUILDERS:
        return BUILDERS[name]()
    return zoo.get(name)


def _calflops():
    """``calflops.flops_counter.calculate_flops`` without running the package ``__init__``."""
    if "calflops.flops_counter" not in sys.modules:
        spec = importlib.util.find_spec("calflops")
        package = types.ModuleType("calflops")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["calflops"] = package
    from calflops.flops_counter import calculate_flops

    return calculate_flops


def measure(tool: str, case: str, code: str = "torchvision") -> int:
    """The tool's headline number for ``case`` (NAME or NAME@BATCH; one fresh torch build per call),
    on torchvision-like code (functional calls where the network records them) or all modules."""
    import contextlib
    import io
    import warnings

    import torch

    from convcalc.network.torch_build import build_torch

    warnings.filterwarnings("ignore")
    name, batch = split_case(case)
    net = network(name)
    model = build_torch(net, code=code).eval()
    shape = (batch,) + tuple(net.input)
    x = torch.zeros(shape)
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), torch.no_grad():
        if tool == "torchinfo":
            import torchinfo

            value = torchinfo.summary(model, input_size=shape, verbose=0).total_mult_adds
        elif tool == "fvcore":
            from fvcore.nn import FlopCountAnalysis

            analysis = FlopCountAnalysis(model, x).unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            value = analysis.total()
        elif tool == "ptflops":
            from ptflops import get_model_complexity_info

            # ptflops builds a batch of 1 from the input resolution; a larger batch needs input_constructor
            value, _ = get_model_complexity_info(model, tuple(net.input), as_strings=False, print_per_layer_stat=False,
                                                 input_constructor=(lambda res: x) if batch != 1 else None)
        elif tool in ("thop", "ultralytics_thop"):
            from thop import profile

            value, _ = profile(model, inputs=(x,), verbose=False)
        elif tool == "calflops":
            value, _, _ = _calflops()(model, input_shape=shape, output_as_string=False, print_results=False,
                                      print_detailed=False)
        elif tool == "flop_counter":
            from torch.utils.flop_counter import FlopCounterMode

            counter = FlopCounterMode(display=False)
            with counter:
                model(x)
            value = counter.get_total_flops()
        else:
            raise SystemExit(f"unknown tool {tool}")
    if float(value) != int(value):
        raise SystemExit(f"{tool} on {case}: {value} is not a whole number")
    return int(value)


def printed(tool: str, value: int) -> str | None:
    """The number as the tool's own formatter prints it (None: it prints the raw number)."""
    if tool == "torchinfo":
        from torchinfo.enums import Units
        from torchinfo.model_statistics import ModelStatistics

        return "Total mult-adds" + ModelStatistics.format_output_num(value, Units.AUTO)
    if tool == "ptflops":
        from ptflops.utils import flops_to_string

        return flops_to_string(value)
    if tool in ("thop", "ultralytics_thop"):
        from thop import clever_format

        return clever_format(float(value))
    if tool == "calflops":
        _calflops()
        from calflops.utils import flops_to_string

        return flops_to_string(value)
    return None


def version(tool: str) -> str:
    from importlib.metadata import version as dist_version

    if tool == "ultralytics_thop":
        import thop

        return getattr(thop, "__version__", "?")
    return dist_version(TOOLS[tool][0]).split("+")[0]  # torch 2.13.0+cpu → 2.13.0


def child(tool: str, names: list[str], code: str = "torchvision") -> None:
    """Run in a child process: print {"version": ..., "counts": {net: value}} as JSON."""
    counts, shown = {}, {}
    for name in names:
        counts[name] = measure(tool, name, code)
        shown[name] = printed(tool, counts[name])
        print(f"  {tool:<16} {name:<24} {counts[name]:>16,}  {shown[name] or ''}", file=sys.stderr, flush=True)
    print(json.dumps({"version": version(tool), "counts": counts, "printed": shown}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="networks to (re)measure, comma-separated")
    parser.add_argument("--tools", help="tools to run, comma-separated")
    parser.add_argument("--code", default="torchvision", choices=("torchvision", "modules"),
                        help="modules: measure every layer as an nn.Module, into counts_modules")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.only.split(",") if args.only else cases()
    if args.child:
        child(args.child, names, args.code)
        return
    import torch

    doc = json.loads(OUT.read_text()) if OUT.exists() else {}
    doc.setdefault("tools", {})
    doc.setdefault("networks", {})
    doc["generated_by"] = "tests/reference/make_tool_counts.py"
    doc["torch"] = torch.__version__.split("+")[0]
    doc["input"] = "zeros, batch 1, model.eval(), torch.no_grad(); networks built by convcalc.network.torch_build"
    for tool in (args.tools.split(",") if args.tools else list(TOOLS)):
        env = dict(os.environ)
        root = str(HERE.parent.parent)
        paths = ([ULTRALYTICS_THOP] if tool == "ultralytics_thop" else []) + [root, env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        run = subprocess.run([sys.executable, __file__, "--child", tool, "--only", ",".join(names),
                              "--code", args.code],
                             env=env,
                             stdout=subprocess.PIPE, text=True, check=False)
        if run.returncode != 0:
            raise SystemExit(f"{tool} failed (exit {run.returncode})")
        result = json.loads(run.stdout.strip().splitlines()[-1])
        package, unit, how = TOOLS[tool]
        doc["tools"][tool] = {"package": package, "version": result["version"], "unit": unit, "read": how}
        for case, value in result["counts"].items():
            entry = doc["networks"].setdefault(case, {})
            name, batch = split_case(case)
            entry["network"] = name
            entry["batch"] = batch
            if name in CHAINS:
                entry["chain"] = CHAINS[name]
            if args.code == "modules":
                entry.setdefault("counts_modules", {})[tool] = value
                continue
            entry.setdefault("counts", {})[tool] = value
            if result["printed"][case] is not None:
                entry.setdefault("printed", {})[tool] = result["printed"][case]
    doc["networks"] = {n: doc["networks"][n] for n in cases() if n in doc["networks"]}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
