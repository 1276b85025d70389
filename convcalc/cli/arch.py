"""``convcalc arch``: a whole network, layer by layer — shapes, parameters, MACs, memory and
receptive fields, with totals under explicit counting conventions."""

from __future__ import annotations

import sys

import typer
from typer.core import TyperCommand

from convcalc.cli import complete
from convcalc.cli.gc_pause import collector_paused
from convcalc.cli.output import View, choose_format, echo, emit, user_errors
from convcalc.errors import ExpectationFailed, InputError
from convcalc.limits import MAX_WHOLE

_EPILOG = """[bold]Examples[/]

  convcalc arch --list                       [dim](grouped by family; --list --json for scripts)[/]

  convcalc arch --search vit                 [dim](the zoo networks whose name or summary mention vit)[/]

  convcalc arch alexnet

  convcalc arch inception_v3 --aux           [dim](with the auxiliary classifier: 27,161,264 params)[/]

  convcalc arch mobilenet_v1 --width 0.75 --in 3x160x160

  convcalc arch resnet50 --classes 10

  convcalc arch mobilenet_v1 --padding tf    [dim](TF-slim's SAME padding: RF 315, effective padding 126)[/]

  convcalc arch alexnet --table              [dim](the per-layer table, also when piped)[/]

  convcalc arch resnet50 --in 3x160x160 --depth 2

  convcalc arch my_net.json --json

  convcalc arch "3x32x32 | conv 6 k5 | relu | maxpool k2 | conv 16 k5 | relu | maxpool k2 | flatten | \
fc 120 | fc 84 | fc 10"

  convcalc arch alexnet --as fvcore          [dim](reproduce another tool's headline number)[/]

  convcalc arch alexnet --training --optimizer adam --dtype float16

  convcalc arch model.onnx --in 3x224x224    [dim](an ONNX file; needs pip install onnx)[/]

  convcalc arch my_net.py:Net --in 3x32x32   [dim](a PyTorch module: IMPORTS AND RUNS my_net.py)[/]

  convcalc arch "my_package.models:resnet_custom(width=2)" --in 3x224x224

[bold]NETWORK[/] is a zoo name (- and _ interchangeable), a JSON spec file (format: examples/README.md),
an ONNX file (.onnx), FILE.py:Name or package.module:name(args) — a torch.nn.Module class or
a function returning one; this imports the file or module and runs its code (the arguments are
Python literals only) — or an inline chain of layers separated by |:

{chain}
The first segment may be the input shape (3x32x32); otherwise give --in.
A chain too long for the command line can be a text file (one layer a line or | between them,
# starts a comment) or come on standard input as NETWORK -.

[bold]Conventions[/]: MACs are conv + linear multiply-accumulates without bias; FLOPs = 2 × MACs.
Bias adds, norms, pooling, activations and residual adds are listed as other work;
--count bias,norm,activation,pool,add (or all) adds them to a "counted ops" line.
--as torchinfo|fvcore|ptflops|thop|ultralytics-thop|calflops|flop_counter:
that tool's headline number (checked against the real tools) and how it differs from ours.
It counts the ops torchvision's code calls as functions (Inception's F.relu, DenseNet's
F.adaptive_avg_pool2d, ShuffleNet's x.mean) as the tool counts such calls; --code modules
counts every layer as an nn.Module instead.
Batch-norm running statistics are buffers, not parameters.
Exit codes: 0 ok, 1 an --expect check failed, 2 bad input."""

DTYPES = {"float32": 4, "fp32": 4, "float64": 8, "fp64": 8, "float16": 2, "fp16": 2, "half": 2,
          "bfloat16": 2, "bf16": 2, "int8": 1, "uint8": 1}


def _chain_lines() -> str:
    """The chain syntax, one line per layer type, as the layer descriptors write it."""
    from convcalc.network.spec import chain_help

    lines = chain_help().splitlines()[1:]
    return "\n".join(line.replace("[", "\\[") for line in lines)


def epilog() -> str:
    """arch's --help epilog, with the chain syntax of every layer type written in."""
    return _EPILOG.replace("{chain}", _chain_lines())


class ArchCommand(TyperCommand):
    """The arch command, whose epilog is written when first read (``--help``): the chain syntax
    comes from every layer module's descriptors, and importing them all would cost ``arch --list``
    and ``arch NAME`` more than the rest of their work."""

    _reflowed = True  # cli.app.tidy leaves it alone: the text is reflowed when written
    _epilog_text: str | None = None

    @property
    def epilog(self) -> str | None:
        if self._epilog_text is None:
            from convcalc.cli.app import reflow_epilog

            self._epilog_text = reflow_epilog(epilog())
        return self._epilog_text

    @epilog.setter
    def epilog(self, value: str | None) -> None:  # click's __init__ sets it: None until read
        self._epilog_text = None if value == _EPILOG else value


def register(app: typer.Typer) -> None:
    app.command("arch", cls=ArchCommand, epilog=_EPILOG)(arch)


def arch(
    network: str | None = typer.Argument(None, autocompletion=complete.networks,
                                         help="Zoo name, JSON spec FILE, ONNX file, FILE.py:Net (runs that file), or "
                                              "an inline chain in quotes.",
                                         show_default=False),
    list_: bool = typer.Option(False, "--list", "-l",
                               help="List the zoo networks with their sources, grouped by family."),
    search: str | None = typer.Option(None, "--search",
                                      help="List the zoo networks whose name, summary or source contain WORD."),
    classes: int | None = typer.Option(None, "--classes", min=1, max=MAX_WHOLE,
                                       help="A zoo network's number of classes (the classifier's width)."),
    aux: bool = typer.Option(False, "--aux",
                             help="googlenet, inception_v3: with the auxiliary classifiers (counted, off the "
                                  "main path)."),
    width: float | None = typer.Option(None, "--width", help="mobilenet_v1/v2/v3: the width multiplier (e.g. 0.75)."),
    padding: str | None = typer.Option(None, "--padding",
                                       help="mobilenet_v1: tf for TensorFlow's SAME padding (TF-slim's "
                                            "receptive-field centres), torch (the default)."),
    input_shape: str | None = typer.Option(None, "--in", "-i",
                                           help="Input shape C x H x W (e.g. 3x160x160); the whole walk follows."),
    batch: int = typer.Option(1, "--batch", "-n", min=1, max=MAX_WHOLE,
                              help="Batch size N (MACs and activation memory scale with it)."),
    depth: int | None = typer.Option(None, "--depth", min=0, max=MAX_WHOLE,
                                     help="Show N levels of the module tree; each block below folds into one row "
                                          "(its kind, its sums)."),
    dtype: str = typer.Option("float32", "--dtype",
                              help="Element type for memory: float32, float16, bfloat16, int8, float64."),
    count_: str | None = typer.Option(None, "--count",
                                      help="Add other work to a headline: bias,norm,activation,pool,add or all."),
    as_tool: str | None = typer.Option(None, "--as", autocompletion=complete.tools,
                                       help="Reproduce a tool's headline: torchinfo, fvcore, ptflops, thop, "
                                            "ultralytics-thop, calflops, flop_counter, keras (Total params)."),
    code: str = typer.Option("torchvision", "--code",
                             help="For --as: 'torchvision' (ops its forward calls as functions counted as the tool "
                                  "counts calls) or 'modules' (every layer an nn.Module)."),
    training: bool = typer.Option(False, "--training", help="Add the backward pass (dX, dW MACs) and training memory."),
    optimizer: str | None = typer.Option(None, "--optimizer",
                                         help="Optimizer state for --training: sgd (the default), momentum, adam."),
    verify: bool = typer.Option(False, "--verify",
                                help="Build the network in torch.nn and compare every layer (needs torch)."),
    wide: bool = typer.Option(False, "--wide", "-w",
                              help="Exact numbers and full names (lines may exceed 80 columns)."),
    expect_params: str | None = typer.Option(None, "--expect-params",
                                             help="Exit 1 unless the parameter count is this."),
    table_flag: bool = typer.Option(False, "--table", "-t",
                                    help="The per-layer table with the totals (the default: rich on a terminal, "
                                         "plain text when piped)."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable JSON (schema convcalc/arch/v1)."),
    csv_flag: bool = typer.Option(False, "--csv", help="The table as CSV."),
    markdown_flag: bool = typer.Option(False, "--markdown", "--md", help="The table as Markdown."),
    fmt: str | None = typer.Option(None, "--format", "-f",
                                   autocompletion=complete.words("rich", "text", "json", "csv", "markdown"),
                                   help="rich, text, json, csv, markdown."),
) -> None:
    """A whole network, layer by layer: output shapes, parameters, MACs, memory and receptive fields."""
    with user_errors():
        flags = [name for name, on in (("csv", csv_flag), ("markdown", markdown_flag)) if on]
        if len(flags) + table_flag > 1 or ((flags or table_flag) and json_flag) or (flags and fmt):
            raise InputError("give one output format: --table, --json, --csv, --markdown or --format")
        form = choose_format(flags[0] if flags else fmt, json_flag,
                             allowed=("rich", "text", "plain", "json", "csv", "markdown"))
        if table_flag and form not in ("rich", "text", "plain"):
            raise InputError(f"--table and --format {fmt} disagree: --table is the rich or plain-text table")
        if form == "plain":
            form = "text"
        if list_ or search is not None:
            if network is not None:
                raise InputError("--list and --search list the zoo and take no NETWORK: "
                                 f"give either them or '{network}'")
            _show_list(form, search)
            return
        if optimizer is not None and not training:
            raise InputError("--optimizer only sets the optimizer state of --training: add --training, or leave it out")
        if network is None:
            raise InputError("give a NETWORK (a zoo name, a JSON spec file or an inline chain), or --list")
        options = {"classes": classes, "aux": aux or None, "width": width, "padding": padding}
        run(network, form, input_shape=input_shape, batch=batch, depth=depth, dtype=dtype, count=count_,
            tool=as_tool, with_training=training, optimizer=optimizer or "sgd", verify=verify, wide=wide,
            expect_params=expect_params, code=code,
            zoo_options={k: v for k, v in options.items() if v is not None})


def load_network(text: str, input_shape: tuple | None, zoo_options: dict | None = None):
    """A zoo name, a JSON spec file or an inline chain → a Network; ``zoo_options`` (classes, aux,
    width) go to a zoo builder and are refused for anything else."""
    from convcalc import zoo
    from convcalc.files import is_file, probe
    from convcalc.network import spec

    stripped = text.strip()
    if zoo_options and not zoo.has(stripped):
        if zoo.has(stripped.removesuffix(".json")) or not (is_file(stripped) or spec.looks_like_chain(stripped)):
            zoo.get(stripped)  # an unknown name: the message with close names
        flags = ", ".join(f"--{k}" for k in zoo_options)
        verb = "applies" if len(zoo_options) == 1 else "apply"
        raise InputError(f"{flags} only {verb} to zoo networks; '{stripped}' is not one "
                         "(edit the spec or chain instead)")
    if stripped == "-":  # a JSON spec or a chain on standard input, as backprop and conv read '-'
        return spec.parse_spec_or_chain_text(sys.stdin.read(), "<stdin>", input_shape)
    from convcalc import interop

    kind = interop.detect(stripped)
    if kind is not None:  # the user's own model: an ONNX file, a Keras config, a PyTorch module
        return interop.load(kind, stripped, input_shape)
    if is_file(stripped):  # a JSON spec, or a chain too long for the command line
        from convcalc.files import read_text

        return spec.parse_spec_or_chain_text(read_text(stripped, "spec file"), stripped, input_shape)
    if stripped.endswith(".json"):
        raise InputError(f"spec file '{stripped}' does not exist")
    if zoo.has(stripped):
        return zoo.get(stripped, **(zoo_options or {}))
    if probe(stripped) is not None:
        raise InputError(f"'{stripped}' is a directory, not a spec file "
                         "(give a zoo name, a JSON spec file or an inline chain)")
    if spec.looks_like_chain(stripped):
        return spec.parse_chain(stripped, input_shape)
    return zoo.get(stripped)  # raises: unknown network, with close names


def resolve_network(text: str, input_shape: str | None, zoo_options: dict | None = None):
    """NETWORK and --in → (Network, input shape C x spatial or None); every command that takes
    a network (arch, run, train) reads them here."""
    shape = _parse_input(input_shape)
    net = load_network(text, shape, zoo_options)
    if shape is not None and len(shape) != len(net.input):
        if len(shape) == len(net.input) - 1:  # spatial only: keep the network's channels
            shape = (net.input[0],) + tuple(shape)
        elif len(shape) == 1 and len(net.input) > 1:  # one number: a square
            shape = (net.input[0],) + tuple(shape) * (len(net.input) - 1)
        else:
            raise InputError(f"--in {input_shape} has {len(shape)} numbers; {net.name} takes "
                             f"{len(net.input)} (like {'x'.join(map(str, net.input))})")
    return net, shape


def _parse_input(text: str | None) -> tuple | None:
    if text is None:
        return None
    from convcalc.notation import parse_shape

    shape, _ = parse_shape(text, "--in", allow_symbols=False)
    return shape


@collector_paused()  # a deep network's walk and rendering: linear in its depth (see gc_pause)
def run(network: str, form: str, *, input_shape=None, batch=1, depth=None, dtype="float32", count=None, tool=None,
        with_training=False, optimizer="sgd", verify=False, wide=False, expect_params=None, zoo_options=None,
        code="torchvision") -> None:
    from convcalc.network import conventions, tools
    from convcalc.network.training import training as training_report
    from convcalc.network.walk import walk
    from convcalc.render import network as render

    key = dtype.strip().lower()
    if key not in DTYPES:
        raise InputError(f"--dtype '{dtype}' is not one of {', '.join(DTYPES)}")
    expected = expected_params(expect_params)
    if verify:
        from convcalc.network.torch_build import require_torch

        require_torch()  # before the table: a missing torch is known at once
    net, shape = resolve_network(network, input_shape, zoo_options)
    included = conventions.parse_count(count)
    report = walk(net, shape, batch=batch, bytes_per_element=DTYPES[key])
    notes = tuple(net.notes) + channel_notes(net, shape, report)
    if tool is not None and tool.strip().lower() == "keras":  # a parameter count, not a MAC rule
        from convcalc.network.keras_weights import keras_weights

        weights = keras_weights(report)
        stats = f"{weights.moving_statistics:,} batch-norm moving statistics (moving_mean, moving_variance"
        if weights.normalization:  # an adapted Normalization layer's weights (EfficientNet B0–B7)
            stats += f") + {weights.normalization:,} Normalization statistics (mean, variance, count"
        notes += (f"as keras: Total params {report.totals.params + weights.non_trainable:,} = our "
                  f"{report.totals.params:,} parameters + {stats}; model.summary() counts them as non-trainable "
                  "params)",)
        tool = None
    view = render.ArchView(
        report=report, rows=tuple(render.fold(report, depth)), dtype=_dtype_name(key),
        headline=conventions.headline(report, included) if included else None,
        tool=tools.as_tool(report, tool, code) if tool else None,
        training=training_report(report, optimizer) if with_training else None,
        notes=notes,
        channels_last=net.source.startswith("Keras "),  # shown as Keras shows them; --json stays C first
    )
    show(view, form, wide)
    if verify:
        from convcalc.network.torch_build import verify as torch_verify

        result = torch_verify(net, report)
        echo(result.text())
        if not result.ok:
            raise ExpectationFailed(f"--verify: {result.summary}")
    _debug_shapes(net, report)
    check(report, expected)


def channel_notes(net, shape: tuple | None, report) -> tuple[str, ...]:
    """A note when ``--in`` gives the network another channel count than it was built for: the
    layers that read the input are then rebuilt for it, and the parameter count changes."""
    if shape is None or not net.input or shape[0] == net.input[0]:
        return ()
    from convcalc.network.walk import walk

    built = walk(net, (net.input[0], *shape[1:]))
    if built.totals.params == report.totals.params:
        return ()
    changed = [row.name for row, old in zip(report.leaves(), built.leaves()) if row.params != old.params]
    where = (f"{changed[0]}" + (f" and {len(changed) - 1} more layers" if len(changed) > 1 else "")
             if changed else "its first layers")
    return (f"--in has {shape[0]} channel{'s' if shape[0] != 1 else ''} where {report.name} is built for "
            f"{net.input[0]}: {where} rebuilt for {shape[0]} (the weights change shape), so the network has "
            f"{report.totals.params:,} parameters instead of {built.totals.params:,}",)


def _debug_shapes(net, report) -> None:
    """Layers whose declared sizes disagree with their inputs: each explained on stderr, exit 2."""
    from convcalc.interop import debugger

    if not debugger.mismatches(report):
        return
    from convcalc.network.walk import walk

    found = debugger.diagnose(net, report, lambda n, s: walk(n, s))
    import contextlib

    with contextlib.suppress(BrokenPipeError):  # the reader left (2>&1 | head): the exit code still says bad input
        sys.stderr.write("".join(f"shape mismatch: {mismatch.text()}\n" for mismatch in found))
    raise InputError(f"{len(found)} layer{'s' if len(found) != 1 else ''} of {report.name} declare"
                     f"{'' if len(found) != 1 else 's'} sizes that disagree with what flows in (listed above)")


def _dtype_name(key: str) -> str:
    return {"fp32": "float32", "fp64": "float64", "fp16": "float16", "half": "float16",
            "bf16": "bfloat16"}.get(key, key)


def expected_params(expect_params: str | None) -> int | None:
    """``--expect-params`` as a count (``61706``, ``61,706``, ``61_706``), checked before any work."""
    if expect_params is None:
        return None
    text = expect_params.replace(",", "").replace("_", "").strip()
    if text.startswith("-") and text[1:].isdigit():
        raise InputError(f"--expect-params {expect_params}: a parameter count is never negative (give e.g. 61706)")
    if not text.isdigit():
        raise InputError(f"--expect-params '{expect_params}' is not a parameter count: "
                         "give a whole number such as 61706")
    return int(text)


def check(report, expected: int | None) -> None:
    if expected is not None and expected != report.totals.params:
        raise ExpectationFailed(f"{report.name} has {report.totals.params:,} parameters, expected {expected:,}")


def show(view, form: str, wide: bool) -> None:
    from convcalc.render import network as render

    emit(View(json=lambda: render.arch_dict(view), csv=lambda: render.arch_csv(view),
              markdown=lambda: render.arch_markdown(view), text=lambda: render.arch_text(view, wide),
              rich=lambda out: render.arch_rich(view, wide, out.width), min_width=200 if wide else None), form)


def _show_list(form: str, search: str | None = None) -> None:
    """``--list`` (every zoo network) or ``--search WORD`` (the ones that mention it), grouped by family."""
    from convcalc import zoo
    from convcalc.render import zoo as render

    entries = zoo.listing() if search is None else zoo.search(search)
    if search is not None and not entries:
        close = zoo.suggestions(search)
        hint = f"; close names: {', '.join(close)}" if close else ""
        raise InputError(f"no zoo network mentions '{search}'{hint} (convcalc arch --list shows all)")
    groups = zoo.grouped(entries)

    def rich_table(_):
        from rich.table import Table

        table = Table(title="convcalc zoo", header_style="bold")
        for header in ("name", "source", "summary"):
            table.add_column(header)
        for index, (title, members) in enumerate(groups):
            if index:
                table.add_section()
            table.add_row(f"[bold]{title}[/]", "", "")
            for e in members:
                table.add_row(e.name, e.source, e.summary)
        return table

    def text() -> str:
        return render.zoo_list_text(groups)

    emit(View(json=lambda: {"schema": "convcalc/zoo/v1", "networks": [
        {"name": e.name, "family": title, "source": e.source, "summary": e.summary, "options": list(e.options)}
        for title, members in groups for e in members]},
        csv=lambda: render.zoo_list_csv([e for _, members in groups for e in members]), rich=rich_table, text=text,
        plain=text, markdown=text), form)
