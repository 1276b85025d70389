"""``--verify``: build the same network in ``torch.nn`` from OUR module tree (never torchvision),
run one forward pass on zeros (batch 1, ``torch.no_grad()``) with hooks on every leaf, and
compare each leaf's output shape, parameter count and buffer count with the walk.

torch is imported only here, and only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from convcalc.errors import InputError
from convcalc.layers.descriptor import find_hook
from convcalc.network.model import Gate, Leaf, Module, Network, Parallel, Residual, Sequential, Side
from convcalc.network.walk import NetworkReport


@dataclass(frozen=True)
class VerifyResult:
    network: str
    checked: int
    mismatches: tuple[str, ...] = field(default_factory=tuple)
    torch_version: str = ""

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def summary(self) -> str:
        if self.ok:
            return f"{self.checked} layers agree with torch {self.torch_version} (output shape, parameters, buffers)"
        return f"{len(self.mismatches)} of {self.checked} layers differ from torch {self.torch_version}"

    def text(self) -> str:
        lines = [f"verify: {'OK' if self.ok else 'MISMATCH'} — {self.summary}"]
        lines += [f"  {m}" for m in self.mismatches]
        return "\n".join(lines)


_NO_TORCH = "--verify needs PyTorch, which is not installed (pip install torch); everything else works without it"


def require_torch() -> None:
    """Refuse ``--verify`` at once when torch is not installed (without importing it)."""
    from importlib.util import find_spec

    if find_spec("torch") is None:
        raise InputError(_NO_TORCH)


def _torch():
    try:
        import torch
        from torch import nn
    except ImportError:
        raise InputError(_NO_TORCH) from None
    return torch, nn


def build_torch(network: Network, input_shape: tuple | None = None, code: str = "torchvision"):
    """The ``torch.nn.Module`` for ``network`` (leaf names match the walk's row names).

    ``code="torchvision"``: a leaf the model's forward calls as a function (``Leaf.functional``) is a
    function call here too, inside a small module of no ``torch.nn`` type (so hook-based tools see
    it as torchvision's code makes them see it); ``code="modules"``: every leaf an ``nn.Module``."""
    torch, nn = _torch()
    shape = tuple(input_shape or network.input)
    module, _ = _build(network.body, shape, nn, torch, code == "torchvision")
    return module


def _build(module: Module, shape: tuple, nn, torch, calls: bool = True) -> tuple[Any, tuple]:
    if isinstance(module, Leaf):
        built, out = _leaf(module.layer, shape, nn, torch)
        if calls and module.functional:
            return _FunctionalCall(nn, module.functional, built), out
        return built, out
    if isinstance(module, Sequential):
        built = []
        for name, child in module.children:
            m, shape = _build(child, shape, nn, torch, calls)
            built.append((name, m))
        return _Seq(nn, built), shape
    if isinstance(module, Residual):
        body, out = _build(module.body, shape, nn, torch, calls)
        short = None
        if module.shortcut is not None:
            short = (module.shortcut[0], _build(module.shortcut[1], shape, nn, torch, calls)[0])
        post = []
        for name, child in module.post:
            m, out = _build(child, out, nn, torch, calls)
            post.append((name, m))
        return _Residual(nn, body, short, post), out
    if isinstance(module, Parallel):
        branches, outs = [], []
        for name, child in module.branches:
            m, out = _build(child, shape, nn, torch, calls)
            branches.append((name, m))
            outs.append(out)
        out = (sum(o[0] for o in outs),) + tuple(outs[0][1:]) if module.merge == "concat" else outs[0]
        return _Parallel(nn, branches, module.merge), out
    if isinstance(module, Gate):
        gate, _ = _build(module.gate, shape, nn, torch, calls)
        return _Gate(nn, gate), shape
    if isinstance(module, Side):
        head, _ = _build(module.head, shape, nn, torch)
        return _Side(nn, head), shape
    raise TypeError(f"not a module: {module!r}")


def _leaf(layer, shape, nn, torch):
    """One of our layers as the torch.nn layer with the same hyper-parameters."""
    from convcalc.layers import conv, dense, elementwise, norm, pool, resample

    report = layer.analyze(shape, batch=1)
    out = report.output
    hyper = report.hyper
    rank = len(shape) - 1
    c_in = shape[0]
    if isinstance(layer, conv.Conv | conv.ConvTranspose):
        pads = [tuple(p) for p in hyper["padding"]]
        symmetric = all(a == b for a, b in pads)
        cls = getattr(nn, f"Conv{rank}d" if isinstance(layer, conv.Conv) else f"ConvTranspose{rank}d")
        kwargs = dict(kernel_size=tuple(layer.kernel_size), stride=tuple(layer.stride), dilation=tuple(layer.dilation),
                      groups=hyper["groups"], bias=layer.bias)
        if isinstance(layer, conv.ConvTranspose):
            if not symmetric:
                raise InputError("--verify: asymmetric padding on a transposed conv has no torch.nn equivalent")
            m = cls(c_in, hyper["out_channels"], padding=tuple(a for a, _ in pads),
                    output_padding=tuple(layer.output_padding), **kwargs)
        elif symmetric:
            m = cls(c_in, hyper["out_channels"], padding=tuple(a for a, _ in pads), padding_mode=layer.padding_mode, **kwargs)
        else:
            m = _Padded(nn, pads, cls(c_in, hyper["out_channels"], padding=0, **kwargs))
        return m, out
    if isinstance(layer, pool.MaxPool | pool.AvgPool):
        pads = [tuple(p) for p in hyper["padding"]]
        if any(a != b for a, b in pads):
            raise InputError("--verify: asymmetric pooling padding has no torch.nn equivalent")
        common = dict(kernel_size=tuple(layer.kernel_size), stride=tuple(layer.stride), padding=tuple(a for a, _ in pads),
                      ceil_mode=layer.ceil_mode)
        if isinstance(layer, pool.MaxPool):
            return getattr(nn, f"MaxPool{rank}d")(dilation=tuple(layer.dilation), **common), out
        return getattr(nn, f"AvgPool{rank}d")(count_include_pad=layer.count_include_pad, **common), out
    if isinstance(layer, pool.AdaptivePool):
        cls = getattr(nn, f"Adaptive{'Avg' if layer.mode == 'avg' else 'Max'}Pool{rank}d")
        return cls(tuple(layer.output_size) if not layer.global_ else 1), out
    if isinstance(layer, dense.Linear):
        return nn.Linear(shape[-1], layer.out_features, bias=layer.bias), out
    if isinstance(layer, dense.Flatten):
        # Our shapes leave the batch out: torch's dims are ours + 1 (negative ones are the same).
        start = layer.start_dim + 1 if layer.start_dim >= 0 else layer.start_dim
        end = layer.end_dim + 1 if layer.end_dim >= 0 else layer.end_dim
        return nn.Flatten(start, end), out
    if isinstance(layer, norm.BatchNorm):
        return getattr(nn, f"BatchNorm{max(rank, 1)}d")(c_in, eps=layer.eps, momentum=layer.momentum, affine=layer.affine,
                                                        track_running_stats=layer.track_running_stats).eval(), out
    if isinstance(layer, norm.GroupNorm):
        return nn.GroupNorm(layer.groups, c_in, eps=layer.eps, affine=layer.affine), out
    if isinstance(layer, norm.LayerNorm):
        if layer.channels_first:
            return _ChannelsFirstLayerNorm(nn, c_in, layer.eps), out
        return nn.LayerNorm(tuple(hyper["normalized_shape"]), eps=layer.eps), out
    if isinstance(layer, norm.LocalResponseNorm):
        return nn.LocalResponseNorm(layer.size, layer.alpha, layer.beta, layer.k), out
    if isinstance(layer, elementwise.Activation):
        table = {"relu": nn.ReLU, "relu6": nn.ReLU6, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU,
                 "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "silu": nn.SiLU, "hardswish": nn.Hardswish,
                 "hardsigmoid": nn.Hardsigmoid, "mish": nn.Mish, "softplus": nn.Softplus}
        if layer.kind in ("softmax", "log_softmax"):
            return (nn.Softmax(dim=1) if layer.kind == "softmax" else nn.LogSoftmax(dim=1)), out
        if layer.kind == "leaky_relu" and layer.negative_slope is not None:
            return nn.LeakyReLU(layer.negative_slope), out
        return table[layer.kind](), out
    if isinstance(layer, elementwise.PReLU):
        return nn.PReLU(layer.num_parameters), out
    if isinstance(layer, elementwise.Dropout):
        cls = {"dropout": nn.Dropout, "dropout2d": nn.Dropout2d, "dropout3d": nn.Dropout3d, "dropout1d": nn.Dropout1d}
        return cls.get(layer.kind, nn.Dropout)(layer.p), out
    if isinstance(layer, elementwise.Identity):
        return nn.Identity(), out
    if isinstance(layer, resample.Upsample):
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[rank] if layer.mode in ("linear", "bilinear", "trilinear") else layer.mode
        return nn.Upsample(scale_factor=layer.scale, mode=mode), out
    if isinstance(layer, resample.ChannelShuffle):
        return nn.ChannelShuffle(layer.groups), out
    if isinstance(layer, resample.ShortcutA):
        return _ShortcutA(nn, layer.out_channels, layer.stride), out
    hook = find_hook("torch", layer)
    if hook is not None:
        return hook(layer, nn), out
    kind = type(layer).__name__
    if kind == "ChannelChunk":
        return _ChannelChunk(nn, layer.chunks, layer.index), out
    if kind == "LayerScale":
        return _LayerScale(nn, c_in, rank, layer.init), out
    raise InputError(f"--verify cannot build {kind} in torch.nn yet")


# Small torch modules, created on first use (torch is imported lazily).

def _add(nn, parent, dotted: str, child) -> None:
    """Register ``child`` under a possibly dotted name (a zoo may name a child ``0.shuffle``); an
    unnamed child ("") registers its own children in ``parent``, as the walk names them."""
    if not dotted:
        for name, grand in child.named_children():
            parent.add_module(name, grand)
        return
    *path, last = dotted.split(".")
    for part in path:
        holder = parent._modules.get(part)
        if holder is None:
            holder = nn.Module()
            parent.add_module(part, holder)
        parent = holder
    parent.add_module(last, child)


def _Seq(nn: Any, items):
    class Seq(nn.Module):
        def forward(self, x):
            for child in self._order:
                x = child(x)
            return x

    m = Seq()
    for name, child in items:
        _add(nn, m, name, child)
    object.__setattr__(m, "_order", [child for _, child in items])
    return m


def _Residual(nn: Any, body, shortcut, post):
    class Residual(nn.Module):
        def forward(self, x):
            out = self._body(x)
            out = out + (self._short(x) if self._short is not None else x)
            for m in self._post:
                out = m(out)
            return out

    m = Residual()
    # Body children live in the block's own namespace, as in torchvision's BasicBlock.
    for name, child in body.named_children():
        m.add_module(name, child)
    object.__setattr__(m, "_body", body)
    if shortcut is not None:
        _add(nn, m, shortcut[0], shortcut[1])
    object.__setattr__(m, "_short", shortcut[1] if shortcut else None)
    for name, child in post:
        _add(nn, m, name, child)
    object.__setattr__(m, "_post", [child for _, child in post])
    return m


def _Parallel(nn: Any, branches, merge):
    import torch

    class Parallel(nn.Module):
        def forward(self, x):
            outs = [b(x) for b in self._order]
            if merge == "concat":
                return torch.cat(outs, dim=1)
            result = outs[0]
            for o in outs[1:]:
                result = result + o if merge == "add" else result * o
            return result

    m = Parallel()
    for name, child in branches:
        _add(nn, m, name, child)
    object.__setattr__(m, "_order", [child for _, child in branches])
    return m


def _Gate(nn: Any, gate):
    class Gate(nn.Module):
        def forward(self, x):
            return x * self._gate(x)

    m = Gate()
    for name, child in gate.named_children():
        m.add_module(name, child)
    object.__setattr__(m, "_gate", gate)
    return m


def _Side(nn: Any, head):
    class Side(nn.Module):
        def forward(self, x):
            self._head(x)  # computed (its layers are checked), not passed on: an auxiliary head
            return x

    m = Side()
    for name, child in head.named_children():
        m.add_module(name, child)
    object.__setattr__(m, "_head", head)
    return m


def _Padded(nn: Any, pads, conv):
    import torch.nn.functional as F

    flat = []
    for before, after in reversed(pads):  # F.pad wants the last axis first
        flat += [before, after]

    class Padded(nn.Module):
        def forward(self, x):
            return self.conv(F.pad(x, flat))

    m = Padded()
    m.conv = conv
    return m


def _ChannelsFirstLayerNorm(nn: Any, channels, eps):
    class LayerNorm2d(nn.LayerNorm):
        def forward(self, x):
            return super().forward(x.movedim(1, -1)).movedim(-1, 1)

    return LayerNorm2d(channels, eps=eps)


def _FunctionalCall(nn: Any, call: str, built):
    """``call`` with the hyper-parameters of the torch.nn module ``built`` (kept out of the module
    tree, so no tool hooks it): what torchvision's forward does with F.relu, F.avg_pool2d,
    F.max_pool2d, F.adaptive_avg_pool2d and x.mean([2, 3])."""
    import torch.nn.functional as F

    held = [built]  # a list, not an attribute: not a child module

    class FunctionalCall(nn.Module):
        def forward(self, x):
            m = held[0]
            if call == "F.relu":
                return F.relu(x)
            if call == "F.avg_pool2d":
                return F.avg_pool2d(x, m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad,
                                    m.divisor_override)
            if call == "F.max_pool2d":
                return F.max_pool2d(x, m.kernel_size, m.stride, m.padding, m.dilation, ceil_mode=m.ceil_mode)
            if call == "F.adaptive_avg_pool2d":
                return F.adaptive_avg_pool2d(x, m.output_size)
            return x.mean(list(range(2, x.dim())), keepdim=True)  # Tensor.mean: a global average pool

    return FunctionalCall()


def _ChannelChunk(nn: Any, chunks, index):
    class ChannelChunk(nn.Module):
        def forward(self, x):
            return x.chunk(chunks, dim=1)[index]

    return ChannelChunk()


def _LayerScale(nn: Any, channels, rank, init):
    import torch

    class LayerScale(nn.Module):
        def __init__(self):
            super().__init__()
            self.gamma = nn.Parameter(torch.full((channels,) + (1,) * rank, float(init)))

        def forward(self, x):
            return x * self.gamma

    return LayerScale()


def _ShortcutA(nn: Any, out_channels, stride):
    import torch.nn.functional as F

    class ShortcutA(nn.Module):
        def forward(self, x):
            x = x[(slice(None), slice(None)) + (slice(None, None, stride),) * (x.dim() - 2)]
            extra = out_channels - x.shape[1]
            pad = [0, 0] * (x.dim() - 2) + [extra // 2, extra - extra // 2]
            return F.pad(x, pad)

    return ShortcutA()


def verify(network: Network, report: NetworkReport) -> VerifyResult:
    """Compare every leaf of ``report`` with a torch build of ``network`` run on zeros.

    Shapes and counts need no values: the build and its forward pass run on torch's ``meta``
    device (no memory, no arithmetic: RegNetY-128GF checks in seconds, not a minute); a layer
    without a meta kernel sends the whole check to the CPU."""
    torch, nn = _torch()
    try:
        return _verify(network, report, torch, nn, "meta")
    except (NotImplementedError, RuntimeError):
        return _verify(network, report, torch, nn, "cpu")


def _verify(network: Network, report: NetworkReport, torch, nn, device: str) -> VerifyResult:
    with torch.device(device):
        model = build_torch(network, report.input).eval()
    leaves = {row.name: row for row in report.leaves() if row.type not in ("add", "mul", "concat")}
    modules = dict(model.named_modules())
    seen: dict[str, tuple] = {}
    hooks = []
    for name in leaves:
        module = modules.get(name)
        if module is not None:
            hooks.append(module.register_forward_hook(
                lambda m, i, o, name=name: seen.__setitem__(name, tuple(o.shape[1:]))))
    with torch.no_grad():
        model(torch.zeros((1,) + tuple(report.input), device=device))
    for h in hooks:
        h.remove()
    mismatches = []
    for name, row in leaves.items():
        module = modules.get(name)
        if module is None or name not in seen:
            mismatches.append(f"{name}: not reached in the torch build")
            continue
        if seen[name] != tuple(row.output):
            mismatches.append(f"{name}: output {'x'.join(map(str, seen[name]))} in torch, "
                              f"{'x'.join(map(str, row.output))} here")
        params = sum(p.numel() for p in module.parameters())
        if params != row.params.total:
            mismatches.append(f"{name}: {params:,} parameters in torch, {row.params.total:,} here")
        buffers = sum(b.numel() for b in module.buffers())
        if buffers != row.buffers:
            mismatches.append(f"{name}: {buffers:,} buffer elements in torch, {row.buffers:,} here")
    total = sum(p.numel() for p in model.parameters())
    if total != report.totals.params:
        mismatches.append(f"total: {total:,} parameters in torch, {report.totals.params:,} here")
    return VerifyResult(network.name, len(leaves), tuple(mismatches), torch.__version__.split("+")[0])
