"""``convcalc train``: the course's training loop — forward, loss, backward, K ← K − lr·δK —
on a network from the zoo, a spec file or an inline chain, with NumPy alone."""

from __future__ import annotations

import math
import sys

import typer

from convcalc.cli import complete
from convcalc.cli.output import View, choose_format, console, emit, user_errors
from convcalc.errors import InputError
from convcalc.limits import MAX_WHOLE

EPILOG = """[bold]Examples[/]

  convcalc train lenet5 --data synthetic:bars --steps 200 --optimizer adam --val 0.2

  convcalc train lenet5 --data synthetic:shapes:2000 --epochs 3 --optimizer momentum --save lenet.npz

  convcalc train "1x28x28 | conv 8 k3 | relu | maxpool k2 | flatten | fc 10" --data digits.npz

  convcalc train lenet5 --data synthetic:bars --load lenet.npz --steps 100 --json

  convcalc train "1x8x8 | conv 16 k3 p1 | relu | maxpool k2 | conv 32 k3 p1 | relu | maxpool k2 | flatten | fc 10" \
--data digits --test 0.2 --val 0.1 --epochs 8 --optimizer adam --lr 0.003 --plot curves.png --plot confusion.png

  convcalc train "1000 | fc 100 nobias | relu | fc 10 nobias" --data synthetic:random:64 --loss sse --init normal \
--lr 1e-6 --steps 500 --batch-size 64 --print-every 1

  convcalc train lenet5 --data synthetic:shapes --augment crop:4,flip --normalize --val 0.2 \
--show kernels -o kernels.png

[bold]--data[/]: an .npz file with arrays x (N x C x H x W, numbers) and y (N
integer labels in [0, classes)), optionally x_val/y_val and x_test/y_test;
digits (the 1,797 8x8 handwritten digits bundled with scikit-learn: pip
install 'convcalc\\[digits]'); or a built-in dataset drawn from the seed:
synthetic:bars (4 orientations), synthetic:shapes (square, circle, triangle),
synthetic:blobs (4 Gaussian classes, any input shape), synthetic:random
(regression targets, for --loss mse); :N sets the number of samples (1200).
[bold]Splits[/]: --test F holds out a test split (evaluated once, at the end,
with a confusion matrix), --val F a validation split (evaluated after every
epoch with --epochs, else 10 times a run, or every --eval-every steps); both
are fractions of all the samples, drawn from the seed.
[bold]Optimizers[/] (PyTorch's forms): sgd K ← K − lr·g; momentum v ← μv + g,
K ← K − lr·v; adam (β₁ 0.9, β₂ 0.999, ε 1e-8). Default lr 0.01, adam 0.001.
[bold]--init[/]: pytorch (default; kaiming_uniform a=√5, bias U(±1/√fan_in)), the
course's xavier-uniform U(±√(3/fan_in)) and xavier-normal N(0, 1/fan_in),
glorot-uniform, glorot-normal, kaiming-uniform, kaiming-normal, uniform\\[:A],
normal\\[:S] (N(0, S²), S 1: the course's randn).
[bold]--loss[/]: cross-entropy (softmax + negative log-likelihood, mean over the
batch; default), mse (mean squared error, nn.MSELoss) or sse (sum of squared
errors); mse/sse fit y of the output's shape.
[bold]--augment[/] crop:P,flip: each training batch randomly shifted (padded by P,
cropped back) and/or mirrored. [bold]--normalize[/]: per-channel mean/std of the
training split, applied to every split (and stated).
[bold]--plot FILE[/] (repeatable; .png, .svg, .pdf; needs matplotlib): loss and
accuracy curves, or the confusion matrix when the name says confusion (or
write curves:FILE, confusion:FILE); --plot terminal: the curves by plotext.
[bold]--show kernels -o FILE[/]: the learned kernels (--layer NAME).
The same --seed gives the same weights, batches, dropout and history.
Exit codes: 0 ok, 2 bad input (bad data, labels out of range, a NaN loss, a
bad weights file)."""


def register(app: typer.Typer) -> None:
    app.command("train", epilog=EPILOG)(train)


def train(
    network: str = typer.Argument(..., autocompletion=complete.networks,
                                  help="Zoo name, JSON spec FILE, or an inline chain in quotes.", show_default=False),
    data: str = typer.Option(..., "--data", help="FILE.npz (x, y) or synthetic:bars|shapes|blobs[:N].",
                             show_default=False),
    input_shape: str | None = typer.Option(None, "--in", "-i", help="Input shape C x H x W (default the network's)."),
    steps: int | None = typer.Option(None, "--steps", min=1, max=MAX_WHOLE, help="Number of updates."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, max=MAX_WHOLE,
                                      help="Passes over the training data (default 1)."),
    optimizer: str = typer.Option("sgd", "--optimizer", "--optim", help="sgd, momentum or adam."),
    lr: str | None = typer.Option(None, "--lr", help="Learning rate, e.g. 0.1 or 1/10 (default 0.01; adam 0.001)."),
    momentum: float | None = typer.Option(None, "--momentum", help="μ for --optimizer momentum (default 0.9)."),
    weight_decay: float = typer.Option(0.0, "--weight-decay", help="L2 penalty λ (g ← g + λK)."),
    batch_size: int = typer.Option(32, "--batch-size", "--batch", min=1, max=MAX_WHOLE, help="Samples per update."),
    val: float = typer.Option(0.0, "--val", help="Fraction held out for validation (e.g. 0.2)."),
    eval_every: int | None = typer.Option(None, "--eval-every", min=0, max=MAX_WHOLE,
                                          help="Steps between validations (default: each epoch with --epochs, "
                                               "else 10 per run)."),
    seed: int = typer.Option(0, "--seed", min=0, max=MAX_WHOLE, help="Seed of weights, data, batch order and dropout."),
    init: str = typer.Option("pytorch", "--init", help="pytorch, xavier-uniform, xavier-normal, glorot-uniform, "
                                                       "glorot-normal, kaiming-uniform, kaiming-normal, "
                                                       "uniform[:A], normal[:S]."),
    dtype: str = typer.Option("float32", "--dtype", help="float32 or float64."),
    load: str | None = typer.Option(None, "--load", help="Start from parameters saved with --save."),
    save: str | None = typer.Option(None, "--save", help="Write the trained parameters to this .npz (atomically)."),
    test: float = typer.Option(0.0, "--test", help="Fraction held out as a test split (e.g. 0.2)."),
    loss: str = typer.Option("cross-entropy", "--loss", help="cross-entropy, mse or sse."),
    augment: str | None = typer.Option(None, "--augment", help="Augment training batches: crop:P, flip or both."),
    normalize: bool = typer.Option(False, "--normalize", help="Per-channel mean/std of the training split."),
    plot: list[str] | None = typer.Option(None, "--plot", help="FILE.png of the curves (confusion*.png: the "
                                                                "confusion matrix), or terminal. Repeatable."),
    picture: str | None = typer.Option(None, "--show", help="kernels: draw the learned kernels into -o FILE."),
    layer: str | None = typer.Option(None, "--layer", help="The layer --show draws (default the first conv layer)."),
    output: str | None = typer.Option(None, "--output", "-o", help="The picture of --show: FILE.png, .svg or .pdf."),
    print_every: int | None = typer.Option(None, "--print-every", min=1, max=MAX_WHOLE,
                                           help="Piped: a progress line every N steps (default 20 lines a run)."),
    json_flag: bool = typer.Option(False, "--json", help="The history as JSON (schema convcalc/train/v1)."),
    fmt: str | None = typer.Option(None, "--format", "-f", autocompletion=complete.words("rich", "text", "json"),
                                   help="rich, text or json."),
    max_memory: str | None = typer.Option(None, "--max-memory", help="Refuse runs needing more memory than this "
                                                                       "(2G, 500M; default a quarter of RAM, "
                                                                       "at most 2 GiB)."),
) -> None:
    """Train a network on a dataset: progress, a loss curve in the terminal, optional saved weights."""
    with user_errors():
        form = choose_format(fmt, json_flag, allowed=("rich", "text", "plain", "json"))
        form = "text" if form == "plain" else form
        if momentum is not None and optimizer.strip().lower() != "momentum":
            raise InputError(f"--momentum sets μ of --optimizer momentum; {optimizer} would ignore it: add "
                             "--optimizer momentum, or leave --momentum out")
        from convcalc.cli.run import picture_request

        drawing = picture_request(picture, layer, output, kinds=("kernels",))
        plots = plot_requests(plot or [])
        view = execute(network, data=data, input_shape=input_shape, steps=steps, epochs=epochs, optimizer=optimizer,
                       lr=lr, momentum=0.9 if momentum is None else momentum, weight_decay=weight_decay,
                       batch_size=batch_size, val=val,
                       eval_every=eval_every, seed=seed, init=init, dtype=dtype, load=load, save=save, form=form,
                       max_memory=max_memory, test=test, loss=loss, augment=augment, normalize=normalize,
                       plots=plots, print_every=print_every, kernel_layer=drawing.layer if drawing else None)
        show(view, form, terminal_plot="terminal" in (kind for kind, _ in plots))
        for kind, path in plots:
            if kind != "terminal":
                write_plot(view, kind, path)
        if drawing is not None:
            from convcalc.cli.run import drawing_of

            drawing_of(drawing, view.graph, view.result.params, view.result.buffers,
                       weights=f"trained {view.steps} steps")()


PLOTS = ("curves", "confusion")


def plot_requests(values: list[str]) -> list[tuple[str, str]]:
    """``--plot`` values → [(kind, path)]: ``terminal``, ``curves:FILE``, ``confusion:FILE``, or a
    bare FILE (the confusion matrix when its name contains "confusion", else the curves).
    Every file is checked (extension, writable) before training."""
    from pathlib import Path

    from convcalc.render.pictures import picture_kind

    requests = []
    for value in values:
        if value.strip().lower() == "terminal":
            from convcalc.render.executor import require_plotext

            require_plotext()
            requests.append(("terminal", ""))
            continue
        kind, sep, path = value.partition(":")
        if not sep or kind.strip().lower() not in PLOTS:
            kind, path = ("confusion" if "confusion" in Path(value).stem.lower() else "curves"), value
        picture_kind(path, "--plot")
        requests.append((kind.strip().lower(), path))
    return requests


def write_plot(view, kind: str, path: str) -> None:
    from convcalc.render import pictures

    if kind == "confusion":
        pictures.save(path, lambda fig: pictures.paint_confusion(fig, view.confusion))
        what = f"the confusion matrix of the {view.confusion.split} ({view.confusion.samples} samples)"
    else:
        pictures.save(path, lambda fig: pictures.paint_curves(fig, view))
        what = f"loss{' and accuracy' if view.classifies else ''} per step"
    sys.stderr.write(f"wrote {path}: {what}\n")


def _progress(form: str, total: int, every: int | None):
    from convcalc.render import executor as render

    if form == "rich":
        return render.RichProgress(total, console())
    if form == "text":
        return render.PlainProgress(total, sys.stdout, every=every)
    return None


def execute(network: str, *, data: str, input_shape=None, steps=None, epochs=None, optimizer="sgd", lr=None,
            momentum=0.9, weight_decay=0.0, batch_size=32, val=0.0, eval_every=None, seed=0, init="pytorch",
            dtype="float32", load=None, save=None, form="json", max_memory=None, test=0.0, loss="cross-entropy",
            augment=None, normalize=False, plots=(), print_every=None, kernel_layer=None):
    from convcalc.cli.arch import resolve_network
    from convcalc.cli.run import parse_dtype, starting_state
    from convcalc.executor import datasets, weights
    from convcalc.executor.augment import parse_augment
    from convcalc.executor.graph import build_graph
    from convcalc.executor.init import parse_scheme
    from convcalc.executor.losses import TRAINING_LOSSES, parse_loss
    from convcalc.executor.optim import DEFAULT_LR, Optimizer
    from convcalc.executor.training import TrainPlan, plan_steps
    from convcalc.executor.training import train as run_training
    from convcalc.render.executor import TrainView

    np_dtype = parse_dtype(dtype)
    chosen_loss = parse_loss(loss, TRAINING_LOSSES)
    augmentation = parse_augment(augment) if augment is not None else None
    scheme = parse_scheme(init)  # checked even with --load: a typo should not pass silently
    name = optimizer.strip().lower()
    if isinstance(lr, str):  # 0.1 or 1/10, as backprop reads it
        from convcalc.compute.numbers import parse_number

        lr = float(parse_number(lr, "--lr"))
    chosen = Optimizer(name, lr if lr is not None else DEFAULT_LR.get(name, 0.01), momentum=momentum,
                       weight_decay=weight_decay)
    if save is not None:  # a bad destination fails before training, not after
        from convcalc.files import check_destination

        check_destination(save, "--save")
    from convcalc.executor.memory import keep_freed_memory

    keep_freed_memory()
    net, shape = resolve_network(network, input_shape)
    graph = build_graph(net, shape)
    classes = datasets.class_count(graph.output) if chosen_loss.classifies else 0
    _check_requests(chosen_loss, plots, test, val, data, augmentation, graph)
    if kernel_layer is not None:  # --show kernels --layer NAME: checked before training
        from convcalc.executor.pictures import kernel_layer as check_kernel_layer

        check_kernel_layer(graph, kernel_layer)
    from math import prod

    from convcalc import limits

    limit = limits.memory_limit(max_memory)
    samples = datasets.parse_synthetic(data)[1] if data.strip().lower().startswith("synthetic") else 0
    states = {"adam": 2, "momentum": 1}.get(name, 0)
    # synthetic data is drawn in float64 before the cast: count it twice
    limits.network_estimate(graph, batch_size, np_dtype.itemsize, backward=True, optimizer_states=states,
                            data_entries=2 * samples * prod(graph.input), steps=steps or 0).check(limit, "train")
    dataset = datasets.load(data, graph.input, classes, val, seed, np_dtype, test_fraction=test,
                            targets=None if chosen_loss.classifies else graph.output)
    if normalize:
        dataset = datasets.normalize(dataset)
    params, buffers, state = starting_state(graph, init=init, load=load, seed=seed, dtype=np_dtype)
    total = plan_steps(len(dataset.x), batch_size, steps, epochs)
    if eval_every is not None:
        every = eval_every
    elif epochs is not None:  # the course's loop: validation after every epoch
        every = math.ceil(len(dataset.x) / batch_size)
    else:
        every = max(1, total // 10)
    plan = TrainPlan(total, batch_size, chosen, chosen_loss, every, seed, augmentation)
    progress = _progress(form, total, print_every)
    if progress is None:
        result = run_training(graph, dataset, params, buffers, plan)
    else:
        with progress:
            result = run_training(graph, dataset, params, buffers, plan, on_step=progress.update)
    notes = []
    if batch_size > len(dataset.x):
        notes.append(f"--batch-size {batch_size} is larger than the {len(dataset.x)} training samples: each "
                     "step uses them all")
    test_result, matrix = held_out_results(graph, dataset, result, chosen_loss, batch_size, total, classes)
    saved = None
    if save is not None:
        meta = {"network": net.name, "input": list(graph.input), "dtype": np_dtype.name, "steps": total, "seed": seed,
                "optimizer": chosen.as_dict(), "schema": "convcalc/weights/v1"}
        weights.save(save, result.params, result.buffers, meta)
        saved = save
    return TrainView(
        network=net.name, input=graph.input, data_name=dataset.name, data_description=dataset.description,
        train_samples=len(dataset.x), val_samples=0 if dataset.x_val is None else len(dataset.x_val),
        class_names=dataset.class_names, optimizer=chosen.as_dict(), optimizer_text=chosen.describe(),
        loss=chosen_loss.name, init=scheme.describe() if load is None else state, seed=seed, dtype=np_dtype.name,
        batch_size=batch_size, steps=total, result=result, parameters=graph.parameter_count, loaded=load, saved=saved,
        notes=tuple(notes), test_samples=0 if dataset.x_test is None else len(dataset.x_test), test=test_result,
        confusion=matrix, augment=augmentation.describe() if augmentation else None,
        normalization=dataset.normalization.describe() if dataset.normalization else None,
        loss_description=chosen_loss.description, graph=graph,
    )


def _check_requests(loss, plots, test: float, val: float, data: str, augmentation, graph) -> None:
    """Refuse, before any training, what the run could not deliver."""
    kinds = [kind for kind, _ in plots]
    if "confusion" in kinds:
        if not loss.classifies:
            raise InputError(f"--plot confusion is for classifiers; --loss {loss.name} fits numbers")
        if not (test or val or _has_held_out(data)):
            raise InputError("--plot confusion needs held-out samples: give --test 0.2 (or --val 0.2)")
    if augmentation is not None and len(graph.input) < 2:
        raise InputError(f"--augment crops and flips images; the network takes {'x'.join(map(str, graph.input))} "
                         "(no spatial axes)")


def _has_held_out(data: str) -> bool:
    """Whether an .npz --data brings its own x_val or x_test (read cheaply: the names only)."""
    import zipfile

    try:
        with zipfile.ZipFile(data) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False  # not an .npz: the loader says what is wrong
    return bool({"x_val.npy", "x_test.npy"} & names)


def held_out_results(graph, dataset, result, loss, batch_size: int, step: int, classes: int):
    """The test split's loss and accuracy (once, after training), and the confusion matrix of the
    test split — or, without one, of the validation split."""
    from convcalc.executor.confusion import confusion
    from convcalc.executor.training import evaluate

    test_result = matrix = None
    for x, y, split in ((dataset.x_test, dataset.y_test, "test split"),
                        (dataset.x_val, dataset.y_val, "validation split")):
        if x is None or not len(x):
            continue
        predicted: list[int] = []
        evaluation = evaluate(graph, result.params, result.buffers, x, y, loss, batch_size, step,
                              predictions=predicted if loss.classifies else None)
        if split == "test split":
            test_result = evaluation
        if loss.classifies:
            # the classes the data names or that occur: a 10-score net on 4 classes shows 4 rows
            shown = max(len(dataset.class_names), int(y.max()) + 1, max(predicted) + 1)
            matrix = confusion(predicted, y, min(classes, shown), dataset.class_names, split)
        break
    return test_result, matrix


def show(view, form: str, terminal_plot: bool = False) -> None:
    from convcalc.render import executor as render

    if form == "json":
        emit(View(json=lambda: render.train_dict(view)), form)
        return
    chart = None
    # On a terminal the curves are plotext's when it is installed (asked for with --plot
    # terminal, or else when it is there); piped, the plain-text curve unless asked.
    if terminal_plot or (form == "rich" and render.plotext_available()):
        import os

        screen = console()
        colour = form == "rich" and screen.color_system is not None and "NO_COLOR" not in os.environ
        chart = render.plotext_chart(view, min(screen.width, 120), colour)
    emit(View(text=lambda: render.train_text(view, chart), rich=lambda _: render.train_rich(view, chart)), form)
