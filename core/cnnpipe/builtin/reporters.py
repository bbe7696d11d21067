"""Built-in reporters: console progress and a plot.  The run folder's records are the core's, not theirs."""

from __future__ import annotations

import sys

from cnnpipe import rundir
from cnnpipe.files import atomic_path
from cnnpipe.hookspecs import hookimpl
from cnnpipe.run import format_epoch
from cnnpipe.specs import ReporterSpec


class Console:
    """A progress bar within each epoch (on a terminal), the book's line per epoch, and a closing line."""

    def __init__(self, run, stream=None):
        self.stream = stream
        self.bar = None

    def _out(self):
        # Looked up at each use: a closed or replaced stderr must not break a run that started with one.
        return self.stream or sys.stderr

    def _print(self, text: str) -> None:
        out = self._out()
        if out is None or getattr(out, "closed", False):
            return
        try:
            print(text, file=out, flush=True)
        except (OSError, ValueError):
            pass  # nobody is reading (a closed stderr, a pipe gone): the run itself goes on

    @hookimpl
    def cnnpipe_on_run_start(self, run):
        if run.start_epoch > run.config.epochs:
            verb = f"finishing (all {run.config.epochs} epochs were trained)"
        else:
            verb = f"resuming at epoch {run.start_epoch}" if run.resumed else "training"
        self._print(f"{verb} {run.config.model} on {run.config.dataset} ({run.config.backend}) -> {run.run_dir.path}")

    @hookimpl
    def cnnpipe_on_progress(self, run, epoch, done, total, images_per_sec):
        if self.bar is None:
            out = self._out()
            if out is None or getattr(out, "closed", False):
                return
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=f"epoch {epoch}", unit="img", file=out, disable=None, leave=False)
        try:
            self.bar.update(done - self.bar.n)
            self.bar.set_postfix_str(f"{images_per_sec:,.0f} img/s", refresh=False)
        except (OSError, ValueError):
            pass

    @hookimpl
    def cnnpipe_on_epoch_end(self, run, metrics):
        self._close()
        self._print(format_epoch(metrics))

    @hookimpl
    def cnnpipe_on_run_end(self, run, summary):
        acc = f"test acc {summary['test_acc']:.3f} " if summary.get("test_acc") is not None else ""
        self._print(f"done: {acc}after {summary['epochs']} epochs; parameters in {summary['params']}")

    @hookimpl
    def cnnpipe_on_run_failed(self, run, error):
        self._close()

    def _close(self):
        if self.bar is not None:
            try:
                self.bar.close()
            except (OSError, ValueError):
                pass
            self.bar = None


class Plot:
    """``plot.png``: training loss and train/test accuracy by epoch, redrawn after every epoch."""

    def __init__(self, run):
        pass

    @hookimpl
    def cnnpipe_on_epoch_end(self, run, metrics):
        if run.world.leader:
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


@hookimpl
def cnnpipe_register_reporters(register):
    register(ReporterSpec("console", Console, summary="progress bar, one line per epoch, a closing line", default=True))
    register(ReporterSpec("plot", Plot, summary="plot.png of loss and accuracy curves", default=True))
