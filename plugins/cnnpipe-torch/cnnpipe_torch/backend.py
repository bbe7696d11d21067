"""The PyTorch pieces of the book's ``train_ch5``: both splits preloaded on the device, no per-batch sync."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from cnnpipe.backend import Backend, Session, build_network, parse_device
from cnnpipe.errors import UsageError
from cnnpipe.specs import CLASSIFICATION

from . import distributed, export as exports

# The names MXNet's optimizers have, with MXNet's defaults (momentum 0; Adam's epsilon 1e-8).
OPTIMIZERS = {
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "nag": lambda params, lr: torch.optim.SGD(params, lr=lr),  # Nesterov with MXNet's default momentum 0 is SGD
    "adam": lambda params, lr: torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8),
}
INITIALIZERS = ("xavier", "normal", "uniform")


def device_of(device: str) -> torch.device:
    """The book's ``try_gpu`` on CUDA: a GPU when asked for or, with ``auto``, when one is present."""
    kind, index = parse_device(device)
    if kind == "cpu":
        return torch.device("cpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if kind == "auto":
        return torch.device("cuda", 0) if count else torch.device("cpu")
    if index >= count:
        raise UsageError(f"--device {device}: this machine has {count} GPU(s) usable by PyTorch")
    return torch.device("cuda", index)


NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def initialize(net: nn.Module, kind: str) -> None:
    """Gluon's initialisers: weights by ``kind``, biases and shifts 0, normalisation scales 1."""
    with torch.no_grad():
        for module in net.modules():
            norm = isinstance(module, NORMS)
            for leaf, p in module.named_parameters(recurse=False):
                if leaf in ("bias", "beta"):
                    p.zero_()
                elif norm or leaf == "gamma":
                    p.fill_(1.0)
                elif kind == "xavier":
                    fan_in, fan_out = _fans(p)
                    bound = math.sqrt(3.0 / ((fan_in + fan_out) / 2.0))
                    p.uniform_(-bound, bound)
                elif kind == "normal":
                    p.normal_(0.0, 0.01)
                else:
                    p.uniform_(-0.07, 0.07)


def _fans(p: torch.Tensor) -> tuple[int, int]:
    if p.dim() < 2:
        return p.numel(), p.numel()
    receptive = int(np.prod(p.shape[2:])) if p.dim() > 2 else 1
    return p.shape[1] * receptive, p.shape[0] * receptive


def to_float(X: torch.Tensor) -> torch.Tensor:
    """``uint8`` images scaled to [0, 1], anything else as float32."""
    return X.float().div_(255) if X.dtype == torch.uint8 else X.float()


def resized(X: torch.Tensor, resize: int | None) -> torch.Tensor:
    """Bilinear resize on the device, corners aligned as MXNet's ``BilinearResize2D`` does."""
    if resize and tuple(X.shape[2:]) != (resize, resize):
        return F.interpolate(X, size=(resize, resize), mode="bilinear", align_corners=True)
    return X


def num_params(net: nn.Module) -> int:
    """Parameters plus running statistics, counted as Gluon counts them."""
    stats = sum(b.numel() for name, b in net.named_buffers() if name.rsplit(".", 1)[-1] in ("running_mean", "running_var"))
    return sum(p.numel() for p in net.parameters()) + stats


class TorchBackend(Backend):
    """PyTorch: CPU, or CUDA GPUs."""

    name = "torch"

    def versions(self) -> dict[str, str]:
        return {"torch": torch.__version__}

    def check(self, config, model, data=None) -> None:
        if config.optimizer.lower() not in OPTIMIZERS:
            raise UsageError(f"unknown optimizer '{config.optimizer}'; the torch backend offers: {', '.join(OPTIMIZERS)}")
        if config.init not in INITIALIZERS:
            raise UsageError(f"unknown init '{config.init}'; choose from: {', '.join(INITIALIZERS)}")
        device_of(config.device)
        shape = tuple(data.input_shape) if data is not None else tuple(model.sample_shape[1:])
        if config.resize:
            shape = shape[:1] + (config.resize, config.resize)
        num_classes = data.num_classes if data is not None and data.num_classes else 10
        net = build_network(model, self.name, config.arch, num_classes)
        try:
            with torch.no_grad():
                net(torch.zeros((1,) + shape))
        except (RuntimeError, ValueError, TypeError) as exc:
            raise UsageError(f"model '{model.name}' cannot take {shape} inputs with architecture arguments "
                             f"{dict(config.arch)}: {str(exc).strip().splitlines()[0]}")

    def describe(self, model, arch, shape):
        net = build_network(model, self.name, arch, 10)
        net.eval()
        X = torch.zeros(shape)
        layers = []
        try:
            with torch.no_grad():
                children = list(net.children()) if isinstance(net, nn.Sequential) else [net]
                for i, layer in enumerate(children):
                    X = layer(X)
                    layers.append((f"{type(layer).__name__.lower()}{i}", tuple(X.shape)))
        except (RuntimeError, ValueError, TypeError) as exc:
            raise UsageError(f"model '{model.name}' cannot take {tuple(shape[1:])} inputs with architecture "
                             f"arguments {dict(arch)}: {str(exc).strip().splitlines()[0]}")
        return layers, num_params(net)

    def session(self, run) -> "TorchSession":
        return TorchSession(run)

    export_formats = exports.FORMATS

    def export(self, session, format, path):
        return exports.export(session, format, path)

    def join(self, environment, config):
        return distributed.join(environment, device_of(distributed.rank_device(config.device, environment.local_rank)))


class TorchSession(Session):
    """A ``torch.nn.Module``, its optimizer, and both splits as tensors on the device."""

    def __init__(self, run):
        cfg, data = run.config, run.data
        self.cfg = cfg
        self.world = run.world
        self.device = device_of(cfg.device if run.world.size == 1 else
                                distributed.rank_device(cfg.device, run.world.engine.local_rank))
        self.classify = run.model.task == CLASSIFICATION
        torch.manual_seed(cfg.seed)
        self.net = build_network(run.model, "torch", cfg.arch, data.num_classes).to(self.device)
        self.loss = nn.CrossEntropyLoss(reduction="none") if self.classify else (lambda y_hat, y: (y_hat - y) ** 2)
        self.train_X, self.train_y = self._tensors(data.train_X, data.train_y)
        self.test_X, self.test_y = self._tensors(data.test_X, data.test_y)
        with torch.no_grad():  # lazy layers take their shapes from one example, as Gluon's deferred init does
            self.net.eval()
            self.net(resized(self.train_X[:1], cfg.resize))
        self.optimizer = None
        self._zero()

    def _tensors(self, X, y):
        X = torch.from_numpy(np.array(X)).to(self.device)  # a copy: the dataset may be a read-only memory map
        y = np.asarray(y)
        y = torch.from_numpy(y.astype(np.int64) if self.classify else y.astype(np.float32)).to(self.device)
        return to_float(X), y

    def _zero(self):
        self.loss_sum = torch.zeros((), device=self.device)
        self.correct = torch.zeros((), device=self.device, dtype=torch.int64)

    def _ready(self):
        self.optimizer = OPTIMIZERS[self.cfg.optimizer.lower()](self.net.parameters(), self.cfg.lr)
        self.train_net = distributed.wrap(self.net, self.world, self.device)  # averages gradients over the ranks

    def initialize(self) -> None:
        torch.manual_seed(self.cfg.seed)
        initialize(self.net, self.cfg.init)
        self._ready()

    def load(self, params, optimizer) -> None:
        self.net.load_state_dict(torch.load(params, map_location=self.device, weights_only=True))
        self._ready()
        if optimizer is not None:
            self.optimizer.load_state_dict(torch.load(optimizer, map_location=self.device, weights_only=True))

    def begin_epoch(self, epoch: int, seed: int) -> None:
        torch.manual_seed(seed)
        self.net.train()
        self._zero()

    def batches(self, order):
        order = torch.from_numpy(np.asarray(order, dtype=np.int64)).to(self.device)
        bs = self.cfg.batch_size
        for start in range(0, len(order), bs):
            idx = order[start:start + bs]
            yield resized(self.train_X.index_select(0, idx), self.cfg.resize), self.train_y.index_select(0, idx)

    def step(self, batch) -> None:
        X, y = batch
        y_hat = self.train_net(X)
        l = self.loss(y_hat, y)
        self.optimizer.zero_grad(set_to_none=True)
        # As the book's train_ch5: the summed loss over batch_size, also on the short last batch.
        (l.sum() / self.cfg.batch_size).backward()
        self.optimizer.step()
        with torch.no_grad():
            self.loss_sum += l.sum()
            if self.classify:
                self.correct += (y_hat.argmax(dim=1) == y).sum()

    def wait(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def end_epoch(self):
        return float(self.loss_sum.item()), float(self.correct.item()) if self.classify else None

    def _outputs(self, X):
        self.net.eval()
        try:
            with torch.no_grad():
                for start in range(0, len(X), self.cfg.batch_size):
                    yield self.net(resized(X[start:start + self.cfg.batch_size], self.cfg.resize))
        finally:
            self.net.train()

    def evaluate(self):
        if not self.classify:
            return None
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        start = 0
        for out in self._outputs(self.test_X):
            correct += (out.argmax(dim=1) == self.test_y[start:start + len(out)]).sum()
            start += len(out)
        return float(correct.item()) / len(self.test_X)

    def predict(self, X):
        X = to_float(torch.from_numpy(np.array(X)).to(self.device))
        outputs = [out.float().cpu().numpy() for out in self._outputs(X)]
        return np.concatenate(outputs) if outputs else np.zeros((0,))

    def save_params(self, path) -> None:
        torch.save(self.net.state_dict(), path)

    def save_optimizer(self, path) -> None:
        torch.save(self.optimizer.state_dict(), path)
