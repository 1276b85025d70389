"""Exactly which input positions an output unit reads, along one axis: receptive fields with holes.

The size/jump/start recurrences (``network/walk.py``) give the *extent* of a receptive field: the
span from its first to its last input position. A dilated kernel reads only some positions of
its span (3×3, dilation 4: span 9, 3 read), and a transposed convolution's units read different
numbers of inputs (k 3, s 2, p 1: 1 and 2, alternately). The *support* of output unit t is the set
of input positions its value depends on — the positions where ∂y_t/∂x is structurally non-zero,
which is what a gradient measurement in PyTorch finds (weights in general position).

Positions are in the integer-index convention of the recurrences: input element 0 is at 0, the
padding before it at −1, −2, …; borders are ignored (an interior unit, the input large enough).

Every layer's map from output units to input positions is *periodic*: there are a period P (output
units) and a shift Q (input positions) with support(t + P) = support(t) + Q. A window (conv, pool)
has P = 1, Q = s: unit t reads t·s − p + d·j, j < k. A transposed conv has P = s, Q = 1: unit t
reads the i with i·s − p + d·j = t. A stack composes: unit t of the outer layer reads the union of
the inner supports of the units it reads; the period of the composition is P_out·n with
n = P_in / gcd(P_in, Q_out) (n·Q_out is a whole number of inner periods). So one period of
per-unit supports describes a whole network, and its mean jump is Q/P.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

Intervals = tuple[tuple[int, int], ...]  # sorted, disjoint, non-adjacent closed intervals [lo, hi]

MAX_PERIOD = 4096  # beyond this a network's RF is reported by its recurrences only
MAX_WORK = 1_000_000  # positions visited by one composition; beyond it, the recurrences only


def merge(intervals: list[tuple[int, int]]) -> Intervals:
    """The union of closed integer intervals, as sorted, disjoint, non-adjacent intervals."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def _moved(intervals: Intervals, by: int) -> Intervals:
    return tuple((lo + by, hi + by) for lo, hi in intervals)


@dataclass(frozen=True)
class AxisSupport:
    """Unit t = q·period + r reads the input positions ``units[r]`` moved by q·shift."""

    period: int
    shift: int
    units: tuple[Intervals, ...]

    def unit(self, t: int) -> Intervals:
        q, r = divmod(t, self.period)
        return _moved(self.units[r], q * self.shift)

    @property
    def mean_jump(self) -> Fraction:
        """Input positions per output unit, on average: Q/P (the recurrences' jump)."""
        return Fraction(self.shift, self.period)

    def extent(self, r: int) -> int:
        """Span of unit r's receptive field: last position − first + 1 (0 if it reads nothing)."""
        u = self.units[r]
        return u[-1][1] - u[0][0] + 1 if u else 0

    def read(self, r: int) -> int:
        """Positions unit r actually reads."""
        return sum(hi - lo + 1 for lo, hi in self.units[r])

    @property
    def extents(self) -> tuple[int, int]:
        sizes = [self.extent(r) for r in range(self.period)]
        return min(sizes), max(sizes)

    @property
    def reads(self) -> tuple[int, int]:
        counts = [self.read(r) for r in range(self.period)]
        return min(counts), max(counts)

    @property
    def has_holes(self) -> bool:
        """Some unit skips positions inside its span."""
        return any(len(u) > 1 for u in self.units)

    @property
    def varies(self) -> bool:
        """Units are not one pattern moved by a constant jump (the smallest period is above 1): their
        sizes, or the steps between their first positions, change from unit to unit."""
        return self.period > 1

    def centre(self, r: int = 0) -> Fraction | None:
        """Centre of unit r's span (the recurrences' "start" for r = 0); None if it reads nothing."""
        u = self.units[r]
        return Fraction(u[0][0] + u[-1][1], 2) if u else None

    def first(self, r: int = 0) -> int | None:
        """Unit r's first input position."""
        return self.units[r][0][0] if self.units[r] else None

    def offsets(self, r: int = 0) -> list[int]:
        """Unit r's positions relative to its first one."""
        if not self.units[r]:
            return []
        first = self.units[r][0][0]
        return [x - first for lo, hi in self.units[r] for x in range(lo, hi + 1)]


def _reduced(period: int, shift: int, units: list[Intervals]) -> AxisSupport:
    """The same map with its smallest period (compositions can make a period a multiple of it)."""
    for p in range(1, period):
        if period % p or (shift * p) % period:
            continue
        step = shift * p // period
        if all(units[r + p] == _moved(units[r], step) for r in range(period - p)):
            return AxisSupport(p, step, tuple(units[:p]))
    return AxisSupport(period, shift, tuple(units))


# The builders below are pure and their results frozen: a network or a batch asks for the same few
# windows again and again (3x3, stride 1, pad 1), so each distinct one is built once. typed: 1 and
# True, 2 and 2.0 are different requests (a bool is no size, a float no exact support).
_remembered = lru_cache(maxsize=4096, typed=True)


def exact(*values: object) -> bool:
    """All values are plain ints (a symbolic size has no exact support)."""
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def identity() -> AxisSupport:
    return AxisSupport(1, 1, (((0, 0),),))


@_remembered
def window(k: object, s: object, pad: object, d: object = 1) -> AxisSupport | None:
    """A sliding window (conv, pool): unit t reads t·s − pad + d·j for j = 0 … k − 1 (None if symbolic)."""
    if not (isinstance(k, int) and isinstance(s, int) and isinstance(pad, int) and isinstance(d, int)) \
            or not exact(k, s, pad, d):
        return None
    if d == 1 or k == 1:
        return AxisSupport(1, s, (((-pad, -pad + d * (k - 1)),),))
    return AxisSupport(1, s, (merge([(-pad + d * j, -pad + d * j) for j in range(k)]),))


@_remembered
def transposed(k: int, s: int, pad: int, d: int = 1) -> AxisSupport | None:
    """ConvTranspose: output t = i·s − pad + d·j (PyTorch's scatter), so unit t reads every input i
    with (t + pad − d·j) divisible by s, i = (t + pad − d·j)/s; period s, shift 1. ``output_padding``
    only adds units at the end, it changes no unit's support."""
    if not exact(k, s, pad, d) or s > MAX_PERIOD:
        return None
    units = []
    for r in range(s):
        positions = [((r + pad - d * j) // s,) * 2 for j in range(k) if (r + pad - d * j) % s == 0]
        units.append(merge(positions))
    # A unit with no such j (s > d·k leaves gaps) reads nothing: its value is the bias alone.
    return _reduced(s, 1, units)


@_remembered
def nearest(scale: int) -> AxisSupport | None:
    """Nearest upsampling by an integer scale (also pixel shuffle along an axis): unit t reads ⌊t/s⌋."""
    if not exact(scale) or scale > MAX_PERIOD:
        return None
    return AxisSupport(scale, 1, tuple(((0, 0),) for _ in range(scale)))


@_remembered
def interpolated(scale: int, taps_before: int, taps_after: int) -> AxisSupport | None:
    """Linear (1, 1 taps) or cubic (2, 2) upsampling, align_corners=False: unit t's source is
    x = (t + ½)/s − ½; it reads ⌊x⌋ − taps_before + 1 … ⌊x⌋ + taps_after, except that at a whole-number
    x every weight but the one on x itself is 0 (linear: 1 − 0 and 0; cubic: w(0) = 1, w(±1) = w(±2) = 0)."""
    if not exact(scale) or scale > MAX_PERIOD:
        return None
    units: list[Intervals] = []
    for r in range(scale):
        x = Fraction(2 * r + 1 - scale, 2 * scale)
        base = math.floor(x)
        units.append(((base, base),) if x == base else ((base - taps_before + 1, base + taps_after),))
    return _reduced(scale, 1, units)


@_remembered
def adaptive(size_in: int, size_out: int) -> AxisSupport | None:
    """Adaptive pooling: bin t is [⌊t·I/O⌋, ⌈(t + 1)·I/O⌉) (ATen); period O/g, shift I/g, g = gcd(I, O)."""
    if not exact(size_in, size_out) or size_out < 1:
        return None
    g = math.gcd(size_in, size_out)
    period, shift = size_out // g, size_in // g
    if period > MAX_PERIOD:
        return None
    units: list[Intervals] = []
    for t in range(period):
        start = t * size_in // size_out
        end = -(-(t + 1) * size_in // size_out)
        units.append(((start, end - 1),))
    return _reduced(period, shift, units)


def compose(inner: AxisSupport, outer: AxisSupport) -> AxisSupport | None:
    """Unit t of ``outer`` (a layer reading units of ``inner``'s output) reads the union of the inner
    supports of the units it reads; None when the period or the work would be too large."""
    n = inner.period // math.gcd(inner.period, outer.shift)
    period = outer.period * n
    if period > MAX_PERIOD:
        return None
    shift = outer.shift * n // inner.period * inner.shift
    work = 0
    units = []
    for r in range(period):
        parts: list[tuple[int, int]] = []
        for lo, hi in outer.unit(r):
            work += (hi - lo + 1) * max(1, len(inner.units[0]))
            if work > MAX_WORK:
                return None
            for m in range(lo, hi + 1):
                parts.extend(inner.unit(m))
        units.append(merge(parts))
    return _reduced(period, shift, units)


def union(supports: list[AxisSupport]) -> AxisSupport | None:
    """Branches that meet (add, concat): unit t reads what any branch's unit t reads. None if the
    branches' mean jumps differ (no common period)."""
    jumps = {s.mean_jump for s in supports}
    if len(jumps) != 1:
        return None
    period = math.lcm(*(s.period for s in supports))
    if period > MAX_PERIOD:
        return None
    shift = supports[0].shift * period // supports[0].period
    units = [merge([iv for s in supports for iv in s.unit(r)]) for r in range(period)]
    return _reduced(period, shift, units)
