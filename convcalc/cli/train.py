"""``convcalc train``: the course's training loop — forward, loss, backward, K ← K − lr·δK —
on a network from the zoo, a spec file or an inline chain, with NumPy alone."""

from __future__ import annotations

import sys

import typer

from convcalc.cli.output import View, choose_format, console, emit, user_errors
from convcalc.limits import MAX_WHOLE

EPILOG = """[bold]Examples[/]

  convcalc train lenet5 --data synthetic:bars --steps 200 --optimizer adam --val 0.2

  convcalc train lenet5 --data synthetic:shapes:2000 --epochs 3 --optimizer momentum --save lenet.npz

  convcalc train "1x28x28 | conv 8 k3 | relu | maxpool k2 | flatten | fc 10" --data digits.npz

  convcalc train lenet5 --data synthetic:bars --load lenet.npz --steps 100 --json

[bold]--data[/]: an .npz file with arrays x (N x C x H x W, numbers) and y (N integer
labels in [0, classes)), optionally x_val and y_val; or a built-in dataset drawn
from the seed: synthetic:bars (4 orientations), synthetic:shapes (square, circle,
triangle), synthetic:blobs (4 Gaussian classes, any input shape); :N sets the
number of samples (default 1200).
[bold]Optimizers[/] (PyTorch's forms): sgd K ← K − lr·g; momentum v ← μv + g,
K ← K − lr·v; adam (β₁ 0.9, β₂ 0.999, ε 1e-8). Default lr 0.01, adam 0.001.
[bold]--init[/]: pytorch (default; kaiming_uniform a=√5, bias U(±1/√fan_in)), the
course's xavier-uniform U(±√(3/fan_in)) and xavier-normal N(0, 1/fan_in),
glorot-uniform, glorot-normal, kaiming-uniform, kaiming-normal, uniform[:A].
Loss: cross-entropy (softmax + negative log-likelihood, mean over the batch).
The same --seed gives the same weights, batches, dropout and history.
Exit codes: 0 ok, 2 bad input (bad data, labels out of range, a NaN loss, a
bad weights file)."""


def register(app: typer.Typer) -> None:
    app.command("train", epilog=EPILOG)(train)


def train(
    network: str = typer.Argument(..., help="Zoo name, JSON spec FILE, or an inline chain in quotes.", show_default=False),
    data: str = typer.Option(..., "--data", help="FILE.npz (x, y) or synthetic:bars|shapes|blobs[:N].", show_default=False),
    input_shape: str | None = typer.Option(None, "--in", "-i", help="Input shape C x H x W (default the network's)."),
    steps: int | None = typer.Option(None, "--steps", min=1, max=MAX_WHOLE, help="Number of updates."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, max=MAX_WHOLE, help="Passes over the training data (default 1)."),
    optimizer: str = typer.Option("sgd", "--optimizer", "--optim", help="sgd, momentum or adam."),
    lr: str | None = typer.Option(None, "--lr", help="Learning rate, e.g. 0.1 or 1/10 (default 0.01; adam 0.001)."),
    momentum: float = typer.Option(0.9, "--momentum", help="μ for --optimizer momentum."),
    weight_decay: float = typer.Option(0.0, "--weight-decay", help="L2 penalty λ (g ← g + λK)."),
    batch_size: int = typer.Option(32, "--batch-size", "--batch", min=1, max=MAX_WHOLE, help="Samples per update."),
    val: float = typer.Option(0.0, "--val", help="Fraction held out for validation (e.g. 0.2)."),
    eval_every: int | None = typer.Option(None, "--eval-every", min=0, max=MAX_WHOLE, help="Steps between validations (default: 10 per run)."),
    seed: int = typer.Option(0, "--seed", min=0, max=MAX_WHOLE, help="Seed of weights, data, batch order and dropout."),
    init: str = typer.Option("pytorch", "--init", help="pytorch, xavier-uniform, xavier-normal, glorot-uniform, "
                                                       "glorot-normal, kaiming-uniform, kaiming-normal, uniform[:A]."),
    dtype: str = typer.Option("float32", "--dtype", help="float32 or float64."),
    load: str | None = typer.Option(None, "--load", help="Start from parameters saved with --save."),
    save: str | None = typer.Option(None, "--save", help="Write the trained parameters to this .npz (atomically)."),
    json_flag: bool = typer.Option(False, "--json", help="The history as JSON (schema convcalc/train/v1)."),
    fmt: str | None = typer.Option(None, "--format", "-f", help="rich, text or json."),
    max_memory: str | None = typer.Option(None, "--max-memory", help="Refuse runs needing more memory than this "
                                                                       "(2G, 500M; default a quarter of RAM, at most 2 GiB)."),
) -> None:
    """Train a network on a dataset: progress, a loss curve in the terminal, optional saved weights."""
    with user_errors():
        form = choose_format(fmt, json_flag, allowed=("rich", "text", "plain", "json"))
        form = "text" if form == "plain" else form
        view = execute(network, data=data, input_shape=input_shape, steps=steps, epochs=epochs, optimizer=optimizer,
                       lr=lr, momentum=momentum, weight_decay=weight_decay, batch_size=batch_size, val=val,
                       eval_every=eval_every, seed=seed, init=init, dtype=dtype, load=load, save=save, form=form,
                       max_memory=max_memory)
        show(view, form)


def _progress(form: str, total: int):
    from convcalc.render import executor as render

    if form == "rich":
        return render.RichProgress(total, console())
    if form == "text":
        return render.PlainProgress(total, sys.stdout)
    return None


def execute(network: str, *, data: str, input_shape=None, steps=None, epochs=None, optimizer="sgd", lr=None,
            momentum=0.9, weight_decay=0.0, batch_size=32, val=0.0, eval_every=None, seed=0, init="pytorch",
            dtype="float32", load=None, save=None, form="json", max_memory=None):
    from convcalc.cli.arch import resolve_network
    from convcalc.cli.run import parse_dtype, starting_state
    from convcalc.executor import datasets, weights
    from convcalc.executor.graph import build_graph
    from convcalc.executor.init import parse_scheme
    from convcalc.executor.losses import parse_loss
    from convcalc.executor.optim import DEFAULT_LR, Optimizer
    from convcalc.executor.training import TrainPlan, plan_steps
    from convcalc.executor.training import train as run_training
    from convcalc.render.executor import TrainView

    np_dtype = parse_dtype(dtype)
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
    classes = datasets.class_count(graph.output)
    from math import prod

    from convcalc import limits

    limit = limits.memory_limit(max_memory)
    samples = datasets.parse_synthetic(data)[1] if data.strip().lower().startswith("synthetic") else 0
    states = {"adam": 2, "momentum": 1}.get(name, 0)
    # synthetic data is drawn in float64 before the cast: count it twice
    limits.network_estimate(graph, batch_size, np_dtype.itemsize, backward=True, optimizer_states=states,
                            data_entries=2 * samples * prod(graph.input), steps=steps or 0).check(limit, "train")
    dataset = datasets.load(data, graph.input, classes, val, seed, np_dtype)
    params, buffers, state = starting_state(graph, init=init, load=load, seed=seed, dtype=np_dtype)
    total = plan_steps(len(dataset.x), batch_size, steps, epochs)
    every = eval_every if eval_every is not None else max(1, total // 10)
    loss = parse_loss("cross-entropy")
    plan = TrainPlan(total, batch_size, chosen, loss, every, seed)
    progress = _progress(form, total)
    if progress is None:
        result = run_training(graph, dataset, params, buffers, plan)
    else:
        with progress:
            result = run_training(graph, dataset, params, buffers, plan, on_step=progress.update)
    notes = []
    if batch_size > len(dataset.x):
        notes.append(f"--batch-size {batch_size} is larger than the {len(dataset.x)} training samples: each step uses them all")
    saved = None
    if save is not None:
        meta = {"network": net.name, "input": list(graph.input), "dtype": np_dtype.name, "steps": total, "seed": seed,
                "optimizer": chosen.as_dict(), "schema": "convcalc/weights/v1"}
        weights.save(save, result.params, result.buffers, meta)
        saved = save
    return TrainView(
        network=net.name, input=graph.input, data_name=dataset.name, data_description=dataset.description,
        train_samples=len(dataset.x), val_samples=0 if dataset.x_val is None else len(dataset.x_val),
        class_names=dataset.class_names, optimizer=chosen.as_dict(), optimizer_text=chosen.describe(), loss=loss.name,
        init=scheme.describe() if load is None else state, seed=seed, dtype=np_dtype.name,
        batch_size=batch_size, steps=total, result=result, parameters=graph.parameter_count, loaded=load, saved=saved,
        notes=tuple(notes),
    )


def show(view, form: str) -> None:
    from convcalc.render import executor as render

    emit(View(json=lambda: render.train_dict(view), text=lambda: render.train_text(view),
              rich=lambda _: render.train_rich(view)), form)
