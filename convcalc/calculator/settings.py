"""Hyper-parameters of the numeric calculator as typed: per-axis numbers and padding words.

Padding (per axis, (before, after)):
  ``1``, ``1x2`` (per axis), ``0:1x0:1`` (before:after), ``valid`` (= 0),
  ``same`` (PyTorch: total d(k−1), the extra at the end; stride 1 only),
  ``tf-same`` (TensorFlow/Keras SAME), ``full`` (d(k−1) each side: every overlap of the
  kernel with the input, the signal-processing "full" mode; Dumoulin & Visin's full padding).
"""

from __future__ import annotations

from collections.abc import Sequence

from convcalc.layers.base import resolve_conv_padding
from convcalc.notation import expand, parse_ints, parse_padding

Pads = tuple[tuple[int, int], ...]


def per_axis(text: str | None, what: str, default: int, minimum: int = 1) -> tuple[int, int]:
    """A 2-d hyper-parameter: ``2`` or ``2x1``."""
    if text is None:
        return (default, default)
    return expand(parse_ints(text, what, minimum=minimum), 2, what)


def padding_word(text: str | None) -> str | Pads:
    """The --pad option parsed but not yet resolved against sizes: a word or per-axis pairs."""
    if text is None:
        return ((0, 0), (0, 0))
    word = text.strip().lower()
    if word == "full":
        return "full"
    padding = parse_padding(text)
    if isinstance(padding, str):
        return padding
    return expand(padding, 2, "--pad")


def resolve_padding(padding: str | Pads, spatial: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                    dilation: Sequence[int], op: str) -> tuple[Pads, list[str]]:
    """Per-axis (before, after) padding and notes on how a word was resolved."""
    if padding == "full":
        pads = tuple((d * (k - 1), d * (k - 1)) for k, d in zip(kernel, dilation))
        amounts = [p for p, _ in pads]
        text = str(amounts[0]) if len(set(amounts)) == 1 else " and ".join(map(str, amounts))
        return pads, [f"full padding: d·(k − 1) = {text} on each side "
                      "(every position where the kernel overlaps the input)"]
    pads, notes = resolve_conv_padding(padding, tuple(spatial), tuple(kernel), tuple(stride), tuple(dilation), op)
    pads = tuple((int(a), int(b)) for a, b in pads)
    if padding == "same":
        notes = notes or [f"'same' padding (PyTorch): {pads_text(pads)}"]
    return pads, notes


def pads_text(pads: Pads) -> str:
    """``1`` when every side is the same, ``1x2`` per axis, ``0:1x0:1`` when asymmetric."""
    if all(p == pads[0] for p in pads) and pads[0][0] == pads[0][1]:
        return str(pads[0][0])
    return "x".join(str(a) if a == b else f"{a}:{b}" for a, b in pads)


def axis_text(values: Sequence[int]) -> str:
    """``2`` when both axes agree, else ``2x1``."""
    return str(values[0]) if all(v == values[0] for v in values) else "x".join(map(str, values))
