"""Convolution and transposed convolution, 1-d/2-d/3-d (PyTorch ``Conv*d``, ``ConvTranspose*d``).

Shape:   o = floor((i + p_before + p_after − d(k − 1) − 1)/s) + 1
         transposed: o = (i − 1)s − p_before − p_after + d(k − 1) + output_padding + 1
Params:  C_out·(C_in/g)·Πk + C_out          transposed: C_in·(C_out/g)·Πk + C_out
MACs:    N·Πo·C_out·(C_in/g)·Πk            transposed: N·Πi·C_in·(C_out/g)·Πk (input size)
Bias is not in MACs; its N·Πo·C_out adds are reported as other work. FLOPs = 2·MACs.
Receptive field contribution per axis: (k_eff, s, p_before); transposed: jump 1/s.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar, cast

from convcalc.dims import Dim, format_dim, is_symbolic, product, simplify
from convcalc.engine import axis, support
from convcalc.engine.report import AxisRF, LayerReport, ParamCount, Step, merge_axis_steps
from convcalc.errors import InputError, Note
from convcalc.layers import base
from convcalc.layers.descriptor import (
    BIAS,
    DILATION,
    GROUPS,
    KERNEL,
    PAD,
    STRIDE,
    LayerDescriptor,
    Option,
    out_option,
    register_hook,
    required,
)
from convcalc.notation import expand

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _tuple(values, rank: int, field: str) -> tuple:
    if isinstance(values, int):
        values = (values,)
    return expand(tuple(values), rank, field, field=field)


def _check_positive(values: tuple[int, ...], field: str) -> None:
    for v in values:
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise InputError(f"{{field}} must be a whole number ≥ 1; got {v!r}", field=field, value=v,
                             valid="a whole number ≥ 1")


def _normalise_padding(padding, rank: int):
    if isinstance(padding, str):
        if padding not in ("same", "valid", "tf-same"):
            raise InputError(f"{{field}} '{padding}' is not a padding: use a number, before:after, same, "
                             "valid or tf-same",
                             field="padding", value=padding, valid="a number, before:after, same, valid or tf-same")
        return padding
    if isinstance(padding, int):
        padding = ((padding, padding),)
    pairs = []
    for p in padding:
        pair = (p, p) if isinstance(p, int) else tuple(p)
        if len(pair) != 2 or any(not isinstance(x, int) or isinstance(x, bool) for x in pair):
            raise InputError(f"{{field}} entry {p!r} is not a padding: use whole numbers or before:after pairs",
                             field="padding", value=p, valid="whole numbers or before:after pairs")
        if min(pair) < 0:
            raise InputError(f"{{field}} {p!r}: padding cannot be negative (PyTorch: negative padding "
                             "is not supported)",
                             field="padding", value=p, valid="whole numbers ≥ 0")
        pairs.append(pair)
    return expand(tuple(pairs), rank, "padding", field="padding")


@dataclass(frozen=True)
class _ConvBase:
    rank: int = 2
    out_channels: int | None = None
    kernel_size: tuple[int, ...] = (3,)
    stride: tuple[int, ...] = (1,)
    padding: object = 0
    dilation: tuple[int, ...] = (1,)
    groups: int = 1
    depthwise: bool = False
    bias: bool = True
    padding_mode: str = "zeros"

    family: ClassVar[str] = "conv"

    if TYPE_CHECKING:  # each subclass defines its shape rule and its weights' layouts
        def analyze(self, shape, *, batch: int | None = None, explain: bool = False,
                    bytes_per_element: int = 4) -> LayerReport: ...
        def _weight_shapes(self, shape, report: LayerReport) -> dict[str, tuple[int, ...]]: ...

    def __post_init__(self) -> None:
        if self.rank not in (1, 2, 3):
            raise InputError(f"{self.family}: rank must be 1, 2 or 3; got {self.rank}")
        set_ = object.__setattr__
        set_(self, "kernel_size", _tuple(self.kernel_size, self.rank, "kernel_size"))
        set_(self, "stride", _tuple(self.stride, self.rank, "stride"))
        set_(self, "dilation", _tuple(self.dilation, self.rank, "dilation"))
        set_(self, "padding", _normalise_padding(self.padding, self.rank))
        _check_positive(self.kernel_size, "kernel_size")
        _check_positive(self.stride, "stride")
        _check_positive(self.dilation, "dilation")
        _check_positive((self.groups,), "groups")
        if self.out_channels is not None:
            _check_positive((self.out_channels,), "out_channels")
        if self.padding_mode not in PADDING_MODES:
            raise InputError(f"{{field}} '{self.padding_mode}' is not one of {', '.join(PADDING_MODES)}",
                             field="padding_mode", value=self.padding_mode, valid=", ".join(PADDING_MODES))

    @property
    def name(self) -> str:
        return f"{self.family}{self.rank}d"

    def _inputs(self, shape, batch):
        """(C_in, spatial, N, groups, C_out, notes) of one sample, with the channel checks done."""
        c_in, spatial = base.split_sample(shape, self.rank, self.name)
        n = batch if batch is not None else 1
        groups, c_out, notes = self._channels(c_in)
        base.check_groups(groups, c_in, c_out, self.name)
        return c_in, spatial, n, groups, c_out, notes

    def _counts(self, weight_out: Dim, weight_in: Dim, groups: int, n: Dim, positions, out_positions, c_out: Dim):
        """Params, MACs and bias adds of a weight (weight_out, weight_in/g, *k) applied at ``positions``.

        Conv: weight (C_out, C_in/g, *k) at every output position; transposed conv: weight
        (C_in, C_out/g, *k) at every input position. The bias is added at every output element.
        """
        share = simplify(weight_in / groups) if is_symbolic(weight_in) else weight_in // groups
        weight = simplify(weight_out * share * product(self.kernel_size))
        params = ParamCount(weight, c_out if self.bias else 0)
        macs = simplify(n * product(positions) * weight)
        other = (("bias adds", simplify(n * product(out_positions) * c_out)),) if self.bias else ()
        return params, macs, other, share

    def _channels(self, c_in: Dim | None) -> tuple[int, Dim | None, list[str]]:
        """Resolve (groups, C_out, notes): depthwise means groups = C_in."""
        notes: list[str] = []
        groups = self.groups
        if self.depthwise:
            if c_in is None:
                raise InputError(f"{self.name} {{field}} needs the input channels in {{field:input}} (e.g. 32x112x112)",
                                 field="depthwise", value=True)
            if is_symbolic(c_in):
                raise InputError(f"{self.name} {{field}} needs a number of input channels, not {format_dim(c_in)}",
                                 field="depthwise", value=True)
            groups = c_in
        c_out = self.out_channels
        if c_out is None and c_in is not None:
            c_out = c_in
            notes.append(Note(f"no {{field:out}} given: assuming {format_dim(c_in)} output channels "
                              "(as many as the input)"))
        return groups, c_out, notes

    def _hyper(self, pads, groups, c_out) -> dict:
        return {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": [list(p) for p in pads],
            "dilation": list(self.dilation),
            "groups": groups,
            "out_channels": c_out,
            "bias": self.bias,
            "padding_mode": self.padding_mode,
        }

    # ---- running on numbers (contract of convcalc.compute; kernels in compute.conv_kernels) ----

    def _resolve(self, input_shape) -> tuple[tuple[int, ...], LayerReport]:
        """The checked batched shape and its report (the shape rule is the one source of truth)."""
        from convcalc.compute.params import check_batched_shape

        shape = check_batched_shape(input_shape, self.rank, self.name)
        return shape, base.analyze_batched(self, shape)

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``weight`` and ``bias`` in PyTorch's layouts (each subclass's ``_weight_shapes``)."""
        return self._weight_shapes(*self._resolve(input_shape))

    def buffer_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        from convcalc.compute.params import check_batched_shape

        check_batched_shape(input_shape, self.rank, self.name)
        return {}

    def _checked(self, x, params):
        """(x as an array, its report, its pads, the parameters checked against their shapes)."""
        from convcalc.compute.params import as_array, require

        x = as_array(x, f"{self.name} input")
        shape, report = self._resolve(x.shape)
        pads = tuple(tuple(p) for p in report.hyper["padding"])
        return x, report, pads, require(self.name, params, self._weight_shapes(shape, report))

    def _grad(self, grad_output, cache):
        from convcalc.compute.params import check_grad_shape

        return check_grad_shape(grad_output, cache.output_shape, self.name)

    def _window(self) -> dict[str, tuple[int, ...]]:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "dilation": self.dilation}


def _param_steps(c_a: Dim, c_b_over_g: Dim, kernel, params: ParamCount, formula: str) -> Step:
    return Step(
        "parameters",
        formula,
        f"{base.dot([c_a, c_b_over_g, *kernel])} + {format_dim(params.bias)}",
        f"{format_dim(params.weight)} + {format_dim(params.bias)} = {format_dim(params.total)}",
    )


@dataclass(frozen=True)
class Conv(_ConvBase):
    """An ordinary (cross-correlation) convolution, as ``torch.nn.Conv{1,2,3}d``."""

    family: ClassVar[str] = "conv"

    def analyze(self, shape, *, batch: int | None = None, explain: bool = False,
                bytes_per_element: int = 4) -> LayerReport:
        op = self.name
        c_in, spatial, n, groups, c_out, notes = self._inputs(shape, batch)
        pads, pad_notes = base.resolve_conv_padding(self.padding, spatial, self.kernel_size, self.stride,
                                                    self.dilation, op)
        notes += pad_notes
        base.check_padding_mode(self.padding_mode, pads, spatial, self.rank, op)
        notes += base.check_window_fits(spatial, self.kernel_size, self.dilation, pads, op)
        out_spatial = tuple(
            simplify(axis.conv_output_size(i, k, s, pl, pr, d))
            for i, k, s, d, (pl, pr) in zip(spatial, self.kernel_size, self.stride, self.dilation, pads)
        )
        warnings, cover_notes = base.coverage_messages(spatial, self.kernel_size, self.stride, self.dilation, pads)
        notes += cover_notes
        output = base.join_feature_map(None, c_out if c_in is not None else None, out_spatial)

        params = macs = c_in_g = None
        other: tuple = ()
        if c_in is not None:
            params, macs, other, c_in_g = self._counts(c_out, c_in, groups, n, out_spatial, out_spatial, c_out)
        else:
            notes.append(Note("parameters and MACs need the input channels: write {field:input} as CxHxW "
                              "(e.g. 3x32x32)"))

        if self.padding_mode != "zeros":
            notes.append(f"padding_mode '{self.padding_mode}' changes the padded values, not the shape")
        steps: list[Step] = []
        if explain:
            steps = conv_size_steps(spatial, self.kernel_size, self.stride, self.dilation, pads)
            steps += size_hints(spatial, out_spatial, self.kernel_size, self.stride, self.dilation, self.padding)
            if params is not None:
                steps.append(_param_steps(c_out, c_in_g, self.kernel_size, params,
                                          "weight + bias = C_out·(C_in/g)·Πk + C_out"))
                steps.append(Step(
                    "MACs", "N·Πo·C_out·(C_in/g)·Πk  (bias not counted; FLOPs = 2·MACs)",
                    base.dot([n, *out_spatial, c_out, c_in_g, *self.kernel_size]), format_dim(macs),
                ))
        rf = tuple(AxisRF(axis.effective_kernel(k, d), s, pl, support.window(k, s, pl, d))
                   for k, d, s, (pl, _) in zip(self.kernel_size, self.dilation, self.stride, pads))
        return LayerReport(
            op=op, input=tuple(shape), output=output, params=params, macs=macs, batch=n, other_ops=other, rf=rf,
            hyper=self._hyper(pads, groups, c_out), warnings=tuple(warnings), notes=tuple(notes), steps=tuple(steps),
            bytes_per_element=bytes_per_element,
        )


    def _weight_shapes(self, shape, report: LayerReport) -> dict[str, tuple[int, ...]]:
        """weight (C_out, C_in/g, *k) and bias (C_out,) — PyTorch's names and layouts."""
        groups, c_out = report.hyper["groups"], report.hyper["out_channels"]
        return {"weight": (c_out, shape[1] // groups, *self.kernel_size)} | ({"bias": (c_out,)} if self.bias else {})

    def forward(self, x, params, *, training: bool = True, rng=None):
        """Y = b + W_row @ im2col(pad(X)), one matmul per group (docs/arithmetic.md §7 forward, §7.2).

        Y[n,co,y,x] = b[co] + Σ_{ci ∈ group(co)} Σ_{u,v} W[co,ci,u,v]·Xp[n,ci, s·y + d·u, s·x + d·v],
        Xp = X padded by ``padding`` with ``padding_mode`` (PyTorch semantics). Large stride-1
        2-D float convolutions compute the same sums by row shifts (``conv_kernels``).
        """
        from convcalc.compute import Forward, conv_kernels

        x, report, pads, p = self._checked(x, params)
        y, cache = conv_kernels.conv_forward(x, p["weight"], p.get("bias"), pads=pads, padding_mode=self.padding_mode,
                                             groups=report.hyper["groups"], out_spatial=report.output[2:],
                                             **self._window())
        return Forward(y, cache)

    def backward(self, grad_output, cache):
        """Spec §7.1 through im2col (§7.2), per group:

        dB[co] = Σ_{n,y,x} dY[n,co,y,x];  dW = dY_row @ colsᵀ (the correlation of Xp with dY
        dilated by s); dX = col2im(W_rowᵀ @ dY_row) cropped by the padding — the transposed
        conv of dY, so rows the floor dropped get zero gradient. Non-zero padding modes send
        the padding's gradient back to the entries it copied.
        """
        from convcalc.compute import Backward, conv_kernels

        grad = self._grad(grad_output, cache)
        return Backward(*conv_kernels.conv_backward(grad, cache, padding_mode=self.padding_mode, **self._window()))


def conv_size_steps(spatial, kernel, stride, dilation, pads, rule: str = "floor") -> list[Step]:
    """The output-size formula per axis with the numbers substituted and the floor shown."""
    steps = []
    for name, i, k, s, d, (pl, pr) in zip(base.axis_names(len(spatial)), spatial, kernel, stride, dilation, pads):
        k_eff = axis.effective_kernel(k, d)
        pad_formula = "2p" if pl == pr else "p_before + p_after"
        pad_numbers = f"2·{format_dim(pl)}" if pl == pr else f"{format_dim(pl)} + {format_dim(pr)}"
        kernel_formula = "d·(k − 1) + 1" if d != 1 else "k"
        kernel_numbers = f"{d}·({k} − 1) + 1" if d != 1 else f"{k}"
        span = i + pl + pr - k_eff
        o = axis.conv_output_size(i, k, s, pl, pr, d)
        if is_symbolic(span):
            detail = f"floor(({format_dim(i)} + {pad_numbers} − {kernel_numbers})/{s}) + 1"
            result = format_dim(simplify(o))
        else:
            detail = (f"floor(({i} + {pad_numbers} − {kernel_numbers})/{s}) + 1 = "
                      f"floor({base.fraction_text(span, s)}) + 1")
            result = f"{span // s} + 1 = {o}"
        steps.append(Step("output", f"o = floor((i + {pad_formula} − {kernel_formula})/s) + 1", detail, result, name))
    return merge_axis_steps(steps)


def size_hints(spatial, out_spatial, kernel, stride, dilation, padding) -> list[Step]:
    """What padding would keep the size (stride 1): the hint a student needs."""
    steps: list[Step] = []
    if padding in ("same", "tf-same"):
        return steps
    for name, i, o, k, s, d in zip(base.axis_names(len(spatial)), spatial, out_spatial, kernel, stride, dilation):
        if is_symbolic(i) or o == i:
            continue
        k_eff = axis.effective_kernel(k, d)
        if s != 1:
            target = -(-i // s)
            if k_eff % 2 and o != target:
                steps.append(Step("hint", "p = (k_eff − 1)/2 gives ceil(i/s) outputs at any stride", "",
                                  f"padding {(k_eff - 1) // 2} would give {i} → {target}", name))
            continue
        if k_eff % 2:
            p = (k_eff - 1) // 2
            steps.append(Step("hint", "p = (k_eff − 1)/2 keeps the size at stride 1", "",
                              f"padding {p} would keep {i} → {i}", name))
        else:
            l, r = axis.torch_same_padding(k, d)
            steps.append(Step("hint", "an even kernel needs uneven padding to keep the size", "",
                              f"padding {l}:{r} (PyTorch 'same') would keep {i} → {i}", name))
    return merge_axis_steps(steps)


@dataclass(frozen=True)
class ConvTranspose(_ConvBase):
    """A transposed ("fractionally strided") convolution, as ``torch.nn.ConvTranspose{1,2,3}d``."""

    output_padding: tuple[int, ...] = (0,)
    family: ClassVar[str] = "conv-transpose"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "output_padding", _tuple(self.output_padding, self.rank, "output_padding"))
        for v in self.output_padding:
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise InputError(f"{{field}} must be a whole number ≥ 0; got {v!r}", field="output_padding", value=v,
                                 valid="a whole number ≥ 0")
        if isinstance(self.padding, str):
            raise InputError(
                f"{self.name}: padding '{self.padding}' is not accepted by PyTorch's ConvTranspose; "
                "give numbers (e.g. {field} 1) — for Keras 'same' use {field} (k−s)/2 with {field:output_padding}",
                field="padding", value=self.padding, valid="whole numbers ≥ 0 or before:after pairs",
            )
        if self.padding_mode != "zeros":
            raise InputError(f"{self.name}: only padding_mode 'zeros' is supported for transposed "
                             "convolutions (PyTorch)")
        for name, op, s, d in zip(base.axis_names(self.rank), self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise InputError(
                    f"{self.name}: output padding {op} along {name} must be smaller than either stride ({s}) or "
                    f"dilation ({d}); valid here: 0 to {max(s, d) - 1}"
                )

    def analyze(self, shape, *, batch: int | None = None, explain: bool = False,
                bytes_per_element: int = 4) -> LayerReport:
        op = self.name
        c_in, spatial, n, groups, c_out, notes = self._inputs(shape, batch)
        pads = cast("tuple[tuple[int, int], ...]", self.padding)  # numbers only (__post_init__)
        out_sizes = []
        for name, i, k, s, d, (pl, pr), opad in zip(base.axis_names(self.rank), spatial, self.kernel_size, self.stride,
                                                     self.dilation, pads, self.output_padding):
            o = simplify(axis.transposed_output_size(i, k, s, pl, pr, d, opad))
            if is_symbolic(o):
                notes.append(f"valid when {format_dim(o)} ≥ 1 (along {name})")
            elif o < 1:
                raise InputError(
                    f"{op}: the output along {name} would be {o} ((i − 1)s − p_before − p_after + d(k − 1) + "
                    f"output_padding + 1 with i = {i}); use less padding (at most "
                    f"{(i - 1) * s + d * (k - 1) + opad} in total)"
                )
            if max(pl, pr) > d * (k - 1):
                notes.append(f"padding {max(pl, pr)} > d(k − 1) = {d * (k - 1)} along {name}: the output is cropped")
            out_sizes.append(o)
        out_spatial = tuple(out_sizes)
        output = base.join_feature_map(None, c_out if c_in is not None else None, out_spatial)
        params = macs = None
        other: tuple = ()
        if c_in is not None:
            params, macs, other, _ = self._counts(c_in, c_out, groups, n, spatial, out_spatial, c_out)
        else:
            notes.append(Note("parameters and MACs need the input channels: write {field:input} as CxHxW "
                              "(e.g. 16x14x14)"))
        rf = tuple(AxisRF(axis.effective_kernel(k, d), Fraction(1, s), pl, support.transposed(k, s, pl, d))
                   for k, d, s, (pl, _) in zip(self.kernel_size, self.dilation, self.stride, pads))
        hyper = self._hyper(pads, groups, c_out) | {"output_padding": list(self.output_padding)}
        steps: list[Step] = []
        if explain:
            steps = self._steps(spatial, out_spatial, pads, n, c_in, c_out, groups, params, macs)
        return LayerReport(
            op=op, input=tuple(shape), output=output, params=params, macs=macs, batch=n, other_ops=other, rf=rf,
            hyper=hyper, notes=tuple(notes), steps=tuple(steps),
            bytes_per_element=bytes_per_element,
        )

    def _weight_shapes(self, shape, report: LayerReport) -> dict[str, tuple[int, ...]]:
        """weight (C_in, C_out/g, *k) and bias (C_out,) — PyTorch's names and layouts."""
        groups, c_out = report.hyper["groups"], report.hyper["out_channels"]
        return {"weight": (shape[1], c_out // groups, *self.kernel_size)} | ({"bias": (c_out,)} if self.bias else {})

    def forward(self, x, params, *, training: bool = True, rng=None):
        """The input-gradient of a convolution (docs/arithmetic.md §2.4, §7.1), via col2im:

        Yfull[n, co, s·t + d·u] += Σ_{ci ∈ group(co)} W[ci, co, u]·X[n, ci, t]  (cols = W_rowᵀ @ X, then fold),
        Y = Yfull cropped by p_before at the start (and p_after − output_padding at the end) + b.
        """
        from convcalc.compute import Forward, conv_kernels

        x, report, pads, p = self._checked(x, params)
        y, cache = conv_kernels.conv_transpose_forward(x, p["weight"], p.get("bias"), pads=pads,
                                                       groups=report.hyper["groups"], out_spatial=report.output[2:],
                                                       **self._window())
        return Forward(y, cache)

    def backward(self, grad_output, cache):
        """A transposed conv's gradients are a direct conv of dY (same k, s, d; padding p):

        dX = W_row @ im2col(pad(dY)) per group (the conv of dY with the weight),
        dW[ci, co, u] = Σ_{n,t} X[n, ci, t]·dYfull[n, co, s·t + d·u] (X_row @ colsᵀ), dB = Σ dY.
        """
        from convcalc.compute import Backward, conv_kernels

        return Backward(*conv_kernels.conv_transpose_backward(self._grad(grad_output, cache), cache, **self._window()))

    def _steps(self, spatial, out_spatial, pads, n, c_in, c_out, groups, params, macs) -> list[Step]:
        steps = []
        for name, i, o, k, s, d, (pl, pr), opad in zip(base.axis_names(self.rank), spatial, out_spatial,
                                                       self.kernel_size,
                                                        self.stride, self.dilation, pads, self.output_padding):
            pad_text = f"2·{format_dim(pl)}" if pl == pr else f"{pl} − {pr}"
            steps.append(Step(
                "output", "o = (i − 1)·s − 2p + d·(k − 1) + output_padding + 1",
                f"({format_dim(i)} − 1)·{s} − {pad_text} + {d}·({k} − 1) + {opad} + 1" if pl == pr else
                f"({format_dim(i)} − 1)·{s} − {pl} − {pr} + {d}·({k} − 1) + {opad} + 1",
                format_dim(o), name,
            ))
            stretched = simplify((i - 1) * s + 1)
            before, after = d * (k - 1) - pl, d * (k - 1) - pr + opad
            pad_words = []
            for side, amount in (("start", before), ("end", after)):
                pad_words.append(f"pad {amount} at the {side}" if amount >= 0 else f"crop {-amount} at the {side}")
            steps.append(Step(
                "equivalent direct conv",
                "insert s − 1 zeros between inputs, pad d(k−1) − p (+ output_padding at the end), "
                "then a stride-1 conv with the kernel flipped",
                f"{format_dim(i)} → {s - 1} zero{'s' if s - 1 != 1 else ''} between entries → {format_dim(stretched)}; "
                + ", ".join(pad_words),
                f"stride-1 conv (dilation {d}) with the flipped {k}-kernel → {format_dim(o)}", name,
            ))
            if not is_symbolic(o):
                k_eff = axis.effective_kernel(k, d)
                a = (o + pl + pr - k_eff) % s
                steps.append(Step(
                    "inverse", "the conv with the same k, s, p, d maps the size back; it floors s sizes together, "
                    "and output_padding a = (o + 2p − k_eff) mod s picks which one",
                    f"conv of {o}: floor(({o} + {pl} + {pr} − {k_eff})/{s}) + 1 = "
                    f"{axis.conv_output_size(o, k, s, pl, pr, d)}",
                    f"a = ({o} + {pl} + {pr} − {k_eff}) mod {s} = {a}", name,
                ))
        steps = merge_axis_steps(steps)
        if params is not None:
            c_out_g = simplify(c_out / groups) if is_symbolic(c_out) else c_out // groups
            steps.append(_param_steps(c_in, c_out_g, self.kernel_size, params,
                                      "weight + bias = C_in·(C_out/g)·Πk + C_out  (weight shape (C_in, C_out/g, *k))"))
            steps.append(Step(
                "MACs",
                "N·Πi·C_in·(C_out/g)·Πk — counted on the input size: each input element meets the whole kernel once",
                base.dot([n, *spatial, c_in, c_out_g, *self.kernel_size]), format_dim(macs),
            ))
        return steps


# --- descriptors (every front end's names and options for these types) -----------------------

def _cli_conv(rank: int, o: dict) -> Conv:
    return Conv(rank=rank, out_channels=o.get("out"), kernel_size=required(o, "k", "conv"),
                stride=o.get("stride", (1,)),
                padding=o.get("pad", 0), dilation=o.get("dilation", (1,)), groups=o.get("groups", 1),
                depthwise=o.get("depthwise", False), bias=not o.get("no-bias", False),
                padding_mode=o.get("padding-mode", "zeros"))


def _cli_conv_transpose(rank: int, o: dict) -> ConvTranspose:
    return ConvTranspose(rank=rank, out_channels=o.get("out"), kernel_size=required(o, "k", "conv-transpose"),
                         stride=o.get("stride", (1,)), padding=o.get("pad", 0), dilation=o.get("dilation", (1,)),
                         groups=o.get("groups", 1), depthwise=o.get("depthwise", False),
                         bias=not o.get("no-bias", False),
                         padding_mode=o.get("padding-mode", "zeros"), output_padding=o.get("output-padding", (0,)))


CONV_CLI_OPTIONS = ("out", "k", "stride", "pad", "dilation", "groups", "depthwise", "padding-mode", "no-bias")
DESCRIPTORS = (
    LayerDescriptor(
        "conv", "convolution (cross-correlation), PyTorch Conv1d/2d/3d", ("Conv",), build=Conv,
        options=(out_option(), KERNEL, STRIDE, PAD, DILATION, GROUPS, BIAS, Option("padding_mode", "word")),
        aliases=("conv2d", "convolution"),
        chain_help="conv OUT kK [sS] [pP] [dD] [gG] [nobias]   e.g. conv 64 k3 s2 p1, conv 32 k3x5 psame",
        cli="conv", cli_aliases=("convolution",), cli_options=CONV_CLI_OPTIONS, cli_build=_cli_conv,
        trace="conv2d", trace_aliases=("conv", "convolution"), trace_output="J", trace_params={"weight": "K"},
        torch=("Conv1d", "Conv2d", "Conv3d"), onnx=("Conv",), keras=("Conv2D", "DepthwiseConv2D"),
        work={"bias adds": "bias"},
    ),
    LayerDescriptor(
        "conv_transpose", "transposed convolution, PyTorch ConvTranspose1d/2d/3d", ("ConvTranspose",),
        build=ConvTranspose,
        options=(out_option(), KERNEL, STRIDE, PAD, DILATION, GROUPS, BIAS,
                 Option("output_padding", "ints0", chain="op")),
        aliases=("conv_t", "convt", "deconv", "conv_transpose2d"),
        chain_help="convT OUT kK [sS] [pP] [opN]               transposed conv (also deconv)",
        cli="conv-transpose", cli_aliases=("convtranspose", "transposedconv", "deconv", "convt", "transposeconv"),
        cli_options=CONV_CLI_OPTIONS + ("output-padding",), cli_build=_cli_conv_transpose,
        trace="conv_transpose2d", trace_aliases=("convtranspose", "deconv", "transposedconv", "convt"),
        trace_output="U", trace_params={"weight": "K"},
        torch=("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"), onnx=("ConvTranspose",),
        keras=("Conv2DTranspose",), label=("conv-transpose", "convT"),
        work={"bias adds": "bias"},
    ),
)


# --- the torch.nn layer (``--verify torch``): torch is imported by the caller, handed in as ``nn``


@register_hook("torch", Conv, ConvTranspose)
def _torch_conv(layer: _ConvBase, nn: Any, shape: tuple) -> Any:
    """torch.nn.Conv{rank}d / ConvTranspose{rank}d; asymmetric padding as an F.pad in front."""
    hyper = layer.analyze(shape, batch=1).hyper
    rank, c_in = len(shape) - 1, shape[0]
    pads = [tuple(p) for p in hyper["padding"]]
    symmetric = all(a == b for a, b in pads)
    transposed = isinstance(layer, ConvTranspose)
    cls = getattr(nn, f"ConvTranspose{rank}d" if transposed else f"Conv{rank}d")
    kwargs = {"kernel_size": tuple(layer.kernel_size), "stride": tuple(layer.stride),
              "dilation": tuple(layer.dilation), "groups": hyper["groups"], "bias": layer.bias}
    if isinstance(layer, ConvTranspose):
        if not symmetric:
            raise InputError("{field}: asymmetric padding on a transposed conv has no torch.nn equivalent",
                             field="verify")
        return cls(c_in, hyper["out_channels"], padding=tuple(a for a, _ in pads),
                   output_padding=tuple(layer.output_padding), **kwargs)
    if symmetric:
        return cls(c_in, hyper["out_channels"], padding=tuple(a for a, _ in pads), padding_mode=layer.padding_mode,
                   **kwargs)
    return _padded(nn, pads, cls(c_in, hyper["out_channels"], padding=0, **kwargs))


def _padded(nn: Any, pads, conv):
    import torch.nn.functional as F

    flat = []
    for before, after in reversed(pads):  # F.pad wants the last axis first
        flat += [before, after]

    class Padded(nn.Module):
        def forward(self, x):
            return self.conv(F.pad(x, flat))

    m = Padded()
    m.conv = conv
    return m
