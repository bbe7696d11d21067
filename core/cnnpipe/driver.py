"""The driver of a run: its log file, its start, its end and its failure path, around the training loop.

The core writes the run folder's records (``config.json``, ``metrics.jsonl``, checkpoints,
``model.params``, ``summary.json``, ``run.log``) whatever reporters observe the run.
"""

from __future__ import annotations

import logging
import time

from . import training
from .errors import CnnpipeError, PluginError, one_line
from .run import Run
from .rundir import LOG, RunDir

log = logging.getLogger("cnnpipe.run")
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


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
        handler = LogFile(run.run_dir.file(LOG))
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
