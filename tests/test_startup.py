"""Start-up: `convcalc shape` loads only the shape rules it needs — never NumPy or torch, never
the kernels of convcalc.compute — and the kernel names that moved out of the layer
modules stay importable from where they were."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SHAPE_CALLS = [
    ["--in", "3x32x32", "--k", "5", "--stride", "2", "--out", "2"],
    ["--op", "conv-transpose", "--in", "16x7x7", "--k", "4", "--stride", "2", "--pad", "1", "--explain"],
    ["--op", "maxpool1d", "--in", "2x9", "--k", "3", "--dilation", "2", "--pad", "1", "--ceil-mode", "--explain"],
    ["--op", "avgpool3d", "--in", "2x6x6x6", "--k", "2", "--pad", "1", "--no-count-include-pad"],
    ["--op", "adaptive-maxpool", "--in", "8x7x5", "--output-size", "3x2"],
    ["--op", "depthwise-separable", "--in", "32x56x56", "--k", "3", "--out", "64", "--explain"],
    ["--op", "linear", "--in", "9216", "--out", "4096"],
    ["--op", "flatten", "--in", "256x6x6"],
    ["--in", "3xHxW", "--k", "3", "--stride", "2", "--pad", "1", "--explain"],
]


def _loaded_after(calls: list[list[str]]) -> dict:
    """Run `convcalc shape` for each call in one fresh interpreter; the modules loaded afterwards."""
    code = (
        "import json, sys\n"
        "from convcalc.cli.app import main\n"
        f"for args in {calls!r}:\n"
        "    sys.argv = ['convcalc', 'shape', *args, '--format', 'plain']\n"
        "    try:\n        main()\n"
        "    except SystemExit as exit:\n        assert exit.code in (0, None), (args, exit.code)\n"
        "print('MODULES', json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.split("MODULES", 1)[1]))


def test_every_shape_rule_runs_without_numpy_or_the_kernels():
    loaded = _loaded_after(SHAPE_CALLS)  # the symbolic call (3xHxW) may load SymPy, nothing more
    heavy = {m.split(".")[0] for m in loaded} & {"numpy", "torch"}
    assert not heavy, f"the shape path imported {sorted(heavy)}"
    kernels = sorted(m for m in loaded if m.startswith("convcalc.compute"))
    assert not kernels, f"the shape path imported {kernels}"


def test_a_convolution_loads_only_the_convolution_rules():
    """The registry finds an op's module through the generated index and imports only that one."""
    loaded = _loaded_after([SHAPE_CALLS[0]])
    layers = {m for m in loaded if m.startswith("convcalc.layers.")}
    assert layers == {"convcalc.layers.base", "convcalc.layers.conv", "convcalc.layers.registry",
                      "convcalc.layers.descriptor", "convcalc.layers.index"}


def test_the_layers_package_exports_its_names_lazily():
    """``from convcalc.layers import analyze_layer`` (the README's library use) and the layer
    classes, each the object of the module that defines it; an unknown name is an AttributeError."""
    import importlib

    import convcalc.layers as layers

    for name in layers.__all__:
        home = importlib.import_module(f"convcalc.layers.{layers._HOMES[name]}")
        assert getattr(layers, name) is getattr(home, name)
    with pytest.raises(AttributeError):
        layers.no_such_name  # noqa: B018


def test_the_symbolic_check_knows_every_symbolic_key_and_loads_nothing_for_numbers():
    """``shape`` decides "symbolic or not" without importing the symbolic module for plain numbers."""
    from convcalc.cli import symbolic_shape
    from convcalc.inverse import hyper_symbols

    assert symbolic_shape.HYPER_KEYS == hyper_symbols.HYPER_KEYS
    for value in ("K", "3xK", "S_1", "2xK", "k"):
        assert symbolic_shape.wants_symbolic({"k": value}) is hyper_symbols.has_symbol(value) is True
    for value in ("5", "2x1", "0:1x0:1", "same", "valid", "tf-same", "(3, 3)", "3X3", "3×3"):
        assert symbolic_shape.wants_symbolic({"pad": value}) is hyper_symbols.has_symbol(value) is False
    loaded = _loaded_after(SHAPE_CALLS[:-1])  # every numeric call
    assert "convcalc.inverse.hyper_symbols" not in loaded


def test_typers_unused_modules_wait_for_their_first_use():
    """subprocess, shellingham, bz2 and lzma are not run by `convcalc shape`, and work when used."""
    code = (
        "import sys, types\n"
        "from convcalc.cli.app import main\n"
        "sys.argv = ['convcalc', 'shape', '--in', '3x32x32', '--k', '5', '--out', '2', '--format', 'plain']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "names = ('subprocess', 'shellingham', 'bz2', 'lzma')\n"
        "print('RUN', [n for n in names if n in sys.modules and type(sys.modules[n]) is types.ModuleType])\n"
        "import subprocess, bz2, shutil\n"
        "print('USE', subprocess.run([sys.executable, '-c', 'print(6*7)'], capture_output=True, "
        "text=True).stdout.strip(),\n"
        "      bz2.decompress(bz2.compress(b'ok')).decode(), shutil._BZ2_SUPPORTED)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "RUN []" in out and "USE 42 ok True" in out
