"""``convcalc run``: one forward pass of a network on numbers — each layer's output shape and
statistics — with ``--backward`` the gradient norms per layer, in NumPy or PyTorch, or both
side by side (``--compare``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import typer

from convcalc.cli import complete
from convcalc.cli.output import View, choose_format, emit, user_errors
from convcalc.errors import InputError
from convcalc.limits import MAX_WHOLE

EPILOG = """[bold]Examples[/]

  convcalc run lenet5

  convcalc run resnet18 --in 3x64x64 --batch 2 --backward

  convcalc run "3x32x32 | conv 6 k5 | relu | maxpool k2 | flatten | fc 10" --input image.npy

  convcalc run mobilenet_v2 --in 3x96x96 --compare --backward --dtype float64

  convcalc run lenet5 --load weights.npz --input test.npz --json

  convcalc run lenet5 --show kernels -o kernels.png

  convcalc run lenet5 --input test.npz --show features --layer features.tanh1 -o maps.png

[bold]NETWORK[/] is a zoo name, a JSON spec file or an inline chain, as in arch.
[bold]--input[/]: .npy, .npz (array x, optional labels y) or JSON (nested lists,
or {"x": ..., "y": ...}); one sample C x H x W or a batch N x C x H x W.
Without it: a standard-normal batch of --batch samples drawn from --seed.
[bold]Weights[/]: PyTorch's default initialisation from --seed (or --init), or
--load weights.npz as written by convcalc train --save.
[bold]--backward[/]: backpropagates L = Σ outputs (every output's δ is 1), or with
--loss cross-entropy the mean cross-entropy of --label K or the file's y, and
shows ‖δ‖ per layer. Evaluation mode (running statistics, no dropout) unless
--train-mode.
With labels y in the --input file: the accuracy and the confusion matrix.
[bold]--show kernels[/] -o FILE: the kernels of the first conv layer (or --layer NAME)
as a grid of images; [bold]--show features[/]: the feature maps of --sample K (default
0) at --layer NAME (default the first conv layer). FILE: .png, .svg or .pdf;
needs matplotlib: pip install 'convcalc\\[plot]'. Layer names: as convcalc arch
prints them.
Exit codes: 0 ok, 2 bad input (also --backend torch without PyTorch installed)."""

DTYPES = {"float32": "float32", "fp32": "float32", "float64": "float64", "fp64": "float64", "double": "float64"}


def register(app: typer.Typer) -> None:
    app.command("run", epilog=EPILOG)(run)


def run(
    network: str = typer.Argument(..., autocompletion=complete.networks,
                                  help="Zoo name, JSON spec FILE, or an inline chain in quotes.", show_default=False),
    input_shape: str | None = typer.Option(None, "--in", "-i", help="Input shape C x H x W (e.g. 3x64x64)."),
    input_file: str | None = typer.Option(None, "--input", help="Input array: .npy, .npz (x, y) or .json."),
    batch: int | None = typer.Option(None, "--batch", "-n", min=1, max=MAX_WHOLE,
                                     help="Batch size of the random input (default 1)."),
    seed: int = typer.Option(0, "--seed", min=0, max=MAX_WHOLE,
                             help="Seed of the initial weights, the random input and dropout."),
    init: str = typer.Option("pytorch", "--init", help="Initialisation: pytorch, xavier-uniform, xavier-normal, "
                                                       "glorot-uniform, glorot-normal, kaiming-uniform, "
                                                       "kaiming-normal, uniform[:A], normal[:S]."),
    load: str | None = typer.Option(None, "--load", help="Parameters and buffers from a .npz written by --save."),
    dtype: str = typer.Option("float32", "--dtype", help="float32 or float64."),
    backward: bool = typer.Option(False, "--backward", help="Also run backward: gradient norms per layer."),
    loss: str = typer.Option("sum", "--loss", help="Loss for --backward: sum (Σ outputs) or cross-entropy."),
    label: int | None = typer.Option(None, "--label", min=0, max=MAX_WHOLE,
                                     help="Class index for --loss cross-entropy (every sample)."),
    train_mode: bool = typer.Option(False, "--train-mode", help="Batch statistics and dropout, as in training."),
    backend: str = typer.Option("numpy", "--backend", help="numpy (built in) or torch (needs PyTorch)."),
    compare: bool = typer.Option(False, "--compare", help="Run both backends; show the largest difference per layer."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable JSON (schema convcalc/run/v1)."),
    fmt: str | None = typer.Option(None, "--format", "-f", autocompletion=complete.words("rich", "text", "json"),
                                   help="rich, text or json."),
    max_memory: str | None = typer.Option(None, "--max-memory", help="Refuse runs needing more memory than this "
                                                                       "(2G, 500M; default a quarter of RAM, "
                                                                       "at most 2 GiB)."),
    picture: str | None = typer.Option(None, "--show", help="Draw kernels or features into -o FILE."),
    layer: str | None = typer.Option(None, "--layer", help="The layer --show draws (default the first conv layer)."),
    sample: int | None = typer.Option(None, "--sample", min=0, max=MAX_WHOLE,
                                      help="--show features: the sample drawn (default 0)."),
    output: str | None = typer.Option(None, "--output", "-o", help="The picture of --show: FILE.png, .svg or .pdf."),
) -> None:
    """Run a network on numbers: per-layer output statistics and, with --backward, gradient norms."""
    with user_errors():
        form = choose_format(fmt, json_flag, allowed=("rich", "text", "plain", "json"))
        drawing = picture_request(picture, layer, output, sample=sample)
        setup = prepare(network, input_shape=input_shape, input_file=input_file, batch=batch, seed=seed, init=init,
                        load=load, dtype=dtype, backward=backward, loss=loss, label=label, backend=backend,
                        compare=compare, max_memory=max_memory)
        # the picture's numbers first: a bad --layer or --sample stops before any output
        painter = drawing_of(drawing, setup.graph, setup.params, setup.buffers, setup.x, weights=setup.state,
                             inputs=setup.source) if drawing is not None else None
        report = inspect_setup(setup, train_mode=train_mode, backend=backend, compare=compare)
        show(report, "text" if form == "plain" else form, labelled(report, setup))
        if painter is not None:
            painter()


def parse_dtype(text: str):
    import numpy as np

    key = text.strip().lower()
    if key not in DTYPES:
        raise InputError(f"--dtype '{text}' is not one of float32, float64")
    return np.dtype(DTYPES[key])


def starting_state(graph, *, init: str, load: str | None, seed: int, dtype):
    """(params, buffers, description): loaded from a file, or initialised from the seed."""
    from convcalc.executor import init as initial
    from convcalc.executor import weights
    from convcalc.executor.training import STREAM_INIT, stream

    if load is not None:
        params, buffers, _ = weights.load(load, graph, dtype)
        return params, buffers, f"loaded from {load}"
    scheme = initial.parse_scheme(init)
    params = initial.initial_parameters(graph, scheme, stream(seed, STREAM_INIT), dtype)
    return params, initial.initial_buffers(graph, dtype), f"init {scheme.describe()}, seed {seed}"


@dataclass(frozen=True)
class Drawing:
    """What ``--show`` draws, and where (checked before anything runs)."""

    kind: str  # kernels or features
    layer: str | None
    output: str
    sample: int = 0


def picture_request(picture: str | None, layer: str | None, output: str | None, *, sample: int | None = None,
                    kinds: tuple[str, ...] = ("kernels", "features")) -> Drawing | None:
    """``--show KIND --layer NAME -o FILE`` checked together: each needs the others' context."""
    if picture is None:
        for given, name in ((layer, "--layer"), (output, "-o"), (sample, "--sample")):
            if given is not None:
                raise InputError(f"{name} is for --show {' or --show '.join(kinds)}")
        return None
    from convcalc.executor.pictures import parse_show
    from convcalc.render.pictures import picture_kind

    kind = parse_show(picture)
    if kind not in kinds:
        raise InputError(f"--show {kind} is not available here; give --show {' or '.join(kinds)}")
    if sample is not None and kind != "features":
        raise InputError("--sample is for --show features")
    if output is None:
        raise InputError(f"--show {kind} draws a picture: give -o FILE.png (or .svg, .pdf)")
    picture_kind(output, "-o")
    return Drawing(kind, layer, output, sample or 0)


def drawing_of(drawing: Drawing, graph, params, buffers, x=None, *, weights: str, inputs: str = ""):
    """The numbers of ``drawing`` (kernels of the weights, or one sample's maps), read now; the
    function returned paints them into the file and says what was written."""
    from convcalc.executor import pictures
    from convcalc.render import pictures as paint

    name = graph.network.name
    if drawing.kind == "kernels":
        found = pictures.kernels(graph, params, drawing.layer)
        what = f"{found.weight.shape[0]} kernels of layer {found.layer} ({'x'.join(map(str, found.weight.shape))})"

        def painting(fig):
            paint.paint_kernels(fig, found, name, weights)
    else:
        maps = pictures.feature_maps(graph, x, params, buffers, drawing.layer, drawing.sample)
        what = f"feature maps of sample {maps.sample} at layer {maps.layer} ({'x'.join(map(str, maps.maps.shape))})"

        def painting(fig):
            paint.paint_features(fig, maps, name, f"({inputs}; {weights})")

    def write() -> None:
        paint.save(drawing.output, painting)
        sys.stderr.write(f"wrote {drawing.output}: {what}\n")

    return write


@dataclass(frozen=True)
class RunSetup:
    """Everything a run needs, read and checked: the compiled graph, the batch, the weights."""

    graph: Any
    x: Any
    params: Any
    buffers: Any
    labels: Any
    loss: Any
    source: str  # where the input came from
    state: str   # where the weights came from
    seed: int
    file_labels: Any = None  # the input file's y, if it has one
    input_file: str | None = None


def inspect_setup(setup: RunSetup, *, train_mode: bool, backend: str, compare: bool):
    from convcalc.executor.inspection import inspect
    from convcalc.executor.training import STREAM_DROPOUT, stream

    return inspect(setup.graph, setup.x, setup.params, setup.buffers, backend=backend.strip().lower(),
                   training=train_mode, rng=stream(setup.seed, STREAM_DROPOUT), loss=setup.loss, labels=setup.labels,
                   compare=compare, input_source=f"{setup.source}; {setup.state}")


def prepare(network: str, *, input_shape=None, input_file=None, batch=None, seed=0, init="pytorch", load=None,
            dtype="float32", backward=False, loss="sum", label=None, backend="numpy", compare=False,
            max_memory=None) -> RunSetup:
    import numpy as np

    from convcalc.executor import inputs
    from convcalc.executor.graph import build_graph
    from convcalc.executor.losses import parse_loss
    from convcalc.executor.training import STREAM_DATA, stream

    backend = backend.strip().lower()
    if backend not in ("numpy", "torch"):
        raise InputError(f"--backend '{backend}' is not one of numpy, torch")
    np_dtype = parse_dtype(dtype)
    if backend == "torch" or compare:
        from convcalc.executor.torch_backend import require_torch

        require_torch()
    if label is not None and not backward:
        raise InputError("--label is for --backward with --loss cross-entropy")
    chosen_loss = parse_loss(loss) if backward else None
    if label is not None and chosen_loss is not None and not chosen_loss.needs_labels:
        raise InputError(f"--label is the class of --loss cross-entropy; --loss {loss} takes no labels")
    from convcalc.cli.arch import resolve_network
    from convcalc.executor.memory import keep_freed_memory

    keep_freed_memory()
    net, shape = resolve_network(network, input_shape)
    arrays = inputs.read(input_file) if input_file else None
    if arrays is not None and shape is None:
        sample = inputs.sample_shape(arrays, len(net.input))
        if sample[0] == net.input[0] and sample != tuple(net.input):
            shape = sample  # the file's size: run the network there (as --in would)
    graph = build_graph(net, shape)
    from convcalc import limits

    limit = limits.memory_limit(max_memory)
    samples = batch or (len(arrays.x) if arrays is not None and getattr(arrays.x, "ndim", 0) > len(graph.input) else 1)
    limits.network_estimate(graph, samples, np_dtype.itemsize * (2 if compare else 1),
                            backward=backward).check(limit, "run")
    if arrays is not None:
        x = inputs.as_batch(arrays, graph.input, batch, np_dtype)
        source = f"from {input_file}"
    else:
        x = inputs.random_batch(graph.input, batch or 1, stream(seed, STREAM_DATA), np_dtype)
        source = f"standard normal, seed {seed}"
    params, buffers, state = starting_state(graph, init=init, load=load, seed=seed, dtype=np_dtype)
    labels = None
    if chosen_loss is not None and chosen_loss.needs_labels:
        if label is not None:
            labels = np.full(len(x), label, dtype=np.int64)
        elif arrays is not None and arrays.y is not None:
            labels = arrays.y
        else:
            raise InputError("--loss cross-entropy needs class labels: give --label K or an --input file with y")
        chosen_loss.check(graph.output, labels)
    file_labels = arrays.y if arrays is not None else None
    return RunSetup(graph, x, params, buffers, labels, chosen_loss, source, state, seed, file_labels, input_file)


def labelled(report, setup: RunSetup):
    """The confusion matrix of the run's predictions against the input file's labels (None
    without labels, or when the network does not end in class scores)."""
    labels = setup.file_labels
    if labels is None or report.predictions is None:
        return None
    from convcalc.executor.confusion import confusion

    classes = report.output[0]
    if len(labels) != report.batch:
        raise InputError(f"--input {setup.input_file}: {len(labels)} labels y for {report.batch} samples x")
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        bad = int(labels.min()) if labels.min() < 0 else int(labels.max())
        raise InputError(f"--input {setup.input_file}: label {bad} is out of range: the network gives {classes} "
                         f"class scores, so labels must be in [0, {classes})")
    shown = min(classes, max(int(labels.max()) + 1, max(report.predictions) + 1))
    return confusion(report.predictions, labels, shown, (), f"input {setup.input_file}")


def show(report, form: str, matrix=None) -> None:
    from convcalc.render import executor as render

    def data() -> dict:
        doc = render.run_dict(report)
        if matrix is not None:
            doc["accuracy"] = matrix.accuracy
            doc["confusion"] = render.confusion_dict(matrix)
        return doc

    emit(View(json=data,
              text=lambda: render.run_text(report) + ("" if matrix is None else "\n\n" + render.confusion_text(matrix)),
              rich=lambda _: [render.run_rich(report)]
              + ([] if matrix is None else ["", render.confusion_rich(matrix)])),
         form)
