"""What ``convcalc run`` and ``convcalc train`` show: the per-layer run table, the training
progress (a rich bar on a terminal, plain lines when piped), the loss curve drawn in text,
and the JSON records (schemas ``convcalc/run/v1`` and ``convcalc/train/v1``).

The engines (:mod:`convcalc.executor`) compute; this module only formats.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from convcalc.errors import InputError
from convcalc.executor.confusion import Confusion
from convcalc.executor.inspection import LayerRow, RunReport, TensorStats
from convcalc.executor.training import Evaluation, StepRecord, TrainResult
from convcalc.notation import format_shape
from convcalc.render.network import short_type
from convcalc.render.table import plain_table
from convcalc.render.values import count

RUN_SCHEMA = "convcalc/run/v1"
TRAIN_SCHEMA = "convcalc/train/v1"
WIDTH = 80


# --------------------------------------------------------------------------- numbers

def num(value: float | None) -> str:
    """3 significant digits, short exponents: ``0.123``, ``-4.56``, ``1.2e-5``, ``3.4e6``; ``—`` for none."""
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    text = f"{value:.3g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def percent(fraction: float | None) -> str:
    if fraction is None:
        return "—"
    if 0 < fraction < 0.001:
        return "<0.1%"
    return f"{fraction * 100:.0f}%" if fraction >= 0.1 or fraction == 0 else f"{fraction * 100:.1f}%"


def finite(value: Any) -> Any:
    """JSON has no NaN or infinity: those become the strings "nan", "inf", "-inf"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _table(headers: Sequence[str], rows: list[list[str]], right: set[str], width: int = WIDTH) -> str:
    """A plain-text table; the first column gives way (middle-truncated) to stay within ``width``."""
    return "\n".join(plain_table(headers, rows, right, width))


# --------------------------------------------------------------------------- convcalc run

def run_headers(report: RunReport) -> tuple[str, ...]:
    if report.backward:
        return ("layer", "type", "output", "mean", "std", "zeros", "‖δout‖", "‖δθ‖")
    return ("layer", "type", "output", "min", "max", "mean", "std", "zeros")


RUN_RIGHT = {"min", "max", "mean", "std", "zeros", "‖δout‖", "‖δθ‖", "max |Δ|", "of |torch|", "Δ δout", "Δ δθ"}


def run_cells(report: RunReport) -> list[list[str]]:
    cells = []
    for row in report.rows:
        s = row.stats
        head = [row.name, short_type(row.type), format_shape(row.output)]
        if s is None:
            stats = ["—"] * (3 if report.backward else 5)
        elif report.backward:
            stats = [num(s.mean), num(s.std), percent(s.zeros)]
        else:
            stats = [num(s.min), num(s.max), num(s.mean), num(s.std), percent(s.zeros)]
        tail = [num(row.grad_norm), num(row.param_grad_norm) if row.params else ""] if report.backward else []
        cells.append(head + stats + tail)
    return cells


def compare_cells(report: RunReport) -> list[list[str]]:
    cells = []
    for d in report.differences or ():
        row = [d.name, num(d.output), num(d.output_scale)]
        if report.backward:
            row += [num(d.grad), "" if d.param_grad is None else num(d.param_grad)]
        cells.append(row)
    return cells


def compare_headers(report: RunReport) -> tuple[str, ...]:
    base = ("layer", "max |Δ|", "of |torch|")
    return base + (("Δ δout", "Δ δθ") if report.backward else ())


def run_summary(report: RunReport) -> list[tuple[str, str]]:
    mode = ("training (batch statistics, dropout on)" if report.training
            else "evaluation (running statistics, no dropout)")
    lines = [
        ("network", f"{report.network}: {format_shape(report.input)} → {format_shape(report.output)}"),
        ("input", f"batch {report.batch}, {report.input_source}"),
        ("backend",
         f"{report.backend}"
         + (f" (torch {report.torch_version})" if report.torch_version and report.backend == "torch" else "")
         + f", {report.dtype}, {mode}"),
    ]
    o = report.output_stats
    lines.append(("output", f"min {num(o.min)}, max {num(o.max)}, mean {num(o.mean)}, std {num(o.std)}"))
    if report.predictions is not None:
        shown = ", ".join(str(p) for p in report.predictions[:16]) + (", …" if len(report.predictions) > 16 else "")
        lines.append(("argmax", f"{shown} (highest score per sample)"))
    if report.loss is not None:
        lines.append(("loss", f"{num(report.loss_value)} = {report.loss.description}"))
        lines.append(("‖δinput‖", num(report.grad_input_norm)))
    if report.differences is not None:
        parts = []
        for label, name in (("outputs", "output"), ("δ outputs", "grad"), ("δ parameters", "param_grad")):
            worst = report.largest(name)
            if worst is not None:
                value = getattr(worst, name)
                parts.append(f"{label} {num(value)} at {worst.name}" if value else f"{label} 0 (identical)")
        lines.append(("numpy vs torch", f"largest |Δ|: {'; '.join(parts)} (torch {report.torch_version})"))
    if report.seconds:
        lines.append(("time", ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in report.seconds.items())))
    return lines


def _wrap(label: str, value: str, width: int = WIDTH) -> list[str]:
    import textwrap

    indent = 16
    lines = textwrap.wrap(value, width - indent) or [""]
    return [f"{label:<{indent}}{lines[0]}"] + [" " * indent + more for more in lines[1:]]


def _run_footer(report: RunReport) -> list[str]:
    lines = ["zeros: fraction of entries exactly 0 (dead units after a ReLU)."]
    if report.backward:
        lines.append(f"‖δout‖: norm of δ{report.loss.symbol} with respect to the layer's output; ‖δθ‖: over "
                     "its parameters.")
    if report.differences is not None:
        lines.append("max |Δ|: largest |numpy − torch| over the layer's output entries; of |torch|: "
                     "largest |torch| entry"
                     + ("; Δ δout, Δ δθ: the same for the gradients." if report.backward else "."))
    lines += [f"note: {n}" for n in report.notes]
    return lines


def run_text(report: RunReport) -> str:
    out = [_table(run_headers(report), run_cells(report), RUN_RIGHT), ""]
    if report.differences is not None:
        out += [_table(compare_headers(report), compare_cells(report), RUN_RIGHT), ""]
    for label, value in run_summary(report):
        out += _wrap(label, value)
    import textwrap

    out.append("")
    for line in _run_footer(report):
        out += textwrap.wrap(line, WIDTH, subsequent_indent="  ")
    return "\n".join(out)


def _rich_table(title: str | None, headers, cells, right, dim_types=()):
    from convcalc.render.fit import FittedTable

    styles = ["dim" if len(row) > 1 and row[1] in dim_types else None for row in cells]
    return FittedTable(title, headers, cells, right, styles)


def run_rich(report: RunReport):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts = [_rich_table(f"{report.network}: {report.backend} run", run_headers(report), run_cells(report), RUN_RIGHT,
                         dim_types=("flatten", "identity", "dropout"))]
    if report.differences is not None:
        parts += [Text(""), _rich_table("numpy vs torch", compare_headers(report), compare_cells(report), RUN_RIGHT)]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in run_summary(report):
        grid.add_row(label, value)
    parts += [Text(""), grid, Text("")]
    parts += [Text(line, style="dim") for line in _run_footer(report)]
    return Group(*parts)


def _stats_dict(s: TensorStats | None) -> dict | None:
    if s is None:
        return None
    return {"min": finite(s.min), "max": finite(s.max), "mean": finite(s.mean), "std": finite(s.std),
            "zeros": s.zeros, "norm": finite(s.norm)}


def _row_dict(row: LayerRow) -> dict:
    out = {"name": row.name, "type": row.type, "output": list(row.output), "params": row.params,
           "stats": _stats_dict(row.stats)}
    if row.grad_norm is not None or row.param_grad_norm is not None:
        out["grad_norm"] = finite(row.grad_norm)
        out["param_grad_norm"] = finite(row.param_grad_norm)
    return out


def run_dict(report: RunReport) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema": RUN_SCHEMA,
        "network": report.network,
        "input": list(report.input),
        "output": list(report.output),
        "batch": report.batch,
        "backend": report.backend,
        "dtype": report.dtype,
        "mode": "train" if report.training else "eval",
        "input_source": report.input_source,
        "layers": [_row_dict(r) for r in report.rows],
        "output_stats": _stats_dict(report.output_stats),
        "predictions": list(report.predictions) if report.predictions is not None else None,
        "loss": None,
        "seconds": dict(report.seconds or {}),
        "notes": list(report.notes),
    }
    if report.loss is not None:
        data["loss"] = {"name": report.loss.name, "value": finite(report.loss_value),
                        "definition": report.loss.description}
        data["grad_input_norm"] = finite(report.grad_input_norm)
    if report.differences is not None:
        data["compare"] = {
            "torch_version": report.torch_version,
            "layers": [{"name": d.name, "output": d.output, "output_scale": d.output_scale, "grad": d.grad,
                        "grad_scale": d.grad_scale, "param_grad": d.param_grad, "param_grad_scale": d.param_grad_scale}
                       for d in report.differences],
            "max_output_diff": max((d.output for d in report.differences if d.output is not None), default=None),
            "max_grad_diff": max((d.grad for d in report.differences if d.grad is not None), default=None),
            "max_param_grad_diff": max((d.param_grad for d in report.differences if d.param_grad is not None),
                                       default=None),
        }
    return data


# --------------------------------------------------------------------------- convcalc train

@dataclass(frozen=True)
class TrainView:
    """A training run and what it was run on, for the renderers."""

    network: str
    input: tuple[int, ...]
    data_name: str
    data_description: str
    train_samples: int
    val_samples: int
    class_names: tuple[str, ...]
    optimizer: dict
    optimizer_text: str
    loss: str
    init: str
    seed: int
    dtype: str
    batch_size: int
    steps: int
    result: TrainResult
    parameters: int
    loaded: str | None = None
    saved: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    test_samples: int = 0
    test: Evaluation | None = None          # the test split, evaluated once after training
    confusion: Confusion | None = None      # of the test split, else of the validation split
    augment: str | None = None              # how training batches were augmented
    normalization: str | None = None        # the per-channel statistics applied
    loss_description: str = ""
    graph: Any = field(default=None, repr=False, compare=False)  # for pictures of the trained weights

    @property
    def classifies(self) -> bool:
        return self.loss == "cross-entropy"


def loss_curve(losses: Sequence[float], width: int = 60, height: int = 10, unicode: bool = True,
               marks: Sequence[tuple[int, float]] = ()) -> str:
    """The loss per step as a text plot: one column per group of steps (their mean), the y axis
    labelled with the largest and smallest value; ``marks`` (step, value) are drawn as ``o``
    (validation loss)."""
    values = [v for v in losses if math.isfinite(v)]
    if not values:
        return "(no finite loss values to plot)"
    n = len(losses)
    columns = min(width, n)
    means = []
    for c in range(columns):
        lo, hi = c * n // columns, max((c + 1) * n // columns, c * n // columns + 1)
        chunk = [v for v in losses[lo:hi] if math.isfinite(v)]
        means.append(sum(chunk) / len(chunk) if chunk else float("nan"))
    every = [v for v in means if math.isfinite(v)] + [v for _, v in marks if math.isfinite(v)]
    top, bottom = max(every), min(every)
    span = top - bottom or 1.0
    grid = [[" "] * columns for _ in range(height)]

    def row_of(value: float) -> int:
        return min(height - 1, max(0, round((top - value) / span * (height - 1))))

    point = "•" if unicode else "*"
    for c, v in enumerate(means):
        if math.isfinite(v):
            grid[row_of(v)][c] = point
    for step, v in marks:
        if math.isfinite(v):
            c = min(columns - 1, (step - 1) * columns // n)
            grid[row_of(v)][c] = "o"
    labels = [num(top)] + [""] * (height - 2) + [num(bottom)] if height > 1 else [num(top)]
    label_width = max(len(l) for l in labels)
    bar = "│" if unicode else "|"
    lines = [f"{label.rjust(label_width)} {bar}{''.join(cells)}".rstrip() for label, cells in zip(labels, grid)]
    corner, rule = ("└", "─") if unicode else ("+", "-")
    lines.append(" " * label_width + " " + corner + rule * columns)
    first, last = "step 1", f"step {n}"
    lines.append(" " * (label_width + 2) + first + last.rjust(max(columns - len(first), len(last) + 1)))
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def train_summary(view: TrainView) -> list[tuple[str, str]]:
    r = view.result
    final = r.final
    tail = r.history[-min(len(r.history), 10):]
    recent_loss = sum(s.loss for s in tail) / len(tail)
    held = [f"{view.val_samples} for validation" if view.val_samples else "no validation split"]
    if view.test_samples:
        held.append(f"{view.test_samples} for testing")
    lines = [
        ("network", f"{view.network}: {format_shape(view.input)}, {count(view.parameters)} parameters"
                    + (f", loaded from {view.loaded}" if view.loaded else f", init {view.init}")),
        ("data", f"{view.data_name}: {view.data_description}; {view.train_samples} for training, " + ", ".join(held)),
    ]
    if view.normalization:
        lines.append(("normalized", view.normalization))
    if view.augment:
        lines.append(("augmented", f"training batches: {view.augment}"))
    lines += [
        ("training", f"{view.steps} steps of batch {view.batch_size} ({r.epochs:.2f} epochs), {view.optimizer_text}, "
                     f"{view.loss} loss, {view.dtype}, seed {view.seed}"),
        ("final loss", f"{num(final.loss)} (first step {num(r.history[0].loss)}"
                       + (f"; mean of the last {len(tail)} steps {num(recent_loss)})" if len(tail) > 1 else ")")),
    ]
    if view.classifies:
        recent_acc = sum(s.accuracy or 0.0 for s in tail) / len(tail)
        lines.append(("train accuracy", f"{_pct(recent_acc)} " + (f"(mean over the last {len(tail)} batches)"
                                                                  if len(tail) > 1 else "(the last batch)")))
    if r.validation:
        last = r.validation[-1]
        if view.classifies:
            best = max(r.validation, key=lambda e: e.accuracy or 0.0)
            lines.append(("validation", f"accuracy {_pct(last.accuracy)}, loss {num(last.loss)} on {last.samples} "
                                        f"samples (best {_pct(best.accuracy)} at step {best.step})"))
        else:
            best = min(r.validation, key=lambda e: e.loss)
            lines.append(("validation", f"loss {num(last.loss)} on {last.samples} samples (lowest {num(best.loss)} "
                                        f"at step {best.step})"))
    if view.test is not None:
        t = view.test
        lines.append(("test", (f"accuracy {_pct(t.accuracy)} ({view.confusion.correct} of {t.samples}), "
                               if view.classifies and view.confusion is not None else "")
                      + f"loss {num(t.loss)} on {t.samples} held-out samples, after training"))
    rate = view.steps / r.seconds if r.seconds > 0 else float("inf")
    lines.append(("time", f"{r.seconds:.2f} s ({rate:.1f} steps/s)"))
    if view.saved:
        lines.append(("saved", view.saved))
    return lines


def _marks(view: TrainView) -> list[tuple[int, float]]:
    return [(e.step, e.loss) for e in view.result.validation]


MAX_EPOCH_ROWS = 30


def epoch_cells(view: TrainView) -> tuple[list[str], list[list[str]]] | None:
    """Per epoch: the mean loss (and accuracy) of its training batches and the validation run
    at its last step, if there was one — the table a course's loop prints. None for a run
    of less than two epochs or of more than 30."""
    r = view.result
    epochs = sorted({s.epoch for s in r.history})
    if len(epochs) < 2 or len(epochs) > MAX_EPOCH_ROWS:
        return None
    at = {e.step: e for e in r.validation}
    headers = ["epoch", "steps", "train loss"] + (["train acc"] if view.classifies else [])
    if r.validation:
        headers += ["val loss"] + (["val acc"] if view.classifies else [])
    rows = []
    for epoch in epochs:
        records = [s for s in r.history if s.epoch == epoch]
        row = [str(epoch), f"{records[0].step}-{records[-1].step}", num(sum(s.loss for s in records) / len(records))]
        if view.classifies:
            row.append(_pct(sum(s.accuracy or 0.0 for s in records) / len(records)))
        if r.validation:
            evaluation = at.get(records[-1].step)
            row += [num(evaluation.loss) if evaluation else "—"]
            if view.classifies:
                row.append(_pct(evaluation.accuracy) if evaluation else "—")
        rows.append(row)
    return headers, rows


def confusion_cells(confusion: Confusion) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the confusion matrix: a row per true class, a column per predicted
    class, then the row's total and its recall (the fraction predicted right)."""
    names = confusion.names()
    short = all(len(name) <= 5 for name in names)  # else: columns by index, rows "index name"
    headers = ["true \\ predicted", *(names if short else [str(c) for c in range(len(names))]), "total", "right"]
    rows = []
    for t, name in enumerate(names if short else [f"{c} {name}" for c, name in enumerate(names)]):
        counts = [str(int(v)) for v in confusion.matrix[t]]
        rows.append([name, *counts, str(int(confusion.matrix[t].sum())), _pct(confusion.recall()[t])])
    rows.append(["total", *[str(int(v)) for v in confusion.matrix.sum(axis=0)], str(confusion.samples),
                 _pct(confusion.accuracy)])
    return headers, rows


def confusion_title(confusion: Confusion) -> str:
    return (f"confusion matrix, {confusion.split}: {confusion.samples} samples, {confusion.correct} right "
            f"({_pct(confusion.accuracy)})")


def confusion_text(confusion: Confusion) -> str:
    headers, rows = confusion_cells(confusion)
    return confusion_title(confusion) + "\n" + _table(headers, rows, set(headers[1:]), width=10 ** 6)


def confusion_rich(confusion: Confusion):
    from rich.table import Table

    headers, rows = confusion_cells(confusion)
    from rich.console import Group
    from rich.text import Text

    table = Table(header_style="bold", box=None, pad_edge=False)
    for n, h in enumerate(headers):
        table.add_column(h, justify="left" if n == 0 else "right", style="bold" if n == 0 else None, no_wrap=True)
    size = len(confusion.matrix)
    for t, row in enumerate(rows):
        styled = list(row)
        if t < size:
            styled[t + 1] = f"[green]{row[t + 1]}[/]"  # the diagonal: right answers
        table.add_row(*styled, style="dim" if t == size else None)
    return Group(Text(confusion_title(confusion), style="bold"), table)


def _curve_title(view: TrainView) -> str:
    return "loss per step" + (" (o: validation loss)" if view.result.validation else "")


def train_text(view: TrainView, chart: str | None = None) -> str:
    losses = [s.loss for s in view.result.history]
    out = [""] + ([chart] if chart is not None else
                  [_curve_title(view), loss_curve(losses, unicode=False, marks=_marks(view))]) + [""]
    table = epoch_cells(view)
    if table is not None:
        out += [_table(table[0], table[1], set(table[0])), ""]
    for label, value in train_summary(view):
        out += _wrap(label, value)
    if view.confusion is not None:
        out += ["", confusion_text(view.confusion)]
    out += [f"note: {n}" for n in view.notes]
    return "\n".join(out)


def train_rich(view: TrainView, chart: str | None = None):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    losses = [s.loss for s in view.result.history]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in train_summary(view):
        grid.add_row(label, value)
    if chart is not None:
        parts = [Text.from_ansi(chart)]
    else:
        parts = [Text(_curve_title(view), style="bold"),
                 Text(loss_curve(losses, unicode=True, marks=_marks(view)), style="cyan")]
    table = epoch_cells(view)
    if table is not None:
        parts += [Text(""), _rich_table(None, table[0], table[1], set(table[0]))]
    parts += [Text(""), grid]
    if view.confusion is not None:
        parts += [Text(""), confusion_rich(view.confusion)]
    parts += [Text(f"note: {n}", style="dim") for n in view.notes]
    return Group(*parts)


PLOTEXT_MISSING = "--plot terminal draws with plotext: pip install 'convcalc[plot]'"


def plotext_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("plotext") is not None
    except (ImportError, ValueError):  # a broken or blocked installation: the built-in curve
        return False


def require_plotext():
    """The plotext module, or one clear message when it is not installed."""
    try:
        import plotext
    except ImportError:
        raise InputError(PLOTEXT_MISSING) from None
    return plotext


def plotext_chart(view: TrainView, width: int, colour: bool) -> str:
    """Loss (and, for a classifier, accuracy) per step drawn by plotext (version 6's figure API):
    the training batches as a line, the validation points as ``o``, axes labelled; without
    colour codes unless ``colour``."""
    plt = require_plotext()
    r = view.result
    steps = [s.step for s in r.history]
    panels = 2 if view.classifies else 1
    figure = plt.figure
    figure.clear()
    figure.plot_size(width, 20)
    figure.subplots(1, panels)
    series = [("loss", f"{view.loss} loss per step" if len(view.loss) < 6 else "loss per step",
               [s.loss for s in r.history], [e.loss for e in r.validation])]
    if panels == 2:
        series.append(("accuracy (%)", "accuracy per step", [100 * (s.accuracy or 0.0) for s in r.history],
                       [100 * (e.accuracy or 0.0) for e in r.validation]))
    for column, (axis, title, train, validation) in enumerate(series, start=1):
        plot = figure.subplot(1, column)
        plot.draw(plot.signal(steps, train).lines())
        if validation:
            plot.draw(plot.signal([e.step for e in r.validation], validation, marker="o"))
        plot.title(title + (", o: validation" if validation else ""))
        plot.label("step", "x")
        plot.label(axis, "y")
    figure.theme("simple")  # the terminal's own background, coloured lines
    chart = figure.build()
    text = str(chart) if colour else plt.uncolorize(chart)
    figure.clear()
    return text.rstrip("\n")


def train_dict(view: TrainView) -> dict[str, Any]:
    r = view.result
    return {
        "schema": TRAIN_SCHEMA,
        "network": view.network,
        "input": list(view.input),
        "parameters": view.parameters,
        "data": {"name": view.data_name, "description": view.data_description, "train_samples": view.train_samples,
                 "val_samples": view.val_samples, "test_samples": view.test_samples,
                 "classes": list(view.class_names)},
        "optimizer": view.optimizer,
        "loss": view.loss,
        "loss_definition": view.loss_description,
        "init": None if view.loaded else view.init,
        "loaded": view.loaded,
        "seed": view.seed,
        "dtype": view.dtype,
        "batch_size": view.batch_size,
        "steps": view.steps,
        "epochs": r.epochs,
        "history": {
            "step": [s.step for s in r.history],
            "epoch": [s.epoch for s in r.history],
            "loss": [finite(s.loss) for s in r.history],
            "accuracy": [s.accuracy for s in r.history],
        },
        "test": None if view.test is None else {"loss": finite(view.test.loss), "accuracy": view.test.accuracy,
                                                "samples": view.test.samples},
        "confusion": None if view.confusion is None else confusion_dict(view.confusion),
        "augment": view.augment,
        "normalization": view.normalization,
        "validation": [{"step": e.step, "loss": finite(e.loss), "accuracy": e.accuracy, "samples": e.samples}
                       for e in r.validation],
        "final": {"loss": finite(r.final.loss), "accuracy": r.final.accuracy,
                  "val_loss": finite(r.validation[-1].loss) if r.validation else None,
                  "val_accuracy": r.validation[-1].accuracy if r.validation else None},
        "seconds": r.seconds,
        "saved": view.saved,
        "notes": list(view.notes),
    }


def confusion_dict(confusion: Confusion) -> dict[str, Any]:
    return {"split": confusion.split, "classes": confusion.names(), "rows": "true class", "columns": "predicted class",
            "matrix": confusion.matrix.tolist(), "samples": confusion.samples, "correct": confusion.correct,
            "accuracy": confusion.accuracy, "recall": confusion.recall()}


# --------------------------------------------------------------------------- progress

class PlainProgress:
    """One line every ``every`` steps (and at each validation), for pipes and logs."""

    def __init__(self, total: int, stream=None, lines: int = 20, every: int | None = None):
        self.total = total
        self.every = every or max(1, total // lines)
        self.stream = stream or sys.stdout
        self.width = len(str(total))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, record: StepRecord, evaluation: Evaluation | None) -> None:
        if record.step % self.every and record.step != self.total and evaluation is None:
            return
        text = f"step {record.step:>{self.width}}/{self.total}  epoch {record.epoch}  loss {record.loss:.4f}"
        if record.accuracy is not None:
            text += f"  acc {_pct(record.accuracy)}"
        if evaluation is not None:
            text += f"  val loss {evaluation.loss:.4f}"
            if evaluation.accuracy is not None:
                text += f"  val acc {_pct(evaluation.accuracy)}"
        self.stream.write(text + "\n")
        self.stream.flush()


class RichProgress:
    """A rich progress bar with the running loss and batch accuracy (and the last validation)."""

    def __init__(self, total: int, console=None):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss [cyan]{task.fields[loss]}"), TextColumn("[dim]avg {task.fields[avg]}"),
            TextColumn("acc [green]{task.fields[acc]}"),
            TextColumn("{task.fields[val]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console, transient=False,
        )
        self.task = self.progress.add_task("train", total=total, loss="—", avg="—", acc="—", val="")
        self.smoothed: float | None = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def update(self, record: StepRecord, evaluation: Evaluation | None) -> None:
        # The step's own loss, as the plain log and the summary print it; beside it, labelled, an
        # exponential moving average (0.9) that stays readable while batches jump around.
        self.smoothed = record.loss if self.smoothed is None else 0.9 * self.smoothed + 0.1 * record.loss
        fields = {"loss": f"{record.loss:.4f}", "avg": f"{self.smoothed:.4f}", "acc": _pct(record.accuracy)}
        if evaluation is not None:
            fields["val"] = (f"val acc [magenta]{_pct(evaluation.accuracy)}" if evaluation.accuracy is not None
                             else f"val loss [magenta]{evaluation.loss:.4g}")
        self.progress.update(self.task, completed=record.step, **fields)
