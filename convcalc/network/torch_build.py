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


_NO_TORCH = "{field} needs PyTorch, which is not installed (pip install torch); everything else works without it"


def require_torch() -> None:
    """Refuse ``--verify`` at once when torch is not installed (without importing it)."""
    from importlib.util import find_spec

    if find_spec("torch") is None:
        raise InputError(_NO_TORCH, field="verify")


def _torch():
    try:
        import torch
        from torch import nn
    except ImportError:
        raise InputError(_NO_TORCH, field="verify") from None
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
            return _FunctionalCall(nn, module.functional, built, len(shape)), out
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
    """One of our layers as the torch.nn layer with the same hyper-parameters: the ``"torch"``
    hook its module registers (:func:`convcalc.layers.descriptor.register_hook`)."""
    hook = find_hook("torch", layer)
    if hook is None:
        raise InputError(f"{{field}} cannot build {type(layer).__name__} in torch.nn yet", field="verify")
    return hook(layer, nn, tuple(shape)), layer.analyze(shape, batch=1).output


# Small torch modules, created on first use (torch is imported lazily).

def _add(nn, parent, dotted: str, child):
    """Register ``child`` under a possibly dotted name (a zoo may name a child ``0.shuffle``); an
    unnamed child ("") registers its own children in ``parent``, as the walk names them. The
    module to call is returned: a parameter-free module named as one already there, of its kind
    and settings, is that one, called again (torchvision's Swin block calls its one
    stochastic_depth in both residuals)."""
    if not dotted:
        for name, grand in child.named_children():
            there = parent._modules.get(name)
            if there is not None and _same_free(there, grand):
                object.__setattr__(grand, "_same_as", there)  # called as the registered one
            else:
                parent.add_module(name, grand)
        object.__setattr__(child, "_inlined", True)
        return child
    *path, last = dotted.split(".")
    for part in path:
        holder = parent._modules.get(part)
        if holder is None:
            holder = nn.Module()
            parent.add_module(part, holder)
        parent = holder
    there = parent._modules.get(last)
    if there is not None and _same_free(there, child):
        return there
    parent.add_module(last, child)
    return child


def _Seq(nn: Any, items):
    class Seq(nn.Module):
        def forward(self, x):
            for child in self._order:
                x = _through(child, x)
            return x

    m = Seq()
    object.__setattr__(m, "_order", [_add(nn, m, name, child) for name, child in items])
    return m


def _same_free(there, child) -> bool:
    """Whether ``child`` is a parameter-free leaf of the kind and settings of ``there``."""
    return (type(there) is type(child) and not list(child.parameters()) and not list(child.children())
            and there.extra_repr() == child.extra_repr())


def _through(held, x):
    """``held`` applied to ``x``. A container whose children are registered in its caller's
    namespace instead (a block's body, an unnamed child) is not itself in the model's tree: its
    forward runs directly, so every module called is a registered one (torch.fx traces only
    those; forward hooks see the same leaves either way)."""
    held = getattr(held, "_same_as", held)
    return held.forward(x) if getattr(held, "_inlined", False) else held(x)


def _Residual(nn: Any, body, shortcut, post):
    class Residual(nn.Module):
        def forward(self, x):
            out = _through(self._body, x)
            out = out + (self._short(x) if self._short is not None else x)
            for m in self._post:
                out = m(out)
            return out

    m = Residual()
    # Body children live in the block's own namespace, as in torchvision's BasicBlock.
    for name, child in body.named_children():
        m.add_module(name, child)
    object.__setattr__(m, "_body", body)
    object.__setattr__(body, "_inlined", True)
    if shortcut is not None:
        _add(nn, m, shortcut[0], shortcut[1])
    object.__setattr__(m, "_short", shortcut[1] if shortcut else None)
    object.__setattr__(m, "_post", [_add(nn, m, name, child) for name, child in post])
    return m


def _Parallel(nn: Any, branches, merge):
    import torch

    class Parallel(nn.Module):
        def forward(self, x):
            outs = [_through(b, x) for b in self._order]
            if merge == "concat":
                return torch.cat(outs, dim=1)
            result = outs[0]
            for o in outs[1:]:
                result = result + o if merge == "add" else result * o
            return result

    m = Parallel()
    object.__setattr__(m, "_order", [_add(nn, m, name, child) for name, child in branches])
    return m


def _Gate(nn: Any, gate):
    class Gate(nn.Module):
        def forward(self, x):
            return x * _through(self._gate, x)

    m = Gate()
    for name, child in gate.named_children():
        m.add_module(name, child)
    object.__setattr__(m, "_gate", gate)
    object.__setattr__(gate, "_inlined", True)
    return m


def _Side(nn: Any, head):
    class Side(nn.Module):
        def forward(self, x):
            _through(self._head, x)  # computed (its layers are checked), not passed on: an auxiliary head
            return x

    m = Side()
    for name, child in head.named_children():
        m.add_module(name, child)
    object.__setattr__(m, "_head", head)
    object.__setattr__(head, "_inlined", True)
    return m






def _FunctionalCall(nn: Any, call: str, built, rank: int):
    """``call`` with the hyper-parameters of the torch.nn module ``built`` (kept out of the module
    tree, so no tool hooks it): what torchvision's forward does with F.relu, F.avg_pool2d,
    F.max_pool2d, F.adaptive_avg_pool2d and x.mean([2, 3]) (``rank``: the input's axes, the batch
    apart — written as numbers, as torchvision writes them, so that torch.fx traces it)."""
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
            return x.mean(list(range(2, rank + 1)), keepdim=True)  # Tensor.mean: a global average pool

    return FunctionalCall()








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
