"""One layer's forward on the board: the one-layer trace behind ``convcalc conv``, ``pool``
and ``conv-transpose``.

The layer runs its own forward; the step that explains it is written by the same explainers
as every layer of ``convcalc backprop`` (:func:`convcalc.trace.explain_conv.conv_forward`,
:func:`convcalc.trace.explain_pool.maxpool_forward`, ``avgpool_forward``): the same sums of
products, the same max-pool winner (the layer's ``return_indices``: the first maximum in
row-major order), the same average divisors (the layer's cache), and the same check that
every entry written out equals the layer's value (:func:`convcalc.trace.context.require_agreement`).

Input ``x`` is one image, batched ``(1, C, H, W)``; the step shows it unbatched (``C x H x W``),
so entry ``k`` of :attr:`OneLayer.entries` explains output entry ``OneLayer.indices[k]``
``(channel, row, column)`` and its ``window`` cells are ``(channel, row, column)`` of the
matrix it reads (the padded input for a convolution, the input for pooling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from convcalc.layers.pool import MaxPool
from convcalc.trace import explain_conv, explain_pool
from convcalc.trace.context import Context, require_agreement
from convcalc.trace.model import Entry, Step
from convcalc.trace.spec import LayerStep, Tensor

INPUT, OUTPUT, KERNEL, BIAS = "I", "J", "K", "b"


@dataclass(frozen=True)
class OneLayer:
    """The layer's output and, when asked for, the explained forward step."""

    output: np.ndarray  # (1, C_out, oh, ow): the layer's own forward
    cache: Any  # the forward's cache (pool winners, window tables)
    step: Step | None = None  # every output entry explained (None: not asked for)

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self.step.entries if self.step is not None else ()

    @property
    def indices(self) -> tuple[tuple[int, ...], ...]:
        """The output index ``(channel, row, column)`` each entry explains, in order."""
        return tuple(np.ndindex(*self.output.shape[1:])) if self.step is not None else ()


def _context(x: np.ndarray) -> Context:
    """Every entry written out (the numeric commands choose entries with ``--at`` afterwards);
    the batch of one is not shown."""
    return Context(implicit=1, max_entries=-1, mode="exact" if x.dtype == object else "float")


def _pair_or_pads(pads) -> tuple:
    """Padding as the explainers read their options: (pH, pW) when symmetric, else pairs."""
    pads = tuple((int(a), int(b)) for a, b in pads)
    return (pads[0][0], pads[1][0]) if all(a == b for a, b in pads) else pads


def _step(kind: str, layer, x: np.ndarray, y: np.ndarray, params: dict[str, Tensor], options: dict) -> LayerStep:
    return LayerStep(index=1, kind=kind, name=kind, output=OUTPUT, layer=layer, params=params, options=options,
                     input_shape=tuple(x.shape), output_shape=tuple(y.shape))


def conv(layer, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, pads, *, explain: bool,
         expected: np.ndarray | None = None) -> OneLayer:
    """A :class:`convcalc.layers.conv.Conv` forward of ``x`` with ``weight`` (and ``bias``):
    ``J[co,y,x] = b[co] + Σ_c Σ_u Σ_v pad(I)[c, s·y + d·u, s·x + d·v]·K[co,c,u,v]``.

    ``pads``: the layer's resolved (before, after) padding per axis. ``expected``: values the
    layer's output must equal entry by entry (a transposed convolution's forward, when this is
    its equivalent direct convolution); a disagreement is a :class:`~convcalc.trace.context.TraceBug`."""
    params = {"weight": weight} | ({"bias": bias} if bias is not None else {})
    forward = layer.forward(x, params)
    y = forward.output
    if expected is not None:
        require_agreement(y, expected, "the equivalent direct convolution against the transposed convolution")
    if not explain:
        return OneLayer(y, forward.cache)
    tensors = {"weight": Tensor(KERNEL, "weight", weight, tuple(weight.shape))}
    if bias is not None:
        tensors["bias"] = Tensor(BIAS, "bias", bias, tuple(bias.shape))
    options = {"stride": tuple(layer.stride), "padding": _pair_or_pads(pads), "dilation": tuple(layer.dilation),
               "groups": layer.groups, "padding_mode": layer.padding_mode}
    step = _step("conv2d", layer, x, y, tensors, options)
    return OneLayer(y, forward.cache, explain_conv.conv_forward(_context(x), step, params, INPUT, x, y))


def pool(layer, x: np.ndarray, pads, *, explain: bool) -> OneLayer:
    """A :class:`convcalc.layers.pool.MaxPool` or ``AvgPool`` forward of ``x`` (``pads``: its
    resolved padding), each window explained."""
    forward = layer.forward(x, {})
    if not explain:
        return OneLayer(forward.output, forward.cache)
    kind = "maxpool2d" if isinstance(layer, MaxPool) else "avgpool2d"
    options: dict[str, Any] = {"kernel_size": tuple(layer.kernel_size), "stride": tuple(layer.stride),
                               "padding": _pair_or_pads(pads), "ceil_mode": layer.ceil_mode}
    if kind == "maxpool2d":
        options["dilation"] = tuple(layer.dilation)
        explainer = explain_pool.maxpool_forward
    else:
        options.update(count_include_pad=layer.count_include_pad, divisor_override=layer.divisor_override)
        explainer = explain_pool.avgpool_forward
    step = _step(kind, layer, x, forward.output, {}, options)
    return OneLayer(forward.output, forward.cache,
                    explainer(_context(x), step, INPUT, x, forward.output, forward.cache))
