"""MaxViT's multi-axis attention pieces (Tu et al. 2022), as torchvision's ``maxvit.py`` has them:
the window/grid partition of a feature map into groups of tokens, its inverse, and the
relative-position multi-head attention run within each group.

* Partition(p, grid): (C, H, W) → (G, P, C), G = (H/p)(W/p) groups of P = p² tokens.
  ``window``: each group is a p×p window of neighbouring pixels. ``grid``: torchvision cuts
  the map into p×p cells of (H/p)×(W/p) pixels and swaps the two token axes, so each group
  holds the p² pixels at the same place in every cell — a p×p grid of pixels H/p apart.
  H and W must be multiples of p. No parameters, no arithmetic.
* Departition(p, grid, H, W): the inverse, (G, P, C) → (C, H, W).
* RelativePositionAttention(dim, head_dim, size): on (G, P, D) with P = size², h = D/head_dim
  heads; to_qkv Linear(D, 3D) with bias, merge Linear(D, D) with bias, a relative position
  bias table ((2·size − 1)²·h) and a relative_position_index buffer (P² entries). Parameters
  4D² + 4D + (2·size − 1)²·h. MACs, labelled apart: projections 4·G·P·D², attention
  matmuls 2·G·P²·D. torchvision scales the keys by D^−1/2 (the whole feature width, not the
  head width), and so does the forward here.
Receptive field: a window group reads its p×p window, a grid group pixels spread over the
whole map; the walk does not track a field through the token layout (it shows "all", which a
MaxViT layer's grid attention makes true: after it every output reads every input pixel).

Forward and backward (batched, floats): the partitions are reshapes and transposes (their
backward the inverse permutation); the attention as in :mod:`convcalc.layers.attention`, with
the bias added to the scores and its gradient scattered back into the table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.engine.report import LayerReport, ParamCount
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.descriptor import LayerDescriptor, Option, register_hook

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward


def _whole(value, op: str, key: str) -> None:
    """A size given to a layer (None where allowed: read from its input) is a whole number ≥ 1."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InputError(f"{op}: {{field}} must be a whole number ≥ 1; got {value!r}", field=key, value=value)


def _permute(x, axes: tuple[int, ...]):
    """numpy's transpose or torch's permute (the torch modules below share these helpers)."""
    return x.permute(*axes) if hasattr(x, "permute") else x.transpose(axes)


def _cut(x, p: int, grid: bool):
    """(N, C, H, W) → (N, G, P, C), torchvision's WindowPartition (+ SwapAxes for a grid)."""
    n, c, h, w = x.shape
    q = h // p if grid else p  # torchvision partitions a grid with p = the number of partitions
    r = w // p if grid else p
    t = _permute(x.reshape(n, c, h // q, q, w // r, r), (0, 2, 4, 3, 5, 1)).reshape(n, (h // q) * (w // r), q * r, c)
    return t.swapaxes(1, 2) if grid else t


def _uncut(t, p: int, grid: bool, h: int, w: int):
    """The inverse of :func:`_cut`: (N, G, P, C) → (N, C, H, W)."""
    if grid:
        t = t.swapaxes(1, 2)
    n, _, _, c = t.shape
    q = h // p if grid else p
    r = w // p if grid else p
    return _permute(t.reshape(n, h // q, w // r, q, r, c), (0, 5, 1, 3, 2, 4)).reshape(n, c, h, w)


@dataclass(frozen=True)
class Partition(base.NoParameters):
    """A feature map cut into token groups: p×p windows, or a p×p grid (MaxViT)."""

    size: int = 7
    grid: bool = False

    def __post_init__(self) -> None:
        if self.size is None:
            raise InputError("partition: {field} is needed (the window or grid side p)", field="size")
        _whole(self.size, "partition", "size")

    @property
    def name(self) -> str:
        return "grid-partition" if self.grid else "window-partition"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if len(shape) != 3:
            raise InputError(f"{self.name} takes C x H x W; got {'x'.join(map(str, shape))}")
        c, h, w = shape
        for axis, size in (("H", h), ("W", w)):
            if size % self.size:
                raise InputError(f"{self.name}: {axis} = {size} is not a multiple of the partition size {self.size}")
        groups, tokens = (h // self.size) * (w // self.size), self.size ** 2
        return LayerReport(op=self.name, input=shape, output=(groups, tokens, c), params=ParamCount(), macs=0,
                           batch=batch or 1, rf=None, hyper={"size": self.size, "grid": self.grid},
                           bytes_per_element=bytes_per_element)

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """A reshape and a transpose (module docstring)."""
        from convcalc.compute import Forward
        from convcalc.compute.params import as_array

        x = as_array(x, f"{self.name} input")
        self.analyze(x.shape[1:])
        return Forward(_cut(x, self.size, self.grid), x.shape)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """The inverse permutation."""
        from convcalc.compute import Backward

        return Backward(_uncut(grad_output, self.size, self.grid, cache[2], cache[3]))


@dataclass(frozen=True)
class Departition(base.NoParameters):
    """Token groups put back into the (C, H, W) map they were cut from."""

    size: int = 7
    grid: bool = False
    height: int | None = None  # None: a square map, read from the number of groups
    width: int | None = None

    def __post_init__(self) -> None:
        for key in ("size", "height", "width"):
            _whole(getattr(self, key), "departition", key)

    def map_size(self, groups: int) -> tuple[int, int]:
        """(H, W) of the map the ``groups`` came from: as given, else square (G = (H/p)²)."""
        if self.height is not None and self.width is not None:
            return self.height, self.width
        side = math.isqrt(groups)
        if self.height is None and self.width is None:
            if side * side != groups:
                raise InputError(f"{self.name}: {groups} groups are not a square grid; give the map's height and width")
            return side * self.size, side * self.size
        given = self.height if self.height is not None else self.width
        assert given is not None
        other = groups // max(given // self.size, 1) * self.size
        return (given, other) if self.height is not None else (other, given)

    @property
    def name(self) -> str:
        return "grid-departition" if self.grid else "window-departition"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if len(shape) != 3:
            raise InputError(f"{self.name} takes G x P x C token groups; got {'x'.join(map(str, shape))}")
        height, width = self.map_size(shape[0])
        expected = ((height // self.size) * (width // self.size), self.size ** 2)
        if tuple(shape[:2]) != expected or height % self.size or width % self.size:
            raise InputError(f"{self.name} of a {height}x{width} map expects {expected[0]} x {expected[1]} x C token "
                             f"groups; got {'x'.join(map(str, shape))}")
        return LayerReport(op=self.name, input=shape, output=(shape[2], height, width), params=ParamCount(),
                           macs=0, batch=batch or 1, rf=None, hyper={"size": self.size, "grid": self.grid},
                           bytes_per_element=bytes_per_element)

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """The inverse of the partition."""
        from convcalc.compute import Forward
        from convcalc.compute.params import as_array

        x = as_array(x, f"{self.name} input")
        _, height, width = self.analyze(x.shape[1:]).output
        return Forward(_uncut(x, self.size, self.grid, height, width), None)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """The partition of the gradient."""
        from convcalc.compute import Backward

        return Backward(_cut(grad_output, self.size, self.grid))


def _relative_index(size: int):
    import numpy as np

    coords = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="ij")).reshape(2, -1)
    rel = coords[:, :, None] - coords[:, None, :] + (size - 1)
    return rel[0] * (2 * size - 1) + rel[1]


@dataclass(frozen=True)
class RelativePositionAttention(base.NoBuffers):
    """torchvision's ``RelativePositionalMultiHeadAttention(dim, head_dim, size²)`` on (G, P, D)."""

    dim: int | None = None  # None: the input's D
    head_dim: int = 32
    size: int | None = None  # None: the side of the input's P = size² tokens

    name = "relpos-attention"

    def __post_init__(self) -> None:
        for key in ("dim", "head_dim", "size"):
            _whole(getattr(self, key), "relative-position attention", key)
        if self.dim is not None and self.dim % self.head_dim:
            raise InputError(f"relative-position attention: head_dim {self.head_dim} "
                             f"must divide the {self.dim} features")

    @property
    def heads(self) -> int:
        if self.dim is None:
            raise InputError("relative-position attention: the number of heads needs the features D")
        return self.dim // self.head_dim

    def sized(self, shape) -> RelativePositionAttention:
        """This layer with ``dim`` and ``size`` read from a (…, G, P, D) input where they were left out."""
        shape = tuple(shape)
        if len(shape) < 3:
            raise InputError("relative-position attention takes G x P x D token groups; "
                             f"got {'x'.join(map(str, shape))}")
        tokens, dim = shape[-2], shape[-1]
        side = self.size if self.size is not None else math.isqrt(tokens)
        if self.size is None and side * side != tokens:
            raise InputError(f"relative-position attention: {tokens} tokens a group are not a square window (P = p²)")
        if self.dim is None and dim % self.head_dim:
            raise InputError(f"relative-position attention: head_dim {self.head_dim} must divide the {dim} features")
        return RelativePositionAttention(self.dim if self.dim is not None else dim, self.head_dim, side)

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if self.dim is None or self.size is None:
            return self.sized(shape).analyze(shape, batch=batch, explain=explain, bytes_per_element=bytes_per_element)
        assert self.size is not None
        if len(shape) != 3 or shape[1] != self.size ** 2 or shape[2] != self.dim:
            raise InputError(f"relative-position attention takes G x {self.size ** 2} x {self.dim} token groups; "
                             f"got {'x'.join(map(str, shape))}")
        n = batch or 1
        groups, tokens, d = shape
        projection, matmuls = 4 * groups * tokens * d * d, 2 * groups * tokens * tokens * d
        scores = groups * self.heads * tokens * tokens
        table = (2 * self.size - 1) ** 2 * self.heads
        return LayerReport(
            op="relpos-attention", input=shape, output=shape, params=ParamCount(4 * d * d + 4 * d + table, 0),
            macs=n * (projection + matmuls), batch=n, buffers=tokens * tokens, rf=None,
            other_ops=(("bias adds", n * 4 * groups * tokens * d), ("position bias adds", n * scores),
                       ("softmax exps", n * scores), ("divisions", n * scores)),
            hyper={"heads": self.heads, "head_dim": self.head_dim, "projection_macs": n * projection,
                   "attention_matmul_macs": n * matmuls},
            notes=(f"MACs: Q/K/V/out projections {n * projection:,} + attention matmuls {n * matmuls:,}",),
            bytes_per_element=bytes_per_element)

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """torchvision's names: to_qkv (3D, D) and bias, merge (D, D) and bias, the bias table ((2s−1)², h)."""
        if self.dim is None or self.size is None:
            return self.sized(input_shape).parameter_shapes(input_shape)
        d = self.dim
        # named_parameters order, as torch lists them: the module's own parameter before its submodules'
        return {"relative_position_bias_table": ((2 * self.size - 1) ** 2, self.heads), "to_qkv.weight": (3 * d, d),
                "to_qkv.bias": (3 * d,), "merge.weight": (d, d), "merge.bias": (d,)}

    def buffer_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        side = self.sized(input_shape).size if self.size is None else self.size
        assert side is not None
        return {"relative_position_index": (side ** 2, side ** 2)}

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = merge(softmax(Q (K·D^−1/2)ᵀ + B) V) within each group."""
        import numpy as np

        from convcalc.compute import Forward
        from convcalc.compute.params import as_array, require

        x = as_array(x, "relative-position attention input")
        if x.ndim != 4:
            raise InputError(f"relative-position attention needs a batched (N, G, P, D) input; got {x.ndim}-d")
        if self.dim is None or self.size is None:
            sized = self.sized(x.shape)
            out = sized.forward(x, params, training=training, rng=rng)
            return Forward(out.output, (sized, out.cache))
        self.analyze(x.shape[1:])
        x = x.astype(np.float64) if x.dtype == object else x
        p = require("relative-position attention", params, self.parameter_shapes(x.shape),
                    also=self.buffer_shapes(x.shape))  # the index buffer: recomputed here
        n, g, tokens, d = x.shape
        h, dh = self.heads, self.head_dim
        qkv = x @ p["to_qkv.weight"].T + p["to_qkv.bias"]
        q, k, v = (t.reshape(n, g, tokens, h, dh).transpose(0, 1, 3, 2, 4) for t in np.split(qkv, 3, axis=-1))
        scale = d ** -0.5
        bias = p["relative_position_bias_table"][_relative_index(self.size)].transpose(2, 0, 1)
        scores = q @ (k * scale).swapaxes(-1, -2) + bias
        scores = scores - scores.max(axis=-1, keepdims=True)
        attn = np.exp(scores)
        attn = attn / attn.sum(axis=-1, keepdims=True)
        merged = (attn @ v).transpose(0, 1, 3, 2, 4).reshape(x.shape)
        y = merged @ p["merge.weight"].T + p["merge.bias"]
        return Forward(y, (x, q, k, v, attn, merged, p, scale))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """The chain rule through merge, the two matmuls, the softmax, the bias table and to_qkv."""
        import numpy as np

        from convcalc.compute import Backward

        if self.dim is None or self.size is None:
            sized, inner = cache
            return sized.backward(grad_output, inner)
        assert self.size is not None
        x, q, k, v, attn, merged, p, scale = cache
        n, g, tokens, _d = x.shape
        h, dh = self.heads, self.head_dim
        dy = grad_output
        grads = {"merge.weight": np.einsum("ngpd,ngpe->de", dy, merged), "merge.bias": dy.sum(axis=(0, 1, 2))}
        d_heads = (dy @ p["merge.weight"]).reshape(n, g, tokens, h, dh).transpose(0, 1, 3, 2, 4)
        dv = attn.swapaxes(-1, -2) @ d_heads
        d_attn = d_heads @ v.swapaxes(-1, -2)
        d_scores = attn * (d_attn - (d_attn * attn).sum(axis=-1, keepdims=True))
        table = np.zeros_like(p["relative_position_bias_table"])
        np.add.at(table, _relative_index(self.size), d_scores.sum(axis=(0, 1)).transpose(1, 2, 0))
        grads["relative_position_bias_table"] = table
        dq = d_scores @ (k * scale)
        dk = (d_scores.swapaxes(-1, -2) @ q) * scale
        d_qkv = np.concatenate([t.transpose(0, 1, 3, 2, 4).reshape(x.shape) for t in (dq, dk, dv)], axis=-1)
        grads["to_qkv.weight"] = np.einsum("ngpe,ngpd->ed", d_qkv, x)
        grads["to_qkv.bias"] = d_qkv.sum(axis=(0, 1, 2))
        return Backward(d_qkv @ p["to_qkv.weight"], grads)


_SIZE = Option("size", "count", aliases=("partition_size", "p"), required=True, positional=True)
_GRID = Option("grid", "bool", flag=("grid", True))
DESCRIPTORS = (
    LayerDescriptor("window_partition", "a feature map cut into p×p windows or a p×p grid: (C, H, W) → (G, P, C)",
                    ("Partition",), build=Partition, options=(_SIZE, _GRID), aliases=("partition",),
                    chain_help="partition P [grid]  MaxViT windows (grid): G x P² x C",
                    label=("window-partition", "partition")),
    LayerDescriptor("window_departition", "token groups put back: (G, P, C) → (C, H, W)", ("Departition",),
                    build=Departition,
                    options=(_SIZE, _GRID, Option("height", "count", chain="h"), Option("width", "count", chain="w")),
                    aliases=("departition",),
                    chain_help="departition P [grid] [hH wW]  back to C x H x W (hH wW)",
                    label=("window-departition", "departition")),
    LayerDescriptor("relpos_attention", "multi-head attention within token groups with a relative position bias "
                    "(MaxViT)", ("RelativePositionAttention",), build=RelativePositionAttention,
                    options=(Option("head_dim", "count", positional=True),
                             Option("dim", "count", aliases=("embed_dim",)),
                             Option("size", "count", aliases=("partition_size",), chain="p")),
                    aliases=("relattn", "relative_attention", "rel_attention"),
                    chain_help="relattn [DH]  MaxViT attention, DH=32 a head",
                    label=("relpos-attention", "RelMHSA"), torch=("RelativePositionalMultiHeadAttention",),
                    work={"bias adds": "bias", "position bias adds": "add", "softmax exps": "activation",
                          "divisions": "activation"}),
)


@register_hook("torch", Partition)
def _torch_partition(layer: Partition, nn: Any, shape: tuple) -> Any:
    class PartitionModule(nn.Module):
        def forward(self, x):
            return _cut(x, layer.size, layer.grid)

    return PartitionModule()


@register_hook("torch", Departition)
def _torch_departition(layer: Departition, nn: Any, shape: tuple) -> Any:
    class DepartitionModule(nn.Module):
        def forward(self, x):
            height, width = layer.map_size(x.shape[1])
            return _uncut(x, layer.size, layer.grid, height, width)

    return DepartitionModule()


@register_hook("torch", RelativePositionAttention)
def _torch_relpos_attention(layer: RelativePositionAttention, nn: Any, shape: tuple) -> Any:
    import torch

    layer = layer.sized(shape) if layer.dim is None or layer.size is None else layer
    assert layer.dim is not None and layer.size is not None
    dim, size = layer.dim, layer.size

    class RelativePositionalMultiHeadAttention(nn.Module):  # torchvision's name and attributes
        def __init__(self):
            super().__init__()
            self.head_dim, self.size = layer.head_dim, size  # what the PyTorch importer reads
            self.to_qkv = nn.Linear(dim, 3 * dim)
            self.merge = nn.Linear(dim, dim)
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * size - 1) ** 2, layer.heads))
            self.register_buffer("relative_position_index", torch.as_tensor(_relative_index(size)))

        def forward(self, x):
            n, g, tokens, d = x.shape
            h, dh = layer.heads, layer.head_dim
            q, k, v = (t.reshape(n, g, tokens, h, dh).permute(0, 1, 3, 2, 4) for t in self.to_qkv(x).chunk(3, dim=-1))
            # the index is computed, not read from the buffer: a run's buffers start at zero (it counts them only)
            index = torch.as_tensor(_relative_index(size), device=x.device)
            bias = self.relative_position_bias_table[index].permute(2, 0, 1)
            attn = (q @ (k * d ** -0.5).transpose(-1, -2) + bias).softmax(-1)
            return self.merge((attn @ v).permute(0, 1, 3, 2, 4).reshape(x.shape))

    return RelativePositionalMultiHeadAttention()
