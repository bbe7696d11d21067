"""A run's state: the resolved configuration and plugins, its folder, its history and where this process stands.

This is the object the trainer, the backend and the reporters see.  What drives it (the log file, the
failure path) is :mod:`cnnpipe.driver`; the training loop is :mod:`cnnpipe.training`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from .rundir import PARAMS, RunDir

log = logging.getLogger("cnnpipe.run")


@dataclass(frozen=True)
class World:
    """Where this process stands in a run of several processes: ``rank`` of ``size`` (0 of 1 alone).

    ``engine`` (a :class:`cnnpipe.distributed.engine.Engine`) connects the ranks when ``size > 1``.
    """

    rank: int = 0
    size: int = 1
    engine: Any = field(default=None, compare=False, repr=False)

    @property
    def leader(self) -> bool:
        """The one process that writes the run folder."""
        return self.rank == 0

    def shard(self, order):
        """This rank's part of an epoch's ``order``: every ``size``-th example from position ``rank`` on, the same
        number on every rank (``len(order) // size``; the fewer than ``size`` left over sit this epoch out)."""
        if self.size == 1:
            return order
        return order[self.rank::self.size][:len(order) // self.size].copy()  # contiguous, as backends expect

    def sum(self, values) -> list[float]:
        """``values`` summed over every rank (themselves alone)."""
        return list(values) if self.size == 1 else self.engine.sum(values)


class Run:
    """What the trainer, the backend and the reporters see of one run."""

    def __init__(self, config, registry, model, dataset, backend, data, run_dir: RunDir | None, history=(),
                 world: World | None = None, events=None):
        self.config = config  # RunConfig
        self.registry = registry
        self.model = model  # ModelSpec
        self.dataset = dataset  # DatasetSpec
        self.backend = backend  # Backend (loaded)
        self.data = data  # Data
        self.run_dir = run_dir  # RunDir; None until the folder exists (while reporters are made)
        self.history = list(history)
        self.world = world or World()
        self.events = events or Silent()  # cnnpipe.events.Events, handed in by whoever assembles the run
        self.session = None  # the backend's Session, once prepare() has opened it

    @property
    def start_epoch(self) -> int:
        """The first epoch this invocation trains (greater than 1 when resumed)."""
        return len(self.history) + 1

    @property
    def resumed(self) -> bool:
        return bool(self.history)

    def progress(self, epoch: int, done: int, total: int, images_per_sec: float) -> None:
        """The trainer calls this a few times per epoch."""
        self.events.emit("cnnpipe_on_progress", run=self, epoch=epoch, done=done, total=total,
                         images_per_sec=images_per_sec)

    def epoch_end(self, metrics: dict, session) -> None:
        """Checkpoint ``session`` after ``metrics['epoch']``, record the metrics, then tell the observers."""
        self.history.append(metrics)
        if self.world.leader:
            self.run_dir.save_checkpoint(metrics["epoch"], self.history, session.save_params, session.save_optimizer)
            self.run_dir.write_metrics(self.history)
        log.info(format_epoch(metrics))
        self.events.emit("cnnpipe_on_epoch_end", run=self, metrics=metrics)

    def finish(self, session) -> None:
        """Save the final parameters."""
        if self.world.leader:
            self.run_dir.save_params(session.save_params)

    def summary(self, elapsed: float) -> dict:
        last = self.history[-1] if self.history else {}
        return {
            "model": self.config.model,
            "dataset": self.config.dataset,
            "backend": self.config.backend,
            "epochs": len(self.history),
            "train_loss": last.get("train_loss"),
            "train_acc": last.get("train_acc"),
            "test_acc": last.get("test_acc"),
            "train_time": sum(m["time"] for m in self.history),
            "wall_time": elapsed,
            "params": str(self.run_dir.file(PARAMS)) if self.run_dir else None,
            "run_dir": str(self.run_dir.path) if self.run_dir else None,
        }


def format_epoch(m: dict) -> str:
    """One epoch as the book prints it; metrics a backend does not report (``None``) are left out."""
    parts = [f"epoch {m['epoch']}"]
    for key, label, fmt in (("train_loss", "loss", ".4f"), ("train_acc", "train acc", ".3f"), ("test_acc", "test acc", ".3f")):
        if m.get(key) is not None:
            parts.append(f"{label} {m[key]:{fmt}}")
    parts.append(f"time {m['time']:.1f} sec")
    return ", ".join(parts)


class Silent:
    """The events of a run nobody observes (an evaluation, a test): every event goes nowhere."""

    def emit(self, hook_name: str, **kwargs) -> None:
        pass

    emit_quietly = emit
