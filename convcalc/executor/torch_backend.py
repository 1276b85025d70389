"""The optional second backend: the same network built in ``torch.nn`` by
:mod:`convcalc.network.torch_build` (our own builder, never torchvision), our parameters
copied in, run with hooks that record every layer's output and the gradient reaching it.

torch is imported only here, and only when asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from convcalc.errors import InputError
from convcalc.executor.graph import Graph


def require_torch():
    """The torch module, or a clear InputError when it is not installed."""
    try:
        import torch
    except ImportError:
        raise InputError("the torch backend needs PyTorch, which is not installed (pip install torch); "
                         "--backend numpy needs nothing else") from None
    return torch


def torch_version() -> str:
    return require_torch().__version__.split("+")[0]


@dataclass(frozen=True)
class TorchPass:
    """What one torch run gave, as NumPy arrays keyed by our names."""

    output: np.ndarray
    layer_outputs: Mapping[str, np.ndarray]
    layer_grads: Mapping[str, np.ndarray]      # δ of the loss w.r.t. each layer's output
    param_grads: Mapping[str, np.ndarray]      # state_dict names
    grad_input: np.ndarray | None
    buffers: Mapping[str, np.ndarray]


def _tensor(torch, array: np.ndarray):
    """A torch tensor holding a copy of ``array`` (0-d stays 0-d, unlike np.ascontiguousarray)."""
    return torch.from_numpy(np.array(array, order="C", copy=True))


def _torch_dtype(torch, dtype):
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(dtype)]


def _pairs(ours, theirs, what: str):
    """Our specs matched with torch's (name, tensor) in state_dict order; shapes must agree."""
    theirs = list(theirs)
    if len(ours) != len(theirs):
        raise RuntimeError(f"the torch build has {len(theirs)} {what}, ours {len(ours)}")
    for spec, (name, tensor) in zip(ours, theirs):
        if tuple(tensor.shape) != tuple(spec.shape) or name.rsplit(".", 1)[-1] != spec.local.rsplit(".", 1)[-1]:
            raise RuntimeError(f"{what} do not line up: ours {spec.name} {spec.shape}, "
                               f"torch {name} {tuple(tensor.shape)}")
    return list(zip(ours, theirs))


def build_model(graph: Graph, params: Mapping[str, np.ndarray], buffers: Mapping[str, np.ndarray], dtype):
    """The torch.nn model of ``graph.network`` holding copies of ``params`` and ``buffers``."""
    torch = require_torch()
    from convcalc.network.torch_build import build_torch

    model = build_torch(graph.network, graph.input).to(_torch_dtype(torch, dtype))
    with torch.no_grad():
        for spec, (_, tensor) in _pairs(graph.parameters, model.named_parameters(), "parameters"):
            tensor.copy_(_tensor(torch, params[spec.name]))
        for spec, (_, tensor) in _pairs(graph.buffers, model.named_buffers(), "buffers"):
            tensor.copy_(_tensor(torch, buffers[spec.name]))
    return model


def run(graph: Graph, x: np.ndarray, params: Mapping[str, np.ndarray], buffers: Mapping[str, np.ndarray], *,
        training: bool = False, grad_output=None, model=None) -> TorchPass:
    """Forward ``x`` through the torch build; with ``grad_output(output) -> δ`` also backward.

    ``grad_output`` gets the output as a NumPy array and returns δ of the loss w.r.t. it, so the
    loss is computed by our own code for both backends."""
    torch = require_torch()
    model = model if model is not None else build_model(graph, params, buffers, x.dtype)
    model.train(training)
    modules = dict(model.named_modules())
    outputs: dict[str, object] = {}
    hooks = []
    backward = grad_output is not None

    def keep(name):
        def hook(module, inputs, output):
            if backward and output.requires_grad:
                output.retain_grad()
            outputs[name] = output
        return hook

    for name in dict.fromkeys(leaf.name for leaf in graph.leaves):  # a repeated name is one torch module
        module = modules.get(name)
        if module is not None:
            hooks.append(module.register_forward_hook(keep(name)))
    try:
        tensor = _tensor(torch, x).requires_grad_(backward)
        with torch.set_grad_enabled(backward):
            out = model(tensor)
        grads, param_grads, grad_input = {}, {}, None
        if backward:
            delta = np.asarray(grad_output(out.detach().numpy().copy()))
            out.backward(_tensor(torch, delta))
            grads = {name: t.grad.numpy().copy() for name, t in outputs.items() if t.grad is not None}
            for spec, (_, p) in _pairs(graph.parameters, model.named_parameters(), "parameters"):
                param_grads[spec.name] = p.grad.numpy().copy() if p.grad is not None else np.zeros(spec.shape, x.dtype)
            grad_input = tensor.grad.numpy().copy()
    finally:
        for h in hooks:
            h.remove()
    layer_outputs = {name: t.detach().numpy().copy() for name, t in outputs.items()}
    new_buffers = {spec.name: b.detach().numpy().copy()
                   for spec, (_, b) in _pairs(graph.buffers, model.named_buffers(), "buffers")}
    return TorchPass(out.detach().numpy().copy(), layer_outputs, grads, param_grads, grad_input, new_buffers)
