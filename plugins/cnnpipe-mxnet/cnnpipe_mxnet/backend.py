"""The MXNet/Gluon pieces of the book's ``train_ch5``: hybridized networks, data on the device, no per-batch sync."""

from __future__ import annotations

import atexit
import gc

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, init, nd

from cnnpipe.augment import wanted
from cnnpipe.backend import Backend, Session, build_network, epoch_seed, network_input, parse_device
from cnnpipe.errors import UsageError
from cnnpipe.specs import CLASSIFICATION

from . import distributed, export as exports

INITIALIZERS = {
    "xavier": init.Xavier,
    "normal": lambda: init.Normal(0.01),
    "uniform": init.Uniform,
}
# Not static_shape: with it, MXNet 1.9.1 (CPU) does not keep BatchNorm's running mean and variance
# up to date in training, and models with batch norm then predict with wrong statistics.
HYBRIDIZE = {"static_alloc": True}


def settle() -> None:
    """Free MXNet's garbage and let its engine finish, before MXNet's own exit handler shuts the engine down.

    MXNet 1.9.1 registers ``MXNotifyShutdown`` at import.  When arrays that became garbage shortly before
    exit are freed around that shutdown, it can wait forever or abort (seen: 7 of 20 runs of a process
    that ran ``cnnpipe info`` for the batch-norm networks, then read package metadata, hung or aborted at exit).
    Registered after MXNet's handler, this one runs first (``atexit`` runs the last registered first).
    """
    try:
        gc.collect()
        mx.nd.waitall()
    except Exception:  # an error of an operation nobody waited for: nothing is left to report it to
        pass


atexit.register(settle)


def context(device: str):
    """The book's ``try_gpu``: a GPU when asked for or, with ``auto``, when one is present."""
    kind, index = parse_device(device)
    if kind == "cpu":
        return mx.cpu()
    count = mx.context.num_gpus()
    if kind == "auto":
        return mx.gpu(0) if count else mx.cpu()
    if index >= count:
        raise UsageError(f"--device {device}: this machine has {count} GPU(s) usable by MXNet")
    return mx.gpu(index)


def cuda_of_build() -> str:
    """The CUDA version of the installed CUDA build, from its distribution's name (``mxnet-cu117``: 11.7)."""
    from importlib import metadata

    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith("mxnet-cu") and name[8:].isdigit():
            return f"{name[8:-1]}.{name[-1]}"
    return "(version unknown)"


def mxnet_message(exc) -> str:
    """The line of an MXNet error that says what is wrong, without its C++ traceback."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    for line in lines:
        if "MXNetError: " in line:
            return line.split("MXNetError: ", 1)[1]
    return lines[0] if lines else type(exc).__name__


def device_arrays(X, y, ctx):
    """A whole split on ``ctx`` once: ``X`` as float32 (``uint8`` scaled to [0, 1]), ``y`` as float32."""
    X = np.ascontiguousarray(X)
    Xd = nd.array(X, ctx=ctx, dtype=X.dtype)
    if X.dtype == np.uint8:
        Xd = Xd.astype("float32") / 255
    elif X.dtype != np.float32:
        Xd = Xd.astype("float32")
    return Xd, nd.array(np.asarray(y), ctx=ctx, dtype="float32")


def augmented(X, seed: int, batch: int, crop: int, flip: bool):
    """``X`` cropped and flipped as :mod:`cnnpipe.augment` draws for batch ``batch`` of the epoch seeded ``seed``."""
    from cnnpipe.augment import indices

    idx = nd.array(indices(seed, batch, tuple(X.shape), crop, flip), ctx=X.context, dtype="int64")
    padded = nd.pad(X, mode="constant", pad_width=(0, 0, 0, 0, crop, crop, crop, crop)) if crop else X
    return nd.take(padded.reshape(-1), idx)


def device_batches(X, y, batch_size, order=None, resize=None, augment=None):
    """Yield device ``(X, y)`` batches of arrays from :func:`device_arrays`, gathered in ``order`` (which may hold
    only some of the examples: a worker's shard); ``augment(X, batch number)`` changes each batch before resizing."""
    n = X.shape[0] if order is None else order.shape[0]
    for batch, start in enumerate(range(0, n, batch_size)):
        stop = min(start + batch_size, n)
        if order is None:
            Xb, yb = X[start:stop], y[start:stop]
        else:
            idx = order[start:stop]
            Xb, yb = nd.take(X, idx), nd.take(y, idx)
        if augment is not None:
            Xb = augment(Xb, batch)
        if resize and Xb.shape[2:] != (resize, resize):
            Xb = nd.contrib.BilinearResize2D(Xb, height=resize, width=resize)
        yield Xb, yb


def evaluate_accuracy(net, X, y, batch_size, ctx, resize) -> float:
    """Accuracy of ``net`` on numpy ``X``, ``y``, or on device arrays from :func:`device_arrays`."""
    if not isinstance(X, nd.NDArray):
        X, y = device_arrays(X, y, ctx)
    correct = nd.zeros(1, ctx=ctx)
    for Xd, yd in device_batches(X, y, batch_size, resize=resize):
        correct += (net(Xd).argmax(axis=1) == yd).sum()
    return float(correct.asscalar()) / X.shape[0]


def squared_loss(y_hat, y):
    """The book's squared loss (d2l 5.1.4), element by element."""
    return (y_hat - y) ** 2


def optimizer_args(cfg) -> tuple[str, dict]:
    """``(MXNet optimizer name, its arguments)`` for a run's optimizer settings; Nesterov SGD is MXNet's ``nag``."""
    name = cfg.optimizer.lower()
    params = {"learning_rate": cfg.lr}
    if cfg.weight_decay:
        params["wd"] = cfg.weight_decay
    if name in ("sgd", "nag") and cfg.momentum:
        params["momentum"] = cfg.momentum
        name = "nag" if cfg.nesterov else name
    return name, params


class MXNetBackend(Backend):
    """MXNet 1.9.1 with Gluon; ``mxnet-cu117`` (or another CUDA build) for GPUs."""

    name = "mxnet"

    def versions(self) -> dict[str, str]:
        return {"mxnet": mx.__version__}

    def build(self) -> tuple[str, int]:
        if not mx.runtime.Features().is_enabled("CUDA"):
            return "", 0
        return cuda_of_build(), mx.context.num_gpus()

    def check(self, config, model, data=None) -> None:
        if config.optimizer.lower() not in mx.optimizer.Optimizer.opt_registry:
            valid = ", ".join(sorted(mx.optimizer.Optimizer.opt_registry))
            raise UsageError(f"unknown optimizer '{config.optimizer}'; MXNet offers: {valid}")
        if config.init not in INITIALIZERS:
            raise UsageError(f"unknown init '{config.init}'; choose from: {', '.join(INITIALIZERS)}")
        if config.precision != "fp32":
            raise UsageError(f"precision '{config.precision}': the mxnet backend trains in fp32 only; "
                             f"--backend torch offers bf16 and fp16")
        context(config.device)
        shape = tuple(data.input_shape) if data is not None else tuple(model.sample_shape[1:])
        if config.resize:
            shape = shape[:1] + (config.resize, config.resize)
        num_classes = data.num_classes if data is not None and data.num_classes else 10
        net = build_network(model, self.name, config.arch, num_classes, shape)
        # Some bad arguments (an unknown activation, say) only show once data flows.
        try:
            net.initialize()
            net(nd.zeros((1,) + shape))
        except (mx.base.MXNetError, ValueError, TypeError) as exc:
            raise UsageError(f"model '{model.name}' cannot take {shape} inputs with architecture arguments "
                             f"{dict(config.arch)}: {mxnet_message(exc)}")

    def layer_table(self, model, arch, shape):
        from .summary import layer_table

        net = build_network(model, self.name, arch, 10, tuple(shape[1:]))
        net.initialize(init.Xavier())
        try:
            return layer_table(net, nd.zeros(shape))
        except (mx.base.MXNetError, ValueError, TypeError) as exc:
            raise UsageError(f"model '{model.name}' cannot take {tuple(shape[1:])} inputs with architecture "
                             f"arguments {dict(arch)}: {mxnet_message(exc)}")

    def describe(self, model, arch, shape):
        net = build_network(model, self.name, arch, 10, tuple(shape[1:]))
        net.initialize(init.Xavier())
        X = nd.zeros(shape)
        layers = []
        try:
            if hasattr(net, "__len__") and len(net):
                for layer in net:
                    X = layer(X)
                    layers.append((layer.name, tuple(X.shape)))
            else:
                layers.append((net.name, tuple(net(X).shape)))
        except (mx.base.MXNetError, ValueError, TypeError) as exc:
            raise UsageError(f"model '{model.name}' cannot take {tuple(shape[1:])} inputs with architecture "
                             f"arguments {dict(arch)}: {mxnet_message(exc)}")
        num_params = sum(p.data().size for p in net.collect_params().values())
        return layers, int(num_params)

    def session(self, run) -> "GluonSession":
        return GluonSession(run)

    export_formats = exports.FORMATS

    def export(self, session, format, path):
        return exports.export(session, format, path)

    def join(self, environment, config):
        return distributed.join(environment, context(distributed.rank_device(config.device, environment.local_rank)))


class GluonSession(Session):
    """A hybridized Gluon network, a ``gluon.Trainer`` as the optimizer, and both splits on the device."""

    def __init__(self, run):
        cfg, data = run.config, run.data
        self.cfg = cfg
        self.world = run.world
        device = cfg.device if run.world.size == 1 else distributed.rank_device(cfg.device, run.world.engine.local_rank)
        self.ctx = context(device)
        self.classify = run.model.task == CLASSIFICATION
        mx.random.seed(cfg.seed)
        self.own_init = run.model.own_init
        self.net = build_network(run.model, "mxnet", cfg.arch, data.num_classes, network_input(cfg, data.input_shape))
        self.loss = gluon.loss.SoftmaxCrossEntropyLoss() if self.classify else squared_loss
        self.optimizer = None
        # The data are converted once, not per batch: the same float32 values, no per-batch host copies.
        self.train_X, self.train_y = device_arrays(data.train_X, data.train_y, self.ctx)
        self.test_X, self.test_y = device_arrays(data.test_X, data.test_y, self.ctx)
        self._zero()

    def _zero(self):
        self.loss_sum, self.correct = nd.zeros(1, ctx=self.ctx), nd.zeros(1, ctx=self.ctx)

    def _ready(self):
        self.net.hybridize(**HYBRIDIZE)
        name, params = optimizer_args(self.cfg)
        self.optimizer = gluon.Trainer(self.net.collect_params(), name, params, **distributed.trainer_options(self.world))
        distributed.start(self.optimizer, self.world)

    def initialize(self) -> None:
        # Gluon draws the parameters at the first forward pass, which used to come after the first epoch's seed.
        # Draw them now from that same seed: a seed gives the parameters it gave before, and the workers of a
        # distributed run (whose epoch seeds differ by rank) all start from the same parameters.
        mx.random.seed(epoch_seed(self.cfg.seed, 1))
        # A model that keeps its own initialisation gets its parameters' own initialisers (Gluon's default
        # for those without one), not the book's.
        if self.own_init:
            self.net.initialize(ctx=self.ctx)
        else:
            self.net.initialize(INITIALIZERS[self.cfg.init](), ctx=self.ctx)
        X, _ = next(device_batches(self.train_X[:1], self.train_y[:1], 1, resize=self.cfg.resize))
        self.net(X)
        self._ready()

    def load(self, params, optimizer) -> None:
        self.net.load_parameters(str(params), ctx=self.ctx)
        self._ready()
        if optimizer is not None:
            self.optimizer.load_states(str(optimizer))

    def begin_epoch(self, epoch: int, seed: int) -> None:
        mx.random.seed(seed)
        self.epoch_seed = seed
        self._zero()

    def batches(self, order):
        order = nd.array(order, ctx=self.ctx, dtype="int64")
        cfg = self.cfg
        augment = (lambda X, batch: augmented(X, self.epoch_seed, batch, cfg.crop, cfg.flip)) if wanted(cfg) else None
        return device_batches(self.train_X, self.train_y, cfg.batch_size, order, cfg.resize, augment)

    def step(self, batch) -> None:
        X, y = batch
        with autograd.record():
            y_hat = self.net(X)
            l = self.loss(y_hat, y)
        l.backward()
        # As the book's train_ch5: the last, smaller batch is scaled by batch_size too. A full-size
        # step on it, just before evaluation, leaves batch norm's moving statistics behind the
        # weights (LeNet-BN tested at about 0.80 instead of the book's 0.86-0.88).
        # With several workers the gradient is summed over all of them: divide by the total batch.
        self.optimizer.step(self.cfg.batch_size * self.world.size)
        self.loss_sum += l.sum()
        if self.classify:
            self.correct += (y_hat.argmax(axis=1) == y).sum()

    def wait(self) -> None:
        self.loss_sum.wait_to_read()

    def end_epoch(self):
        loss_sum = float(self.loss_sum.asscalar())
        return loss_sum, float(self.correct.asscalar()) if self.classify else None

    def evaluate(self):
        if not self.classify:
            return None
        return evaluate_accuracy(self.net, self.test_X, self.test_y, self.cfg.batch_size, self.ctx, self.cfg.resize)

    def predict(self, X):
        Xd, yd = device_arrays(X, np.zeros(len(X)), self.ctx)
        outputs = [self.net(Xb).asnumpy() for Xb, _ in device_batches(Xd, yd, self.cfg.batch_size, resize=self.cfg.resize)]
        return np.concatenate(outputs) if outputs else np.zeros((0,))

    def save_params(self, path) -> None:
        self.net.save_parameters(str(path))

    def save_optimizer(self, path) -> None:
        self.optimizer.save_states(str(path))
