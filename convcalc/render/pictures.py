"""Pictures of a network on numbers, painted with matplotlib (the optional extra
``convcalc[plot]``, imported only here): a conv layer's kernels as a grid of small images,
one sample's feature maps at a layer, the training curves (loss and accuracy per step, with
the validation points), and a confusion matrix.

Colour scales are stated on each picture: kernels of one-channel or many-channel layers are
drawn on one diverging scale symmetric about 0 for the whole layer (blue negative, red
positive), three-channel kernels as RGB with the layer's minimum at 0 and maximum at 1 (as the
AlexNet figure shows them); feature maps share one scale per layer (viridis).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from convcalc.errors import InputError

KINDS = (".png", ".svg", ".pdf")
DPI = 100
MAX_TILES = 64      # kernels or maps drawn in a square grid
MAX_ROWS = 32       # kernels (rows) of a many-channel layer
MAX_COLUMNS = 16    # input channels (columns) of a many-channel layer


def picture_kind(path: str, option: str) -> str:
    """The file's format (png, svg, pdf), refused for another extension; the target is checked."""
    from convcalc.render.animation.files import check_target

    suffix = Path(path).suffix.lower()
    if suffix not in KINDS:
        raise InputError(f"{option} {path}: unknown kind of picture '{suffix or '(none)'}'; write "
                         + ", ".join(KINDS))
    check_target(path)
    from convcalc.render.animation.figure import matplotlib_figure

    matplotlib_figure()  # missing matplotlib: said now, before any work
    return suffix[1:]


def save(path: str, paint: Callable[[object], None]) -> None:
    """A new figure painted by ``paint(figure)``, written atomically to ``path`` (format by extension)."""
    from convcalc.render.animation.figure import matplotlib_figure
    from convcalc.render.animation.files import write_output

    fmt = Path(path).suffix.lower()[1:]
    Figure, Canvas = matplotlib_figure()
    import matplotlib

    def write(temporary: Path) -> None:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "convcalc", "font.size": 9}):
            fig = Figure(dpi=DPI, layout="constrained")
            Canvas(fig)
            paint(fig)
            metadata = {"Date": None} if fmt == "svg" else ({"Software": None} if fmt == "png" else {})
            fig.savefig(str(temporary), format=fmt, dpi=DPI, metadata=metadata, facecolor="white")

    write_output(path, write)


# --------------------------------------------------------------------------- grids of small images

def _mosaic(tiles: np.ndarray, columns: int, gap_value: float) -> np.ndarray:
    """Tiles (n, h, w[, 3]) side by side, ``columns`` a row, one ``gap_value`` pixel apart."""
    n, h, w = tiles.shape[:3]
    rows = math.ceil(n / columns)
    shape = (rows * (h + 1) - 1, columns * (w + 1) - 1) + tiles.shape[3:]
    out = np.full(shape, gap_value, dtype=np.float64)
    for i in range(n):
        r, c = divmod(i, columns)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = tiles[i]
    return out


def _square_columns(n: int) -> int:
    return max(1, math.ceil(math.sqrt(n)))


def _size(pixels_wide: int, pixels_high: int, extra_height: float = 1.2) -> tuple[float, float]:
    """Figure inches for a mosaic: about 12 screen pixels a cell, 4 to 11 inches wide."""
    width = min(11.0, max(5.5, pixels_wide * 0.12 + 1.6))
    scale = (width - 1.6) / max(1, pixels_wide)
    return width, min(14.0, max(2.5, pixels_high * scale + extra_height))


def _planar(array: np.ndarray, axes: int) -> tuple[np.ndarray, str]:
    """(…, *spatial) with ``axes`` spatial axes → (…, h, w): 1-D as one row, 3-D its middle depth slice."""
    if axes == 1:
        return array[..., None, :], ""
    if axes == 3:
        middle = array.shape[-3] // 2
        return array[..., middle, :, :], f"; depth slice {middle} of {array.shape[-3]} shown"
    return array, ""


def paint_kernels(fig, kernels, network: str, state: str) -> None:
    """The kernels of one layer: RGB tiles for three input channels, else a diverging scale."""
    weight = np.asarray(kernels.weight, dtype=np.float64)
    c_out, c_in = weight.shape[:2]
    size = "x".join(map(str, weight.shape[2:]))
    planar, sliced = _planar(weight, weight.ndim - 2)
    h, w = planar.shape[2:]
    notes = []
    if c_in == 3:
        shown = min(c_out, MAX_TILES)
        low, high = float(weight.min()), float(weight.max())
        tiles = (planar[:shown] - low) / ((high - low) or 1.0)
        mosaic = _mosaic(np.moveaxis(tiles, 1, -1), _square_columns(shown), 1.0)
        image_kw: dict = {}
        scale = f"RGB, the layer's min {low:.3g} → 0, max {high:.3g} → 1"
        layout = f"kernels 0 to {shown - 1} row by row"
        rows_shown, columns_shown = shown, 3
    elif c_in == 1:
        shown = min(c_out, MAX_TILES)
        mosaic = _mosaic(planar[:shown, 0], _square_columns(shown), np.nan)
        layout = f"kernels 0 to {shown - 1} row by row"
        rows_shown, columns_shown = shown, 1
    else:
        rows_shown, columns_shown = min(c_out, MAX_ROWS), min(c_in, MAX_COLUMNS)
        tiles = planar[:rows_shown, :columns_shown].reshape(rows_shown * columns_shown, h, w)
        mosaic = _mosaic(tiles, columns_shown, np.nan)
        layout = "a row per kernel (output channel), a column per input channel"
    if rows_shown < c_out:
        notes.append(f"first {rows_shown} of {c_out} kernels shown")
    if columns_shown < c_in and c_in != 3:
        notes.append(f"first {columns_shown} of {c_in} input channels shown")
    if c_in != 3:
        limit = float(np.nanmax(np.abs(mosaic))) or 1.0
        scale = f"one scale for the layer, ±{limit:.3g}"
        image_kw = {"cmap": _cmap("RdBu_r"), "vmin": -limit, "vmax": limit}
    width, height = _size(mosaic.shape[1], mosaic.shape[0], 1.6)
    fig.set_size_inches(width, height)
    ax = fig.add_subplot()
    image = ax.imshow(mosaic, interpolation="nearest", **image_kw)
    fig.suptitle(f"{network}: kernels of layer {kernels.layer} ({kernels.type}), {c_out} x "
                 f"{c_in} x {size}", fontsize=10)
    ax.set_title(_fill(f"{state}; {scale}{sliced}" + ("; " + "; ".join(notes) if notes else ""), width), fontsize=8)
    if c_in not in (1, 3):
        ax.set_xticks([c * (w + 1) + (w - 1) / 2 for c in range(columns_shown)], [str(c) for c in range(columns_shown)])
        ax.set_yticks([r * (h + 1) + (h - 1) / 2 for r in range(rows_shown)], [str(r) for r in range(rows_shown)])
        ax.tick_params(length=0, labelsize=max(4, min(8, 240 / max(rows_shown, columns_shown))))
        ax.set_xlabel("input channel")
        ax.set_ylabel("kernel (output channel)")
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(layout)
    if c_in != 3:
        fig.colorbar(image, ax=ax, shrink=0.8, label="weight")


def paint_features(fig, maps, network: str, source: str) -> None:
    """One sample's maps at a layer: a tile per channel, one colour scale (viridis) for all."""
    values = np.asarray(maps.maps, dtype=np.float64)
    channels = values.shape[0]
    shape = "x".join(map(str, values.shape))
    ax = fig.add_subplot()
    notes = []
    if values.ndim == 2:  # 1-D maps: a row per channel
        shown = min(channels, 256)
        mosaic = values[:shown]
        ax.set_xlabel("position")
        ax.set_ylabel("channel")
        ax.set_aspect("auto")
        width, height = 8.0, min(10.0, 2.0 + 0.15 * shown)
    else:
        planar, sliced = _planar(values, values.ndim - 1)
        if sliced:
            notes.append(sliced[2:])
        shown = min(channels, MAX_TILES)
        mosaic = _mosaic(planar[:shown], _square_columns(shown), np.nan)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"channels 0 to {shown - 1} row by row")
        width, height = _size(mosaic.shape[1], mosaic.shape[0], 1.6)
    if shown < channels:
        notes.append(f"first {shown} of {channels} channels shown")
    fig.set_size_inches(width, height)
    image = ax.imshow(mosaic, interpolation="nearest", cmap=_cmap("viridis"),
                      aspect="auto" if values.ndim == 2 else "equal")
    fig.suptitle(f"{network}: feature maps at layer {maps.layer} ({maps.type}), {shape}", fontsize=10)
    ax.set_title(_fill(f"sample {maps.sample} {source}; one colour scale for all channels"
                       + ("; " + "; ".join(notes) if notes else ""), width), fontsize=8)
    fig.colorbar(image, ax=ax, shrink=0.8, label="activation")


def _fill(text: str, inches: float) -> str:
    """A subtitle wrapped to the figure's width (about 14 characters an inch at 8 points)."""
    import textwrap

    return textwrap.fill(text, max(30, int(inches * 14)))


def _cmap(name: str):
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad="white")  # the gaps between tiles


# --------------------------------------------------------------------------- training

def running_mean(values: Sequence[float], window: int) -> np.ndarray:
    """The mean of the last ``window`` values at each step (fewer at the start)."""
    v = np.asarray(values, dtype=np.float64)
    sums = np.cumsum(np.insert(v, 0, 0.0))
    ends = np.arange(1, len(v) + 1)
    starts = np.maximum(0, ends - window)
    return (sums[ends] - sums[starts]) / (ends - starts)


def paint_curves(fig, view) -> None:
    """Loss (and for a classifier accuracy) per step: each training batch, their running mean,
    and the validation points."""
    r = view.result
    steps = np.array([s.step for s in r.history])
    losses = [s.loss for s in r.history]
    classifier = view.loss == "cross-entropy"
    panels = 2 if classifier else 1
    fig.set_size_inches(5.2 * panels + 1.6 * (panels == 1) + 0.6, 4.2)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    window = max(1, len(steps) // 20)
    validation = list(r.validation)
    ax = axes[0]
    ax.plot(steps, losses, color="#9ecae1", linewidth=0.8, label="training batch")
    if window > 1:
        ax.plot(steps, running_mean(losses, window), color="#08519c", linewidth=1.6,
                label=f"training, mean of {window} steps")
    if validation:
        ax.plot([e.step for e in validation], [e.loss for e in validation], "o-", color="#d94801", markersize=4,
                label=f"validation ({validation[-1].samples} samples"
                      + (", summed over them)" if view.loss == "sse" else ")"))
    ax.set_xlabel("step")
    finite = [v for v in losses if math.isfinite(v)]
    wide = bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 1e3  # decades apart: log scale
    if wide:
        ax.set_yscale("log")
    ax.set_ylabel(f"loss ({view.loss}{', log scale' if wide else ''})")
    ax.set_title("loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if classifier:
        ax = axes[1]
        accuracy = [100 * s.accuracy for s in r.history]
        ax.plot(steps, accuracy, color="#a1d99b", linewidth=0.8, label="training batch")
        if window > 1:
            ax.plot(steps, running_mean(accuracy, window), color="#006d2c", linewidth=1.6,
                    label=f"training, mean of {window} steps")
        if validation:
            ax.plot([e.step for e in validation], [100 * e.accuracy for e in validation], "o-", color="#d94801",
                    markersize=4, label="validation")
        ax.set_xlabel("step")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-2, 102)
        ax.set_title("accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    per_epoch = math.ceil(view.train_samples / view.batch_size)
    title = (f"{view.network} on {view.data_name}: {view.steps} steps of batch {view.batch_size} "
             f"({per_epoch} step{'s' if per_epoch != 1 else ''} an epoch), {view.optimizer_text}")
    fig.suptitle(_fill(title, fig.get_figwidth() * 0.85), fontsize=10)


def paint_confusion(fig, confusion) -> None:
    """Counts of (true class, predicted class), each cell written in it; the diagonal is right."""
    matrix = np.asarray(confusion.matrix)
    classes = len(matrix)
    names = list(confusion.class_names) or [str(c) for c in range(classes)]
    side = min(12.0, max(4.5, 0.55 * classes + 2.5))
    fig.set_size_inches(side + 1.0, side)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", vmin=0)
    top = matrix.max() or 1
    if classes <= 30:
        for t in range(classes):
            for p in range(classes):
                ax.text(p, t, str(int(matrix[t, p])), ha="center", va="center", fontsize=8 if classes <= 12 else 6,
                        color="white" if matrix[t, p] > top / 2 else "#08306b")
    ax.set_xticks(range(classes), names, rotation=45 if max(map(len, names)) > 3 else 0, ha="right"
                  if max(map(len, names)) > 3 else "center")
    ax.set_yticks(range(classes), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"confusion matrix, {confusion.split}: {confusion.samples} samples, "
                 f"accuracy {100 * confusion.accuracy:.1f}%", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8, label="samples")
