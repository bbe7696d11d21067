"""The trainer: the book's ``train_ch5`` loop, once, for every backend (see :mod:`cnnpipe.backend`)."""

from __future__ import annotations

import time

import numpy as np

from . import interrupts
from .backend import epoch_seed
from .errors import CnnpipeError, UsageError, one_line
from .rundir import PARAMS

PROGRESS_UPDATES = 20  # per epoch; each one waits for the device, so keep them few
RANK_SEED = 1_000_003  # apart from epoch_seed's steps, so that no two (epoch, rank) pairs share a seed


def _summed(world, loss_sum: float, correct: float | None) -> tuple[float, float | None]:
    total = world.sum([loss_sum, correct or 0.0])
    return total[0], None if correct is None else total[1]


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled order of ``n`` training examples in ``epoch``: the same in every backend and on resume."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def open_session(run):
    """The backend's session for ``run``: fresh parameters, or those of the checkpoint a resumed run continues."""
    session = run.backend.session(run)
    if not run.resumed:
        session.initialize()
        return session
    done = run.start_epoch - 1
    params, optimizer = run.run_dir.checkpoint(done) / PARAMS, run.run_dir.optimizer_file(done)
    try:
        session.load(params, optimizer)
    except (CnnpipeError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a checkpoint written by other code, or damaged in a way no checksum recorded
        raise UsageError(f"cannot load the checkpoint {params.parent} with the {run.config.backend} backend: {one_line(exc)}")
    return session


def train(run) -> list[dict]:
    """Train ``run`` from its first missing epoch to ``run.config.epochs``, then save the final parameters.

    In a run of several processes each rank trains on its shard of the epoch's order (``run.world.shard``);
    the epoch's loss and accuracy are summed over the ranks, and rank 0 evaluates the whole test split.
    Ctrl-C is taken between batches (see :mod:`cnnpipe.interrupts`).
    """
    session = run.session if run.session is not None else open_session(run)
    with interrupts.deferred() as check_interrupt:
        _epochs(run, session, check_interrupt)
    run.finish(session)
    return run.history


def _epochs(run, session, check_interrupt) -> None:
    cfg, world = run.config, run.world
    n_all = len(run.data.train_X)
    shard = n_all // world.size
    n = shard * world.size  # the examples trained each epoch, on all ranks together
    every = max(1, -(-shard // cfg.batch_size) // PROGRESS_UPDATES)
    for epoch in range(run.start_epoch, cfg.epochs + 1):
        # Each rank draws its own dropout masks; the same rank draws the same ones again on resume.
        session.begin_epoch(epoch, epoch_seed(cfg.seed, epoch) + RANK_SEED * world.rank)
        start = time.perf_counter()
        for i, batch in enumerate(session.batches(world.shard(epoch_order(cfg.seed, epoch, n_all)))):
            session.step(batch)
            check_interrupt()
            if (i + 1) % every == 0:
                session.wait()
                done = min(shard, (i + 1) * cfg.batch_size) * world.size  # this rank's progress, for all
                run.progress(epoch, done, n, done / (time.perf_counter() - start))
        loss_sum, correct = session.end_epoch()
        if world.size > 1:
            loss_sum, correct = _summed(world, loss_sum, correct)
        train_time = time.perf_counter() - start
        test_acc = session.evaluate() if world.leader else None
        if world.size > 1 and correct is not None:
            test_acc = world.sum([test_acc or 0.0])[0]  # rank 0's, for every rank's log
        run.epoch_end({
            "epoch": epoch,
            "train_loss": loss_sum / n,
            "train_acc": None if correct is None else correct / n,
            "test_acc": test_acc,
            "time": time.perf_counter() - start,
            "images_per_sec": n / train_time,
        }, session)
