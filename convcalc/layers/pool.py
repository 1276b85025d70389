"""Pooling, 1-d/2-d/3-d: max, average, adaptive and global (PyTorch ``MaxPool*d``,
``AvgPool*d``, ``AdaptiveAvgPool*d``, ``AdaptiveMaxPool*d``).

Shape:  as a convolution (dilation: max pooling only); the default stride is the kernel.
        ceil_mode: o = ceil((i + p_before + p_after − k_eff)/s) + 1, minus 1 when the last
        window would start in the right padding ((o − 1)·s ≥ i + p_before) — ATen Pool.h.
        Adaptive bin t: [floor(t·I/O), ceil((t + 1)·I/O)).
Params: none. MACs: none (no GEMM work). The comparisons (max: n − 1 per window of n real
elements) and the adds and divisions (average) are reported as other work.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar, cast

from convcalc.dims import Dim, format_dim, is_symbolic, product, simplify
from convcalc.engine import axis, support
from convcalc.engine.report import AxisRF, LayerReport, ParamCount, Step, merge_axis_steps
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.conv import _check_positive, _normalise_padding, _tuple
from convcalc.layers.descriptor import (
    CEIL_MODE,
    DILATION,
    KERNEL,
    PAD,
    STRIDE,
    LayerDescriptor,
    Option,
    register_hook,
    required,
)


class _Pool:
    """What every pooling layer does when it runs on numbers (contract of convcalc.compute;
    kernels in compute.pool_kernels): a batched input, no parameters, no buffers."""

    if TYPE_CHECKING:  # every pooling class has these
        rank: int

        @property
        def name(self) -> str: ...
        def analyze(self, shape, *, batch: int | None = None, explain: bool = False,
                    bytes_per_element: int = 4) -> LayerReport: ...

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """Pooling has no parameters."""
        from convcalc.compute.params import check_batched_shape

        check_batched_shape(input_shape, self.rank, self.name)
        return {}

    def buffer_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        return self.parameter_shapes(input_shape)

    def _checked(self, x, params) -> tuple[Any, LayerReport]:
        """(x as an array, its report from the shape rule); no parameters may be given."""
        from convcalc.compute.params import as_array, check_batched_shape, require

        x = as_array(x, f"{self.name} input")
        shape = check_batched_shape(x.shape, self.rank, self.name)
        require(self.name, params, {})
        return x, base.analyze_batched(self, shape)

    def _grad(self, grad_output, shape):
        from convcalc.compute.params import check_grad_shape

        return check_grad_shape(grad_output, shape, self.name)


_SHOWN_WINDOWS = 16  # --explain lists the divisors of this many windows per axis


@dataclass(frozen=True)
class _WindowPool(_Pool):
    rank: int = 2
    kernel_size: tuple[int, ...] = (2,)
    stride: tuple[int, ...] = None  # type: ignore[assignment]  # None: the kernel size (__post_init__)
    padding: object = 0
    dilation: tuple[int, ...] = (1,)
    ceil_mode: bool = False

    kind: ClassVar[str] = "pool"

    def __post_init__(self) -> None:
        if self.rank not in (1, 2, 3):
            raise InputError(f"{self.kind}: rank must be 1, 2 or 3; got {self.rank}")
        set_ = object.__setattr__
        set_(self, "kernel_size", _tuple(self.kernel_size, self.rank, "kernel_size"))
        set_(self, "stride", self.kernel_size if self.stride is None else _tuple(self.stride, self.rank, "stride"))
        set_(self, "dilation", _tuple(self.dilation, self.rank, "dilation"))
        _check_positive(self.kernel_size, "kernel_size")
        _check_positive(self.stride, "stride")
        _check_positive(self.dilation, "dilation")
        if self.padding == "same":
            raise InputError(
                f"{self.name}: PyTorch pooling has no padding='same'; use {{field}} tf-same (TensorFlow/Keras "
                "SAME) or a number",
                field="padding", value="same", valid="a number, before:after, valid or tf-same",
            )
        set_(self, "padding", _normalise_padding(self.padding, self.rank))
        if not isinstance(self.padding, str):
            pads = cast("tuple[tuple[int, int], ...]", self.padding)
            for name, k, (pl, pr) in zip(base.axis_names(self.rank), self.kernel_size, pads):
                if max(pl, pr) > k // 2:
                    raise InputError(
                        f"{self.name}: padding {max(pl, pr)} along {name} must be at most half the kernel "
                        f"(floor({k}/2) = {k // 2}); PyTorch: pad should be smaller than or equal to "
                        "half of kernel size"
                    )

    @property
    def name(self) -> str:
        return f"{self.kind}{self.rank}d"

    def _pads(self, spatial) -> tuple[tuple[tuple[Dim, Dim], ...], list[str]]:
        if self.padding == "valid":
            return tuple((0, 0) for _ in spatial), []
        if self.padding == "tf-same":
            return base.resolve_conv_padding("tf-same", spatial, self.kernel_size, self.stride,
                                             self.dilation, self.name)
        return cast("tuple[tuple[int, int], ...]", self.padding), []

    def _geometry(self, shape, batch):
        op = self.name
        c, spatial = base.split_sample(shape, self.rank, op)
        n = batch if batch is not None else 1
        pads, notes = self._pads(spatial)
        out, dropped = [], []
        for name, i, k, s, d, (pl, pr) in zip(base.axis_names(self.rank), spatial, self.kernel_size, self.stride,
                                              self.dilation, pads):
            o, was_dropped = axis.pool_output_size(i, k, s, pl, pr, d, self.ceil_mode)
            o = simplify(o)
            if is_symbolic(o):
                notes.append(f"valid when {format_dim(o)} ≥ 1 (along {name})")
            elif o < 1:
                # PyTorch checks the output size, not the window: in ceil mode a window may hang
                # past the end as long as it starts inside the input.
                k_eff = axis.effective_kernel(k, d)
                eff = f" (effective {k_eff} with dilation {d})" if d != 1 else ""
                raise InputError(
                    f"{op}: kernel {k}{eff} is larger than the padded input along {name}: {i} + {pl} + {pr} = "
                    f"{i + pl + pr}; the output would be empty. Use a kernel of at most {i + pl + pr}"
                    + (" (or {field:ceil_mode})" if not self.ceil_mode and k_eff - (i + pl + pr) < s else "")
                )
            out.append(o)
            if was_dropped:
                dropped.append(name)
        out_spatial = tuple(out)
        warnings: list[str] = []
        if not self.ceil_mode:
            warnings, cover_notes = base.coverage_messages(spatial, self.kernel_size, self.stride, self.dilation, pads)
            notes += cover_notes
        if any(d != 1 for d in self.dilation) and not isinstance(self.padding, str):
            notes.append("the padding limit uses the nominal kernel (torch 2.13); newer ATen checks the "
                         "effective kernel")
        return c, spatial, n, pads, out_spatial, dropped, warnings, notes

    def _table(self, report: LayerReport):
        """Which input entry each tap of each window reads (compute.windows.WindowTable)."""
        from convcalc.compute.windows import WindowTable

        return WindowTable.regular(report.input[2:], self.kernel_size, self.stride, self.dilation,
                                   [pl for pl, _ in report.hyper["padding"]], tuple(report.output[2:]))

    def _steps(self, spatial, out_spatial, pads) -> list[Step]:
        from convcalc.layers.conv import conv_size_steps

        if not self.ceil_mode:
            return conv_size_steps(spatial, self.kernel_size, self.stride, self.dilation, pads)
        steps = []
        for name, i, o, k, s, d, (pl, pr) in zip(base.axis_names(self.rank), spatial, out_spatial, self.kernel_size,
                                                 self.stride, self.dilation, pads):
            k_eff = axis.effective_kernel(k, d)
            span = i + pl + pr - k_eff
            if is_symbolic(span):
                steps.append(Step("output (ceil_mode)",
                                  "o = ceil((i + 2p − k_eff)/s) + 1, minus 1 if (o − 1)·s ≥ i + p",
                                  "", format_dim(o), name))
                continue
            naive = -(-span // s) + 1
            steps.append(Step(
                "output (ceil_mode)", "o = ceil((i + p_before + p_after − k_eff)/s) + 1",
                f"ceil(({i} + {pl} + {pr} − {k_eff})/{s}) + 1 = ceil({base.fraction_text(span, s)}) + 1",
                f"{naive}", name,
            ))
            start = (naive - 1) * s
            if naive != o:
                steps.append(Step(
                    "last window",
                    "a window must start inside the input or the left padding: drop it if (o − 1)·s ≥ i + p_before",
                    f"({naive} − 1)·{s} = {start} ≥ {i} + {pl} = {i + pl}: it would start in the right padding",
                    f"dropped → {o}", name,
                ))
            else:
                overhang = start + k_eff - (i + pl + pr)
                tail = f"; it hangs {overhang} past the padded end" if overhang > 0 else ""
                steps.append(Step(
                    "last window", "kept if it starts inside the input or the left padding",
                    f"({o} − 1)·{s} = {start} < {i} + {pl} = {i + pl}{tail}", f"o = {o}", name,
                ))
        return merge_axis_steps(steps)


@dataclass(frozen=True)
class MaxPool(_WindowPool):
    """Max pooling, as ``torch.nn.MaxPool{1,2,3}d`` (padding counts as −∞: it never wins)."""

    kind: ClassVar[str] = "maxpool"

    def analyze(self, shape, *, batch: int | None = None, explain: bool = False,
                bytes_per_element: int = 4) -> LayerReport:
        c, spatial, n, pads, out_spatial, _dropped, warnings, notes = self._geometry(shape, batch)
        self._check_no_empty_window(spatial, pads, out_spatial)
        other: tuple = ()
        if c is not None and not any(is_symbolic(x) for x in (*spatial, *out_spatial, c, n)):
            sums = [axis.real_reads_total(i, k, s, pl, o, d) for i, k, s, d, (pl, _), o in
                    zip(spatial, self.kernel_size, self.stride, self.dilation, pads, out_spatial)]
            # Σ over windows of (real elements − 1); the real count is a product over axes.
            other = (("comparisons", n * c * (product(sums) - product(out_spatial))),)
        steps = self._steps(spatial, out_spatial, pads) if explain else []
        return LayerReport(
            op=self.name, input=tuple(shape), output=base.join_feature_map(None, c, out_spatial), params=ParamCount(),
            macs=0, batch=n, other_ops=other,
            rf=tuple(AxisRF(axis.effective_kernel(k, d), s, pl, support.window(k, s, pl, d))
                     for k, d, s, (pl, _) in zip(self.kernel_size, self.dilation, self.stride, pads)),
            hyper={"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                   "padding": [list(p) for p in pads],
                   "dilation": list(self.dilation), "ceil_mode": self.ceil_mode},
            warnings=tuple(warnings), notes=tuple(notes), steps=tuple(steps),
            bytes_per_element=bytes_per_element,
        )

    def _check_no_empty_window(self, spatial, pads, out_spatial) -> None:
        """Refuse a dilated window whose taps all land in the padding: torch 2.13 returns −inf
        there with an invalid index (and corrupts memory in backward); forward refuses it too.

        Window t starts at t·s − p_before: never before −p_before and, for every window the
        shape rule keeps, before the input's end. So only windows that start in the left
        padding can miss the input: their first tap at or past 0 is u₀ = ceil((p_before − t·s)/d),
        and the window is empty when u₀ ≥ k or that tap lies past the input's end. With
        dilation 1 (padding ≤ k/2) it never happens.
        """
        for name, i, k, s, d, (pl, _), o in zip(base.axis_names(self.rank), spatial, self.kernel_size, self.stride,
                                                 self.dilation, pads, out_spatial):
            if d == 1 or any(is_symbolic(v) for v in (i, pl, o)):
                continue
            t = axis.first_padding_only_window(i, k, s, pl, o, d)  # closed form: O(1) in the sizes
            if t is not None:
                raise InputError(
                    f"{self.name}: window {t} along {name} reads only padding (dilation {d} steps over the "
                    f"{i} input {base.unit(name, i)}); PyTorch returns −inf there with an invalid index. "
                    f"Use less padding (now {pl}) or a smaller dilation"
                )

    def forward(self, x, params=None, *, training: bool = True, rng=None):
        """y[n,c,t] = max of the real entries of window t (padding never wins; docs/arithmetic.md §7.3).

        Ties: the first maximum in row-major order of the window wins (PyTorch CPU's strict
        ``>`` scan). The cache records the winner of every window (``MaxPoolCache``).
        """
        from convcalc.compute import Forward, pool_kernels

        x, report = self._checked(x, params)
        return Forward(*pool_kernels.max_pool_forward(x, self._table(report)))

    def backward(self, grad_output, cache):
        """dX[argmax of window t] += dY[t]: one entry per window; overlapping windows add up."""
        from convcalc.compute import Backward, pool_kernels

        return Backward(pool_kernels.max_pool_backward(self._grad(grad_output, cache.output.shape), cache))


@dataclass(frozen=True)
class AvgPool(_WindowPool):
    """Average pooling, as ``torch.nn.AvgPool{1,2,3}d`` (no dilation).

    Divisor (ATen AvgPoolKernel.cpp): divisor_override if given; else the window clipped
    at the end of the right padding when count_include_pad (the default); else the real
    elements only.
    """

    count_include_pad: bool = True
    divisor_override: int | None = None
    kind: ClassVar[str] = "avgpool"

    def __post_init__(self) -> None:
        if any(d != 1 for d in _tuple(self.dilation, self.rank if self.rank in (1, 2, 3) else 1, "dilation")):
            raise InputError("avgpool has no dilation in PyTorch (only max pooling does)")
        super().__post_init__()
        if self.divisor_override is not None:
            if self.rank == 1:
                raise InputError("avgpool1d has no divisor_override in PyTorch (AvgPool2d and AvgPool3d do)")
            divisor = self.divisor_override
            if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor == 0:
                raise InputError(f"{{field}} must be a non-zero whole number; got {self.divisor_override!r}",
                                 field="divisor_override", value=self.divisor_override, valid="a non-zero whole number")

    def analyze(self, shape, *, batch: int | None = None, explain: bool = False,
                bytes_per_element: int = 4) -> LayerReport:
        if self.rank == 3:
            self._check_3d_input(shape)
        c, spatial, n, pads, out_spatial, _dropped, warnings, notes = self._geometry(shape, batch)
        if self.padding == "tf-same" and self.count_include_pad:
            notes.append("TensorFlow's SAME average pooling divides by the real elements only "
                         "(count_include_pad=False)")
        other: tuple = ()
        steps = self._steps(spatial, out_spatial, pads) if explain else []
        if c is not None and not any(is_symbolic(x) for x in (*spatial, *out_spatial, c, n)):
            windows = product(out_spatial)
            real_total = product(axis.real_reads_total(i, k, s, pl, o) for i, k, s, (pl, _), o in
                                 zip(spatial, self.kernel_size, self.stride, pads, out_spatial))
            other = (("adds", n * c * (real_total - windows)), ("divisions", n * c * windows))
            if explain:  # the first windows' divisors only: the list is as long as the output
                per_axis = [axis.avgpool_divisor_sizes(i, k, s, pl, pr, min(o, _SHOWN_WINDOWS + 1))
                            for i, k, s, (pl, pr), o in zip(spatial, self.kernel_size, self.stride, pads, out_spatial)]
                steps.append(self._divisor_step(per_axis))
        return LayerReport(
            op=self.name, input=tuple(shape), output=base.join_feature_map(None, c, out_spatial), params=ParamCount(),
            macs=0, batch=n, other_ops=other,
            rf=tuple(AxisRF(k, s, pl) for k, s, (pl, _) in zip(self.kernel_size, self.stride, pads)),
            hyper={"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                   "padding": [list(p) for p in pads],
                   "ceil_mode": self.ceil_mode, "count_include_pad": self.count_include_pad,
                   "divisor_override": self.divisor_override},
            warnings=tuple(warnings), notes=tuple(notes), steps=tuple(steps),
            bytes_per_element=bytes_per_element,
        )

    def forward(self, x, params=None, *, training: bool = True, rng=None):
        """y[t] = (Σ of window t, padding as 0) / divisor[t] (docs/arithmetic.md §3.4, ATen AvgPoolKernel.cpp).

        divisor[t] = divisor_override if given, else Π over axes of the window clipped at the
        end of the right padding (count_include_pad), else Π of its real entries. Exact inputs
        are multiplied by Fraction(1, divisor).
        """
        from convcalc.compute import Forward, pool_kernels

        x, report = self._checked(x, params)
        divisor = pool_kernels.avg_pool_divisor(report.input[2:], report.output[2:], self.kernel_size, self.stride,
                                                report.hyper["padding"], self.count_include_pad, self.divisor_override)
        return Forward(*pool_kernels.avg_pool_forward(x, self._table(report), divisor))

    def backward(self, grad_output, cache):
        """dX[j] += dY[t]/divisor[t] for every window t that contains j (padding's share dropped)."""
        from convcalc.compute import Backward, pool_kernels

        return Backward(pool_kernels.avg_pool_backward(self._grad(grad_output, cache.output_shape), cache))

    def _check_3d_input(self, shape) -> None:
        """torch 2.13's CPU avg_pool3d also wants the unpadded input at least as large as the kernel."""
        _, _, spatial = base.split_feature_map(shape, self.rank, self.name)
        for name, i, k in zip(base.axis_names(3), spatial, self.kernel_size):
            if not is_symbolic(i) and i < k:
                raise InputError(
                    f"{self.name}: the input along {name} ({i}) is smaller than the kernel ({k}); PyTorch's avg_pool3d "
                    "refuses this even with padding (input image smaller than kernel size)"
                )

    def _divisor_step(self, per_axis) -> Step:
        if self.divisor_override is not None:
            return Step("divisor", "divisor_override replaces every window's divisor", "", str(self.divisor_override))
        rule = ("window size clipped at the end of the right padding" if self.count_include_pad
                else "real (non-padding) elements")
        index = 0 if self.count_include_pad else 1
        text = "; ".join(f"{name}: {', '.join(str(sz[index]) for sz in sizes[:_SHOWN_WINDOWS])}"
                         + (", …" if len(sizes) > _SHOWN_WINDOWS else "")
                         for name, sizes in zip(base.axis_names(self.rank), per_axis))
        return Step("divisor", f"per window (product over axes): {rule}", text, "")


@dataclass(frozen=True)
class AdaptivePool(_Pool):
    """Adaptive (and global) pooling: bin t reads [floor(t·I/O), ceil((t + 1)·I/O)).

    ``output_size`` entries may be None to keep that axis; global pooling is output 1.
    """

    rank: int = 2
    mode: str = "avg"
    output_size: tuple[int | None, ...] = (1,)
    global_: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("avg", "max"):
            raise InputError(f"adaptive pooling mode must be avg or max; got {self.mode!r}")
        if self.rank not in (1, 2, 3):
            raise InputError(f"{self.name}: rank must be 1, 2 or 3; got {self.rank}")
        sizes = _tuple(self.output_size, self.rank, "output_size")
        if self.rank == 1 and sizes[0] is None:
            raise InputError(f"{self.name}: {{field}} must be a number (PyTorch accepts none only for 2d and 3d)",
                             field="output_size", value=None, valid="a whole number ≥ 1")
        for v in sizes:
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise InputError(f"{{field}} entries must be whole numbers ≥ 0 or none; got {v!r}", field="output_size",
                                 value=v, valid="whole numbers ≥ 0 or none")
        object.__setattr__(self, "output_size", sizes)

    @property
    def name(self) -> str:
        prefix = "global" if self.global_ else "adaptive"
        return f"{prefix}-{self.mode}pool{self.rank}d"

    @property
    def type_name(self) -> str:
        """The descriptor this object is an instance of (four types share the class)."""
        return f"{'global' if self.global_ else 'adaptive'}_{self.mode}pool"

    def analyze(self, shape, *, batch: int | None = None, explain: bool = False,
                bytes_per_element: int = 4) -> LayerReport:
        c, spatial = base.split_sample(shape, self.rank, self.name)
        n = batch if batch is not None else 1
        out_spatial = tuple(i if o is None else o for i, o in zip(spatial, self.output_size))
        notes: list[str] = []
        steps: list[Step] = []
        rf = []
        bin_sums: list[Dim | None] = []
        warnings: list[str] = []
        for name, i, o in zip(base.axis_names(self.rank), spatial, out_spatial):
            if o == 0:  # PyTorch returns an empty tensor; nothing downstream can use it
                warnings.append(f"output size 0 along {name}: the result is an empty tensor (PyTorch allows it)")
                rf.append(AxisRF(1, 1, 0))
                bin_sums.append(0)
                continue
            if is_symbolic(i):
                rf.append(AxisRF(i, i, 0) if o == 1 else AxisRF(i, i / o, 0))
                bin_sums.append(None)
                continue
            shortest, longest, total = axis.adaptive_bin_lengths(i, o)  # closed form: O(1) in the sizes
            bin_sums.append(total)
            stride = Fraction(i, o)
            rf.append(AxisRF(longest, int(stride) if stride.denominator == 1 else stride, 0, support.adaptive(i, o)))
            if i % o:  # then bin 1 starts at ⌊I/O⌋ < ⌈I/O⌉, where bin 0 ends: neighbours overlap
                notes.append(f"along {name}, {o} does not divide {i}: bins of sizes {shortest}–{longest}"
                             + (" overlap" if o > 1 else ""))
            if explain:
                bins = [axis.adaptive_bin(t, i, o) for t in range(min(o, 8))]
                shown = " ".join(f"[{a},{b})" for a, b in bins) + (" …" if o > 8 else "")
                steps.append(Step("bins", "bin t = [floor(t·I/O), ceil((t + 1)·I/O))",
                                  f"I = {i}, O = {o}", shown, name))
        other: tuple = ()
        if c is not None and all(s is not None for s in bin_sums) and not is_symbolic(c) and not is_symbolic(n):
            windows = product(out_spatial)
            reads = product(bin_sums)
            if self.mode == "max":
                other = (("comparisons", n * c * (reads - windows)),)
            else:
                other = (("adds", n * c * (reads - windows)), ("divisions", n * c * windows))
        return LayerReport(
            op=self.name, input=tuple(shape), output=base.join_feature_map(None, c, out_spatial), params=ParamCount(),
            macs=0, batch=n, other_ops=other, rf=tuple(rf),
            hyper={"output_size": list(self.output_size)}, notes=tuple(notes), steps=tuple(merge_axis_steps(steps)),
            warnings=tuple(warnings),
            bytes_per_element=bytes_per_element,
        )

    def forward(self, x, params=None, *, training: bool = True, rng=None):
        """Bin t reads [floor(t·I/O), ceil((t + 1)·I/O)) per axis (docs/arithmetic.md §3.5); avg divides by
        the bin's size, max keeps the first maximum in row-major order (as ATen)."""
        from convcalc.compute import Forward, pool_kernels
        from convcalc.compute.windows import WindowTable

        x, report = self._checked(x, params)
        table = WindowTable.adaptive(report.input[2:], tuple(report.output[2:]))
        if self.mode == "max":
            return Forward(*pool_kernels.max_pool_forward(x, table))
        return Forward(*pool_kernels.avg_pool_forward(x, table, pool_kernels.uniform(table.counts())))

    def backward(self, grad_output, cache):
        """max: dX[argmax of bin t] += dY[t]; avg: dX[j] += dY[t]/|bin t| for every bin containing j."""
        from convcalc.compute import Backward, pool_kernels

        if self.mode == "max":
            return Backward(pool_kernels.max_pool_backward(self._grad(grad_output, cache.output.shape), cache))
        return Backward(pool_kernels.avg_pool_backward(self._grad(grad_output, cache.output_shape), cache))


# --- descriptors (every front end's names and options for these types) -----------------------

def _cli_maxpool(rank: int, o: dict) -> MaxPool:
    return MaxPool(rank=rank, kernel_size=required(o, "k", "maxpool"),
                   stride=o.get("stride"),  # type: ignore[arg-type]  # None: the kernel size
                   padding=o.get("pad", 0),
                   dilation=o.get("dilation", (1,)), ceil_mode=o.get("ceil-mode", False))


def _cli_avgpool(rank: int, o: dict) -> AvgPool:
    return AvgPool(rank=rank, kernel_size=required(o, "k", "avgpool"),
                   stride=o.get("stride"),  # type: ignore[arg-type]  # None: the kernel size
                   padding=o.get("pad", 0),
                   ceil_mode=o.get("ceil-mode", False), count_include_pad=o.get("count-include-pad", True),
                   divisor_override=o.get("divisor-override"))


def _adaptive(mode: str):
    def build(size=(1,), rank: int = 2) -> AdaptivePool:
        return AdaptivePool(rank=rank, mode=mode, output_size=size)

    def cli_build(rank: int, o: dict) -> AdaptivePool:
        return AdaptivePool(rank=rank, mode=mode, output_size=required(o, "output-size", f"adaptive-{mode}pool"))

    return build, cli_build


def _global(mode: str):
    def build(rank: int = 2) -> AdaptivePool:
        return AdaptivePool(rank=rank, mode=mode, output_size=(1,), global_=True)

    def cli_build(rank: int, o: dict) -> AdaptivePool:
        return build(rank)

    return build, cli_build


_SIZE = Option("size", "size", aliases=("output_size",), required=True, positional=True, chain_default=1)
_POOL_WORK = {"*": "pool"}


def _adaptive_descriptor(mode: str, word: str, aliases: tuple[str, ...], torch_name: str,
                         label: tuple[str, str]) -> LayerDescriptor:
    build, cli_build = _adaptive(mode)
    return LayerDescriptor(
        f"adaptive_{mode}pool", f"adaptive {word} pooling", ("AdaptivePool",), build=build, options=(_SIZE,),
        aliases=aliases, chain_help=f"{aliases[-1]} N   adaptive {word} pool to NxN (N alone: 1)",
        cli=f"adaptive-{mode}pool", cli_options=("output-size",), cli_build=cli_build,
        torch=tuple(f"{torch_name}{r}d" for r in (1, 2, 3)), label=label, work=_POOL_WORK,
    )


def _global_descriptor(mode: str, word: str, aliases: tuple[str, ...], cli_aliases: tuple[str, ...],
                       onnx: tuple[str, ...], label: tuple[str, str], keras: tuple[str, ...] = ()) -> LayerDescriptor:
    build, cli_build = _global(mode)
    return LayerDescriptor(
        f"global_{mode}pool", f"global {word} pooling (adaptive, output 1)", ("AdaptivePool",), build=build,
        aliases=aliases, chain_help=f"{aliases[0]}   global {word} pool", cli=f"global-{mode}pool",
        cli_aliases=cli_aliases, cli_build=cli_build, onnx=onnx, keras=keras, label=label, work=_POOL_WORK,
    )


DESCRIPTORS = (
    LayerDescriptor(
        "maxpool", "max pooling", ("MaxPool",), build=MaxPool, options=(KERNEL, STRIDE, PAD, DILATION, CEIL_MODE),
        aliases=("maxpool2d", "max_pool"),
        chain_help="maxpool kK [sS] [pP] [dD] [ceil]           stride defaults to the kernel",
        cli="maxpool", cli_aliases=("max",), cli_options=("k", "stride", "pad", "dilation", "ceil-mode"),
        cli_build=_cli_maxpool, trace="maxpool2d", trace_aliases=("maxpool",), trace_output="P",
        torch=("MaxPool1d", "MaxPool2d", "MaxPool3d"), onnx=("MaxPool",),
        keras=("MaxPooling2D", "MaxPool2D"), work=_POOL_WORK,
    ),
    LayerDescriptor(
        "avgpool", "average pooling", ("AvgPool",), build=AvgPool,
        options=(KERNEL, STRIDE, PAD, CEIL_MODE, Option("count_include_pad", "bool", flag=("nopad", False))),
        aliases=("avgpool2d", "avg_pool"),
        chain_help="avgpool kK [sS] [pP] [ceil] [nopad]        nopad: count_include_pad=False",
        cli="avgpool", cli_aliases=("averagepool", "meanpool"),
        cli_options=("k", "stride", "pad", "ceil-mode", "count-include-pad", "divisor-override"),
        cli_build=_cli_avgpool, trace="avgpool2d", trace_aliases=("avgpool", "averagepool"), trace_output="P",
        torch=("AvgPool1d", "AvgPool2d", "AvgPool3d"), onnx=("AveragePool",),
        keras=("AveragePooling2D", "AvgPool2D"), work=_POOL_WORK,
    ),
    _adaptive_descriptor("avg", "average", ("adaptive_avg_pool", "adaptiveavg", "aap"), "AdaptiveAvgPool",
                         ("adaptive-avgpool", "adaptavg")),
    _adaptive_descriptor("max", "max", ("adaptive_max_pool", "adaptivemax", "amp"), "AdaptiveMaxPool",
                         ("adaptive-maxpool", "adaptmax")),
    _global_descriptor("avg", "average", ("gap", "global_avg_pool"), ("gap", "globalaveragepool"),
                       ("GlobalAveragePool", "ReduceMean"), ("global-avgpool", "gap"), ("GlobalAveragePooling2D",)),
    _global_descriptor("max", "max", ("gmp", "global_max_pool"), ("gmp", "globalmaxpool"), ("GlobalMaxPool",),
                       ("global-maxpool", "gmp"), ("GlobalMaxPooling2D",)),
)


# --- the torch.nn layer (``--verify torch``): torch is imported by the caller, handed in as ``nn``


@register_hook("torch", MaxPool, AvgPool)
def _torch_pool(layer: Any, nn: Any, shape: tuple) -> Any:
    rank = len(shape) - 1
    pads = [tuple(p) for p in layer.analyze(shape, batch=1).hyper["padding"]]
    if any(a != b for a, b in pads):
        return _torch_asymmetric_pool(layer, nn, rank, pads)
    common = {"kernel_size": tuple(layer.kernel_size), "stride": tuple(layer.stride),
              "padding": tuple(a for a, _ in pads), "ceil_mode": layer.ceil_mode}
    if isinstance(layer, MaxPool):
        return getattr(nn, f"MaxPool{rank}d")(dilation=tuple(layer.dilation), **common)
    return getattr(nn, f"AvgPool{rank}d")(count_include_pad=layer.count_include_pad, **common)


def _torch_asymmetric_pool(layer: Any, nn: Any, rank: int, pads: list) -> Any:
    """TensorFlow's SAME pooling (the extra padding after): torch.nn pools pad symmetrically, so
    the padding goes in front as an F.pad — −∞ for a max pool, zeros for an average pool, which
    then divides by the window's real elements (count_include_pad=False: the same pool of the
    padded ones) or by the whole window."""
    import torch.nn.functional as F

    if layer.ceil_mode or getattr(layer, "divisor_override", None) is not None:
        raise InputError("{field:verify}: asymmetric pooling padding with ceil_mode or divisor_override has no "
                         "torch.nn equivalent")
    flat = [v for before, after in reversed(pads) for v in (before, after)]  # F.pad wants the last axis first
    common = {"kernel_size": tuple(layer.kernel_size), "stride": tuple(layer.stride)}
    is_max = isinstance(layer, MaxPool)
    pool = (getattr(nn, f"MaxPool{rank}d")(dilation=tuple(layer.dilation), **common) if is_max
            else getattr(nn, f"AvgPool{rank}d")(**common))
    real_only = not is_max and not layer.count_include_pad

    class PaddedPool(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pool = pool

        def forward(self, x):
            y = self.pool(F.pad(x, flat, value=float("-inf") if is_max else 0.0))
            if real_only:
                y = y / self.pool(F.pad(x.new_ones((1, 1) + tuple(x.shape[2:])), flat))
            return y

    return PaddedPool()


@register_hook("torch", AdaptivePool)
def _torch_adaptive_pool(layer: AdaptivePool, nn: Any, shape: tuple) -> Any:
    cls = getattr(nn, f"Adaptive{'Avg' if layer.mode == 'avg' else 'Max'}Pool{len(shape) - 1}d")
    return cls(tuple(layer.output_size) if not layer.global_ else 1)
