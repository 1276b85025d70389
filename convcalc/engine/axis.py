"""Per-axis size rules. Axes never interact, so an n-d layer applies these per axis.

Notation (one spatial axis): input ``i``, kernel ``k``, stride ``s``, padding before/after
``pl``/``pr``, dilation ``d``, output padding ``op``. Effective kernel ``k_eff = d(k-1)+1``.
All rules follow PyTorch (ATen) exactly; every value is an exact int or a sympy expression.
"""

from __future__ import annotations

from convcalc.dims import Dim, ceil_div, floor_div, mod

AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def axis_names(rank: int) -> tuple[str, ...]:
    """The spatial axes' letters, outermost first: L; H, W; D, H, W."""
    return AXIS_NAMES[rank]


def effective_kernel(k: int, d: int) -> int:
    """k_eff = d·(k − 1) + 1: the span a dilated kernel covers."""
    return d * (k - 1) + 1


def conv_output_size(i: Dim, k: int, s: int, pl: Dim, pr: Dim, d: int = 1) -> Dim:
    """o = floor((i + pl + pr − k_eff) / s) + 1  (PyTorch Conv*d; Dumoulin & Visin rel. 6)."""
    return floor_div(i + pl + pr - effective_kernel(k, d), s) + 1


def uncovered(i: Dim, k: int, s: int, pl: Dim, pr: Dim, d: int = 1) -> Dim:
    """a = (i + pl + pr − k_eff) mod s: trailing padded positions no window reaches."""
    return mod(i + pl + pr - effective_kernel(k, d), s)


def torch_same_padding(k: int, d: int = 1) -> tuple[int, int]:
    """PyTorch padding='same' (stride 1): total d(k−1), left total//2, the extra at the end."""
    total = d * (k - 1)
    return total // 2, total - total // 2


def tf_same_padding(i: Dim, k: int, s: int, d: int = 1) -> tuple[Dim, Dim]:
    """TensorFlow/Keras SAME: o = ceil(i/s), P = max((o−1)s + k_eff − i, 0), before P//2.

    The extra element goes after (bottom/right), as in TF's ``kernel_shape_util.cc``.
    """
    o = ceil_div(i, s)
    needed = (o - 1) * s + effective_kernel(k, d) - i
    if isinstance(needed, int):
        total = max(needed, 0)
    else:
        import sympy

        total = sympy.Max(needed, 0)
    before = floor_div(total, 2)
    return before, total - before


def transposed_output_size(i: Dim, k: int, s: int, pl: Dim, pr: Dim, d: int = 1, op: int = 0) -> Dim:
    """o = (i − 1)s − pl − pr + d(k − 1) + op + 1  (PyTorch ConvTranspose*d with 2p = pl + pr)."""
    return (i - 1) * s - pl - pr + d * (k - 1) + op + 1


def pool_output_size(i: Dim, k: int, s: int, pl: Dim, pr: Dim, d: int = 1, ceil_mode: bool = False) -> tuple[Dim, bool]:
    """Pooling output size and whether ceil_mode's last-window rule dropped a window.

    floor mode: as a convolution. ceil mode (ATen ``pooling_output_shape_pad_lr``):
    o = ceil((i + pl + pr − k_eff)/s) + 1, then o −= 1 if (o − 1)·s ≥ i + pl — the last
    window must start inside the input or the left padding.
    """
    span = i + pl + pr - effective_kernel(k, d)
    if not ceil_mode:
        return floor_div(span, s) + 1, False
    o = ceil_div(span, s) + 1
    start_of_last = (o - 1) * s
    limit = i + pl
    if isinstance(start_of_last, int) and isinstance(limit, int):
        if start_of_last >= limit:
            return o - 1, True
        return o, False
    import sympy

    return sympy.Piecewise((o - 1, sympy.Ge(start_of_last, limit)), (o, True)), False


def adaptive_bin(t: int, size_in: int, size_out: int) -> tuple[int, int]:
    """Bin t of an adaptive pool: [floor(t·I/O), ceil((t+1)·I/O)) (ATen AdaptivePooling.h)."""
    start = (t * size_in) // size_out
    end = -((-(t + 1) * size_in) // size_out)
    return start, end


def adaptive_bins(size_in: int, size_out: int) -> list[tuple[int, int]]:
    return [adaptive_bin(t, size_in, size_out) for t in range(size_out)]


def floor_sum(n: int, m: int, a: int, b: int) -> int:
    """Σ_{t=0}^{n−1} floor((a·t + b)/m) for m > 0, in O(log) steps (the Euclid-like reduction of
    the AtCoder Library's ``floor_sum``): what makes the totals below O(1) in the sizes."""
    if n <= 0:
        return 0
    total = 0
    if a < 0 or a >= m:
        total += n * (n - 1) // 2 * (a // m)
        a %= m
    if b < 0 or b >= m:
        total += n * (b // m)
        b %= m
    while True:  # now 0 ≤ a, b < m
        if a >= m:
            total += n * (n - 1) // 2 * (a // m)
            a %= m
        if b >= m:
            total += n * (b // m)
            b %= m
        y_max = a * n + b
        if y_max < m:
            return total
        n, b = y_max // m, y_max % m
        m, a = a, m


def real_reads_total(i: int, k: int, s: int, pl: int, o: int, d: int = 1) -> int:
    """Σ over the o windows of the real (non-padding) elements each reads, in closed form.

    Window t reads taps u < k at a + d·u, a = t·s − pl; the real ones satisfy 0 ≤ a + d·u < i, so
    u ∈ [max(0, ⌈−a/d⌉), min(k − 1, ⌊(i − 1 − a)/d⌋)]. Every window the shape rules keep reads at
    least one real element, so the total is Σ_t min(k − 1, ⌊(i − 1 − a)/d⌋) − Σ_t max(0, ⌈−a/d⌉) + o,
    both sums split where the clamp stops acting and summed with :func:`floor_sum`.
    Equals ``sum(window_real_counts(...))``.
    """
    if o <= 0:
        return 0
    # Σ_t min(k − 1, ⌊(i − 1 + pl − s·t)/d⌋): the clamp acts for t < t1.
    t1 = min(o, max(0, (i - 1 + pl - k * d) // s + 1))
    upper = (k - 1) * t1
    n = o - t1  # t = t1..o−1, written t = o − 1 − t': ⌊(i − 1 + pl − s(o − 1) + s·t')/d⌋
    upper += floor_sum(n, d, s, i - 1 + pl - s * (o - 1))
    # Σ_t max(0, ⌈(pl − s·t)/d⌉) = Σ_{t < t2} −⌊(s·t − pl)/d⌋, t2 = ⌈pl/s⌉ (first window start ≥ 0)
    t2 = min(o, -(-pl // s))
    lower = -floor_sum(t2, d, s, -pl)
    return upper - lower + o


def first_padding_only_window(i: int, k: int, s: int, pl: int, o: int, d: int) -> int | None:
    """The first of the o windows whose k taps (dilation d) all land in the padding, or None.

    Only windows starting in the left padding (t < ⌈pl/s⌉) can: window t starts at a = t·s − pl < 0;
    all its taps are left of the input when a + d(k − 1) < 0 (worst at t = 0), otherwise its first
    tap at or past 0 is a mod d, which misses the input when a mod d ≥ i. The windows with
    x mod d ≥ i (x = t·s − pl) are counted as Σ ⌊(x + d − i)/d⌋ − ⌊x/d⌋ (:func:`floor_sum`), and
    the first one found by bisection: O(log²) in the sizes.
    """
    left = min(o, -(-pl // s))
    if left <= 0:
        return None
    if pl > d * (k - 1):
        return 0
    if i >= d:
        return None

    def misses(n: int) -> int:  # how many of the first n windows miss the input
        return floor_sum(n, d, s, d - i - pl) - floor_sum(n, d, s, -pl)

    if misses(left) == 0:
        return None
    low, high = 0, left  # misses(low) == 0 < misses(high)
    while high - low > 1:
        middle = (low + high) // 2
        if misses(middle):
            high = middle
        else:
            low = middle
    return low


def adaptive_bin_lengths(size_in: int, size_out: int) -> tuple[int, int, int]:
    """(shortest, longest, total) bin length of an adaptive pool, in closed form.

    Bin t's length is ⌈(r + I)/O⌉ with r = t·I mod O, which takes every multiple of g = gcd(I, O)
    in [0, O): shortest ⌈I/O⌉ (r = 0), longest ⌈(O − g + I)/O⌉. The total is
    Σ_t ⌈(t + 1)I/O⌉ − ⌊t·I/O⌋, two :func:`floor_sum` calls.
    """
    import math

    g = math.gcd(size_in, size_out)
    shortest = -(-size_in // size_out)
    longest = -(-(size_out - g + size_in) // size_out)
    total = floor_sum(size_out, size_out, size_in, size_in + size_out - 1) - floor_sum(size_out, size_out, size_in, 0)
    return shortest, longest, total


def window_real_counts(i: int, k: int, s: int, pl: int, o: int, d: int = 1) -> list[int]:
    """How many real (non-padding) input elements each of the o windows reads."""
    counts = []
    for t in range(o):
        start = t * s - pl
        counts.append(sum(1 for u in range(k) if 0 <= start + u * d < i))
    return counts


def avgpool_divisor_sizes(i: int, k: int, s: int, pl: int, pr: int, o: int) -> list[tuple[int, int]]:
    """Per window: (pool_size counting padding, real elements) — ATen AvgPoolKernel.cpp.

    h0 = t·s − pl, h1 = min(h0 + k, i + pr): a window is clipped at the end of the right
    padding, so an overhang created by ceil_mode is never counted.
    """
    sizes = []
    for t in range(o):
        h0 = t * s - pl
        h1 = min(h0 + k, i + pr)
        real = min(h1, i) - max(h0, 0)
        sizes.append((h1 - h0, max(real, 0)))
    return sizes
