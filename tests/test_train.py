"""``convcalc train``: LeNet-5 learns a synthetic dataset, the same seed gives the same history,
weights files round-trip, and bad input stops with exit 2 and nothing half-written."""

from __future__ import annotations

import numpy as np
import pytest

from convcalc.executor import datasets

CHAIN = "1x12x12 | conv 4 k3 | bn | relu | maxpool k2 | dropout 0.3 | flatten | fc 4"


def test_lenet5_learns_oriented_bars(cli):
    """The stated result: LeNet-5 (zoo lenet5, 1x32x32, PyTorch's default initialisation) on
    synthetic:bars (1,200 images, 4 orientations, 20 % held out), Adam lr 0.003, batch 32, seed 0:
    after 80 steps (2.7 epochs) at least 95 % of the 240 validation images are classified correctly."""
    r = cli("train", "lenet5", "--data", "synthetic:bars", "--val", "0.2", "--steps", "80", "--optimizer", "adam",
            "--lr", "0.003", "--batch-size", "32", "--seed", "0", "--eval-every", "0", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["schema"] == "convcalc/train/v1"
    assert data["data"]["train_samples"] == 960 and data["data"]["val_samples"] == 240
    assert data["history"]["loss"][0] > 1.2  # ≈ log 10 at the start: ten untrained scores
    assert data["final"]["val_accuracy"] >= 0.95, data["validation"]
    assert np.mean(data["history"]["loss"][-10:]) < 0.3


def test_same_seed_same_history(cli):
    args = ("train", CHAIN, "--data", "synthetic:bars:96", "--steps", "6", "--batch-size", "16", "--val", "0.25",
            "--eval-every", "3", "--optimizer", "momentum", "--json")
    a = cli(*args, "--seed", "5").json()
    b = cli(*args, "--seed", "5").json()
    c = cli(*args, "--seed", "6").json()
    assert a["history"] == b["history"] and a["validation"] == b["validation"]
    assert a["history"]["loss"] != c["history"]["loss"]
    assert [v["step"] for v in a["validation"]] == [3, 6]


def test_float64_and_other_optimizers_and_inits(cli):
    for optimizer in ("sgd", "momentum", "adam"):
        r = cli("train", CHAIN, "--data", "synthetic:shapes:64", "--steps", "3", "--optimizer", optimizer,
                "--dtype", "float64", "--init", "xavier-normal", "--json")
        assert r.code == 0, r.err
        data = r.json()
        assert data["optimizer"]["name"] == optimizer and data["dtype"] == "float64"
        assert data["init"] == "xavier-normal" and len(data["history"]["loss"]) == 3


def test_epochs_count_the_batches(cli):
    r = cli("train", CHAIN, "--data", "synthetic:blobs:50", "--epochs", "2", "--batch-size", "16", "--json")
    data = r.json()
    assert data["steps"] == 8 and data["epochs"] == pytest.approx(2.0)  # ⌈50/16⌉ = 4 batches per epoch
    assert data["history"]["epoch"] == [1, 1, 1, 1, 2, 2, 2, 2]


def test_plain_progress_and_the_loss_curve(cli):
    r = cli("train", CHAIN, "--data", "synthetic:bars:64", "--steps", "40", "--val", "0.25")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert sum(line.startswith("step ") for line in lines) == 20  # one line every 2 steps of 40
    assert any("val acc" in line for line in lines)
    assert "loss per step (o: validation loss)" in r.out and "step 1" in r.out and "step 40" in r.out
    curve = [line for line in lines if "|" in line]
    assert len(curve) == 10 and all("*" in line or "o" in line for line in curve)


def test_save_then_load_and_continue(cli, tmp_path):
    path = tmp_path / "chain.npz"
    r = cli("train", CHAIN, "--data", "synthetic:bars:64", "--steps", "4", "--save", path, "--json")
    assert r.code == 0 and r.json()["saved"] == str(path)
    with np.load(path, allow_pickle=False) as archive:
        keys = set(archive.files)
    assert {"0.weight", "0.bias", "1.weight", "1.running_mean", "1.num_batches_tracked", "6.weight"} <= keys
    resumed = cli("train", CHAIN, "--data", "synthetic:bars:64", "--steps", "4", "--load", path, "--json").json()
    fresh = cli("train", CHAIN, "--data", "synthetic:bars:64", "--steps", "4", "--json").json()
    assert resumed["loaded"] == str(path) and resumed["history"]["loss"] != fresh["history"]["loss"]


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def _bad_files(tmp_path):
    x = np.zeros((8, 1, 12, 12), np.float32)
    y = np.arange(8) % 4
    return {
        "wrong shape": (_npz(tmp_path / "a.npz", x=np.zeros((8, 3, 12, 12)), y=y), "shape 8x3x12x12"),
        "strings": (_npz(tmp_path / "b.npz", x=np.full((8, 1, 12, 12), "a"), y=y), "real numbers"),
        "label too large": (_npz(tmp_path / "c.npz", x=x, y=y + 1), "label 4"),
        "negative label": (_npz(tmp_path / "d.npz", x=x, y=y - 1), "label -1"),
        "float labels": (_npz(tmp_path / "e.npz", x=x, y=y.astype(float)), "integer class indices"),
        "label count": (_npz(tmp_path / "f.npz", x=x, y=y[:5]), "one label per sample"),
        "missing y": (_npz(tmp_path / "g.npz", x=x), "no array 'y'"),
        "nan": (_npz(tmp_path / "h.npz", x=np.full_like(x, np.nan), y=y), "NaN"),
        "half validation": (_npz(tmp_path / "i.npz", x=x, y=y, x_val=x), "both x_val and y_val"),
    }


def test_bad_data_files_exit_2(cli, tmp_path):
    for name, (path, fragment) in _bad_files(tmp_path).items():
        r = cli("train", CHAIN, "--data", path, "--steps", "1")
        assert r.code == 2, name
        lines = [line for line in r.err.splitlines() if line.strip()]
        assert len(lines) == 1 and fragment in lines[0], (name, r.err)


def test_good_data_file_with_validation_arrays(cli, tmp_path):
    rng = np.random.default_rng(0)
    path = _npz(tmp_path / "ok.npz", x=rng.normal(size=(20, 12, 12)), y=np.arange(20) % 4,
                x_val=rng.normal(size=(6, 1, 12, 12)), y_val=np.arange(6) % 4)
    r = cli("train", CHAIN, "--data", path, "--steps", "2", "--json")
    assert r.code == 0, r.err
    assert r.json()["data"]["val_samples"] == 6 and r.json()["data"]["train_samples"] == 20


def test_nan_loss_stops_naming_the_step_and_saves_nothing(cli, tmp_path):
    path = tmp_path / "never.npz"
    r = cli("train", "16 | fc 8 | relu | fc 4", "--data", "synthetic:blobs:64", "--steps", "20", "--lr", "1e20",
            "--save", path)
    assert r.code == 2
    assert "the loss became nan at step 2" in r.err and "Warning" not in r.err
    assert not path.exists() and list(tmp_path.iterdir()) == []


BAD_TRAINS = {
    "unknown synthetic": (["--data", "synthetic:cats"], "synthetic:bars"),
    "images for vectors": (["16 | fc 4", "--data", "synthetic:bars"], "synthetic:blobs"),
    "too few outputs": (["1x12x12 | flatten | fc 2", "--data", "synthetic:bars"], "at least 4 outputs"),
    "no vector output": (["1x12x12 | conv 2 k3", "--data", "synthetic:bars"], "one score per class"),
    "steps and epochs": (["--data", "synthetic:bars:32", "--steps", "2", "--epochs", "1"], "not both"),
    "bad validation": (["--data", "synthetic:bars:32", "--val", "1.5"], "--val"),
    "missing data file": (["--data", "/nonexistent.npz"], "no such file"),
    "save directory": (["--data", "synthetic:bars:32", "--save", "/nonexistent/dir/w.npz"], "does not exist"),
    "bad optimizer": (["--data", "synthetic:bars:32", "--optimizer", "lbfgs"], "--optimizer"),
    "negative lr": (["--data", "synthetic:bars:32", "--lr", "-1"], "--lr"),
    "missing weights": (["--data", "synthetic:bars:32", "--load", "/nonexistent.npz"], "no such file"),
}


@pytest.mark.parametrize("name", list(BAD_TRAINS))
def test_bad_train_input_exits_2(cli, name):
    args = BAD_TRAINS[name][0]
    if not args[0].startswith("-"):
        network, args = args[0], args[1:]
    else:
        network = CHAIN
    r = cli("train", network, *args)
    assert r.code == 2, (r.out, r.err)
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1 and BAD_TRAINS[name][1] in lines[0], r.err


def test_weights_of_another_network_are_refused(cli, tmp_path):
    path = tmp_path / "other.npz"
    assert cli("train", "16 | fc 4", "--data", "synthetic:blobs:32", "--steps", "1", "--save", path).code == 0
    r = cli("train", CHAIN, "--data", "synthetic:bars:32", "--steps", "1", "--load", path)
    assert r.code == 2 and "does not match" in r.err and "missing" in r.err


def test_synthetic_datasets_are_deterministic_and_labelled():
    for name, classes in (("bars", 4), ("shapes", 3), ("blobs", 4)):
        a = datasets.synthetic(f"synthetic:{name}:200", (2, 16, 16), 10, 0.25, 1, np.float32)
        b = datasets.synthetic(f"synthetic:{name}:200", (2, 16, 16), 10, 0.25, 1, np.float32)
        c = datasets.synthetic(f"synthetic:{name}:200", (2, 16, 16), 10, 0.25, 2, np.float32)
        np.testing.assert_array_equal(a.x, b.x)
        assert not np.array_equal(a.x, c.x)
        assert a.x.shape == (150, 2, 16, 16) and a.x_val.shape == (50, 2, 16, 16) and a.x.dtype == np.float32
        assert set(np.unique(np.concatenate([a.y, a.y_val]))) == set(range(classes))


def test_bars_are_oriented():
    """The mean horizontal bar varies across rows more than across columns, and vice versa."""
    data = datasets.synthetic("synthetic:bars:400", (1, 24, 24), 4, 0.0, 0, np.float64)
    for label, row_axis_varies in ((0, True), (1, False)):
        images = data.x[data.y == label, 0]
        along_columns = np.abs(np.diff(images, axis=2)).mean()  # changes moving right
        along_rows = np.abs(np.diff(images, axis=1)).mean()     # changes moving down
        assert (along_rows > along_columns) == row_axis_varies
