"""``convcalc backprop``: a step-by-step forward and backward trace of a small network from a
spec file — the board work of the course, exact, numeric or symbolic, with its self-checks.

Thin: parse the options, run the engine (:mod:`convcalc.trace`), hand the trace to a printer
(:mod:`convcalc.render.trace` and friends).
"""

from __future__ import annotations

import sys

import typer

from convcalc.cli import complete
from convcalc.cli.output import View, choose_format, emit, user_errors
from convcalc.errors import ExpectationFailed, InputError
from convcalc.limits import MAX_WHOLE

EPILOG = r"""[bold]Examples[/]

  convcalc backprop --list-examples

  convcalc backprop --example course > course.json

  convcalc backprop course.json

  convcalc backprop --example course | convcalc backprop - --lr 0.1

  convcalc backprop course.json --symbolic       [dim](all parameters: k₀₀ …)[/]

  convcalc backprop course.json --symbolic K     [dim](only the kernel)[/]

  convcalc backprop course.json --format latex > trace.tex

  convcalc backprop course.json --json --verify torch

[bold]Spec (JSON), sequential form[/]
  {"input": [[1, 2, 0], [0, 1, 3], [2, 1, 1]],
   "layers": [{"type": "conv2d", "weight": [[1, 0], [0, -1]]},
              {"type": "relu"}, {"type": "flatten"},
              {"type": "linear", "weight": [[1, 2, 0, 1]]}],
   "loss": {"type": "mse_half_sum", "target": [3]},
   "lr": "1/10"}
  Tensors: nested lists in PyTorch layout. A plain matrix input is one
  image (1x1xHxW) when the chain starts with an image layer; a vector is
  one sample; CxHxW and NxCxHxW work too.
  Layer types and their keys (PyTorch names):
   conv2d: weight (kh x kw, C_in x kh x kw, or C_out x C_in/g x kh x kw),
     bias, stride, padding (n, \[pH, pW], "same", "valid"), dilation,
     groups, padding_mode
   conv_transpose2d: weight (C_in x C_out/g x kh x kw), bias, stride,
     padding, output_padding, dilation, groups
   maxpool2d: kernel_size, stride (default kernel_size), padding,
     dilation, ceil_mode
   avgpool2d: kernel_size, stride, padding, ceil_mode,
     count_include_pad, divisor_override
   relu, leaky_relu (negative_slope), sigmoid, tanh, softmax (dim 1),
   flatten (start_dim, end_dim), linear: weight (out x in), bias
   batchnorm2d (training mode): weight (γ), bias (β), eps, momentum,
     running_mean, running_var, affine, variance: "biased" (PyTorch,
     the default) or "unbiased" (÷(M − 1))
  in_channels, out_channels, kernel_size, in_features, out_features and
  num_features are accepted and checked against the tensors. Any layer
  may have "name", "output" (its output's name; J, P, O … by default)
  and "names" ({"weight": "K"}).
  Losses: mse_half_sum ½Σ(y − t)², mse (mean), sse Σ(y − t)², sum,
  cross_entropy (softmax + NLL; "target": a class index per sample or
  one-hot rows; "reduction": "mean" or "sum"), and upstream
  ({"type": "upstream", "grad": δ of the output}: given δJ, find δK).

[bold]Spec, graph form[/] (named nodes; parameters may be shared)
  {"inputs": {"X": [[1, 2], [-1, 1]]},
   "params": {"W": [[1, -1], [1, 2]]},
   "nodes": [{"name": "Z1", "op": "matmul", "inputs": \["X", "W"]},
             {"name": "Z2", "op": "relu", "inputs": \["Z1"]},
             {"name": "Y", "op": "matmul", "inputs": \["Z2", "W"]},
             {"name": "L", "op": "half_sum_squares",
              "inputs": \["Y", "X"]}]}
  Ops: matmul, add, sub, mul (element-wise), relu, sum,
  half_sum_squares (½‖A − B‖²). The last node (or "output") is the
  loss, or give a "loss" as in the sequential form.

[bold]Numbers[/]: whole numbers and "p/q" strings stay exact (1/2, never
0.5); a decimal anywhere makes the trace float64. --symbolic \[NAMES]
makes every parameter (or the named tensors: K, W, b, the input's
name, LAYER.weight) sympy symbols; ReLU masks and pool winners are then
decided at the spec's values. Huge expressions are refused (--force).
In --json, exact numbers are ints or "p/q" strings, floats are floats,
symbolic results are expression strings.

[bold]Checks[/]: every trace ends with a finite-difference check (float64,
central differences over every parameter and input entry; entries on a
ReLU-0 or max-pool-tie kink are checked against one-sided slopes). A
tensor of more than 1,000 entries is checked on a seeded sample of 1,000,
and the check says so.
--verify torch compares every activation and gradient with PyTorch
autograd in float64.
Exit codes: 0 ok, 1 a check failed, 2 bad input."""


def register(app: typer.Typer) -> None:
    app.command("backprop", epilog=EPILOG)(backprop)


def backprop(
    args: list[str] | None = typer.Argument(
        None,
        metavar="SPEC [NAMES]",
        show_default=False,
        help="Spec FILE ('-' for stdin); after --symbolic, optionally the tensors to make symbolic (K,W).",
    ),
    example: str | None = typer.Option(None, "--example", autocompletion=complete.examples,
                                       help="Print a ready-made spec (NAME, or 'list')."),
    list_examples: bool = typer.Option(False, "--list-examples", help="List the ready-made specs."),
    symbolic: bool = typer.Option(
        False, "--symbolic", help="Parameters as sympy symbols (k₀₀, w₀₁ …); give NAMES after it to choose."
    ),
    symbols: str | None = typer.Option(
        None, "--symbols", help="The tensors to make symbolic, e.g. K,W (implies --symbolic)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Run a symbolic trace even when its expressions would be very large."
    ),
    lr: str | None = typer.Option(
        None, "--lr",
        help="Add the gradient-descent update K ← K − lr·δK (e.g. 0.1 or 1/10; a decimal is read as written, 1e-6 = "
             "1/1000000, so an exact trace stays exact)."
    ),
    verify: str | None = typer.Option(
        None, "--verify", help="'torch': compare every activation and gradient with PyTorch autograd."
    ),
    max_entries: int = typer.Option(64, "--max-entries", min=-1, max=MAX_WHOLE,
                                    help="Entries written out per tensor (-1: all; 0: none)."),
    json_flag: bool = typer.Option(False, "--json", help="Machine-readable JSON (schema convcalc/backprop/v1)."),
    fmt: str | None = typer.Option(None, "--format", "-f",
                                   autocompletion=complete.words("rich", "text", "markdown", "latex", "json"),
                                   help="rich, text (plain), markdown, latex or json."),
    max_memory: str | None = typer.Option(None, "--max-memory", help="Refuse traces needing more memory than this "
                                          "(e.g. 2G, 500M; default CONVCALC_MAX_MEMORY, else a quarter of "
                                          "RAM, at most 2G)."),
) -> None:
    """Step-by-step forward and backward pass of a small network: every sum, every gradient, checked."""
    with user_errors():
        form = choose_format(fmt, json_flag, allowed=("rich", "text", "plain", "markdown", "latex", "json"))
        if form == "plain":
            form = "text"
        if list_examples or (example is not None and example.strip().lower() == "list"):
            _list_examples(form)
            return
        if example is not None:
            if args:
                raise InputError("--example prints a spec; give either --example NAME or a SPEC file")
            from convcalc.trace.examples import get, to_json

            sys.stdout.write(to_json(get(example).spec))
            return
        path, names = _positional(args or [], symbolic)
        if symbols is not None:
            if names:
                raise InputError(f"--symbolic {','.join(names)} and --symbols {symbols} both name the symbolic "
                                 "tensors: give the names once")
            names = tuple(n.strip() for n in symbols.split(",") if n.strip())
            if not names:
                raise InputError(f"--symbols '{symbols}' names no tensor: give names such as K,W (or all)")
        elif symbolic and names is None:
            names = ()
        if force and names is None:
            raise InputError("--force lets a large symbolic trace run: it only matters with --symbolic or --symbols")
        if verify is not None and verify.strip().lower() != "torch":
            raise InputError(f"--verify '{verify}' is not known: the only verifier is 'torch'")
        run(path, form, names=names, force=force, lr=lr, verify_torch=verify is not None, max_entries=max_entries,
            max_memory=max_memory)


def _positional(args: list[str], symbolic: bool) -> tuple[str, tuple[str, ...] | None]:
    """SPEC, and the tensor names that may follow --symbolic (``--symbolic K,W spec.json``)."""
    import os

    if not args:
        raise InputError("give a SPEC file ('-' for stdin), or --example NAME / --list-examples for ready-made specs")
    if len(args) == 1:
        return args[0], None
    if len(args) > 2 or not symbolic:
        extra = args[1:] if not symbolic else args[2:]
        raise InputError(
            f"unexpected argument{'s' if len(extra) > 1 else ''} {' '.join(extra)}: give one SPEC file"
            + ("" if symbolic else " (tensor names go after --symbolic, e.g. --symbolic K,W)")
        )
    first, second = args

    def is_spec(a: str) -> bool:
        return a == "-" or a.lower().endswith(".json") or os.path.exists(a)

    if is_spec(first) and not is_spec(second):
        spec, names = first, second
    elif is_spec(second) and not is_spec(first):
        spec, names = second, first
    else:
        spec, names = first, second
    return spec, tuple(n for n in names.split(",") if n.strip())


def run(path: str, form: str, *, names=None, force=False, lr=None, verify_torch=False, max_entries=64,
        max_memory=None) -> None:
    from convcalc import limits
    from convcalc.trace.run import Options
    from convcalc.trace.run import run as run_trace
    from convcalc.trace.spec import load_text, number, parse, read_source

    text, source = read_source(path)
    spec = parse(load_text(text, source), source)
    exact = all(t.values.dtype == object for t in spec.tensors().values())
    limits.trace_estimate(spec, exact=exact).check(limits.memory_limit(max_memory), "backprop")
    rate = number(lr, "--lr") if lr is not None else None
    if rate is not None and rate <= 0:
        raise InputError(f"--lr must be positive; got {lr}")
    options = Options(symbolic=names, lr=rate, max_entries=max_entries, force=force, verify_torch=verify_torch)
    trace = run_trace(spec, options)
    show(trace, form)
    failed = [c for c in trace.checks if not c.ok]
    if failed:
        raise ExpectationFailed("; ".join(f"{c.name}: {c.summary}" for c in failed))


def show(trace, form: str) -> None:
    from convcalc.render import trace as plain
    from convcalc.render import trace_json, trace_latex, trace_rich

    emit(View(json=lambda: trace_json.trace_dict(trace), latex=lambda: trace_latex.latex_trace(trace),
              markdown=lambda: plain.markdown_trace(trace), text=lambda: plain.text_trace(trace),
              rich=lambda _: trace_rich.trace_renderables(trace)), form)


def _list_examples(form: str) -> None:
    from convcalc.trace.examples import EXAMPLES

    def text() -> str:
        import textwrap

        width = max(len(n) for n in EXAMPLES)
        lines = ["Ready-made specs (convcalc backprop --example NAME prints one):", ""]
        for e in EXAMPLES.values():
            wrapped = textwrap.wrap(e.summary, 78 - width - 4) or [""]
            lines.append(f"  {e.name.ljust(width)}  {wrapped[0]}")
            lines += [f"  {'':{width}}  {more}" for more in wrapped[1:]]
        return "\n".join(lines)

    emit(View(json=lambda: {"schema": "convcalc/backprop-examples/v1",
                            "examples": [{"name": e.name, "summary": e.summary} for e in EXAMPLES.values()]},
              text=text, plain=text, markdown=text, latex=text, csv=text), form)
