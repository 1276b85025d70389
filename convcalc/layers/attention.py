"""Token layers of the vision transformers (torchvision's ViT): a patch grid read as a token
sequence, the class token, the position embedding, one token picked out, and multi-head
self-attention (``nn.MultiheadAttention(D, h, batch_first=True)`` applied to (x, x, x)).

Shapes leave the batch out, as everywhere: a token sequence is (L, D) — L tokens of D features.
Sizes left out (``dim``, ``length``) are read from the input, as ``nn.LazyLinear`` would.

* Tokens: (C, H, W) → (H·W, C), ``x.reshape(n, C, H·W).permute(0, 2, 1)``; no parameters.
  ViT's patch embedding is a strided conv (``conv_proj``: k = s = patch size) followed by it.
* PatchEmbedding(D, p): both in one layer, timm's ``PatchEmbed``: (C, H, W) → (H·W/p², D),
  H and W multiples of p (torchvision's ViT and timm refuse other sizes). Parameters, MACs and
  receptive field are the conv's (:class:`convcalc.layers.conv.Conv`, k = s = p): D·C·p² + D,
  (H·W/p²)·D·C·p² MACs; each token reads its p×p patch.
* ClassToken: (L, D) → (L + 1, D), a learned D-vector put in front; D parameters.
* PositionEmbedding: (L, D) → (L, D), y = x + E with E learned (L·D parameters); L·D adds.
* TokenSelect: (L, D) → (D,), ``x[:, index]`` (ViT reads the class token, index 0).
* MultiheadSelfAttention: (L, D) → (L, D), D divisible by h, head width d = D/h.
  Parameters: in_proj (3D × D + 3D) and out_proj (D × D + D): 4D² + 4D.
  MACs, labelled apart: the projections, 3·L·D² (Q, K, V) + L·D² (out) = 4·L·D², and the two
  attention matmuls, Q·Kᵀ (L·L·d per head) and A·V (L·L·d per head): 2·L²·D.
  ``macs`` is their sum, as torchvision's published GFLOPS count both (ViT-B/16: 17.564 G);
  a tool that only sees nn.Linear/Conv modules (thop's rules) leaves the attention matmuls
  out. Other work: the 1/√d scaling (h·L² multiplies), the softmax (h·L² exponentials and
  divisions) and the projection biases (4·L·D adds).
  Receptive field: every output token reads every input token — after global attention the
  receptive field is the whole input (the report says so, ``reads_whole_input``; the walk
  shows "all"). The token layers before it keep each token's field: a patch token reads its
  patch (the class token and the position embedding read no pixels).

Forward and backward (batched (N, L, D), floats): Q = xW_qᵀ + b_q (likewise K, V), per head
A = softmax(QKᵀ/√d), O = AV, y = O W_oᵀ + b_o. Backward: dO = dy W_o, dV = Aᵀ dO,
dA = dO Vᵀ, dS = A ⊙ (dA − Σ_j dA ⊙ A) / √d, dQ = dS K, dK = dSᵀ Q, dx = dQ W_q + dK W_k + dV W_v.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.dims import product
from convcalc.engine.report import AxisRF, LayerReport, ParamCount
from convcalc.errors import InputError
from convcalc.layers import base
from convcalc.layers.descriptor import BIAS, LayerDescriptor, Option, register_hook

if TYPE_CHECKING:
    import numpy as np

    from convcalc.compute import Backward, Forward


def _tokens(shape, op: str) -> tuple[int, int]:
    shape = tuple(shape)
    if len(shape) != 2:
        raise InputError(f"{op} takes a token sequence L x D (tokens x features); got {'x'.join(map(str, shape))}")
    return shape[0], shape[1]


def _whole(value, op: str, key: str) -> None:
    """A size given to a layer (None: read from its input) is a whole number ≥ 1."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InputError(f"{op}: {{field}} must be a whole number ≥ 1; got {value!r}", field=key, value=value)


def _batched(x, op: str):
    from convcalc.compute.params import as_array

    x = as_array(x, f"{op} input")
    if x.ndim != 3:
        raise InputError(f"{op} needs a batched (N, L, D) input; got {x.ndim}-d")
    return x


@dataclass(frozen=True)
class Tokens(base.NoParameters):
    """A feature map (C, *spatial) read as tokens (prod(spatial), C): flatten, then transpose."""

    name = "tokens"

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if len(shape) < 2:
            raise InputError(f"tokens takes a feature map C x H x W; got {'x'.join(map(str, shape))}")
        out = (product(shape[1:]), shape[0])
        # a token is the pixel it was: the field of each position goes on unchanged
        return LayerReport(op="tokens", input=shape, output=out, params=ParamCount(), macs=0, batch=batch or 1,
                           rf=tuple(AxisRF(1, 1, 0) for _ in shape[1:]), bytes_per_element=bytes_per_element)

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y[n, p, c] = x[n, c, p] with p the flattened spatial position."""
        from convcalc.compute import Forward
        from convcalc.compute.params import as_array

        x = as_array(x, "tokens input")
        n, c = x.shape[:2]
        return Forward(x.reshape(n, c, -1).transpose(0, 2, 1), x.shape)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx is dy transposed back and reshaped to the feature map."""
        from convcalc.compute import Backward

        return Backward(grad_output.transpose(0, 2, 1).reshape(cache))


@dataclass(frozen=True)
class PatchEmbedding(base.NoBuffers):
    """ViT's patch embedding as one layer (timm's ``PatchEmbed``): a conv of ``dim`` filters with
    kernel = stride = ``patch``, its output grid read as tokens: (C, H, W) → (H·W/p², D)."""

    dim: int = 768
    patch: int = 16
    bias: bool = True

    name = "patch-embed"

    def __post_init__(self) -> None:
        _whole(self.dim, "patch embedding", "dim")
        _whole(self.patch, "patch embedding", "patch")

    def conv(self, rank: int):
        """The conv it is (torchvision's ``conv_proj``): its shape rule, counts and field are this layer's."""
        from convcalc.layers.conv import Conv

        return Conv(rank=rank, out_channels=self.dim, kernel_size=(self.patch,) * rank, stride=(self.patch,) * rank,
                    bias=self.bias)

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        shape = tuple(shape)
        if len(shape) < 2:
            raise InputError(f"patch embedding takes a feature map C x H x W; got {'x'.join(map(str, shape))}")
        for axis, size in zip("HWD", shape[1:]):
            if isinstance(size, int) and size % self.patch:
                raise InputError(f"patch embedding: {axis} = {size} is not a multiple of the patch size {self.patch} "
                                 "(torchvision's ViT and timm's PatchEmbed refuse it; crop or pad the input first)")
        conv = self.conv(len(shape) - 1).analyze(shape, batch=batch, bytes_per_element=bytes_per_element)
        grid = conv.output[1:]
        return LayerReport(op="patch-embed", input=shape, output=(product(grid), self.dim), params=conv.params,
                           macs=conv.macs, batch=conv.batch, other_ops=conv.other_ops, rf=conv.rf,
                           hyper={"patch": self.patch, "dim": self.dim, "grid": "x".join(map(str, grid))},
                           notes=(f"a {self.patch}x{self.patch} stride-{self.patch} conv of {self.dim} filters, its "
                                  f"{'x'.join(map(str, grid))} grid read as {product(grid)} tokens",),
                           bytes_per_element=bytes_per_element)

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """The conv's: weight (D, C, p, p) and bias (D,), PyTorch's names."""
        return self.conv(len(input_shape) - 2).parameter_shapes(input_shape)

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y[n, t, d] = conv(x)[n, d, t] with t the flattened grid position."""
        from convcalc.compute import Forward
        from convcalc.compute.params import as_array

        x = as_array(x, "patch embedding input")
        if x.ndim < 3:
            raise InputError(f"patch embedding needs a batched (N, C, H, W) input; got {x.ndim}-d")
        self.analyze(x.shape[1:])
        conv = self.conv(x.ndim - 2)
        out = conv.forward(x, params, training=training, rng=rng)
        y = out.output
        return Forward(y.reshape(y.shape[0], y.shape[1], -1).transpose(0, 2, 1), (conv, out.cache, y.shape))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """The conv's backward of dy transposed back to its grid."""
        conv, conv_cache, shape = cache
        return conv.backward(grad_output.transpose(0, 2, 1).reshape(shape), conv_cache)


def _check_dim(dim: int, expected: int | None, op: str, what: str = "features") -> None:
    """``expected`` None: the layer was given no size and takes the input's."""
    if expected is not None and dim != expected:
        raise InputError(f"{op} is sized for {expected} {what}; its input has {dim}")


@dataclass(frozen=True)
class ClassToken(base.NoBuffers):
    """A learned class token of ``dim`` features put in front of the sequence: (L, D) → (L + 1, D)."""

    dim: int | None = None

    name = "class-token"

    def __post_init__(self) -> None:
        _whole(self.dim, "class token", "dim")

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        length, dim = _tokens(shape, "class token")
        _check_dim(dim, self.dim, "the class token")
        # the L tokens behind it keep their fields (one axis here: the walk keeps its own)
        return LayerReport(op="class-token", input=tuple(shape), output=(length + 1, dim), params=ParamCount(dim, 0),
                           macs=0, batch=batch or 1, rf=(AxisRF(1, 1, 0),), bytes_per_element=bytes_per_element)

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``class_token`` (1, 1, D), torchvision's shape."""
        return {"class_token": (1, 1, input_shape[-1])}

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = [t; x_1; …; x_L] with the same token t for every sample."""
        import numpy as np

        from convcalc.compute import Forward
        from convcalc.compute.params import require

        x = _batched(x, "class token")
        token = require("class token", params, self.parameter_shapes(x.shape))["class_token"]
        return Forward(np.concatenate([np.broadcast_to(token, (x.shape[0], 1, x.shape[2])), x], axis=1), None)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = dy without its first token; d(class_token) = Σ over the batch of dy's first token."""
        from convcalc.compute import Backward

        return Backward(grad_output[:, 1:], {"class_token": grad_output[:, :1].sum(axis=0, keepdims=True)})


@dataclass(frozen=True)
class PositionEmbedding(base.NoBuffers):
    """A learned position embedding added to the tokens: y = x + E, E of shape (1, L, D)."""

    length: int | None = None
    dim: int | None = None

    name = "position-embedding"

    def __post_init__(self) -> None:
        _whole(self.length, "position embedding", "length")
        _whole(self.dim, "position embedding", "dim")

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        length, dim = _tokens(shape, "position embedding")
        _check_dim(length, self.length, "the position embedding", "tokens (the input size it was made for)")
        _check_dim(dim, self.dim, "the position embedding")
        n = batch or 1
        return LayerReport(op="position-embedding", input=tuple(shape), output=tuple(shape),
                           params=ParamCount(length * dim, 0), macs=0, batch=n, other_ops=(("adds", n * length * dim),),
                           rf=None, bytes_per_element=bytes_per_element)

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``pos_embedding`` (1, L, D), torchvision's shape."""
        return {"pos_embedding": (1,) + tuple(input_shape[-2:])}

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = x + E."""
        from convcalc.compute import Forward
        from convcalc.compute.params import require

        x = _batched(x, "position embedding")
        embedding = require("position embedding", params, self.parameter_shapes(x.shape))["pos_embedding"]
        return Forward(x + embedding, None)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx = dy; dE = Σ dy over the batch."""
        from convcalc.compute import Backward

        return Backward(grad_output, {"pos_embedding": grad_output.sum(axis=0, keepdims=True)})


@dataclass(frozen=True)
class TokenSelect(base.NoParameters):
    """One token of the sequence: (L, D) → (D,), ``x[:, index]``."""

    index: int = 0

    name = "token-select"

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise InputError(f"token select: {{field}} must be a whole number; got {self.index!r}", field="index",
                             value=self.index)

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        length, dim = _tokens(shape, "token select")
        if not -length <= self.index < length:
            raise InputError(f"token select: index {self.index} is outside the {length} tokens")
        return LayerReport(op="token-select", input=tuple(shape), output=(dim,), params=ParamCount(), macs=0,
                           batch=batch or 1, rf=None, hyper={"index": self.index}, bytes_per_element=bytes_per_element)

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = x[:, index]."""
        from convcalc.compute import Forward

        x = _batched(x, "token select")
        return Forward(x[:, self.index], x.shape)

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """dx is dy in the selected token, zero elsewhere."""
        import numpy as np

        from convcalc.compute import Backward

        dx = np.zeros(cache, dtype=grad_output.dtype)
        dx[:, self.index] = grad_output
        return Backward(dx)


@dataclass(frozen=True)
class MultiheadSelfAttention(base.NoBuffers):
    """``nn.MultiheadAttention(dim, heads, batch_first=True)`` called as attention(x, x, x) on (L, dim)."""

    dim: int | None = None
    heads: int = 1
    dropout: float = 0.0

    name = "self-attention"

    def __post_init__(self) -> None:
        if isinstance(self.heads, bool) or not isinstance(self.heads, int) or self.heads < 1:
            raise InputError(f"self-attention: {{field}} must be a whole number ≥ 1; got {self.heads!r}", field="heads",
                             value=self.heads)
        _whole(self.dim, "self-attention", "dim")

    def analyze(self, shape, *, batch=None, explain=False, bytes_per_element=4) -> LayerReport:
        length, dim = _tokens(shape, "self-attention")
        _check_dim(dim, self.dim, "self-attention")
        if dim % self.heads:
            raise InputError(f"self-attention: {self.heads} heads must divide the {dim} features")
        n = batch or 1
        projection = 4 * length * dim * dim
        matmuls = 2 * length * length * dim
        scores = self.heads * length * length
        return LayerReport(
            op="self-attention", input=tuple(shape), output=tuple(shape), params=ParamCount(4 * dim * dim + 4 * dim, 0),
            macs=n * (projection + matmuls), batch=n, rf=None, reads_whole_input=True,
            other_ops=(("bias adds", n * 4 * length * dim), ("scale mults", n * scores), ("softmax exps", n * scores),
                       ("divisions", n * scores)),
            hyper={"heads": self.heads, "head_dim": dim // self.heads, "projection_macs": n * projection,
                   "attention_matmul_macs": n * matmuls},
            notes=(f"MACs: Q/K/V/out projections {n * projection:,} + attention matmuls QKᵀ and AV {n * matmuls:,}; "
                   "receptive field: the whole input (global attention)",),
            bytes_per_element=bytes_per_element)

    def parameter_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """torch's names: in_proj_weight (3D, D), in_proj_bias (3D,), out_proj.weight (D, D), out_proj.bias (D,)."""
        dim = input_shape[-1]
        return {"in_proj_weight": (3 * dim, dim), "in_proj_bias": (3 * dim,), "out_proj.weight": (dim, dim),
                "out_proj.bias": (dim,)}

    def _split(self, t: np.ndarray) -> np.ndarray:  # (N, L, D) → (N, h, L, d)
        n, length, dim = t.shape
        return t.reshape(n, length, self.heads, dim // self.heads).transpose(0, 2, 1, 3)

    def forward(self, x: np.ndarray, params: Mapping[str, Any] | None = None, *, training: bool = True,
                rng: Any = None) -> Forward:
        """y = concat_h(softmax(Q_h K_hᵀ/√d) V_h) W_oᵀ + b_o, dropout on the attention weights off."""
        import numpy as np

        from convcalc.compute import Forward
        from convcalc.compute.params import require

        x = _batched(x, "self-attention")
        self.analyze(x.shape[1:])
        p = require("self-attention", params, self.parameter_shapes(x.shape))
        x = x.astype(np.float64) if x.dtype == object else x
        w_in, b_in = p["in_proj_weight"], p["in_proj_bias"]
        q, k, v = (self._split(t) for t in np.split(x @ w_in.T + b_in, 3, axis=-1))
        scale = 1.0 / math.sqrt(x.shape[-1] // self.heads)
        scores = (q @ k.transpose(0, 1, 3, 2)) * scale
        scores = scores - scores.max(axis=-1, keepdims=True)
        attn = np.exp(scores)
        attn = attn / attn.sum(axis=-1, keepdims=True)
        heads = attn @ v
        merged = heads.transpose(0, 2, 1, 3).reshape(x.shape)
        y = merged @ p["out_proj.weight"].T + p["out_proj.bias"]
        return Forward(y, (x, q, k, v, attn, merged, p, scale))

    def backward(self, grad_output: np.ndarray, cache: Any) -> Backward:
        """The chain rule through out_proj, the two matmuls, the softmax and in_proj (module docstring)."""
        import numpy as np

        from convcalc.compute import Backward

        x, q, k, v, attn, merged, p, scale = cache
        dy = grad_output
        grads = {"out_proj.weight": np.einsum("nld,nle->de", dy, merged), "out_proj.bias": dy.sum(axis=(0, 1))}
        d_heads = self._split(dy @ p["out_proj.weight"])
        dv = attn.transpose(0, 1, 3, 2) @ d_heads
        d_attn = d_heads @ v.transpose(0, 1, 3, 2)
        d_scores = attn * (d_attn - (d_attn * attn).sum(axis=-1, keepdims=True)) * scale
        dq = d_scores @ k
        dk = d_scores.transpose(0, 1, 3, 2) @ q
        n, length, dim = x.shape
        d_proj = np.concatenate([t.transpose(0, 2, 1, 3).reshape(n, length, dim) for t in (dq, dk, dv)], axis=-1)
        grads["in_proj_weight"] = np.einsum("nle,nld->ed", d_proj, x)
        grads["in_proj_bias"] = d_proj.sum(axis=(0, 1))
        return Backward(d_proj @ p["in_proj_weight"], grads)


# --- descriptors: spec types, chain words (timm's and torchvision's names as aliases) --------------

_DIM = Option("dim", "count", aliases=("embed_dim", "hidden_dim"))  # left out: the input's D
_ATTENTION_WORK = {"bias adds": "bias", "scale mults": "other", "softmax exps": "activation", "divisions": "activation"}

DESCRIPTORS = (
    LayerDescriptor("tokens", "a feature map read as a token sequence: (C, H, W) → (H·W, C)", ("Tokens",),
                    build=Tokens, aliases=("to_tokens",), chain_help="tokens", label=("tokens", "tokens")),
    LayerDescriptor(
        "patch_embed", "ViT's patch embedding: a p×p stride-p conv of D filters read as tokens, (C, H, W) → "
        "(H·W/p², D)", ("PatchEmbedding",), build=PatchEmbedding,
        options=(Option("dim", "count", aliases=("out", "embed_dim", "hidden_dim", "out_channels"), required=True,
                        positional=True),
                 Option("patch", "count", aliases=("patch_size",), required=True, chain="p"), BIAS),
        aliases=("patch", "patch_embedding", "patchembed"),
        chain_help="patch D pP [nobias]  ViT patches → L x D tokens",
        label=("patch-embed", "patch"), work={"bias adds": "bias"}),
    LayerDescriptor("class_token", "a learned class token put first: (L, D) → (L + 1, D), D parameters",
                    ("ClassToken",), build=ClassToken, options=(_DIM,), aliases=("cls", "cls_token"), chain_help="cls",
                    label=("class-token", "cls tok")),
    LayerDescriptor("position_embedding", "a learned position embedding added: (L, D), L·D parameters",
                    ("PositionEmbedding",), build=PositionEmbedding,
                    options=(Option("length", "count", aliases=("seq_length", "num_tokens")), _DIM),
                    aliases=("pos", "pos_embed", "pos_embedding"), chain_help="pos",
                    label=("position-embedding", "pos emb"), work={"adds": "add"}),
    LayerDescriptor("token_select", "one token of the sequence: (L, D) → (D,)", ("TokenSelect",), build=TokenSelect,
                    options=(Option("index", "int", positional=True),), aliases=("token", "select_token"),
                    chain_help="token [I]", label=("token-select", "token"), onnx=("Gather",)),
    LayerDescriptor(
        "self_attention", "multi-head self-attention on (L, D): 4D²+4D parameters, 4LD² projection + "
        "2L²D attention-matmul MACs", ("MultiheadSelfAttention",), build=MultiheadSelfAttention,
        options=(Option("heads", "count", aliases=("num_heads", "h"), required=True, positional=True), _DIM,
                 Option("dropout", "prob", aliases=("attention_dropout",))),
        aliases=("mhsa", "msa", "attention", "multihead_attention", "multiheadattention"),
        chain_help="mhsa H  self-attention, H heads, on L x D",
        label=("self-attention", "MHSA"), work=_ATTENTION_WORK, torch=("MultiheadAttention",)),
)


# --- torch modules (built lazily by --verify) ---------------------------------------------------------

@register_hook("torch", Tokens)
def _torch_tokens(layer: Tokens, nn: Any, shape: tuple) -> Any:
    class ToTokens(nn.Module):
        def forward(self, x):
            return x.flatten(2).transpose(1, 2)

    return ToTokens()


@register_hook("torch", PatchEmbedding)
def _torch_patch_embedding(layer: PatchEmbedding, nn: Any, shape: tuple) -> Any:
    conv_class = getattr(nn, f"Conv{len(shape) - 1}d")

    def forward(self, x):
        return conv_class.forward(self, x).flatten(2).transpose(1, 2)

    # a subclass of the conv: its parameters keep the conv's names (weight, bias)
    patch_embed = type("PatchEmbed", (conv_class,), {"forward": forward})
    return patch_embed(shape[0], layer.dim, layer.patch, stride=layer.patch, bias=layer.bias)


@register_hook("torch", ClassToken)
def _torch_class_token(layer: ClassToken, nn: Any, shape: tuple) -> Any:
    import torch

    class ClassTokenModule(nn.Module):
        def __init__(self):
            super().__init__()
            self.class_token = nn.Parameter(torch.zeros(1, 1, shape[-1]))

        def forward(self, x):
            return torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)

    return ClassTokenModule()


@register_hook("torch", PositionEmbedding)
def _torch_position_embedding(layer: PositionEmbedding, nn: Any, shape: tuple) -> Any:
    import torch

    class PositionEmbeddingModule(nn.Module):
        def __init__(self):
            super().__init__()
            self.pos_embedding = nn.Parameter(torch.zeros(1, *shape[-2:]))

        def forward(self, x):
            return x + self.pos_embedding

    return PositionEmbeddingModule()


@register_hook("torch", TokenSelect)
def _torch_token_select(layer: TokenSelect, nn: Any, shape: tuple) -> Any:
    class Select(nn.Module):
        def forward(self, x):
            return x[:, layer.index]

    return Select()


@register_hook("torch", MultiheadSelfAttention)
def _torch_self_attention(layer: MultiheadSelfAttention, nn: Any, shape: tuple) -> Any:
    class SelfAttention(nn.MultiheadAttention):
        def forward(self, x):  # torchvision's EncoderBlock: self_attention(x, x, x, need_weights=False)[0]
            return super().forward(x, x, x, need_weights=False)[0]

    return SelfAttention(shape[-1], layer.heads, dropout=layer.dropout, batch_first=True)
