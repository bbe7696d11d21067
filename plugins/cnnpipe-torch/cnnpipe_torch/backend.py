"""The PyTorch backend: checks and ``cnnpipe info``; devices and precisions are in :mod:`.devices`, a run's live
state in :mod:`.session`."""

from __future__ import annotations

import torch
from torch import nn

from cnnpipe.backend import Backend, build_network
from cnnpipe.errors import UsageError

from . import distributed, export as exports
from .devices import PRECISIONS, device_of
from .layers import INITIALIZERS, num_params
from .optimizers import OPTIMIZERS

def layer_name(name: str, layer: nn.Module) -> str:
    """A top-level layer's name for ``cnnpipe info``: its own (``b1``) or its kind and position (``conv2d0``)."""
    return f"{type(layer).__name__.lower()}{name}" if name.isdigit() else name


class TorchBackend(Backend):
    """PyTorch: CPU, or CUDA GPUs."""

    name = "torch"

    def versions(self) -> dict[str, str]:
        return {"torch": torch.__version__}

    def build(self) -> tuple[str, int]:
        cuda = torch.version.cuda or ""
        return cuda, torch.cuda.device_count() if cuda and torch.cuda.is_available() else 0

    def check(self, config, model, data=None) -> None:
        if config.optimizer.lower() not in OPTIMIZERS:
            raise UsageError(f"unknown optimizer '{config.optimizer}'; the torch backend offers: {', '.join(sorted(OPTIMIZERS))}")
        if config.init not in INITIALIZERS:
            raise UsageError(f"unknown init '{config.init}'; choose from: {', '.join(INITIALIZERS)}")
        if config.precision not in PRECISIONS:
            raise UsageError(f"unknown precision '{config.precision}'; the torch backend offers: {', '.join(PRECISIONS)}")
        device_of(config.device)
        shape = tuple(data.input_shape) if data is not None else tuple(model.sample_shape[1:])
        if config.resize:
            shape = shape[:1] + (config.resize, config.resize)
        num_classes = data.num_classes if data is not None and data.num_classes else 10
        net = build_network(model, self.name, config.arch, num_classes, shape)
        try:
            with torch.no_grad():
                net.eval()(torch.zeros((1,) + shape))
        except (RuntimeError, ValueError, TypeError) as exc:
            raise UsageError(f"model '{model.name}' cannot take {shape} inputs with architecture arguments "
                             f"{dict(config.arch)}: {str(exc).strip().splitlines()[0]}")

    def layer_table(self, model, arch, shape):
        from .summary import layer_table

        net = build_network(model, self.name, arch, 10, tuple(shape[1:]))
        try:
            return layer_table(net, torch.zeros(shape), layer_name)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise UsageError(f"model '{model.name}' cannot take {tuple(shape[1:])} inputs with architecture "
                             f"arguments {dict(arch)}: {str(exc).strip().splitlines()[0]}")

    def describe(self, model, arch, shape):
        net = build_network(model, self.name, arch, 10, tuple(shape[1:]))
        net.eval()
        X = torch.zeros(shape)
        layers = []
        try:
            with torch.no_grad():
                children = list(net.named_children()) if isinstance(net, nn.Sequential) else [("net", net)]
                for name, layer in children:
                    X = layer(X)
                    layers.append((layer_name(name, layer), tuple(X.shape)))
        except (RuntimeError, ValueError, TypeError) as exc:
            raise UsageError(f"model '{model.name}' cannot take {tuple(shape[1:])} inputs with architecture "
                             f"arguments {dict(arch)}: {str(exc).strip().splitlines()[0]}")
        return layers, num_params(net)

    def session(self, run):
        from .session import TorchSession

        return TorchSession(run)

    export_formats = exports.FORMATS

    def export(self, session, format, path):
        return exports.export(session, format, path)

    def join(self, environment, config):
        return distributed.join(environment, device_of(distributed.rank_device(config.device, environment.local_rank)))
