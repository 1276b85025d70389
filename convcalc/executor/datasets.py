"""Training data: arrays from an ``.npz`` file, or small synthetic datasets generated from the
seed at the network's input size, so training works offline with nothing to download.

Synthetic datasets (``--data synthetic:NAME`` or ``synthetic:NAME:SAMPLES``; 1,200 samples unless given):

* ``bars``   — 4 classes: a bar that is horizontal, vertical, diagonal (↘) or anti-diagonal (↗),
  random position, length and thickness, orientation jittered by up to ±10°;
* ``shapes`` — 3 classes: a filled square, circle or triangle of random size and position;
* ``blobs``  — 4 classes: a random prototype per class plus Gaussian noise (any input shape,
  also plain feature vectors);
* ``random`` — regression targets: standard-normal inputs and standard-normal targets of the
  network's output shape (the toy of the course's two-layer MLP: ``x = randn(N, D_in)``,
  ``y = randn(N, D_out)``; for ``--loss mse`` or ``sse``).

``--data digits``: the 1,797 8x8 images of handwritten digits that scikit-learn bundles (a copy
of the UCI optical-recognition test set; no download), pixels 0–16 scaled to [0, 1], labels 0–9;
a network taking k·8 x k·8 gets each pixel repeated k x k times.

Held-out splits are drawn from the data stream of the seed: first the test split (``--test``),
then the validation split (``--val``) from the rest.

Images are drawn in [0, 1], then mapped to [−1, 1] with Gaussian noise (σ 0.1); with several
channels each channel gets its own random intensity. The same seed gives the same arrays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from convcalc.errors import InputError

SYNTHETIC = {
    "bars": ("horizontal", "vertical", "diagonal", "anti-diagonal"),
    "shapes": ("square", "circle", "triangle"),
    "blobs": ("blob 0", "blob 1", "blob 2", "blob 3"),
    "random": (),
}
DIGITS = tuple(str(d) for d in range(10))
DEFAULT_SAMPLES = 1200


@dataclass(frozen=True)
class Dataset:
    """Training and validation arrays, already of the network's input shape and dtype."""

    name: str
    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    class_names: tuple[str, ...] = ()
    description: str = ""
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    normalization: Normalization | None = None

    @property
    def has_validation(self) -> bool:
        return self.x_val is not None and len(self.x_val) > 0


@dataclass(frozen=True)
class Normalization:
    """x ← (x − mean_c) / std_c per channel c, both measured on the training split (population
    std; a channel with std 0 keeps std 1)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def describe(self) -> str:
        def listed(values):
            return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"

        return f"per-channel mean {listed(self.mean)}, std {listed(self.std)} of the training split"


def normalize(data: Dataset) -> Dataset:
    """``data`` with every split normalised by the training split's per-channel statistics."""
    from dataclasses import replace

    x = data.x
    if x.ndim < 2:
        raise InputError("--normalize needs inputs with a channel axis")
    axes = (0,) + tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, dtype=np.float64)
    std = x.std(axis=axes, dtype=np.float64)
    std = np.where(std > 0, std, 1.0)
    shape = (1, -1) + (1,) * (x.ndim - 2)

    def apply(a):
        return None if a is None else ((a - mean.reshape(shape)) / std.reshape(shape)).astype(x.dtype)

    return replace(data, x=apply(data.x), x_val=apply(data.x_val), x_test=apply(data.x_test),
                   normalization=Normalization(tuple(map(float, mean)), tuple(map(float, std))))


# --------------------------------------------------------------------------- synthetic images

def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres in [−1, 1]² (rows y down, columns x right)."""
    ys = (np.arange(h) + 0.5) / h * 2 - 1
    xs = (np.arange(w) + 0.5) / w * 2 - 1
    return ys[:, None], xs[None, :]


def _bars(n: int, h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 4, n)
    angle = np.array([0.0, 90.0, -45.0, 45.0])[y] + rng.uniform(-10, 10, n)
    theta = np.deg2rad(angle)[:, None, None]
    cy, cx = rng.uniform(-0.35, 0.35, (2, n))[:, :, None, None]
    half_length = rng.uniform(0.45, 0.8, n)[:, None, None]
    half_width = np.maximum(rng.uniform(0.06, 0.14, n), 1.2 / min(h, w))[:, None, None]
    gy, gx = _grid(h, w)
    dy, dx = gy[None] - cy, gx[None] - cx
    along = dx * np.cos(theta) - dy * np.sin(theta)   # image y points down: angle measured counter-clockwise
    across = dx * np.sin(theta) + dy * np.cos(theta)
    images = ((np.abs(along) <= half_length) & (np.abs(across) <= half_width)).astype(np.float64)
    return images, y


def _shapes(n: int, h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 3, n)
    r = rng.uniform(0.3, 0.6, n)[:, None, None]
    cy, cx = rng.uniform(-0.3, 0.3, (2, n))[:, :, None, None]
    gy, gx = _grid(h, w)
    dy, dx = gy[None] - cy, gx[None] - cx
    square = np.maximum(np.abs(dx), np.abs(dy)) <= r * 0.85
    circle = dx ** 2 + dy ** 2 <= r ** 2
    triangle = (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)  # apex up, base at the bottom
    images = np.where(y[:, None, None] == 0, square, np.where(y[:, None, None] == 1, circle, triangle))
    return images.astype(np.float64), y


def _to_input(images: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """(N, H, W) in [0, 1] → (N, C, H, W) in [−1, 1] with per-channel intensity and noise."""
    n, c = images.shape[0], shape[0]
    intensity = rng.uniform(0.6, 1.0, (n, c, 1, 1)) if c > 1 else np.ones((n, 1, 1, 1))
    x = images[:, None] * intensity * 2 - 1
    return x + rng.normal(0, 0.1, x.shape)


def _blobs(n: int, shape: tuple[int, ...], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    prototypes = rng.normal(0, 1, (4,) + tuple(shape))
    y = rng.integers(0, 4, n)
    return prototypes[y] + rng.normal(0, 1.0, (n,) + tuple(shape)), y


def parse_synthetic(text: str) -> tuple[str, int]:
    """``synthetic:bars`` or ``synthetic:bars:2000`` → (name, samples)."""
    parts = text.split(":")
    name = parts[1].strip().lower() if len(parts) > 1 else ""
    if name not in SYNTHETIC:
        raise InputError(f"--data {text}: unknown synthetic dataset '{name}'; built in: "
                         + ", ".join(f"synthetic:{k}" for k in SYNTHETIC))
    samples = DEFAULT_SAMPLES
    if len(parts) > 2:
        raw = parts[2].strip().replace("_", "")
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) < 2:
            raise InputError(f"--data {text}: the sample count after the name must be a whole number ≥ 2 "
                             "(at most 2**63 − 1)")
        samples = int(raw)
    if len(parts) > 3:
        raise InputError(f"--data {text}: write synthetic:NAME or synthetic:NAME:SAMPLES")
    return name, samples


def synthetic(text: str, input_shape: tuple[int, ...], classes: int, val_fraction: float, seed: int,
              dtype, *, test_fraction: float = 0.0, targets: tuple[int, ...] | None = None) -> Dataset:
    """The synthetic dataset ``text`` at ``input_shape`` (C, *spatial), drawn from ``seed``;
    ``targets`` (the output shape) for a regression loss."""
    name, samples = parse_synthetic(text)
    labels = SYNTHETIC[name]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))  # the data's own stream
    if (name == "random") != (targets is not None):
        raise InputError("synthetic:random has regression targets: train it with --loss mse or sse"
                         if name == "random" else
                         f"--loss mse/sse fits numbers, and synthetic:{name} has class labels: use synthetic:random, "
                         "or an .npz whose y holds the targets")
    if targets is not None:
        x = rng.standard_normal((samples,) + tuple(input_shape)).astype(dtype)
        y = rng.standard_normal((samples,) + tuple(targets)).astype(dtype)
        shown = "x".join(map(str, input_shape)), "x".join(map(str, targets))
        return _held_out("synthetic:random", x, y, val_fraction, test_fraction, rng, (),
                         f"{samples} standard-normal inputs {shown[0]} with standard-normal targets {shown[1]}")
    if len(labels) > classes:
        raise InputError(f"synthetic:{name} has {len(labels)} classes but the network gives {classes} scores: "
                         f"it needs at least {len(labels)} outputs")
    if name == "blobs":
        x, y = _blobs(samples, input_shape, rng)
        description = (f"{samples} samples, 4 Gaussian classes around random prototypes of shape "
                       f"{'x'.join(map(str, input_shape))}")
    else:
        if len(input_shape) != 3:
            raise InputError(f"synthetic:{name} draws images and needs a C x H x W input; the network takes "
                             f"{'x'.join(map(str, input_shape))} (synthetic:blobs works for any shape)")
        h, w = input_shape[1:]
        if min(h, w) < 8:
            raise InputError(f"synthetic:{name} needs images of at least 8x8; the network takes {h}x{w}")
        images, y = (_bars if name == "bars" else _shapes)(samples, h, w, rng)
        x = _to_input(images, input_shape, rng)
        description = f"{samples} {h}x{w} images of {', '.join(labels)}"
    return _held_out(f"synthetic:{name}", x.astype(dtype), y.astype(np.int64), val_fraction, test_fraction, rng,
                     labels, description)


def _held_out(name: str, x, y, val_fraction: float, test_fraction: float, rng, labels, description) -> Dataset:
    """The test split, then the validation split of the rest (see the module doc)."""
    x_rest, y_rest, x_test, y_test = split(x, y, test_fraction, rng, "--test")
    if val_fraction and x_test is not None:
        val_fraction = val_fraction * len(x) / len(x_rest)  # --val is a fraction of all the samples
        if val_fraction >= 1:
            raise InputError(f"--val and --test together leave no training samples out of {len(x)}")
    x_train, y_train, x_val, y_val = split(x_rest, y_rest, val_fraction, rng)
    return Dataset(name, x_train, y_train, x_val, y_val, labels, description, x_test, y_test)


def digits(input_shape: tuple[int, ...], classes: int, val_fraction: float, test_fraction: float, seed: int,
           dtype) -> Dataset:
    """scikit-learn's bundled 8x8 digits (see the module doc), enlarged to the network's size."""
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[0] != 1 or shape[1] != shape[2] or shape[1] % 8:
        raise InputError(f"--data digits holds 1x8x8 images; the network takes {'x'.join(map(str, shape))} "
                         "(give --in 1x8x8, or a square multiple such as 1x32x32)")
    if classes < 10:
        raise InputError(f"--data digits has 10 classes but the network gives {classes} scores: "
                         "it needs fc 10 at the end")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise InputError("--data digits needs scikit-learn (it bundles the images): "
                         "pip install 'convcalc[digits]'") from None
    bunch = load_digits()
    factor = shape[1] // 8
    images = np.asarray(bunch.images, dtype=np.float64) / 16.0
    if factor > 1:
        images = images.repeat(factor, axis=1).repeat(factor, axis=2)
    x = images[:, None].astype(dtype)
    y = np.asarray(bunch.target, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    size = f", each pixel repeated {factor}x{factor} to {shape[1]}x{shape[2]}" if factor > 1 else ""
    return _held_out("digits", x, y, val_fraction, test_fraction, rng, DIGITS,
                     f"{len(x)} 8x8 handwritten digits 0-9 (scikit-learn), pixels 0-16 scaled to [0, 1]{size}")


# --------------------------------------------------------------------------- arrays from a file

def split(x: np.ndarray, y: np.ndarray, fraction: float, rng: np.random.Generator, option: str = "--val"):
    """A seeded random ``fraction`` of the samples held out (for validation, or ``--test``)."""
    if not 0 <= fraction < 1:
        raise InputError(f"{option} must be a fraction in [0, 1); got {fraction}")
    n_val = round(len(x) * fraction)
    if fraction > 0 and n_val == 0:
        n_val = 1
    if n_val >= len(x):
        raise InputError(f"{option} {fraction} leaves no training samples out of {len(x)}")
    if n_val == 0:
        return x, y, None, None
    order = rng.permutation(len(x))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]


def _load_npz(path: str):
    import zipfile

    from convcalc.files import read_magic

    magic = read_magic(path, "--data")
    if magic != b"PK\x03\x04":  # not a zip: np.load would try it as .npy or a pickle
        kind = "a single .npy array" if magic[:4] == b"\x93NUM" else "not an .npz archive"
        raise InputError(f"--data {path} is {kind}: training needs an .npz with arrays x (images) and y (labels); "
                         "save one with numpy.savez(path, x=images, y=labels)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise InputError(f"--data {path} is not a readable .npz file ({error}); "
                         "save with numpy.savez(path, x=..., y=...)") from None


def _check_x(x: np.ndarray, key: str, path: str, input_shape: tuple[int, ...]) -> np.ndarray:
    if x.dtype == object or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)) \
            or x.dtype == np.bool_:
        raise InputError(f"--data {path}: array '{key}' has dtype {x.dtype}; it must hold real numbers (float or int)")
    shape = tuple(input_shape)
    if x.ndim == len(shape) and shape[0] == 1 and tuple(x.shape[1:]) == shape[1:]:
        x = x[:, None]  # (N, H, W) for a one-channel network: add the channel axis
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        raise InputError(f"--data {path}: array '{key}' has shape {'x'.join(map(str, x.shape))}; the network takes "
                         f"N x {'x'.join(map(str, shape))} (give --in to run the network at another size)")
    if len(x) == 0:
        raise InputError(f"--data {path}: array '{key}' has no samples")
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise InputError(f"--data {path}: array '{key}' contains NaN or infinite values")
    return x


def _check_y(y: np.ndarray, key: str, path: str, n: int, classes: int) -> np.ndarray:
    if not np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        raise InputError(f"--data {path}: labels '{key}' have dtype {y.dtype}; they must be integer class indices "
                         f"(e.g. y.astype(numpy.int64))")
    if y.ndim != 1 or len(y) != n:
        raise InputError(f"--data {path}: labels '{key}' have shape {'x'.join(map(str, y.shape))}; "
                         f"expected one label per sample ({n})")
    if len(y) and (y.min() < 0 or y.max() >= classes):
        bad = int(y.min()) if y.min() < 0 else int(y.max())
        raise InputError(f"--data {path}: label {bad} in '{key}' is out of range: the network gives {classes} class "
                         f"scores, so labels must be in [0, {classes})")
    return y.astype(np.int64)


def _check_targets(y: np.ndarray, key: str, path: str, n: int, targets: tuple[int, ...]) -> np.ndarray:
    """Regression targets: real numbers, one array of the network's output shape per sample."""
    if y.dtype == object or y.dtype == np.bool_ or not (np.issubdtype(y.dtype, np.integer)
                                                         or np.issubdtype(y.dtype, np.floating)):
        raise InputError(f"--data {path}: targets '{key}' have dtype {y.dtype}; they must be real numbers")
    if y.ndim == 1 and targets == (1,):
        y = y[:, None]
    if len(y) != n or tuple(y.shape[1:]) != tuple(targets):
        raise InputError(f"--data {path}: targets '{key}' have shape {'x'.join(map(str, y.shape))}; the network "
                         f"gives {'x'.join(map(str, targets))} per sample, "
                         f"so expected {n} x {'x'.join(map(str, targets))}")
    if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
        raise InputError(f"--data {path}: targets '{key}' contain NaN or infinite values")
    return y


def from_npz(path: str, input_shape: tuple[int, ...], classes: int, val_fraction: float, seed: int, dtype, *,
             test_fraction: float = 0.0, targets: tuple[int, ...] | None = None) -> Dataset:
    """Arrays ``x`` (N, C, *spatial) and ``y`` (N,) from ``path`` — or, with ``targets`` (a
    regression loss), y of the output shape — and ``x_val``/``y_val``, ``x_test``/``y_test`` if
    present (otherwise ``val_fraction`` / ``test_fraction`` of the samples, chosen from ``seed``)."""
    arrays = _load_npz(path)
    for key in ("x", "y"):
        if key not in arrays:
            raise InputError(f"--data {path} has no array '{key}' (it has {', '.join(arrays) or 'none'}); "
                             "save with numpy.savez(path, x=images, y=labels)")

    def pair(x_key: str, y_key: str):
        x = _check_x(arrays[x_key], x_key, path, input_shape)
        if targets is not None:
            return x, _check_targets(arrays[y_key], y_key, path, len(x), targets).astype(dtype)
        return x, _check_y(arrays[y_key], y_key, path, len(x), classes)

    x, y = pair("x", "y")
    given = {}
    for part, option, fraction in (("val", "--val", val_fraction), ("test", "--test", test_fraction)):
        if f"x_{part}" in arrays or f"y_{part}" in arrays:
            if f"x_{part}" not in arrays or f"y_{part}" not in arrays:
                raise InputError(f"--data {path}: give both x_{part} and y_{part}, or neither")
            if fraction:
                raise InputError(f"--data {path} has x_{part}/y_{part} already: leave out {option}")
            given[part] = pair(f"x_{part}", f"y_{part}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    data = _held_out(os.path.basename(path), x, y, val_fraction, test_fraction, rng, (),
                     f"{len(x)} samples from {path}")
    from dataclasses import replace

    if "val" in given:
        data = replace(data, x_val=given["val"][0], y_val=given["val"][1])
    if "test" in given:
        data = replace(data, x_test=given["test"][0], y_test=given["test"][1])

    def cast(a):
        return None if a is None else a.astype(dtype)

    return replace(data, x=cast(data.x), x_val=cast(data.x_val), x_test=cast(data.x_test))


def load(text: str, input_shape: tuple[int, ...], classes: int, val_fraction: float, seed: int, dtype, *,
         test_fraction: float = 0.0, targets: tuple[int, ...] | None = None) -> Dataset:
    """``--data``: ``synthetic:NAME[:SAMPLES]``, ``digits`` or an ``.npz`` file."""
    key = text.strip().lower()
    if key.startswith("synthetic:") or key == "synthetic":
        return synthetic(text.strip(), tuple(input_shape), classes, val_fraction, seed, dtype,
                         test_fraction=test_fraction, targets=targets)
    if key == "digits" and not os.path.exists(text):
        if targets is not None:
            raise InputError("--data digits has class labels: train it with --loss cross-entropy")
        return digits(tuple(input_shape), classes, val_fraction, test_fraction, seed, dtype)
    return from_npz(text, tuple(input_shape), classes, val_fraction, seed, dtype, test_fraction=test_fraction,
                    targets=targets)


def class_count(output_shape: tuple[int, ...]) -> int:
    """The number of class scores a network gives: its output must be one vector per sample."""
    if len(output_shape) != 1:
        raise InputError(f"training needs a network that ends in one score per class (a vector); this one gives "
                         f"{'x'.join(map(str, output_shape))} per sample (add flatten and fc N)")
    return int(output_shape[0])

