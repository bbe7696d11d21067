"""``cnnpipe info`` for any PyTorch network: forward hooks on the top-level layers, in the order they run."""

from __future__ import annotations

import torch
from torch import nn

from .layers import num_params


def _count(module: nn.Module, recurse: bool = True) -> int:
    buffers = sum(b.numel() for b in module.buffers(recurse=recurse) if b.is_floating_point())
    return sum(p.numel() for p in module.parameters(recurse=recurse)) + buffers


def layer_table(net: nn.Module, X: torch.Tensor, name_of) -> list[tuple[str, tuple, int]]:
    """``[(name, output shape, parameters)]`` of ``net``'s top-level layers for input ``X``: one row per call (a
    layer called twice counts its parameters once), then layers that never ran and the network's own parameters,
    so that the parameters add up to :func:`num_params`."""
    rows, seen, handles = [], set(), []
    children = list(net.named_children())
    for name, layer in children:
        def hook(module, inputs, output, name=name):
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
            rows.append((name_of(name, module), shape, 0 if id(module) in seen else _count(module)))
            seen.add(id(module))
        handles.append(layer.register_forward_hook(hook))
    try:
        with torch.no_grad():
            out = net.eval()(X)
    finally:
        for handle in handles:
            handle.remove()
    if not children:
        return [(name_of("net", net), tuple(out.shape), num_params(net))]
    rows += [(name_of(name, layer) + " (not run)", "-", _count(layer)) for name, layer in children if id(layer) not in seen]
    if _count(net, recurse=False):
        rows.append(("(own parameters)", "-", _count(net, recurse=False)))
    return rows
