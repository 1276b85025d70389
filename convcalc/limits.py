"""How large an input convcalc accepts: the bounds that keep every answer quick and small.

* Whole numbers a user types (sizes, counts, seeds, padding) are at most :data:`MAX_WHOLE`
  = 2⁶³ − 1, the largest index any framework (and NumPy) can address; larger ones are refused
  with a message instead of overflowing a float or a C integer later.
* A command that allocates arrays (``run``, ``train``, ``backprop``, ``conv``, ``pool``,
  ``conv-transpose``, ``im2col``, ``animate``) first estimates the memory it will need from the shapes
  alone (:class:`MemoryEstimate`) and refuses, before allocating anything, a run above the
  limit: ``--max-memory`` (``2G``, ``500M``, ``1.5GiB``, a number of bytes), else the
  environment variable ``CONVCALC_MAX_MEMORY``, else :func:`default_max_memory` — a quarter
  of the machine's RAM, at most 2 GiB.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from convcalc.errors import InputError

MAX_WHOLE = 2**63 - 1

_DEFAULT_CAP = 2 * 2**30
_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6, "mib": 2**20,
          "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12, "tib": 2**40}
_AMOUNT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")


def check_whole(value: int, what: str) -> int:
    """``value`` if it is at most :data:`MAX_WHOLE`; otherwise an InputError naming ``what``."""
    if abs(value) > MAX_WHOLE:
        raise InputError(f"{what}: {digits_text(value)} is too large (at most 2**63 − 1 = {MAX_WHOLE:,})")
    return value


def check_digits(text: str, what: str) -> None:
    """Refuse a string of digits that cannot be a whole number up to MAX_WHOLE, before ``int()``
    (which refuses more than 4,300 digits with an error of its own)."""
    digits = text.strip().lstrip("+-")
    if len(digits) > len(str(MAX_WHOLE)):
        raise InputError(f"{what}: a {len(digits)}-digit number is too large (at most 2**63 − 1 = {MAX_WHOLE:,})")


def digits_text(value: int) -> str:
    """A short form of a possibly huge whole number for messages."""
    text = str(abs(value)) if value.bit_length() < 10_000 else None
    if text is None or len(text) > 24:
        length = len(text) if text is not None else int(value.bit_length() * 0.30103) + 1
        return f"{'-' if value < 0 else ''}a {length}-digit number"
    return str(value)


# --- memory -----------------------------------------------------------------------------------

def physical_memory() -> int | None:
    """The machine's RAM in bytes, where the system says."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def default_max_memory() -> int:
    """A quarter of the machine's RAM, at most 2 GiB (2 GiB when the RAM is unknown)."""
    ram = physical_memory()
    return _DEFAULT_CAP if ram is None else min(_DEFAULT_CAP, ram // 4)


def parse_memory(text: str, what: str = "--max-memory") -> int:
    """``2G``, ``500M``, ``1.5GiB``, ``300MB`` or a number of bytes → bytes (K, M, G, T are powers of 1024)."""
    match = _AMOUNT.match(text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise InputError(f"{what} '{text}' is not an amount of memory: write e.g. 2G, 500M, 1.5GiB or 300MB")
    amount = float(match.group(1)) * _UNITS[unit]
    if not 1 <= amount < 2**62:
        raise InputError(f"{what} '{text}' must be between 1 byte and 4 EiB")
    return int(amount)


def memory_limit(option: str | None) -> int:
    """The limit in bytes: ``--max-memory`` if given, else ``CONVCALC_MAX_MEMORY``, else the default."""
    if option is not None:
        return parse_memory(option)
    env = os.environ.get("CONVCALC_MAX_MEMORY")
    if env:
        return parse_memory(env, "CONVCALC_MAX_MEMORY")
    return default_max_memory()


def format_bytes(count: int | float) -> str:
    """1536 → '1.5 KiB'; binary units, three significant digits."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024 or unit == "EiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} EiB"


@dataclass(frozen=True)
class MemoryEstimate:
    """What a run will allocate, in bytes, and what dominates it (for the message)."""

    total: int
    detail: str

    def check(self, limit: int, command: str) -> None:
        """Refuse the run, before any allocation, if the estimate is above ``limit``."""
        if self.total > limit:
            raise InputError(
                f"{command} would need about {format_bytes(self.total)} of memory ({self.detail}); the limit is "
                f"{format_bytes(limit)}: use smaller sizes, or raise it with --max-memory (e.g. --max-memory "
                f"{_suggest(self.total)}) if the machine has the memory"
            )


def _suggest(total: int) -> str:
    gib = -(-total // 2**30)
    return f"{gib}G" if gib < 2**20 else f"{-(-gib // 2**10)}T"


# Bytes per tensor entry: a float64, or an exact entry (a pointer and a Python int / Fraction);
# an explained term holds two entries, their indices and its text.
FLOAT_ENTRY, EXACT_ENTRY, EXPLAINED_TERM = 8, 100, 300


def _spatial_extent(size: int, k: int, s: int, d: int, before: int, after: int, transposed: bool) -> int:
    """Positions along one axis of the (zero-inserted) padded input the numeric commands build."""
    if transposed:  # s − 1 zeros between entries, d(k − 1) padding on each side (Dumoulin & Visin)
        return (size - 1) * s + 1 + 2 * d * (k - 1) + before + after
    return size + before + after


def numeric_estimate(image: tuple[int, ...], kernel: tuple[int, int], *, stride: tuple[int, int],
                     dilation: tuple[int, int], pads, channels_out: int, exact: bool, explain: bool,
                     transposed: bool = False) -> MemoryEstimate:
    """The memory ``conv``, ``pool``, ``conv-transpose`` and ``im2col`` need for an image
    (C, H, W) and a kernel (kh, kw): the padded input, one output (at most as large) and the
    im2col columns C·kh·kw × output positions (the windowed computation), each entry
    :data:`EXACT_ENTRY` or :data:`FLOAT_ENTRY` bytes, plus :data:`EXPLAINED_TERM` per term with
    ``--explain``. A padding word (same, full, …) counts as a kernel's extent on each side."""
    c, h, w = (1,) * (3 - len(image[-3:])) + tuple(image[-3:])
    extents = []
    per_axis = pads if not isinstance(pads, str) else (None, None)
    for size, k, s, d, pad in zip((h, w), kernel, stride, dilation, per_axis):
        before, after = pad if pad is not None else (d * (k - 1), d * (k - 1))
        extents.append(_spatial_extent(size, k, s, d, before, after, transposed))
    padded = c * extents[0] * extents[1]
    positions = extents[0] * extents[1]
    columns = c * kernel[0] * kernel[1] * positions
    per_entry = EXACT_ENTRY if exact else FLOAT_ENTRY
    total = per_entry * (padded + channels_out * positions + columns)
    detail = f"a padded input of {padded:,} entries and {columns:,} window entries"
    if explain:
        terms = channels_out * positions * c * kernel[0] * kernel[1]
        total += EXPLAINED_TERM * terms
        detail += f", {terms:,} explained terms"
    return MemoryEstimate(total, detail)


def network_estimate(graph, batch: int, itemsize: int, *, backward: bool, optimizer_states: int = 0,
                     data_entries: int = 0, steps: int = 0) -> MemoryEstimate:
    """The memory ``run`` and ``train`` need for a compiled network (:class:`convcalc.executor.graph.Graph`).

    Parameters and buffers P (with backward also their gradients, and ``optimizer_states``
    copies), every layer's output kept for backward (A = N·Σ outputs; without backward the two
    largest consecutive ones), the largest window workspace (N·C_in·Πk·Π output positions of a
    conv or pool layer: its im2col columns, twice with backward), the dataset and one history
    record per step (64 bytes)."""
    from math import prod

    params = sum(prod(spec.shape) for spec in (*graph.parameters, *graph.buffers))
    outputs = [prod(leaf.output) for leaf in graph.leaves] or [0]
    workspace = 0
    for leaf in graph.leaves:
        kernel = getattr(leaf.layer, "kernel_size", None)
        if isinstance(kernel, tuple) and all(isinstance(k, int) for k in kernel) and len(leaf.input) > 1:
            positions = prod(leaf.output[1:]) if len(leaf.output) > 1 else 1
            workspace = max(workspace, leaf.input[0] * prod(kernel) * max(positions, prod(leaf.input[1:])))
    largest = max(outputs) + max(prod(graph.input), *outputs)
    if backward:
        activations = batch * (prod(graph.input) + sum(outputs)) + 2 * batch * largest
        entries = params * (2 + optimizer_states) + activations + 2 * batch * workspace
    else:
        activations = 2 * batch * largest
        entries = params + activations + batch * workspace
    entries += data_entries
    total = itemsize * entries + 64 * steps
    detail = (f"{params:,} parameters, {activations:,} activation values at batch {batch:,}, "
              f"a window workspace of {batch * workspace:,} values")
    if data_entries:
        detail += f", {data_entries:,} dataset values"
    return MemoryEstimate(total, detail + f" at {itemsize} bytes each")


# A traced tensor entry: its value (exact or float) and its printed form on the board.
TRACE_ENTRY = 200
# The finite-difference check stacks perturbed float64 copies up to this many values per pass
# (convcalc.trace.check.PASS_VALUES); a pass holds a few arrays of that size.
CHECK_PASS_BYTES = 3 * FLOAT_ENTRY * 2**20


def trace_estimate(spec, *, exact: bool) -> MemoryEstimate:
    """The memory ``backprop`` needs for a parsed spec (:mod:`convcalc.trace.spec`), from its shapes.

    Sequential form: every layer's input and output, once forward and once as a gradient
    (T = 2·Σ (in + out)), and each windowed layer's im2col columns N·C_in·Πk·Π max(in, out)
    positions, forward and backward (W), at :data:`TRACE_ENTRY` bytes per traced entry and
    :data:`EXACT_ENTRY` or :data:`FLOAT_ENTRY` per column entry; graph form: every tensor and
    node, forward and as a gradient. Plus the finite-difference check: one pass of perturbed
    float64 copies (:data:`CHECK_PASS_BYTES`, or one copy of the whole pass if that is larger)."""
    from math import prod

    traced = windows = per_copy = 0
    if spec.form == "graph":
        traced = 2 * (sum(prod(t.values.shape) for t in spec.tensors().values())
                      + sum(prod(node.shape) for node in spec.nodes))
        per_copy = traced // 2
    else:
        for step in spec.layers:
            inside, outside = prod(step.input_shape), prod(step.output_shape)
            traced += 2 * (inside + outside)
            kernel = getattr(step.layer, "kernel_size", None)
            if isinstance(kernel, tuple) and len(step.input_shape) > 2 and len(step.output_shape) > 2:
                positions = max(prod(step.input_shape[2:]), prod(step.output_shape[2:]))
                windows += 2 * step.input_shape[0] * step.input_shape[1] * prod(kernel) * positions
        per_copy = traced // 2 + windows // 2
    total = (TRACE_ENTRY * traced + (EXACT_ENTRY if exact else FLOAT_ENTRY) * windows
             + max(CHECK_PASS_BYTES, 3 * FLOAT_ENTRY * per_copy))
    detail = f"{traced:,} traced entries"
    if windows:
        detail += f" and {windows:,} window entries"
    return MemoryEstimate(total, detail)
