"""A trainer for image-to-image regression with the book's squared loss (d2l 5.1.4), on MXNet.

It follows cnnpipe's trainer contract as the built-in ``mxnet`` trainer does: progress events,
checkpoint files before ``run.epoch_end``, final parameters, resume from the last checkpoint.
It reports the loss only; accuracies do not apply and are ``None``.
"""

from __future__ import annotations

import time

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from cnnpipe import gluon_loop
from cnnpipe.errors import UsageError
from cnnpipe.files import atomic_path
from cnnpipe.rundir import PARAMS

DENSE_TARGET_DATASETS = ("edge-image",)


def check(config, model, data=None) -> None:
    """Refuse datasets with class labels, then what the ``mxnet`` trainer refuses."""
    labelled = bool(data.class_names) if data is not None else config.dataset not in DENSE_TARGET_DATASETS
    if labelled:
        raise UsageError(
            f"trainer 'squared-loss' fits image targets; dataset '{config.dataset}' has class labels "
            f"(datasets it can train on: {', '.join(DENSE_TARGET_DATASETS)})"
        )
    gluon_loop.check(config, model)


def train(run) -> list:
    """Train ``run`` from its first missing epoch to ``run.config.epochs`` with loss ``(Y_hat - Y) ** 2``."""
    cfg, data = run.config, run.data
    ctx = gluon_loop.context(cfg.device)
    run.record_version("mxnet", mx.__version__)
    mx.random.seed(cfg.seed)
    net = gluon_loop.build(run.model, cfg.arch, data.num_classes)
    if run.resumed:
        checkpoint = run.run_dir.checkpoint(run.start_epoch - 1)
        net.load_parameters(str(checkpoint / PARAMS), ctx=ctx)
    else:
        net.initialize(gluon_loop.INITIALIZERS[cfg.init](), ctx=ctx)
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), cfg.optimizer.lower(), {"learning_rate": cfg.lr})
    if run.resumed:
        trainer.load_states(str(checkpoint / "trainer.states"))
    n = len(data.train_X)
    for epoch in range(run.start_epoch, cfg.epochs + 1):
        order = np.random.default_rng([cfg.seed, epoch]).permutation(n)
        loss_sum, done, start = 0.0, 0, time.perf_counter()
        for Xb, Yb in gluon_loop.batches(data.train_X, data.train_y, cfg.batch_size, order):
            X, Y = gluon_loop.to_device(Xb, Yb, ctx, cfg.resize)
            with autograd.record():
                Y_hat = net(X)
                l = (Y_hat - Y) ** 2
            l.backward()
            trainer.step(len(Xb))
            # The example is tiny, so reading the loss every batch costs nothing worth saving.
            loss_sum += float(l.sum().asscalar())
            done += len(Xb)
            run.progress(epoch, done, n, done / (time.perf_counter() - start))
        train_time = time.perf_counter() - start
        gluon_loop.save_checkpoint(run, epoch, net, trainer)
        run.epoch_end({
            "epoch": epoch,
            "train_loss": loss_sum / n,
            "train_acc": None,
            "test_acc": None,
            "time": time.perf_counter() - start,
            "images_per_sec": n / train_time,
        })
    with atomic_path(run.run_dir.file(PARAMS)) as tmp:
        net.save_parameters(str(tmp))
    return run.history
