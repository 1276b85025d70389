"""Shifted-window multi-head self-attention with a relative position bias: Swin Transformer's
W-MSA / SW-MSA (Liu et al. 2021) and Swin V2's cosine attention with a continuous position
bias (Liu et al. 2022), as torchvision's ``ShiftedWindowAttention`` (V2) computes them —
written on the channels-first map (C, H, W) the walk uses (torchvision works on (H, W, C);
the arithmetic is the same).

The map is padded at the bottom/right to multiples of the window w, rolled by −shift (SW-MSA),
cut into (H'/w)·(W'/w) windows of N = w² tokens, and each window attends within itself; the
result is put back, rolled by +shift and unpadded. With a shift, tokens that the roll brought
together from opposite edges do not attend to each other (a −100 mask, torchvision's).

Parameters (D = C channels, h heads): qkv (3D·D + 3D), proj (D·D + D), and
* V1: the relative position bias table, (2w−1)²·h;
* V2: the logit scale (h) and the continuous position bias MLP cpb_mlp, Linear(2, 512) with
  bias · ReLU · Linear(512, h) without bias: 2·512 + 512 + 512·h.
Buffers: relative_position_index (N² entries), V2 also relative_coords_table ((2w−1)²·2).
MACs (L = H'·W' tokens): the projections 4·L·D² and the two attention matmuls
QKᵀ and AV, 2·L·N·D (each token attends to the N of its window), labelled apart; V2 adds the
cpb_mlp on its (2w−1)² table entries, (2w−1)²·(2·512 + 512·h), also apart.
Receptive field: an output token reads its window, which lies within w−1 of it on each side:
the walk counts it as a w-window bound, kernel 2w−1, stride 1, centred (an upper bound —
windows are not sliding).

Forward and backward (batched (N, C, H, W), floats): per window as in multi-head attention,
with the bias B added to the scores before the softmax; dB is the sum of the score gradients
scattered back into the table (V1; V2's bias comes from an MLP and its backward is not
written yet).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.engine.report import AxisRF, LayerReport, ParamCount
from convcalc.errors import InputError
from convcalc.layers.descriptor import LayerDescriptor, Option, register_hook

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward

_CPB_HIDDEN = 512  # torchvision's continuous position bias MLP width


def _pad_to(size: int, window: int) -> int:
    return size + (window - size % window) % window


@dataclass(frozen=True)
class WindowAttention:
    """Swin's (shifted) window attention on (dim, H, W): ``window`` w, ``shift`` s (0: W-MSA), ``v2``."""

    dim: int | None = None  # None: the input's channels
    heads: int = 3
    window: int = 7
    shift: int = 0
    v2: bool = False

    name = "window-attention"

    def __post_init__(self) -> None:
        for key in ("dim", "heads", "window"):
            value = getattr(self, key)
            if (value is not None or key != "dim") and (isinstance(value, bool) or not isinstance(value, int)
                                                         or value < 1):
                raise InputError(f"window attention: {{field}} must be a whole number ≥ 1; got {value!r}", field=key,
                                 value=value)
        if self.dim is not None and self.dim % self.heads:
            raise InputError(f"window attention: {self.heads} heads must divide the {self.dim} channels")
        if isinstance(self.shift, bool) or not isinstance(self.shift, int) or not 0 <= self.shift < self.window:
            raise InputError(f"window attention: {{field}} must be 0 to {self.window - 1} (less than the window); "
                             f"got {self.shift!r}", field="shift", value=self.shift)

    def channels(self, input_shape) -> int:
        """D: as given, else the input's channels (C of (C, H, W), or of a batched (N, C, H, W))."""
        return self.dim if self.dim is not None else int(input_shape[-3])

    def _geometry(self, shape) -> tuple[int, int, int, int]:
        shape = tuple(shape)
        if len(shape) != 3:
            raise InputError(f"window attention takes C x H x W; got {'x'.join(map(str, shape))}")
        c, h, w = shape
        if self.dim is not None and c != self.dim:
            raise InputError(f"window attention is sized for {self.dim} channels; its input has {c}")
        if c % self.heads:
            raise InputError(f"window attention: {self.heads} heads must divide the {c} channels")
        hp, wp = _pad_to(h, self.window), _pad_to(w, self.window)
        # torchvision: no shift along an axis the window covers whole
        shift = (0 if self.window >= hp else self.shift, 0 if self.window >= wp else self.shift)
        return hp, wp, shift[0], shift[1]

    def table(self) -> int:
        return (2 * self.window - 1) ** 2

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """torchvision's names: qkv.weight (3D, D), qkv.bias, proj.weight (D, D), proj.bias, and the
        position bias: relative_position_bias_table ((2w−1)², h), or V2's logit_scale and cpb_mlp."""
        d = self.channels(input_shape)
        # named_parameters order, as torch lists them: the module's own parameters before its submodules'
        shapes: dict[str, tuple[int, ...]] = ({"logit_scale": (self.heads, 1, 1)} if self.v2 else
                                              {"relative_position_bias_table": (self.table(), self.heads)})
        shapes.update({"qkv.weight": (3 * d, d), "qkv.bias": (3 * d,), "proj.weight": (d, d), "proj.bias": (d,)})
        if self.v2:
            shapes.update({"cpb_mlp.0.weight": (_CPB_HIDDEN, 2), "cpb_mlp.0.bias": (_CPB_HIDDEN,),
                           "cpb_mlp.2.weight": (self.heads, _CPB_HIDDEN)})
        return shapes

    def buffer_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        n = self.window ** 2
        shapes: dict[str, tuple[int, ...]] = {"relative_position_index": (n * n,)}
        if self.v2:
            shapes["relative_coords_table"] = (1, 2 * self.window - 1, 2 * self.window - 1, 2)
        return shapes

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        hp, wp, _, _ = self._geometry(shape)
        n_batch = batch or 1
        d, tokens, n = shape[0], hp * wp, self.window ** 2
        params = sum(math.prod(s) for s in self.parameter_shapes(shape).values())
        buffers = sum(math.prod(s) for s in self.buffer_shapes(shape).values())
        projection = 4 * tokens * d * d
        matmuls = 2 * tokens * n * d
        cpb = self.table() * (2 * _CPB_HIDDEN + _CPB_HIDDEN * self.heads) if self.v2 else 0
        scores = self.heads * tokens * n
        hyper = {"heads": self.heads, "window": self.window, "shift": self.shift, "v2": self.v2,
                 "projection_macs": n_batch * projection, "attention_matmul_macs": n_batch * matmuls}
        if self.v2:
            hyper["position_bias_macs"] = cpb  # once per forward, whatever the batch
        half = self.window - 1
        return LayerReport(
            op="window-attention", input=tuple(shape), output=tuple(shape), params=ParamCount(params, 0),
            macs=n_batch * (projection + matmuls) + cpb, batch=n_batch, buffers=buffers,
            other_ops=(("bias adds", n_batch * 4 * tokens * d), ("position bias adds", n_batch * scores),
                       ("softmax exps", n_batch * scores), ("divisions", n_batch * scores)),
            rf=(AxisRF(2 * half + 1, 1, half), AxisRF(2 * half + 1, 1, half)), hyper=hyper,
            notes=(f"MACs: Q/K/V/out projections {n_batch * projection:,} + attention matmuls within {self.window}x"
                   f"{self.window} windows {n_batch * matmuls:,}"
                   + (f" + position-bias MLP {cpb:,}" if self.v2 else ""),),
            bytes_per_element=bytes_per_element)

    # --- forward and backward (V1) -------------------------------------------------------------

    def _index(self):
        """relative_position_index: for tokens i, j of a window, the table row of their offset."""
        import numpy as np

        w = self.window
        coords = np.stack(np.meshgrid(np.arange(w), np.arange(w), indexing="ij")).reshape(2, -1)
        rel = coords[:, :, None] - coords[:, None, :] + (w - 1)
        return rel[0] * (2 * w - 1) + rel[1]

    def _mask(self, hp: int, wp: int, sh: int, sw: int):
        """−100 between tokens of one window that the roll brought from different regions."""
        import numpy as np

        w = self.window
        region = np.zeros((hp, wp))
        count = 0
        for rows in ((0, hp - w), (hp - w, hp - sh), (hp - sh, hp)):
            for cols in ((0, wp - w), (wp - w, wp - sw), (wp - sw, wp)):
                region[rows[0]:rows[1], cols[0]:cols[1]] = count
                count += 1
        windows = region.reshape(hp // w, w, wp // w, w).transpose(0, 2, 1, 3).reshape(-1, w * w)
        return np.where(windows[:, None, :] != windows[:, :, None], -100.0, 0.0)

    def _windows(self, x, hp, wp, sh, sw):
        import numpy as np

        n, c, h, w_ = x.shape
        x = np.pad(x, ((0, 0), (0, 0), (0, hp - h), (0, wp - w_)))
        x = np.roll(x, (-sh, -sw), axis=(2, 3))
        w = self.window
        x = x.reshape(n, c, hp // w, w, wp // w, w).transpose(0, 2, 4, 3, 5, 1)
        return x.reshape(n * (hp // w) * (wp // w), w * w, c)

    def _unwindows(self, t, shape, hp, wp, sh, sw):
        import numpy as np

        n, c, h, w_ = shape
        w = self.window
        x = t.reshape(n, hp // w, wp // w, w, w, c).transpose(0, 5, 1, 3, 2, 4).reshape(n, c, hp, wp)
        x = np.roll(x, (sh, sw), axis=(2, 3))
        return x[:, :, :h, :w_]

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = windows⁻¹(proj(softmax(QKᵀ/√d + B + mask) V)) on the rolled, padded map (V1)."""
        import numpy as np

        from convcalc.compute import Forward
        from convcalc.compute.params import as_array, require

        if self.v2:
            raise InputError("Swin V2 window attention is analysed, not run on numbers yet")
        x = as_array(x, "window attention input")
        if x.ndim != 4:
            raise InputError(f"window attention needs a batched (N, C, H, W) input; got {x.ndim}-d")
        x = x.astype(np.float64) if x.dtype == object else x
        hp, wp, sh, sw = self._geometry(x.shape[1:])
        p = require("window attention", params, self.parameter_shapes(x.shape[1:]),
                    also=self.buffer_shapes(x.shape[1:]))  # the index buffer: recomputed here
        tokens = self._windows(x, hp, wp, sh, sw)  # (B·nW, N, C)
        b, n_tok, c = tokens.shape
        d = c // self.heads
        qkv = tokens @ p["qkv.weight"].T + p["qkv.bias"]
        q, k, v = (t.reshape(b, n_tok, self.heads, d).transpose(0, 2, 1, 3) for t in np.split(qkv, 3, axis=-1))
        bias = p["relative_position_bias_table"][self._index()].transpose(2, 0, 1)  # (h, N, N)
        scores = (q @ k.transpose(0, 1, 3, 2)) / math.sqrt(d) + bias
        if sh or sw:
            mask = self._mask(hp, wp, sh, sw)  # (nW, N, N)
            scores = (scores.reshape(-1, mask.shape[0], self.heads, n_tok, n_tok) + mask[None, :, None]).reshape(
                scores.shape)
        scores = scores - scores.max(axis=-1, keepdims=True)
        attn = np.exp(scores)
        attn = attn / attn.sum(axis=-1, keepdims=True)
        merged = (attn @ v).transpose(0, 2, 1, 3).reshape(b, n_tok, c)
        out = merged @ p["proj.weight"].T + p["proj.bias"]
        y = self._unwindows(out, x.shape, hp, wp, sh, sw)
        return Forward(y, (x.shape, tokens, q, k, v, attn, merged, p, (hp, wp, sh, sw)))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """Back through the window reversal, proj, the two matmuls, the softmax, the bias and qkv."""
        import numpy as np

        from convcalc.compute import Backward

        shape, tokens, q, k, v, attn, merged, p, (hp, wp, sh, sw) = cache
        n, c, h, w_ = shape
        dy = np.pad(grad_output, ((0, 0), (0, 0), (0, hp - h), (0, wp - w_)))
        d_out = self._windows(dy, hp, wp, sh, sw)  # the reversal's adjoint: the same partition
        b, n_tok, _ = d_out.shape
        d = c // self.heads
        grads = {"proj.weight": np.einsum("bnd,bne->de", d_out, merged), "proj.bias": d_out.sum(axis=(0, 1))}
        d_heads = (d_out @ p["proj.weight"]).reshape(b, n_tok, self.heads, d).transpose(0, 2, 1, 3)
        dv = attn.transpose(0, 1, 3, 2) @ d_heads
        d_attn = d_heads @ v.transpose(0, 1, 3, 2)
        d_scores = attn * (d_attn - (d_attn * attn).sum(axis=-1, keepdims=True))
        table = np.zeros_like(p["relative_position_bias_table"])
        np.add.at(table, self._index(), d_scores.sum(axis=0).transpose(1, 2, 0))
        grads["relative_position_bias_table"] = table
        d_scores = d_scores / math.sqrt(d)
        dq, dk = d_scores @ k, d_scores.transpose(0, 1, 3, 2) @ q
        d_qkv = np.concatenate([t.transpose(0, 2, 1, 3).reshape(b, n_tok, c) for t in (dq, dk, dv)], axis=-1)
        grads["qkv.weight"] = np.einsum("bne,bnd->ed", d_qkv, tokens)
        grads["qkv.bias"] = d_qkv.sum(axis=(0, 1))
        d_tokens = d_qkv @ p["qkv.weight"]
        dx = self._unwindows(d_tokens, (n, c, hp, wp), hp, wp, sh, sw)  # the partition's adjoint
        return Backward(dx[:, :, :h, :w_], grads)


DESCRIPTORS = (
    LayerDescriptor(
        "window_attention", "Swin's (shifted) window attention with a relative position bias on (C, H, W)",
        ("WindowAttention",), build=WindowAttention,
        options=(Option("heads", "count", aliases=("num_heads", "h"), required=True, positional=True),
                 Option("window", "count", aliases=("window_size", "w"), chain="w"),
                 Option("shift", "int", aliases=("shift_size",), chain="shift"),
                 Option("v2", "bool", flag=("v2", True)),
                 Option("dim", "count", aliases=("embed_dim",))),
        aliases=("wmsa", "window_attn", "shifted_window_attention"),
        chain_help="wmsa H [wW] [shiftS] [v2]  Swin window attention (w7 shift0)",
        label=("window-attention", "W-MSA"), torch=("ShiftedWindowAttention", "ShiftedWindowAttentionV2"),
        work={"bias adds": "bias", "position bias adds": "add", "softmax exps": "activation",
              "divisions": "activation"}),
)


@register_hook("torch", WindowAttention)
def _torch_window_attention(layer: WindowAttention, nn: Any, shape: tuple) -> Any:
    """A torch module with torchvision's parameter and buffer names, computing the same attention
    on (N, C, H, W) (a check of shapes and counts; the numbers are this module's own)."""
    import torch
    import torch.nn.functional as F

    class ShiftedWindowAttention(nn.Module):
        channels_first = True  # torchvision's works on (N, H, W, C); this one on the walk's (N, C, H, W)

        def __init__(self):
            super().__init__()
            d, heads, w = layer.channels(shape), layer.heads, layer.window
            # torchvision's attributes, which the PyTorch importer reads
            self.window_size, self.shift_size, self.num_heads = [w, w], [layer.shift, layer.shift], heads
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            if layer.v2:
                self.register_parameter("logit_scale", nn.Parameter(torch.zeros(heads, 1, 1)))
                self.cpb_mlp = nn.Sequential(nn.Linear(2, _CPB_HIDDEN), nn.ReLU(),
                                             nn.Linear(_CPB_HIDDEN, heads, bias=False))
                self.register_buffer("relative_coords_table", torch.zeros(1, 2 * w - 1, 2 * w - 1, 2))
            else:
                self.relative_position_bias_table = nn.Parameter(torch.zeros(layer.table(), heads))
            self.register_buffer("relative_position_index", torch.as_tensor(layer._index().reshape(-1)))

        def forward(self, x):
            # the sizes are the build's (plain numbers, not read from x): an export then writes them
            # as constants — the legacy ONNX exporter's own shape inference folds the size arithmetic
            # of a whole Swin wrongly (a window's channels written as 49 for 96)
            c, h, w_ = (int(v) for v in shape[-3:])
            hp, wp, sh, sw = layer._geometry((c, h, w_))
            w, heads = layer.window, layer.heads
            x = F.pad(x, (0, wp - w_, 0, hp - h)).roll((-sh, -sw), dims=(2, 3))
            t = x.reshape(-1, c, hp // w, w, wp // w, w).permute(0, 2, 4, 3, 5, 1).reshape(-1, w * w, c)
            if layer.v2:
                table = self.cpb_mlp(self.relative_coords_table).reshape(-1, heads)
            else:
                table = self.relative_position_bias_table
            # the index is computed, not read from the buffer: a run's buffers start at zero (it counts them only)
            index = torch.as_tensor(layer._index().reshape(-1), device=table.device)
            bias = table[index].reshape(w * w, w * w, heads).permute(2, 0, 1)
            q, k, v = self.qkv(t).reshape(-1, w * w, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
            attn = (q @ k.transpose(-2, -1)) / math.sqrt(c // heads) + bias
            if sh or sw:
                mask = torch.as_tensor(layer._mask(hp, wp, sh, sw), dtype=attn.dtype, device=attn.device)
                attn = (attn.reshape(-1, mask.shape[0], heads, w * w, w * w) + mask[None, :, None]).reshape(
                    -1, heads, w * w, w * w)
            out = self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(-1, w * w, c))
            out = out.reshape(-1, hp // w, wp // w, w, w, c).permute(0, 5, 1, 3, 2, 4).reshape(-1, c, hp, wp)
            return out.roll((sh, sw), dims=(2, 3))[:, :, :h, :w_]

    class ShiftedWindowAttentionV2(ShiftedWindowAttention):
        pass

    return ShiftedWindowAttentionV2() if layer.v2 else ShiftedWindowAttention()
