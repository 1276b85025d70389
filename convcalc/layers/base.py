"""What the layer types share: reading an input as (N, C, spatial), padding resolution,
validation messages, the wording of explanations, the report of a layer that keeps the
shape, and the empty parameter and buffer lists of layers that have none."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from convcalc.dims import Dim, as_int, format_dim, format_factor, is_symbolic
from convcalc.engine import axis
from convcalc.engine.axis import axis_names
from convcalc.engine.report import LayerReport, ParamCount
from convcalc.errors import InputError
from convcalc.notation import expand, format_shape

AXIS_UNITS = {"L": ("element", "elements"), "H": ("row", "rows"), "W": ("column", "columns"), "D": ("slice", "slices")}


def unit(axis_name: str, count: int) -> str:
    singular, plural = AXIS_UNITS[axis_name]
    return singular if count == 1 else plural


def split_feature_map(shape: Sequence[Dim], rank: int, op: str) -> tuple[Dim | None, Dim | None, tuple[Dim, ...]]:
    """Read a shape a user wrote for a d-dimensional layer as (batch, channels, spatial).

    d numbers are spatial only, d+1 are C + spatial, d+2 are N + C + spatial (PyTorch's
    batched and unbatched layouts). For front ends (``convcalc shape --in``); the layers'
    ``analyze`` reads one sample (:func:`split_sample`).
    """
    n = len(shape)
    names = "x".join(axis_names(rank))
    if n == rank:
        return None, None, tuple(shape)
    if n == rank + 1:
        return None, shape[0], tuple(shape[1:])
    if n == rank + 2:
        return shape[0], shape[1], tuple(shape[2:])
    raise InputError(
        f"{op} takes a {rank}-d input: {rank} numbers ({names}), {rank + 1} (Cx{names}) or "
        f"{rank + 2} (NxCx{names}); got {n} in {format_shape(shape)}"
    )


def split_sample(shape: Sequence[Dim], rank: int, op: str) -> tuple[Dim | None, tuple[Dim, ...]]:
    """Read the shape ``analyze`` is given as (channels, spatial): one sample, the layer contract
    (:class:`convcalc.compute.LayerType`).

    d numbers are spatial only, d+1 are C + spatial. The batch is ``analyze``'s keyword
    ``batch``, never a leading entry: a batched N×C×spatial shape is refused here (front ends
    read one with :func:`analyze_batched`), so every layer type reads a shape the same way.
    """
    n = len(shape)
    names = "x".join(axis_names(rank))
    if n == rank:
        return None, tuple(shape)
    if n == rank + 1:
        return shape[0], tuple(shape[1:])
    raise InputError(
        f"{op} takes a {rank}-d input: {rank} numbers ({names}) or {rank + 1} (Cx{names}), the batch given "
        f"on its own; got {n} in {format_shape(shape)}"
    )


def analyze_batched(layer, shape: Sequence[Dim], *, batch: Dim | None = None, **options) -> LayerReport:
    """``layer.analyze`` of a batched shape N×C×spatial (what forward and backward take): one
    sample analysed with ``batch=N``, the batch written back into the input and output shapes
    (and those of the report's parts). ``batch``, when given, must agree with N."""
    shape = tuple(shape)
    if not shape:
        raise InputError(f"{getattr(layer, 'name', type(layer).__name__)}: a batched input needs a batch dimension")
    n = resolve_batch(shape[0], batch)
    return _with_batch(layer.analyze(shape[1:], batch=n, **options), shape[0], shape)


def analyze_written(layer, shape: Sequence[Dim], *, batch: Dim | None = None, **options) -> LayerReport:
    """``layer.analyze`` of a shape as a user writes it (``convcalc shape --in``): spatial only,
    C×spatial, or — for a layer of a fixed spatial rank — N×C×spatial, read by
    :func:`analyze_batched`. Any other length is refused naming the three layouts."""
    rank = getattr(layer, "rank", None)
    if rank is not None:
        n_in, _, _ = split_feature_map(shape, rank, layer.name)
        if n_in is not None:
            return analyze_batched(layer, shape, batch=batch, **options)
    return layer.analyze(shape, batch=batch, **options)


def _with_batch(report: LayerReport, n: Dim, shape: tuple[Dim, ...] | None = None) -> LayerReport:
    from dataclasses import replace

    return replace(report, input=shape if shape is not None else (n, *report.input), output=(n, *report.output),
                   output_has_batch=True, parts=tuple(_with_batch(part, n) for part in report.parts))


def join_feature_map(batch: Dim | None, channels: Dim | None, spatial: Sequence[Dim]) -> tuple[Dim, ...]:
    head = tuple(x for x in (batch, channels) if x is not None)
    if batch is not None and channels is None:
        raise AssertionError("a batch without channels cannot be written")
    return head + tuple(spatial)


def resolve_batch(in_batch: Dim | None, batch_option: int | None) -> Dim:
    if batch_option is not None and in_batch is not None and in_batch != batch_option:
        raise InputError(
            f"{{field:batch}} {batch_option} disagrees with the batch {format_dim(in_batch)} written in "
            "{field:input}: give one of them"
        )
    if in_batch is not None:
        return in_batch
    return batch_option if batch_option is not None else 1


def check_groups(groups: int, c_in: Dim | None, c_out: Dim | None, op: str) -> None:
    """PyTorch: in_channels and out_channels must each be divisible by groups."""
    for label, channels in (("input channels", c_in), ("output channels", c_out)):
        n = as_int(channels) if channels is not None else None
        if n is not None and n % groups:
            import math

            common = math.gcd(as_int(c_in) or 0, as_int(c_out) or 0)  # valid groups: its divisors
            valid = [str(g) for g in range(1, min(common, 1000) + 1) if common % g == 0]
            if common > 1000:  # listing every divisor of a huge count would take as long as counting to it
                valid += ["…", str(common)]
            raise InputError(
                f"{op}: groups={groups} must divide the {label} ({n}); "
                f"valid groups here: {', '.join(valid)}"
            )


def pad_pairs(padding, rank: int) -> tuple[tuple[int, int], ...]:
    return expand(tuple(padding), rank, "padding", field="padding")


def resolve_conv_padding(
    padding, spatial: Sequence[Dim], kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int], op: str
) -> tuple[tuple[tuple[Dim, Dim], ...], list[str]]:
    """Per-axis (before, after) padding for a convolution, and notes on how it was chosen."""
    rank = len(spatial)
    notes: list[str] = []
    if padding == "valid":
        return tuple((0, 0) for _ in range(rank)), notes
    if padding == "same":
        if any(s != 1 for s in stride):
            raise InputError(
                f"{op}: padding='same' is not supported for strided convolutions (PyTorch refuses it); "
                "use {field} tf-same for TensorFlow/Keras SAME, or a number",
                field="padding", value="same", valid="a number, before:after, valid or tf-same",
            )
        pads = tuple(axis.torch_same_padding(k, d) for k, d in zip(kernel, dilation))
        if any(l != r for l, r in pads):
            notes.append(
                "PyTorch 'same' with an even effective kernel puts the extra padding at the end (bottom/right); "
                f"chosen padding {format_pads(pads)}"
            )
        return pads, notes
    if padding == "tf-same":
        pads = tuple(axis.tf_same_padding(i, k, s, d) for i, k, s, d in zip(spatial, kernel, stride, dilation))
        notes.append(
            f"TensorFlow/Keras SAME padding chosen: {format_pads(pads)} (before:after per axis; the extra goes after). "
            "PyTorch's symmetric padding can give the same size with different values — the classic porting trap"
        )
        return pads, notes
    return pad_pairs(padding, rank), notes


def format_pads(pads: Sequence[tuple[Dim, Dim]]) -> str:
    return "x".join(format_dim(l) if l == r else f"{format_dim(l)}:{format_dim(r)}" for l, r in pads)


def check_padding_mode(mode: str, pads: Sequence[tuple[Dim, Dim]], spatial: Sequence[Dim], rank: int, op: str) -> None:
    """PyTorch's limits for the non-zero padding modes (they change values, never shapes)."""
    if mode in ("zeros", "replicate"):
        return
    for name, (pl, pr), i in zip(axis_names(rank), pads, spatial):
        if is_symbolic(i) or is_symbolic(pl) or is_symbolic(pr):
            continue
        p = max(pl, pr)
        if mode == "reflect" and p >= i:
            raise InputError(
                f"{op}: reflect padding {p} along {name} must be smaller than the input size {i} "
                f"(PyTorch: padding size should be less than the corresponding input dimension); use at most {i - 1}"
            )
        if mode == "circular" and p > i:
            raise InputError(
                f"{op}: circular padding {p} along {name} would wrap around the input ({i}) more than once; "
                f"use at most {i}"
            )


def check_window_fits(
    spatial: Sequence[Dim], kernel: Sequence[int], dilation: Sequence[int], pads: Sequence[tuple[Dim, Dim]], op: str,
    what: str = "kernel"
) -> list[str]:
    """Refuse a window larger than the padded input; for symbols, return the condition."""
    conditions = []
    for name, i, k, d, (pl, pr) in zip(axis_names(len(spatial)), spatial, kernel, dilation, pads):
        k_eff = axis.effective_kernel(k, d)
        padded = i + pl + pr
        if is_symbolic(padded):
            conditions.append(f"valid when {format_dim(padded)} ≥ {k_eff} (along {name})")
            continue
        if padded < k_eff:
            eff = f" (effective {k_eff} with dilation {d})" if d != 1 else ""
            raise InputError(
                f"{op}: {what} {k}{eff} is larger than the padded input along {name}: "
                f"{i} + {pl} + {pr} = {padded}; the output would be empty. Use a {what} of at most {padded}"
                + (" or more padding" if what == "kernel" else "")
            )
    return conditions


def coverage_messages(
    spatial: Sequence[Dim], kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int],
    pads: Sequence[tuple[Dim, Dim]]
) -> tuple[list[str], list[str]]:
    """Warnings for input rows no window reaches (the floor dropped them), notes for padding."""
    warnings, notes = [], []
    for name, i, k, s, d, (pl, pr) in zip(axis_names(len(spatial)), spatial, kernel, stride, dilation, pads):
        a = axis.uncovered(i, k, s, pl, pr, d)
        if is_symbolic(a) or a == 0:
            continue
        rows = max(a - pr, 0)
        k_eff = axis.effective_kernel(k, d)
        why = f"({format_dim(i)} + {pl} + {pr} − {k_eff}) mod {s} = {a}"
        if rows:
            warnings.append(
                f"the last {rows} input {unit(name, rows)} along {name} {'is' if rows == 1 else 'are'} never covered "
                f"by a window: {why}; {'it gets' if rows == 1 else 'they get'} zero gradient"
            )
        if a - rows:
            notes.append(f"{a - rows} trailing padding {unit(name, a - rows)} along {name} "
                         f"{'is' if a - rows == 1 else 'are'} never read: {why}")
    return warnings, notes


def fraction_text(numerator: int, denominator: int) -> str:
    """``27/2 = 13.5 → floor 13`` style text for an exact division."""
    if numerator % denominator == 0:
        return f"{numerator}/{denominator} = {numerator // denominator}"
    value = Fraction(numerator, denominator)
    return f"{numerator}/{denominator} = {float(value):g}"


def rf_stride_text(stride) -> str:
    return str(stride) if not isinstance(stride, Fraction) else f"{stride.numerator}/{stride.denominator}"


def dot(values: Sequence[object]) -> str:
    return "·".join(format_factor(v) if not isinstance(v, str) else v for v in values)


def same_shape_report(op: str, shape: Sequence[Dim], batch: Dim | None, bytes_per_element: int,
                      **fields) -> LayerReport:
    """The report of a layer whose output has its input's shape and that does no GEMM work
    (activations, normalisation, dropout …): no parameters unless ``fields`` says otherwise."""
    shape = tuple(shape)
    fields.setdefault("params", ParamCount())
    return LayerReport(op=op, input=shape, output=shape, macs=0, batch=batch or 1,
                       bytes_per_element=bytes_per_element, **fields)


class NoBuffers:
    """A layer type without buffers (running statistics): ``buffer_shapes`` is empty."""

    def buffer_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        return {}


class NoParameters(NoBuffers):
    """A layer type without parameters or buffers (the contract of :mod:`convcalc.compute`)."""

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        return {}
