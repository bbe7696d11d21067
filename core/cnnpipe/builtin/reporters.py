"""Built-in reporters: console progress, metrics file, plot and summary."""

from __future__ import annotations

import json
import sys

from cnnpipe import rundir
from cnnpipe.files import atomic_path, write_json
from cnnpipe.hookspecs import hookimpl
from cnnpipe.run import format_epoch
from cnnpipe.specs import ReporterSpec


class Console:
    """A progress bar within each epoch (on a terminal), then the book's line per epoch."""

    def __init__(self, run, stream=None):
        self.stream = stream or sys.stderr
        self.bar = None

    @hookimpl
    def cnnpipe_on_run_start(self, run):
        verb = f"resuming at epoch {run.start_epoch}" if run.resumed else "training"
        print(f"{verb} {run.config.model} on {run.config.dataset} -> {run.run_dir.path}", file=self.stream)

    @hookimpl
    def cnnpipe_on_progress(self, run, epoch, done, total, images_per_sec):
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=f"epoch {epoch}", unit="img", file=self.stream, disable=None, leave=False)
        self.bar.update(done - self.bar.n)
        self.bar.set_postfix_str(f"{images_per_sec:,.0f} img/s", refresh=False)

    @hookimpl
    def cnnpipe_on_epoch_end(self, run, metrics):
        self._close()
        print(format_epoch(metrics), file=self.stream, flush=True)

    @hookimpl
    def cnnpipe_on_run_failed(self, run, error):
        self._close()

    def _close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Metrics:
    """``metrics.jsonl``: one JSON object per epoch, rewritten whole so that it always matches the checkpoints."""

    def __init__(self, run):
        pass

    @hookimpl
    def cnnpipe_on_epoch_end(self, run, metrics):
        with atomic_path(run.run_dir.file(rundir.METRICS)) as tmp:
            tmp.write_text("".join(json.dumps(m, sort_keys=True) + "\n" for m in run.history))


class Plot:
    """``plot.png``: training loss and train/test accuracy by epoch, redrawn after every epoch."""

    def __init__(self, run):
        pass

    @hookimpl
    def cnnpipe_on_epoch_end(self, run, metrics):
        plot_history(run.history, run.run_dir.file(rundir.PLOT), f"{run.config.model} on {run.config.dataset}")


def plot_history(history, path, title) -> None:
    """Draw loss and accuracy curves of ``history`` into the PNG file ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    epochs = [m["epoch"] for m in history]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key, style, label in (("train_loss", "-", "train loss"), ("train_acc", "--", "train acc"), ("test_acc", "-.", "test acc")):
        if any(m.get(key) is not None for m in history):
            ax.plot(epochs, [m.get(key) for m in history], style, label=label)
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


class Summary:
    """``summary.json`` at the end of a run (also when it fails), and a closing line."""

    def __init__(self, run, stream=None):
        self.stream = stream or sys.stderr

    @hookimpl
    def cnnpipe_on_run_end(self, run, summary):
        write_json(run.run_dir.file(rundir.SUMMARY), {**summary, "status": "succeeded"})
        acc = f"test acc {summary['test_acc']:.3f} " if summary.get("test_acc") is not None else ""
        print(f"done: {acc}after {summary['epochs']} epochs; parameters in {summary['params']}", file=self.stream)

    @hookimpl
    def cnnpipe_on_run_failed(self, run, error):
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        last = run.history[-1] if run.history else {}
        write_json(run.run_dir.file(rundir.SUMMARY), {
            "status": status,
            "error": f"{type(error).__name__}: {error}",
            "epochs": len(run.history),
            "test_acc": last.get("test_acc"),
            "run_dir": str(run.run_dir.path),
        })


@hookimpl
def cnnpipe_register_reporters(register):
    register(ReporterSpec("console", Console, "progress bar and one line per epoch", default=True))
    register(ReporterSpec("metrics", Metrics, "metrics.jsonl, one JSON object per epoch", default=True))
    register(ReporterSpec("plot", Plot, "plot.png of loss and accuracy curves", default=True))
    register(ReporterSpec("summary", Summary, "summary.json and a closing line", default=True))
