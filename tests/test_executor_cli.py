"""``convcalc run``: per-layer statistics, gradient norms, both backends, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

CHAIN = "3x16x16 | conv 4 k3 p1 | bn | relu | maxpool k2 | flatten | fc 5"


def test_run_json_has_a_row_per_layer_with_statistics(cli):
    r = cli("run", CHAIN, "--batch", "3", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["schema"] == "convcalc/run/v1"
    assert [layer["name"] for layer in data["layers"]] == ["0", "1", "2", "3", "4", "5"]
    assert data["batch"] == 3 and data["output"] == [5] and data["dtype"] == "float32"
    relu = data["layers"][2]
    assert relu["type"] == "relu" and relu["stats"]["min"] == 0 and 0.2 < relu["stats"]["zeros"] < 0.8
    assert data["layers"][0]["params"] == 4 * 3 * 9 + 4
    assert len(data["predictions"]) == 3 and data["loss"] is None


def test_run_statistics_are_computed_from_the_outputs(cli, tmp_path):
    """A 1x1 conv with known weights on a known input: the statistics can be checked by hand."""
    x = np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2) - 3  # two samples, values −3 … 4
    np.save(tmp_path / "x.npy", x)
    r = cli("run", "1x2x2 | relu | flatten", "--input", tmp_path / "x.npy", "--json")
    assert r.code == 0, r.err
    relu = r.json()["layers"][0]["stats"]
    expected = np.maximum(x, 0)
    assert relu["min"] == 0 and relu["max"] == 4
    assert relu["mean"] == pytest.approx(expected.mean()) and relu["std"] == pytest.approx(expected.std())
    assert relu["zeros"] == pytest.approx(4 / 8)


def test_run_is_deterministic_and_the_seed_matters(cli):
    a = cli("run", CHAIN, "--json", "--seed", "3").json()
    b = cli("run", CHAIN, "--json", "--seed", "3").json()
    c = cli("run", CHAIN, "--json", "--seed", "4").json()
    assert a["layers"] == b["layers"]
    assert a["layers"] != c["layers"]


def test_run_backward_reports_gradient_norms(cli):
    r = cli("run", CHAIN, "--backward", "--json")
    data = r.json()
    assert data["loss"]["name"] == "sum"
    assert data["loss"]["value"] == pytest.approx(data["output_stats"]["mean"] * 5, rel=1e-5)  # Σ of 5 outputs
    last = data["layers"][-1]
    assert last["grad_norm"] == pytest.approx(np.sqrt(5))  # δ of Σ outputs is 1 for each of 5 outputs
    assert last["param_grad_norm"] > 0 and data["layers"][2]["param_grad_norm"] is None


def test_run_cross_entropy_needs_labels(cli):
    r = cli("run", CHAIN, "--backward", "--loss", "cross-entropy")
    assert r.code == 2 and "--label" in r.err
    r = cli("run", CHAIN, "--backward", "--loss", "cross-entropy", "--label", "7")
    assert r.code == 2 and "label 7 is out of range" in r.err
    r = cli("run", CHAIN, "--backward", "--loss", "cross-entropy", "--label", "2", "--json")
    assert r.code == 0 and r.json()["loss"]["name"] == "cross-entropy"


def test_run_text_output_fits_80_columns(cli):
    r = cli("run", "resnet18", "--in", "3x32x32", "--backward")
    assert r.code == 0, r.err
    assert "layer4.1.add" in r.out and "‖δout‖" in r.out
    assert max(len(line) for line in r.out.splitlines()) <= 80


def test_run_input_from_json_and_npz(cli, tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"x": [[[1, 2], [3, 4]]], "y": [1]}))
    r = cli("run", "1x2x2 | flatten | fc 3", "--input", tmp_path / "x.json", "--backward", "--loss", "ce", "--json")
    assert r.code == 0, r.err
    assert r.json()["batch"] == 1
    np.savez(tmp_path / "x.npz", x=np.ones((4, 1, 2, 2)), y=np.array([0, 1, 2, 0]))
    r = cli("run", "1x2x2 | flatten | fc 3", "--input", tmp_path / "x.npz", "--json")
    assert r.json()["batch"] == 4


def test_run_takes_the_input_size_from_the_file(cli, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 48, 48), np.float32))
    r = cli("run", "3x32x32 | conv 4 k3 | relu | gap | flatten | fc 2", "--input", tmp_path / "x.npy", "--json")
    assert r.code == 0, r.err
    assert r.json()["input"] == [3, 48, 48]


def test_run_load_uses_saved_weights(cli, tmp_path):
    path = tmp_path / "w.npz"
    r = cli("train", CHAIN, "--data", "synthetic:blobs:64", "--steps", "2", "--save", path, "--json")
    assert r.code == 0, r.err
    a = cli("run", CHAIN, "--load", path, "--json", "--seed", "1").json()
    b = cli("run", CHAIN, "--load", path, "--json", "--seed", "1").json()
    fresh = cli("run", CHAIN, "--json", "--seed", "1").json()
    assert a["layers"] == b["layers"] and a["layers"] != fresh["layers"]


@pytest.mark.torch
def test_run_compare_reports_tiny_differences(cli):
    pytest.importorskip("torch")
    r = cli("run", CHAIN, "--compare", "--backward", "--dtype", "float64", "--batch", "2", "--json")
    assert r.code == 0, r.err
    compare = r.json()["compare"]
    assert [d["name"] for d in compare["layers"]] == ["0", "1", "2", "3", "4", "5"]
    assert compare["max_output_diff"] < 1e-12 and compare["max_grad_diff"] < 1e-12
    assert compare["max_param_grad_diff"] < 1e-12


@pytest.mark.torch
def test_run_torch_backend_gives_the_same_statistics(cli):
    pytest.importorskip("torch")
    ours = cli("run", CHAIN, "--dtype", "float64", "--json").json()
    theirs = cli("run", CHAIN, "--dtype", "float64", "--backend", "torch", "--json").json()
    assert theirs["backend"] == "torch"
    for a, b in zip(ours["layers"], theirs["layers"]):
        assert a["stats"]["mean"] == pytest.approx(b["stats"]["mean"], abs=1e-12)


def _block_torch(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("no torch")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)


@pytest.mark.parametrize("args", [["--backend", "torch"], ["--compare"]])
def test_torch_asked_for_but_not_installed(cli, monkeypatch, args):
    _block_torch(monkeypatch)
    r = cli("run", CHAIN, *args)
    assert r.code == 2 and "needs PyTorch" in r.err


BAD_RUNS = {
    "unknown network": (["nosuchnet"], "unknown network"),
    "bad backend": ([CHAIN, "--backend", "jax"], "--backend"),
    "bad dtype": ([CHAIN, "--dtype", "int8"], "--dtype"),
    "bad init": ([CHAIN, "--init", "zeros"], "--init"),
    "bad loss": ([CHAIN, "--backward", "--loss", "hinge"], "--loss"),
    "label without backward": ([CHAIN, "--label", "1"], "--label"),
    "input too small": (["alexnet", "--in", "3x32x32"], "empty"),
    "missing input file": ([CHAIN, "--input", "/nonexistent.npy"], "no such file"),
    "missing weights": ([CHAIN, "--load", "/nonexistent.npz"], "no such file"),
}


@pytest.mark.parametrize("name", list(BAD_RUNS))
def test_bad_run_input_exits_2(cli, name):
    args, fragment = BAD_RUNS[name]
    r = cli("run", *args)
    assert r.code == 2, (r.out, r.err)
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("convcalc: error:") and fragment in lines[0], r.err


def test_bad_input_files(cli, tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((2, 3, 8, 8)))
    r = cli("run", "1x16x16 | flatten | fc 2", "--input", tmp_path / "wrong.npy")
    assert r.code == 2 and "shape 2x3x8x8" in r.err
    np.save(tmp_path / "text.npy", np.array([["a", "b"]]))
    r = cli("run", "2 | fc 2", "--input", tmp_path / "text.npy")
    assert r.code == 2 and "real numbers" in r.err
    (tmp_path / "broken.json").write_text("[[1, 2], [3")
    r = cli("run", "2 | fc 2", "--input", tmp_path / "broken.json")
    assert r.code == 2 and "not valid JSON" in r.err
    np.save(tmp_path / "nan.npy", np.array([1.0, np.nan]))
    r = cli("run", "2 | fc 2", "--input", tmp_path / "nan.npy")
    assert r.code == 2 and "NaN" in r.err
    r = cli("run", CHAIN, "--batch", "3", "--input", tmp_path / "wrong.npy")
    assert r.code == 2


def test_real_process_bad_weights_file(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    result = subprocess.run([sys.executable, "-m", "convcalc", "run", CHAIN, "--load", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "is not a .npz weights file" in result.stderr
