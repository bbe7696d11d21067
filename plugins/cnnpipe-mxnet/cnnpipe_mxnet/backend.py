"""The book's ``train_ch5`` on MXNet/Gluon, without per-batch host synchronisation."""

from __future__ import annotations

import time

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, init, nd

from .errors import UsageError
from .files import atomic_path
from .rundir import PARAMS

INITIALIZERS = {
    "xavier": init.Xavier,
    "normal": lambda: init.Normal(0.01),
    "uniform": init.Uniform,
}
# Not static_shape: with it, MXNet 1.9.1 (CPU) does not keep BatchNorm's running mean and variance
# up to date in training, and models with batch norm then predict with wrong statistics.
HYBRIDIZE = {"static_alloc": True}
PROGRESS_UPDATES = 20  # per epoch; each one waits for the device, so keep them few


def context(device: str):
    """The book's ``try_gpu``: a GPU when asked for or, with ``auto``, when one is present."""
    if device == "cpu":
        return mx.cpu()
    count = mx.context.num_gpus()
    if device == "auto":
        return mx.gpu(0) if count else mx.cpu()
    index = int(device.partition(":")[2] or 0)
    if index >= count:
        raise UsageError(f"--device {device}: this machine has {count} GPU(s) usable by MXNet")
    return mx.gpu(index)


def build(model, arch, num_classes):
    """The model's network with ``arch`` arguments; a bad argument is a user error."""
    try:
        return model.build(num_classes=num_classes, **arch)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"model '{model.name}' rejected its architecture arguments {arch}: {exc}")


def check(config, model, data=None) -> None:
    """Refuse an optimizer, initialiser, device, architecture or dataset this trainer cannot use."""
    if data is not None and not data.class_names:
        raise UsageError(f"trainer 'mxnet' trains classifiers; dataset '{config.dataset}' has no class labels")
    if config.optimizer.lower() not in mx.optimizer.Optimizer.opt_registry:
        valid = ", ".join(sorted(mx.optimizer.Optimizer.opt_registry))
        raise UsageError(f"unknown optimizer '{config.optimizer}'; MXNet offers: {valid}")
    if config.init not in INITIALIZERS:
        raise UsageError(f"unknown init '{config.init}'; choose from: {', '.join(INITIALIZERS)}")
    context(config.device)
    shape = tuple(model.sample_shape)
    if config.resize:
        shape = shape[:2] + (config.resize, config.resize)
    net = build(model, config.arch, 10)
    # Some bad arguments (an unknown activation, say) only show once data flows.
    try:
        net.initialize()
        net(nd.zeros((1,) + shape[1:]))
    except (mx.base.MXNetError, ValueError) as exc:
        first = mxnet_message(exc)
        raise UsageError(f"model '{model.name}' cannot take {shape[1:]} inputs with architecture arguments "
                         f"{config.arch}: {first}")


def mxnet_message(exc) -> str:
    """The line of an MXNet error that says what is wrong, without its C++ traceback."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    for line in lines:
        if "MXNetError: " in line:
            return line.split("MXNetError: ", 1)[1]
    return lines[0] if lines else type(exc).__name__


def describe(model, arch, shape):
    """``(layers, num_params)``: each top-level layer's output shape for an input of ``shape``."""
    net = build(model, arch, 10)
    net.initialize(init.Xavier())
    X = nd.zeros(shape)
    layers = []
    if hasattr(net, "__len__") and len(net):
        for layer in net:
            X = layer(X)
            layers.append((layer.name, tuple(X.shape)))
    else:
        layers.append((net.name, tuple(net(X).shape)))
    num_params = sum(p.data().size for p in net.collect_params().values())
    return layers, int(num_params)


def batches(X, y, batch_size, order=None):
    """Yield numpy ``(X, y)`` batches, in ``order`` when given."""
    for start in range(0, len(X), batch_size):
        if order is None:
            yield X[start:start + batch_size], y[start:start + batch_size]
        else:
            idx = order[start:start + batch_size]
            yield X[idx], y[idx]


def to_device(Xb, yb, ctx, resize):
    """A numpy batch as float32 on ``ctx``, scaled to [0, 1] and resized on the device."""
    X = nd.array(Xb, ctx=ctx, dtype=Xb.dtype)
    if Xb.dtype == np.uint8:
        X = X.astype("float32") / 255
    if resize and X.shape[2:] != (resize, resize):
        X = nd.contrib.BilinearResize2D(X, height=resize, width=resize)
    return X, nd.array(yb, ctx=ctx, dtype="float32")


def device_arrays(X, y, ctx):
    """A whole split on ``ctx`` once: ``X`` as float32 scaled like :func:`to_device`, ``y`` as float32."""
    X = np.ascontiguousarray(X)
    Xd = nd.array(X, ctx=ctx, dtype=X.dtype)
    if X.dtype == np.uint8:
        Xd = Xd.astype("float32") / 255
    return Xd, nd.array(np.asarray(y), ctx=ctx, dtype="float32")


def device_batches(X, y, batch_size, order=None, resize=None):
    """Yield device ``(X, y)`` batches of arrays from :func:`device_arrays`, gathered in ``order``."""
    for start in range(0, X.shape[0], batch_size):
        stop = min(start + batch_size, X.shape[0])
        if order is None:
            Xb, yb = X[start:stop], y[start:stop]
        else:
            idx = order[start:stop]
            Xb, yb = nd.take(X, idx), nd.take(y, idx)
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


def save_checkpoint(run, epoch, net, trainer) -> None:
    """Write the parameters and optimizer state after ``epoch``, each file atomically."""
    checkpoint = run.run_dir.checkpoint(epoch)
    with atomic_path(checkpoint / PARAMS) as tmp:
        net.save_parameters(str(tmp))
    with atomic_path(checkpoint / "trainer.states") as tmp:
        trainer.save_states(str(tmp))


def train(run) -> list:
    """Train ``run`` from its first missing epoch to ``run.config.epochs``."""
    cfg, data = run.config, run.data
    ctx = context(cfg.device)
    run.record_version("mxnet", mx.__version__)
    mx.random.seed(cfg.seed)
    net = build(run.model, cfg.arch, data.num_classes)
    trainer_states = None
    if run.resumed:
        checkpoint = run.run_dir.checkpoint(run.start_epoch - 1)
        net.load_parameters(str(checkpoint / PARAMS), ctx=ctx)
        trainer_states = str(checkpoint / "trainer.states")
    else:
        net.initialize(INITIALIZERS[cfg.init](), ctx=ctx)
    net.hybridize(**HYBRIDIZE)
    trainer = gluon.Trainer(net.collect_params(), cfg.optimizer.lower(), {"learning_rate": cfg.lr})
    if trainer_states:
        trainer.load_states(trainer_states)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    n = len(data.train_X)
    # The data are converted once, not per batch: the same float32 values, no per-batch host copies.
    train_X, train_y = device_arrays(data.train_X, data.train_y, ctx)
    test_X, test_y = device_arrays(data.test_X, data.test_y, ctx)
    every = max(1, -(-n // cfg.batch_size) // PROGRESS_UPDATES)
    for epoch in range(run.start_epoch, cfg.epochs + 1):
        # Seeding per epoch makes a resumed run draw what an uninterrupted one would.
        mx.random.seed(cfg.seed * 100_003 + epoch)
        order = np.random.default_rng([cfg.seed, epoch]).permutation(n)
        order = nd.array(order, ctx=ctx, dtype="int64")
        loss_sum, correct = nd.zeros(1, ctx=ctx), nd.zeros(1, ctx=ctx)
        start = time.perf_counter()
        done = 0
        for i, (X, y) in enumerate(device_batches(train_X, train_y, cfg.batch_size, order, cfg.resize)):
            with autograd.record():
                y_hat = net(X)
                l = loss(y_hat, y)
            l.backward()
            # As the book's train_ch5: the last, smaller batch is scaled by batch_size too. A full-size
            # step on it, just before evaluation, leaves batch norm's moving statistics behind the
            # weights (LeNet-BN tested at about 0.80 instead of the book's 0.86-0.88).
            trainer.step(cfg.batch_size)
            loss_sum += l.sum()
            correct += (y_hat.argmax(axis=1) == y).sum()
            done += X.shape[0]
            if (i + 1) % every == 0:
                l.wait_to_read()
                run.progress(epoch, done, n, done / (time.perf_counter() - start))
        train_loss = float(loss_sum.asscalar()) / n
        train_time = time.perf_counter() - start
        test_acc = evaluate_accuracy(net, test_X, test_y, cfg.batch_size, ctx, cfg.resize)
        save_checkpoint(run, epoch, net, trainer)
        run.epoch_end({
            "epoch": epoch,
            "train_loss": train_loss,
            "train_acc": float(correct.asscalar()) / n,
            "test_acc": test_acc,
            "time": time.perf_counter() - start,
            "images_per_sec": n / train_time,
        })
    with atomic_path(run.run_dir.file(PARAMS)) as tmp:
        net.save_parameters(str(tmp))
    return run.history
