"""What ``convcalc shape`` does with its options — typer-free, so that the command's fast path
(:mod:`convcalc.cli.fastpath`) and its typer command (:mod:`convcalc.cli.shape`) run the same code."""

from __future__ import annotations

from convcalc.cli.options import ShapeRequest, include_pad, parse_request
from convcalc.cli.output import View, choose_format, emit, user_errors
from convcalc.engine.evaluate import failed_expectations
from convcalc.errors import ExpectationFailed, InputError
from convcalc.layers.registry import analyze_layer
from convcalc.notation import format_shape
from convcalc.render import layer as render

USAGE = ("usage: convcalc shape --in SHAPE [--op OP] [--k K] [--stride S] [--pad P] [--out C] ..., "
         "e.g. convcalc shape --in 3x32x32 --k 5 --stride 2 --out 2 (convcalc shape --help lists every option)")


def run(input_shape: str | None = None, op: str | None = None, dims: str | None = None, out: str | None = None,
        k: str | None = None, stride: str | None = None, pad: str | None = None, dilation: str | None = None,
        groups: str | None = None, depthwise: bool = False, multiplier: str | None = None,
        factor: str | None = None, output_padding: str | None = None, ceil_mode: bool = False,
        count_include_pad: bool = False, no_count_include_pad: bool = False, divisor_override: str | None = None,
        padding_mode: str | None = None, output_size: str | None = None, start_dim: str | None = None,
        end_dim: str | None = None, no_bias: bool = False, batch: str | None = None, dtype: str | None = None,
        explain: bool = False, expect: str | None = None, expect_params: str | None = None,
        json_flag: bool = False, fmt: str | None = None, jsonl: str | None = None, solve: bool = False) -> None:
    """One layer: output shape, parameters, MACs/FLOPs, memory and receptive field (the command's
    options, each as typer gives it: a string, a flag, or None/False when not given)."""
    raw = {
        "in": input_shape, "op": op, "dims": dims, "out": out, "k": k, "stride": stride, "pad": pad,
        "dilation": dilation, "groups": groups, "depthwise": depthwise or None, "multiplier": multiplier,
        "factor": factor,
        "output-padding": output_padding, "ceil-mode": ceil_mode or None,
        "count-include-pad": True if count_include_pad else False if no_count_include_pad else None,
        "divisor-override": divisor_override, "padding-mode": padding_mode, "output-size": output_size,
        "start-dim": start_dim, "end-dim": end_dim, "no-bias": no_bias or None, "batch": batch, "dtype": dtype,
        "explain": explain or None, "expect": expect, "expect-params": expect_params,
    }
    raw = {key: value for key, value in raw.items() if value is not None}
    with user_errors():
        include_pad(count_include_pad, no_count_include_pad)  # both at once: refused
        if jsonl is not None:
            from convcalc.cli.batch import run_jsonl

            raise SystemExit(run_jsonl(jsonl, defaults=raw))
        form = choose_format(fmt, json_flag)
        if "in" not in raw:
            raise InputError(f"--in is missing: an input shape is required; {USAGE}")
        from convcalc.cli import symbolic_shape

        if solve or symbolic_shape.wants_symbolic(raw):  # symbols in --k/--stride/--pad/...: formulas (sympy)
            symbolic_shape.run(raw, form, solve)
            return
        request = parse_request(raw)
        report = evaluate(request)
        show(report, request, form)
        check(report, request)


def evaluate(request: ShapeRequest):
    from convcalc.cli.options import DTYPE_BYTES

    report = analyze_layer(
        request.op, request.layer_options, request.shape, batch=request.batch,
        explain=request.explain, bytes_per_element=DTYPE_BYTES[request.dtype],
    )
    if request.notes:
        import dataclasses

        report = dataclasses.replace(report, notes=request.notes + report.notes)
    return report


def check(report, request: ShapeRequest) -> None:
    failures = failed_expectations(report, request.expect, request.expect_params,
                                   format_shape(report.output, request.notation), request.expect_text)
    if failures:
        raise ExpectationFailed("; ".join(failures))


def show(report, request: ShapeRequest, form: str) -> None:
    notation = request.notation
    emit(View(plain=lambda: format_shape(report.output, notation),
              json=lambda: render.shape_dict(report, notation),
              text=lambda: render.shape_text(report, notation),
              csv=lambda: render.shape_csv(report, notation),
              markdown=lambda: render.shape_markdown(report, notation),
              rich=lambda _: render.shape_rich(report, notation)), form)
