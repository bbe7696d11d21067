"""A run: the resolved configuration and plugins, its folder, and the events it emits.

The core writes the run folder's records (``config.json``, ``metrics.jsonl``, checkpoints,
``model.params``, ``summary.json``, ``run.log``) whatever reporters observe the run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from . import training
from .errors import CnnpipeError, PluginError, one_line
from .events import Events
from .rundir import RunDir

log = logging.getLogger("cnnpipe.run")
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


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
                 world: World | None = None):
        self.config = config  # RunConfig
        self.registry = registry
        self.model = model  # ModelSpec
        self.dataset = dataset  # DatasetSpec
        self.backend = backend  # Backend (loaded)
        self.data = data  # Data
        self.run_dir = run_dir  # RunDir; None until the folder exists (while reporters are made)
        self.history = list(history)
        self.world = world or World()
        self.events = Events(registry.pm, {i.name: i.dist for i in registry.infos})
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
            "params": str(self.run_dir.file("model.params")) if self.run_dir else None,
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


def failure_status(error: BaseException) -> str:
    return "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"


class LogFile(logging.FileHandler):
    """``run.log``.  A line that cannot be written (a full disk) is dropped, not printed with a traceback:
    ``summary.json`` and the error message carry the outcome."""

    def __init__(self, path):
        super().__init__(path, encoding="utf-8", errors="backslashreplace", delay=True)

    def handleError(self, record) -> None:
        pass


def plugin_failure(run: Run, error: BaseException) -> BaseException:
    """``error`` as the CLI should report it: an error of the backend's or the model's code names both
    plugins; cnnpipe's own errors, Ctrl-C and operating-system errors stay as they are."""
    if isinstance(error, (CnnpipeError, KeyboardInterrupt, OSError)):
        return error
    backend = run.registry.specs["backends"].get(run.config.backend)
    return PluginError(f"training model '{run.model.name}' ({run.model.dist}) with backend '{run.config.backend}' "
                       f"({backend.dist if backend else '?'}) failed: {one_line(error)}")


def execute(run: Run, reporters=(), handler: logging.Handler | None = None) -> dict:
    """Train ``run`` with ``reporters`` (``(ReporterSpec, object)`` pairs) observing it; returns the summary.

    The run's log goes to ``handler``, by default ``run.log`` in the run folder.
    """
    if handler is None:
        handler = LogFile(run.run_dir.file("run.log"))
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger("cnnpipe")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        # pluggy calls the last registered first: register backwards so reporters run in the order given.
        for spec, reporter in reversed(list(reporters)):
            run.events.add_reporter(spec.name, spec.dist, reporter)
        return _train(run)
    finally:
        run.events.remove_reporters()
        root.removeHandler(handler)
        handler.close()
        if run.run_dir is not None:
            run.run_dir.unlock()


def _train(run: Run) -> dict:
    if run.start_epoch > run.config.epochs:
        verb = "finishing (every epoch was trained)"
    else:
        verb = f"resuming at epoch {run.start_epoch}" if run.resumed else "starting"
    where = run.run_dir.path if run.run_dir else "the folder rank 0 writes"
    log.info("%s %s on %s (%s) in %s", verb, run.config.model, run.config.dataset, run.config.backend, where)
    start = time.perf_counter()
    try:
        run.events.emit("cnnpipe_on_run_start", run=run)
        training.train(run)
        summary = run.summary(time.perf_counter() - start)
        if run.world.leader:
            run.run_dir.write_summary({**summary, "status": "succeeded"})
        log.info("finished after %d epochs", summary["epochs"])
        run.events.emit("cnnpipe_on_run_end", run=run, summary=summary)
        return summary
    except BaseException as error:
        exc = plugin_failure(run, error)
        log.error("run %s: %s: %s", failure_status(exc), type(exc).__name__, exc)
        try:
            if run.world.leader:
                run.run_dir.write_summary(failure_summary(run.config, run.history, run.run_dir, failure_status(exc),
                                                          f"{type(exc).__name__}: {exc}"))
        except Exception as second:  # a full disk, say: the first error is the one to report
            log.error("could not record the failure in summary.json: %s", second)
        run.events.emit_quietly("cnnpipe_on_run_failed", run=run, error=exc)
        if exc is error:
            raise
        raise exc from error


def failure_summary(config, history, run_dir: RunDir, status: str, error: str) -> dict:
    """``summary.json`` of a run that did not finish."""
    last = history[-1] if history else {}
    return {
        "status": status,
        "error": error,
        "model": config.model,
        "dataset": config.dataset,
        "backend": config.backend,
        "epochs": len(history),
        "test_acc": last.get("test_acc"),
        "run_dir": str(run_dir.path),
    }
