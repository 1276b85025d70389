"""Short constructors for writing networks (the zoo, spec files, inline chains).

    seq(("conv1", conv(64, 7, stride=2, pad=3, bias=False)), ("bn1", bn()), ("relu", relu()))

Unnamed children get their index as name, as in ``nn.Sequential``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from convcalc.layers.conv import Conv, ConvTranspose
from convcalc.layers.dense import Flatten, Linear
from convcalc.layers.elementwise import Activation, Dropout, Identity, PReLU
from convcalc.layers.norm import BatchNorm, GroupNorm, LayerNorm, LocalResponseNorm
from convcalc.layers.pool import AdaptivePool, AvgPool, MaxPool
from convcalc.layers.resample import ChannelShuffle, ShortcutA, Upsample
from convcalc.network.model import Gate, Leaf, Module, Parallel, Residual, Sequential, Side

Child = Any  # a Module, or a (name, Module) pair


def _named(items: Iterable[Child]) -> tuple[tuple[str, Module], ...]:
    named = []
    for index, item in enumerate(items):
        if isinstance(item, tuple):
            name, module = item
        else:
            name, module = str(index), item
        named.append((str(name), module))
    return tuple(named)


def seq(*items: Child, kind: str = "Sequential") -> Sequential:
    return Sequential(_named(items), kind)


def residual(*body: Child, shortcut: Child | None = None, post: Iterable[Child] = (),
             kind: str = "Residual") -> Residual:
    """``post(body(x) + shortcut(x))``; ``shortcut`` None is the identity; a bare module is named 'downsample'."""
    if shortcut is not None and not isinstance(shortcut, tuple):
        shortcut = ("downsample", shortcut)
    post_named = tuple((n, m) for n, m in (p if isinstance(p, tuple) else ("relu", p) for p in post))
    return Residual(Sequential(_named(body), kind), shortcut, post_named, kind)


def parallel(*branches: Child, merge: str = "concat", kind: str = "Parallel") -> Parallel:
    named = tuple((n, m) for n, m in
                  (b if isinstance(b, tuple) else (f"branch{i + 1}", b) for i, b in enumerate(branches)))
    return Parallel(named, merge, kind)


def gate(*items: Child, kind: str = "SqueezeExcitation") -> Gate:
    return Gate(Sequential(_named(items), kind), kind)


def side(*items: Child, kind: str = "Side") -> Side:
    """A side head (an auxiliary classifier): computed and counted; its input flows on unchanged."""
    return Side(Sequential(_named(items), kind), kind)


def conv(out: int, k, stride=1, pad=0, dilation=1, groups=1, bias: bool = True, rank: int = 2,
         padding_mode: str = "zeros") -> Leaf:
    return Leaf(Conv(rank=rank, out_channels=out, kernel_size=k, stride=stride, padding=pad, dilation=dilation,
                     groups=groups, bias=bias, padding_mode=padding_mode))


def conv_t(out: int, k, stride=1, pad=0, output_padding=0, dilation=1, groups=1, bias: bool = True,
           rank: int = 2) -> Leaf:
    return Leaf(ConvTranspose(rank=rank, out_channels=out, kernel_size=k, stride=stride, padding=pad,
                              output_padding=output_padding, dilation=dilation, groups=groups, bias=bias))


def maxpool(k, stride=None, pad=0, dilation=1, ceil_mode: bool = False, rank: int = 2) -> Leaf:
    return Leaf(MaxPool(rank=rank, kernel_size=k, stride=stride, padding=pad, dilation=dilation, ceil_mode=ceil_mode))


def avgpool(k, stride=None, pad=0, ceil_mode: bool = False, count_include_pad: bool = True, rank: int = 2) -> Leaf:
    return Leaf(AvgPool(rank=rank, kernel_size=k, stride=stride, padding=pad, ceil_mode=ceil_mode,
                        count_include_pad=count_include_pad))


def adaptive_avgpool(size, rank: int = 2) -> Leaf:
    return Leaf(AdaptivePool(rank=rank, mode="avg", output_size=size))


def adaptive_maxpool(size, rank: int = 2) -> Leaf:
    return Leaf(AdaptivePool(rank=rank, mode="max", output_size=size))


def global_avgpool(rank: int = 2) -> Leaf:
    return Leaf(AdaptivePool(rank=rank, mode="avg", output_size=(1,), global_=True))


def linear(out: int, bias: bool = True) -> Leaf:
    return Leaf(Linear(out_features=out, bias=bias))


def flatten(start_dim: int = 0, end_dim: int = -1) -> Leaf:
    """Flatten the (C, *spatial) shape; the batch is kept apart, so start_dim 0 here is torch's 1."""
    return Leaf(Flatten(start_dim=start_dim, end_dim=end_dim))


def bn(affine: bool = True, eps: float = 1e-5, momentum: float = 0.1) -> Leaf:
    return Leaf(BatchNorm(affine=affine, eps=eps, momentum=momentum))


def groupnorm(groups: int) -> Leaf:
    return Leaf(GroupNorm(groups=groups))


def layernorm2d(eps: float = 1e-5) -> Leaf:
    return Leaf(LayerNorm(channels_first=True, eps=eps))


def layernorm(dims: int = 1, affine: bool = True) -> Leaf:
    return Leaf(LayerNorm(dims=dims, channels_first=False, affine=affine))


def lrn(size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0) -> Leaf:
    return Leaf(LocalResponseNorm(size=size, alpha=alpha, beta=beta, k=k))


def act(kind: str) -> Leaf:
    return Leaf(Activation(kind))


def relu() -> Leaf:
    return act("relu")


def prelu(num_parameters: int = 1) -> Leaf:
    return Leaf(PReLU(num_parameters))


def dropout(p: float = 0.5, kind: str = "dropout") -> Leaf:
    return Leaf(Dropout(p=p, kind=kind))


def functional(leaf: Leaf, call: str) -> Leaf:
    """The same layer, called as a function in the model's ``forward`` (``F.relu(x)``, ``x.mean([2, 3])``)."""
    from convcalc.network.model import FUNCTIONAL_CALLS

    if call not in FUNCTIONAL_CALLS:
        raise ValueError(f"unknown functional call {call!r}")
    return Leaf(leaf.layer, call)


def identity() -> Leaf:
    return Leaf(Identity())


def upsample(scale: int = 2, mode: str = "nearest") -> Leaf:
    return Leaf(Upsample(scale=scale, mode=mode))


def channel_shuffle(groups: int) -> Leaf:
    return Leaf(ChannelShuffle(groups=groups))


def shortcut_a(out_channels: int, stride: int = 2) -> Leaf:
    return Leaf(ShortcutA(out_channels=out_channels, stride=stride))
