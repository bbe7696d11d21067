"""A run: the resolved configuration and plugins, its folder, and the events it emits."""

from __future__ import annotations

import logging
import time

from . import rundir
from .config import RunConfig

log = logging.getLogger("cnnpipe.run")


class Run:
    """What a trainer and the reporters see of one run."""

    def __init__(self, config: RunConfig, registry, model, dataset, trainer, data, run_dir, history=()):
        self.config = config
        self.registry = registry
        self.model = model  # ModelSpec
        self.dataset = dataset  # DatasetSpec
        self.trainer = trainer  # TrainerSpec
        self.data = data  # Data
        self.run_dir = run_dir  # RunDir
        self.history = list(history)
        self.versions: dict[str, str] = {}
        self.hook = registry.pm.hook

    @property
    def start_epoch(self) -> int:
        """The first epoch this invocation trains (greater than 1 when resumed)."""
        return len(self.history) + 1

    @property
    def resumed(self) -> bool:
        return bool(self.history)

    def record_version(self, name: str, version: str) -> None:
        """Add a library version (the backend's, say) to the run's recorded configuration."""
        self.versions[name] = version
        data = self.run_dir.read_config()
        data["versions"][name] = version
        self.run_dir.write_config(data)

    def progress(self, epoch: int, done: int, total: int, images_per_sec: float) -> None:
        """Trainers call this a few times per epoch."""
        self.hook.cnnpipe_on_progress(run=self, epoch=epoch, done=done, total=total, images_per_sec=images_per_sec)

    def epoch_end(self, metrics: dict) -> None:
        """Trainers call this once an epoch's parameter files are in ``run_dir.checkpoint(epoch)``."""
        self.history.append(metrics)
        self.run_dir.write_checkpoint_state(metrics["epoch"], self.history)
        log.info(format_epoch(metrics))
        self.hook.cnnpipe_on_epoch_end(run=self, metrics=metrics)

    def summary(self, elapsed: float) -> dict:
        last = self.history[-1] if self.history else {}
        return {
            "model": self.config.model,
            "dataset": self.config.dataset,
            "epochs": len(self.history),
            "train_loss": last.get("train_loss"),
            "train_acc": last.get("train_acc"),
            "test_acc": last.get("test_acc"),
            "train_time": sum(m["time"] for m in self.history),
            "wall_time": elapsed,
            "params": str(self.run_dir.file(rundir.PARAMS)),
            "run_dir": str(self.run_dir.path),
        }


def format_epoch(m: dict) -> str:
    """One epoch as the book prints it; metrics a trainer does not report (``None``) are left out."""
    parts = [f"epoch {m['epoch']}"]
    for key, label, fmt in (("train_loss", "loss", ".4f"), ("train_acc", "train acc", ".3f"), ("test_acc", "test acc", ".3f")):
        if m.get(key) is not None:
            parts.append(f"{label} {m[key]:{fmt}}")
    parts.append(f"time {m['time']:.1f} sec")
    return ", ".join(parts)


def execute(run: Run, reporters) -> dict:
    """Train ``run`` with ``reporters`` (objects of event hookimpls) observing it; returns the summary."""
    pm = run.registry.pm
    names = []
    handler = logging.FileHandler(run.run_dir.file(rundir.LOG))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("cnnpipe").addHandler(handler)
    logging.getLogger("cnnpipe").setLevel(logging.INFO)
    try:
        # pluggy calls the last registered first: register backwards so reporters run in the order given.
        for i, reporter in reversed(list(enumerate(reporters))):
            names.append(pm.register(reporter, name=f"reporter-{i}-{id(reporter)}"))
        verb = f"resuming at epoch {run.start_epoch}" if run.resumed else "starting"
        log.info("%s %s on %s in %s", verb, run.config.model, run.config.dataset, run.run_dir.path)
        start = time.perf_counter()
        run.hook.cnnpipe_on_run_start(run=run)
        try:
            run.trainer.train(run)
        except BaseException as exc:
            log.error("run failed: %s: %s", type(exc).__name__, exc)
            run.hook.cnnpipe_on_run_failed(run=run, error=exc)
            raise
        summary = run.summary(time.perf_counter() - start)
        log.info("finished after %d epochs", summary["epochs"])
        run.hook.cnnpipe_on_run_end(run=run, summary=summary)
        return summary
    finally:
        for name in names:
            pm.unregister(name=name)
        logging.getLogger("cnnpipe").removeHandler(handler)
        handler.close()
