"""Array helpers of the windowed layers (convolution, transposed convolution, pooling).

Every helper works on the trailing ``rank`` axes of an array (the spatial axes of
``(N, C, *spatial)``) and on any dtype: float32/float64 for the fast executor, or
``dtype=object`` holding Python ints, Fractions or other number-like objects for the exact
and symbolic traces. They use only indexing, strided views, ``+`` and matmul, so exact inputs
stay exact and float32 stays float32. The step-by-step trace and the numeric calculator call
them to *show* the course's steps (pad(δJ), flip(K), the zero-inserted δJ, the patch matrix).

Notation per spatial axis: input ``i``, kernel ``k``, stride ``s``, dilation ``d``, padding
``(p_before, p_after)``, effective kernel ``k_eff = d(k − 1) + 1``, output ``o``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, cast

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convcalc.compute import blas_threads
from convcalc.errors import InputError

Pads = Sequence[tuple[int, int]]

#: PyTorch ``padding_mode`` → :func:`numpy.pad` mode (the values they copy agree exactly).
NUMPY_PAD_MODES: dict[str, Literal["constant", "reflect", "edge", "wrap"]] = {
    "zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def zeros(shape: Sequence[int], dtype) -> np.ndarray:
    """An array of zeros; for ``dtype=object`` the zeros are Python ints (exact, not numpy ints)."""
    return np.zeros(tuple(shape), dtype=dtype)


def _spatial_slices(x: np.ndarray, per_axis: Sequence[slice]) -> tuple:
    """An index tuple that leaves the leading axes whole and slices the trailing ones."""
    return (slice(None),) * (x.ndim - len(per_axis)) + tuple(per_axis)


def pad(x: np.ndarray, pads: Pads, mode: str = "zeros") -> np.ndarray:
    """Pad the trailing ``len(pads)`` axes by ``(before, after)`` entries each.

    ``mode`` follows PyTorch's ``padding_mode``: ``zeros`` (constant 0), ``reflect``
    (mirror without repeating the edge: x[−j] = x[j]), ``replicate`` (repeat the edge
    entry) and ``circular`` (wrap around: x[−j] = x[i − j]). Each padded axis has length
    ``i + p_before + p_after``. With no padding at all, ``x`` itself is returned (no copy).
    """
    pads = cast("list[tuple[int, int]]", [tuple(int(v) for v in p) for p in pads])
    if mode not in NUMPY_PAD_MODES:
        raise InputError(f"padding mode '{mode}' is not one of {', '.join(NUMPY_PAD_MODES)}")
    if mode == "zeros":
        return pad_with(x, pads, 0)
    if not any(a or b for a, b in pads):
        return x
    width = [(0, 0)] * (x.ndim - len(pads)) + pads
    return np.pad(x, width, mode=NUMPY_PAD_MODES[mode])


def pad_with(x: np.ndarray, pads: Pads, value) -> np.ndarray:
    """Pad the trailing ``len(pads)`` axes by ``(before, after)`` entries of ``value`` each (a
    Python int 0 in an exact, ``dtype=object`` array); with no padding at all, ``x`` itself."""
    if not any(a or b for a, b in pads):
        return x
    rank = len(pads)
    spatial = x.shape[x.ndim - rank:]
    out = np.full(x.shape[: x.ndim - rank] + tuple(i + a + b for i, (a, b) in zip(spatial, pads)), value, x.dtype)
    out[_spatial_slices(x, [slice(a, a + i) for i, (a, _) in zip(spatial, pads)])] = x
    return out


def _source_index(j: int, size: int, before: int, mode: str) -> int:
    """Which input entry the padded position ``j`` (0-based in the padded axis) copies."""
    t = j - before
    if 0 <= t < size:
        return t
    if mode == "reflect":
        return -t if t < 0 else 2 * (size - 1) - t
    if mode == "replicate":
        return 0 if t < 0 else size - 1
    if mode == "circular":
        return t % size
    return -1  # zeros: a constant, no input entry


def pad_backward(grad_padded: np.ndarray, pads: Pads, mode: str = "zeros") -> np.ndarray:
    """The gradient of :func:`pad`: every padded entry's gradient goes back to the input
    entry it copies (for ``zeros`` the padding is a constant and its gradient is dropped).

    dx[t] = Σ_{j : source(j) = t} dxp[j], axis by axis (padding is separable).
    """
    pads = cast("list[tuple[int, int]]", [tuple(int(v) for v in p) for p in pads])
    if mode == "zeros":
        return np.ascontiguousarray(crop(grad_padded, pads))
    lead = grad_padded.ndim - len(pads)
    out = grad_padded
    for a, (before, after) in enumerate(pads):
        ax = lead + a
        size = out.shape[ax] - before - after
        lead_axes = (slice(None),) * ax
        core = out[lead_axes + (slice(before, before + size),)].copy()
        for j in itertools.chain(range(before), range(before + size, before + size + after)):
            core[lead_axes + (_source_index(j, size, before, mode),)] += out[lead_axes + (j,)]
        out = core
    return np.ascontiguousarray(out)


def insert_zeros(x: np.ndarray, stride: Sequence[int]) -> np.ndarray:
    """Insert ``s − 1`` zeros between neighbouring entries along each trailing axis.

    An axis of length ``o`` becomes ``(o − 1)·s + 1`` long: the "zero-inserted δJ" of a
    strided convolution's backward pass (and the stretched input of a transposed conv,
    Dumoulin & Visin §4).
    """
    rank = len(stride)
    spatial = x.shape[x.ndim - rank:]
    shape = x.shape[: x.ndim - rank] + tuple((o - 1) * s + 1 for o, s in zip(spatial, stride))
    out = zeros(shape, x.dtype)
    out[_spatial_slices(x, [slice(None, None, s) for s in stride])] = x
    return out


def flip(kernel: np.ndarray, rank: int | None = None) -> np.ndarray:
    """Rotate a kernel by 180° over its trailing ``rank`` (spatial) axes: K'[u, v] = K[h−1−u, w−1−v].

    ``rank`` defaults to all axes (a plain matrix); for a weight (C_out, C_in, kh, kw) pass 2.
    """
    rank = kernel.ndim if rank is None else rank
    return np.ascontiguousarray(kernel[_spatial_slices(kernel, [slice(None, None, -1)] * rank)])


def output_size(padded: int, kernel: int, stride: int = 1, dilation: int = 1) -> int:
    """o = floor((P − k_eff)/s) + 1 windows fit in a padded axis of length P."""
    return (padded - (dilation * (kernel - 1) + 1)) // stride + 1


def window_starts(out_size: int, stride: int, pad_before: int = 0) -> list[int]:
    """Where window t starts in the unpadded input: t·s − p_before (negative = in the padding)."""
    return [t * stride - pad_before for t in range(out_size)]


def window_positions(out_size: int, kernel: int, stride: int = 1, dilation: int = 1, pad_before: int = 0) -> np.ndarray:
    """(o, k) table of the input index each kernel tap reads: t·s − p_before + u·d."""
    t = np.arange(out_size)[:, None]
    u = np.arange(kernel)[None, :]
    return t * stride - pad_before + u * dilation


def kernel_offsets(kernel_size: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """The kernel taps in row-major order (the scan order of PyTorch's pooling kernels)."""
    return itertools.product(*(range(k) for k in kernel_size))


def tap_slices(offset: Sequence[int], out_size: Sequence[int], stride: Sequence[int],
               dilation: Sequence[int]) -> list[slice]:
    """Per axis, the padded-input entries tap ``u`` reads across all windows: u·d, u·d + s, …

    ``padded[..., *tap_slices(u, ...)]`` is an ``(…, *o)`` view: one strided slice per tap, so a
    loop over the Πk taps (never over the output positions) builds or folds every window.
    """
    return [slice(u * d, u * d + s * (o - 1) + 1, s) for u, o, s, d in zip(offset, out_size, stride, dilation)]


def _window_geometry(spatial: Sequence[int], kernel_size: Sequence[int], stride, dilation, out_size) -> tuple:
    """(stride, dilation, out_size) with their defaults (1s; floor((P − k_eff)/s) + 1 windows
    per axis), after checking that the windows fit in the padded axes."""
    rank = len(kernel_size)
    stride = tuple(stride or (1,) * rank)
    dilation = tuple(dilation or (1,) * rank)
    if out_size is None:
        out_size = tuple(output_size(p, k, s, d) for p, k, s, d in zip(spatial, kernel_size, stride, dilation))
    out_size = tuple(out_size)
    for p, k, s, d, o in zip(spatial, kernel_size, stride, dilation, out_size):
        if o < 1 or (o - 1) * s + d * (k - 1) + 1 > p:
            raise InputError(f"{o} windows of kernel {k} (stride {s}, dilation {d}) do not fit in a padded axis of {p}")
    return stride, dilation, out_size


def im2col(
    padded: np.ndarray,
    kernel_size: Sequence[int],
    stride: Sequence[int] | None = None,
    dilation: Sequence[int] | None = None,
    out_size: Sequence[int] | None = None,
    layout: str = "unfold",
    images: int = 1,
) -> np.ndarray:
    """Unfold every window of an already padded ``(N, C, *P)`` input into a column.

    ``cols[n, (c, u, v), (y, x)] = padded[n, c, s·y + d·u, s·x + d·v]``: rows ordered by
    channel, then kernel row, then kernel column — the order of ``W.reshape(C_out, −1)``
    (docs/arithmetic.md §7.2), so a convolution is ``Y = W_row @ cols``.

    layout ``"unfold"`` gives ``(N, C·Πk, Πo)`` (``torch.nn.functional.unfold``);
    ``"gemm"`` gives ``(C·Πk, N·Πo)`` (columns ordered batch, then position): one matrix,
    so a whole batch is one matmul. ``out_size`` defaults to floor((P − k_eff)/s) + 1 per
    axis; a smaller one takes the first windows only. The ``"gemm"`` copy is shared over
    threads by blocks of channels (:func:`blas_threads.share_blocks`) for a layer whose batch
    has ``images`` ≥ :func:`blas_threads.workers`.
    """
    if padded.ndim != len(kernel_size) + 2:
        raise InputError(
            f"im2col: expected an (N, C, *spatial) array with {len(kernel_size)} spatial axes; got shape {padded.shape}"
        )
    stride, dilation, out_size = _window_geometry(padded.shape[2:], kernel_size, stride, dilation, out_size)
    n, c = padded.shape[:2]
    sn, sc = padded.strides[:2]
    sp = padded.strides[2:]
    taps = tuple(st * d for st, d in zip(sp, dilation))
    steps = tuple(st * s for st, s in zip(sp, stride))
    if layout == "unfold":
        view = as_strided(padded, (n, c, *kernel_size, *out_size), (sn, sc, *taps, *steps), writeable=False)
        return np.ascontiguousarray(view).reshape(n, c * int(np.prod(kernel_size)), int(np.prod(out_size)))
    if layout == "gemm":
        view = as_strided(padded, (c, *kernel_size, n, *out_size), (sc, *taps, sn, *steps), writeable=False)
        columns = np.empty(view.shape, padded.dtype)

        def copy(start: int, stop: int) -> None:
            np.copyto(columns[start:stop], view[start:stop])

        blas_threads.share_blocks(copy, c, columns.size, images if padded.dtype.kind == "f" else 1)
        return columns.reshape(c * int(np.prod(kernel_size)), n * int(np.prod(out_size)))
    raise InputError(f"im2col layout must be 'unfold' or 'gemm'; got {layout!r}")


def col2im(
    cols: np.ndarray,
    padded_shape: Sequence[int],
    kernel_size: Sequence[int],
    stride: Sequence[int] | None = None,
    dilation: Sequence[int] | None = None,
    out_size: Sequence[int] | None = None,
    layout: str = "unfold",
) -> np.ndarray:
    """Fold columns back onto a zero ``(N, C, *P)`` array, summing where windows overlap.

    The adjoint of :func:`im2col` (``torch.nn.functional.fold``):
    ``padded[n, c, s·y + d·u, s·x + d·v] += cols[n, (c, u, v), (y, x)]``. The loop runs over
    the Πk kernel taps, each adding one strided slice, never over output positions. Entries
    no window reads (rows the floor dropped) stay 0. ``layout`` as in :func:`im2col`; the
    ``"gemm"`` layout returns a (non-contiguous) view.
    """
    n, c, *spatial = (int(v) for v in padded_shape)
    stride, dilation, out_size = _window_geometry(spatial, kernel_size, stride, dilation, out_size)
    if layout == "unfold":
        blocks = cols.reshape(n, c, *kernel_size, *out_size)
        out = zeros((n, c, *spatial), cols.dtype)
        for u in kernel_offsets(kernel_size):
            out[_spatial_slices(out,
                                tap_slices(u, out_size, stride, dilation))] += blocks[(slice(None), slice(None)) + u]
        return out
    if layout == "gemm":
        blocks = cols.reshape(c, *kernel_size, n, *out_size)
        out = zeros((c, n, *spatial), cols.dtype)  # channel-major while adding: each block is contiguous
        for u in kernel_offsets(kernel_size):
            out[_spatial_slices(out, tap_slices(u, out_size, stride, dilation))] += blocks[(slice(None),) + u]
        return out.swapaxes(0, 1)  # a view; callers crop and copy once
    raise InputError(f"col2im layout must be 'unfold' or 'gemm'; got {layout!r}")


def crop(x: np.ndarray, pads: Pads) -> np.ndarray:
    """Remove ``(before, after)`` entries from each trailing axis (the inverse of zero :func:`pad`)."""
    rank = len(pads)
    spatial = x.shape[x.ndim - rank:]
    return x[_spatial_slices(x, [slice(a, size - b) for size, (a, b) in zip(spatial, pads)])]


def batch_major(y2: np.ndarray, out_spatial: Sequence[int]) -> np.ndarray:
    """(C, N·Πo) GEMM output → contiguous (N, C, *o)."""
    c = y2.shape[0]
    return np.ascontiguousarray(y2.reshape(c, -1, *out_spatial).swapaxes(0, 1))


def channel_major(y: np.ndarray) -> np.ndarray:
    """(N, C, *o) → contiguous (C, N·Πo): the layout of a ``"gemm"`` im2col."""
    return np.ascontiguousarray(y.swapaxes(0, 1)).reshape(y.shape[1], -1)


def _product_blocks(groups: int, size: int, minimum: int, images: int) -> list[tuple[int, int]]:
    """How a grouped product is cut for :func:`blas_threads.parallel`: into blocks of groups;
    with one group, into blocks of ``size`` (columns or rows, at least ``minimum`` each) when the
    layer's batch has an image per thread, else not at all (left to BLAS's own threads)."""
    pieces = 4 * blas_threads.workers()
    if groups > 1:
        return blas_threads.blocks(groups, pieces)
    if images >= blas_threads.workers():
        return blas_threads.blocks(size, pieces, minimum=minimum)
    return [(0, size)]


def grouped_matmul(a: np.ndarray, b: np.ndarray, groups: int, transpose_a: bool = False, images: int = 1) -> np.ndarray:
    """Block-diagonal product of a grouped layer: one matmul per group, stacked by rows.

    ``a`` and ``b`` are each split into ``groups`` equal blocks of rows; group j computes
    ``A_j @ B_j`` (``A_jᵀ @ B_j`` with ``transpose_a``), and the results are stacked by rows.
    Groups never mix channels: this is the block-diagonal weight of a grouped conv. With
    g = 1 it is a single matmul on BLAS (a transpose is passed as a flag, not copied). A large
    one is cut into blocks of columns of B (blocks of groups when g > 1) shared over
    :func:`blas_threads.parallel`'s threads — each entry the same sum however the blocks are
    shared out — when the layer's batch has ``images`` ≥ :func:`blas_threads.workers` (as the
    row-shift path shares its images: one threading scheme through a batched network, so
    OpenBLAS's own workers, which spin for a while after each product, never compete with
    the helpers); a smaller batch's single product runs on the library's own threads
    (:func:`blas_threads.for_product`), 10–40 % faster than blocks on an idle machine.
    """
    a3 = a.reshape(groups, a.shape[0] // groups, a.shape[1])
    b3 = b.reshape(groups, b.shape[0] // groups, b.shape[1])
    if transpose_a:
        a3 = a3.swapaxes(1, 2)
    m, k, n = a3.shape[1], a3.shape[2], b3.shape[2]
    work = groups * m * k * n
    cuts = _product_blocks(groups, n, 256, images)
    if a.dtype.kind != "f" or len(cuts) == 1 or not blas_threads.shares(work):  # object arrays never reach BLAS
        if a.dtype.kind == "f":
            blas_threads.for_product(m, k, n, groups, images)
        if groups == 1:
            return a3[0] @ b3[0]
        out = np.matmul(a3, b3)
        return out.reshape(-1, out.shape[-1])
    out = np.empty((groups, m, n), np.result_type(a, b))

    def block(i: int) -> None:
        start, stop = cuts[i]
        if groups == 1:
            np.matmul(a3[0], b3[0][:, start:stop], out=out[0][:, start:stop])
        else:
            np.matmul(a3[start:stop], b3[start:stop], out=out[start:stop])

    blas_threads.parallel(block, len(cuts), work)
    return out.reshape(-1, n)


def grouped_contract(a: np.ndarray, b: np.ndarray, groups: int, images: int = 1) -> np.ndarray:
    """Per group, ``A_j @ B_jᵀ``: the sum over the long shared axis (batch × positions) of a
    weight gradient, e.g. dW = dY_row @ colsᵀ. Blocks of rows as in :func:`grouped_matmul`.

    Computed as ``(B_j @ A_jᵀ)ᵀ``: the same numbers, but OpenBLAS runs this orientation several
    times faster when the shared axis is long (25,088 for a 8x56x56 batch). A large product is
    cut into blocks of rows of B (blocks of groups when g > 1; never of the shared axis: each
    sum stays whole) shared over :func:`blas_threads.parallel`'s threads, or, with g = 1 and
    fewer ``images`` than threads, left whole to the library's threads (as in
    :func:`grouped_matmul`).
    """
    a3 = a.reshape(groups, a.shape[0] // groups, a.shape[1])
    b3 = b.reshape(groups, b.shape[0] // groups, b.shape[1])
    rows, shared, cols = b3.shape[1], b3.shape[2], a3.shape[1]
    cuts = _product_blocks(groups, rows, 16, images)
    if a.dtype.kind != "f" or len(cuts) == 1 or not blas_threads.shares(groups * rows * shared * cols):
        if a.dtype.kind == "f":
            blas_threads.for_product(rows, shared, cols, groups, images)
        out = np.matmul(b3, a3.swapaxes(1, 2)).swapaxes(1, 2)
        return np.ascontiguousarray(out).reshape(a.shape[0], b.shape[0] // groups)
    product = np.empty((groups, rows, cols), np.result_type(a, b))

    def block(i: int) -> None:
        start, stop = cuts[i]
        if groups == 1:
            np.matmul(b3[0][start:stop], a3[0].T, out=product[0][start:stop])
        else:
            np.matmul(b3[start:stop], a3[start:stop].swapaxes(1, 2), out=product[start:stop])

    blas_threads.parallel(block, len(cuts), groups * rows * shared * cols)
    return np.ascontiguousarray(product.swapaxes(1, 2)).reshape(a.shape[0], b.shape[0] // groups)


def divide(values: np.ndarray, divisor) -> np.ndarray:
    """values / divisor, exact on object arrays: there it multiplies by Fraction(1, divisor)
    (so ints stay exact and symbols stay symbolic); float arrays divide in their own dtype.

    ``divisor`` is a non-zero int or an integer array broadcastable against ``values``.
    """
    if values.dtype == object:
        if np.ndim(divisor) == 0:
            return values * Fraction(1, int(divisor))
        return values * _reciprocal(np.asarray(divisor))
    if np.ndim(divisor) == 0:
        return values / int(divisor)
    return values / np.asarray(divisor, dtype=values.dtype)


def outer(op: np.ufunc, per_axis: Sequence[np.ndarray]) -> np.ndarray:
    """Combine one vector per axis into an (o_1, …, o_r) grid: grid[t] = op(v_1[t_1], …, v_r[t_r])."""
    grid = np.asarray(per_axis[0])
    for v in per_axis[1:]:
        grid = op.outer(grid, v)
    return grid


_reciprocal = np.frompyfunc(lambda d: Fraction(1, int(d)), 1, 1)


@dataclass(frozen=True)
class WindowTable:
    """Which input entry each tap of each pooling window reads, axis by axis.

    ``positions[a]`` is an (o_a, k_a) table of input indices (``t·s − p_before + u·d`` for a
    regular window; ``start_t + u`` for an adaptive bin) and ``valid[a]`` says whether that
    entry is a real input entry (not padding, not past the end of a short bin). A window's
    entries are the product of its per-axis entries, scanned in row-major order.

    Regular windows read strided slices of the input padded by ``pads`` (fast views);
    adaptive bins gather with index arrays.
    """

    in_spatial: tuple[int, ...]
    out_spatial: tuple[int, ...]
    kernel_size: tuple[int, ...]
    positions: tuple[np.ndarray, ...]
    valid: tuple[np.ndarray, ...]
    stride: tuple[int, ...] | None = None
    dilation: tuple[int, ...] | None = None
    pads: tuple[tuple[int, int], ...] | None = None

    @classmethod
    def regular(cls, in_spatial, kernel_size, stride, dilation, pad_before, out_spatial) -> WindowTable:
        """Window t along an axis reads t·s − p_before + u·d for u = 0 … k − 1."""
        positions = tuple(window_positions(o, k, s, d, p)
                          for o, k, s, d, p in zip(out_spatial, kernel_size, stride, dilation, pad_before))
        valid = tuple((pos >= 0) & (pos < i) for pos, i in zip(positions, in_spatial))
        # enough padding at each end for every window to be a slice (ceil_mode may overhang)
        pads = tuple((p, max(0, (o - 1) * s + d * (k - 1) + 1 - p - i))
                     for i, k, s, d, p, o in zip(in_spatial, kernel_size, stride, dilation, pad_before, out_spatial))
        return cls(tuple(in_spatial), tuple(out_spatial), tuple(kernel_size), positions, valid, tuple(stride),
                   tuple(dilation), pads)

    @classmethod
    def adaptive(cls, in_spatial, out_spatial) -> WindowTable:
        """Bin t reads [floor(t·I/O), ceil((t + 1)·I/O)) (ATen AdaptivePooling.h). When O divides
        I on every axis the bins are regular windows (kernel = stride = I/O, no padding: bin t is
        [t·I/O, (t + 1)·I/O)), read as strided views — the same entries in the same order as the
        gathered bins, so the same sums; a global pool (O = 1) is one window per channel."""
        from convcalc.engine.axis import adaptive_bins

        if all(i % o == 0 for i, o in zip(in_spatial, out_spatial)):
            sizes = tuple(i // o for i, o in zip(in_spatial, out_spatial))
            return cls.regular(in_spatial, sizes, sizes, (1,) * len(sizes), (0,) * len(sizes), out_spatial)
        positions, valid, kernel = [], [], []
        for i, o in zip(in_spatial, out_spatial):
            bins = np.array(adaptive_bins(i, o)).reshape(o, 2)
            k = int((bins[:, 1] - bins[:, 0]).max())
            raw = bins[:, :1] + np.arange(k)[None, :]
            valid.append(raw < bins[:, 1:])
            positions.append(np.minimum(raw, i - 1))
            kernel.append(k)
        return cls(tuple(in_spatial), tuple(out_spatial), tuple(kernel), tuple(positions), tuple(valid))

    def taps(self) -> Iterator[tuple[int, ...]]:
        """The kernel taps in row-major order (PyTorch's scan order inside a window)."""
        return kernel_offsets(self.kernel_size)

    def mask(self, tap: Sequence[int]) -> np.ndarray | None:
        """(*o) boolean: which windows read a real entry at this tap; None when all do."""
        columns = [v[:, u] for v, u in zip(self.valid, tap)]
        if all(c.all() for c in columns):
            return None
        return outer(np.logical_and, columns)

    def counts(self) -> np.ndarray:
        """(*o) number of real entries in each window."""
        per_axis = [v.sum(axis=1) for v in self.valid]
        return outer(np.multiply, per_axis)

    def prepare(self, x: np.ndarray) -> np.ndarray:
        """The array the taps read: x zero-padded for regular windows, x itself for bins."""
        return pad(x, self.pads) if self.pads is not None else x

    def prepared_spatial(self) -> tuple[int, ...]:
        """The spatial shape of :meth:`prepare`'s result."""
        if self.pads is None:
            return self.in_spatial
        return tuple(i + a + b for i, (a, b) in zip(self.in_spatial, self.pads))

    def gather(self, prepared: np.ndarray, tap: Sequence[int]) -> np.ndarray:
        """(N, C, *o): the entry each window reads at this tap (a view for regular windows)."""
        if self.pads is not None:
            assert self.stride is not None and self.dilation is not None  # set with pads (regular windows)
            return prepared[_spatial_slices(prepared, tap_slices(tap, self.out_spatial, self.stride, self.dilation))]
        return prepared[self._index(prepared, tap)]

    def scatter_add(self, grad_prepared: np.ndarray, tap: Sequence[int], values: np.ndarray) -> None:
        """grad[entry read at this tap] += values, summing when windows share an entry."""
        if self.pads is not None:
            assert self.stride is not None and self.dilation is not None  # set with pads (regular windows)
            grad_prepared[_spatial_slices(grad_prepared,
                                          tap_slices(tap, self.out_spatial, self.stride, self.dilation))] += values
        else:
            np.add.at(grad_prepared, self._index(grad_prepared, tap), values)

    def finish(self, grad_prepared: np.ndarray) -> np.ndarray:
        """The gradient on the input: the padding's share is dropped."""
        return np.ascontiguousarray(crop(grad_prepared, self.pads)) if self.pads is not None else grad_prepared

    def tap_index(self, tap: Sequence[int]) -> np.ndarray:
        """(*o) flat index into the input's spatial plane of the entry each window reads at
        this tap (PyTorch's ``return_indices`` numbering, row-major); meaningless where
        :meth:`mask` is False (padding)."""
        flat = np.zeros((1,) * len(tap), dtype=np.int64)
        for a, (pos, u) in enumerate(zip(self.positions, tap)):
            shape = [1] * len(tap)
            shape[a] = -1
            flat = flat * self.in_spatial[a] + pos[:, u].reshape(shape)
        return flat

    def _index(self, array: np.ndarray, tap: Sequence[int]) -> tuple:
        return (slice(None),) * (array.ndim - len(tap)) + np.ix_(*(pos[:, u] for pos, u in zip(self.positions, tap)))
