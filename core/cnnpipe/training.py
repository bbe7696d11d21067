"""The trainer: the book's ``train_ch5`` loop, once, for every backend (see :mod:`cnnpipe.backend`)."""

from __future__ import annotations

import time

import numpy as np

from . import interrupts
from .backend import epoch_seed
from .rundir import PARAMS

PROGRESS_UPDATES = 20  # per epoch; each one waits for the device, so keep them few


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled order of ``n`` training examples in ``epoch``: the same in every backend and on resume."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def train(run) -> list[dict]:
    """Train ``run`` from its first missing epoch to ``run.config.epochs``, then save the final parameters."""
    cfg = run.config
    session = run.backend.session(run)
    if run.resumed:
        done = run.start_epoch - 1
        session.load(run.run_dir.checkpoint(done) / PARAMS, run.run_dir.optimizer_file(done))
    else:
        session.initialize()
    n = len(run.data.train_X)
    every = max(1, -(-n // cfg.batch_size) // PROGRESS_UPDATES)
    with interrupts.deferred() as check_interrupt:
        _epochs(run, session, n, every, check_interrupt)
    run.finish(session)
    return run.history


def _epochs(run, session, n: int, every: int, check_interrupt) -> None:
    cfg = run.config
    for epoch in range(run.start_epoch, cfg.epochs + 1):
        session.begin_epoch(epoch, epoch_seed(cfg.seed, epoch))
        start = time.perf_counter()
        for i, batch in enumerate(session.batches(epoch_order(cfg.seed, epoch, n))):
            session.step(batch)
            check_interrupt()
            if (i + 1) % every == 0:
                session.wait()
                done = min(n, (i + 1) * cfg.batch_size)
                run.progress(epoch, done, n, done / (time.perf_counter() - start))
        loss_sum, correct = session.end_epoch()
        train_time = time.perf_counter() - start
        test_acc = session.evaluate()
        run.epoch_end({
            "epoch": epoch,
            "train_loss": loss_sum / n,
            "train_acc": None if correct is None else correct / n,
            "test_acc": test_acc,
            "time": time.perf_counter() - start,
            "images_per_sec": n / train_time,
        }, session)
