"""The ``tensorboard`` reporter: event files in ``RUN_DIR/tensorboard`` (``tensorboard --logdir runs``).

tensorboardX is imported only when a run uses the reporter.
"""

from __future__ import annotations

import json

from cnnpipe.errors import UsageError
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ReporterSpec

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)

FOLDER = "tensorboard"
SCALARS = {
    "train_loss": "loss/train",
    "train_acc": "accuracy/train",
    "test_acc": "accuracy/test",
    "time": "epoch/seconds",
    "images_per_sec": "epoch/images_per_sec",
}


# Settings shown as hparams: what a sweep varies, and what tells its runs apart.
HPARAMS = ("model", "dataset", "backend", "epochs", "batch_size", "lr", "optimizer", "resize", "seed", "precision",
           "limit", "workers")


class TensorBoard:
    """One event-file writer per run; only the process that writes the run folder writes events."""

    def __init__(self, run):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as exc:
            raise UsageError(f"reporter 'tensorboard' needs tensorboardX ({exc}); pip install tensorboardX")
        self.make_writer = SummaryWriter
        self.writer = None

    @hookimpl
    def cnnpipe_on_run_start(self, run):
        if not run.world.leader:
            return
        folder = run.run_dir.file(FOLDER)
        # A resumed run drops what an earlier invocation logged after its last checkpoint.
        self.writer = self.make_writer(logdir=str(folder), purge_step=run.start_epoch if run.resumed else None)
        if not run.resumed:
            self.writer.add_text("config", "```\n" + json.dumps(run.config.to_dict(), indent=2) + "\n```", 0)

    @hookimpl
    def cnnpipe_on_epoch_end(self, run, metrics):
        if self.writer is None:
            return
        for key, tag in SCALARS.items():
            if metrics.get(key) is not None:
                self.writer.add_scalar(tag, float(metrics[key]), metrics["epoch"])
        self.writer.flush()

    @hookimpl
    def cnnpipe_on_run_end(self, run, summary):
        if self.writer is not None:
            self._hparams(run)
        self._close()

    def _hparams(self, run):
        """The run's settings as TensorBoard hparams, against its final metrics: the runs of a sweep side by side
        in the HPARAMS tab (``tensorboard --logdir SWEEP_FOLDER``)."""
        from tensorboardX.summary import hparams

        config = run.config.to_dict()
        values = {k: config[k] for k in HPARAMS if config.get(k) is not None}
        values.update({f"arch.{k}": v for k, v in (config.get("arch") or {}).items()})
        values = {k: v if isinstance(v, (bool, int, float, str)) else json.dumps(v) for k, v in values.items()}
        final = {tag: float(run.history[-1][key]) for key, tag in SCALARS.items()
                 if run.history and run.history[-1].get(key) is not None and key in ("train_loss", "train_acc", "test_acc")}
        writer = self.writer._get_file_writer()
        for summary in hparams(values, final):
            writer.add_summary(summary)
        self.writer.flush()

    @hookimpl
    def cnnpipe_on_run_failed(self, run, error):
        self._close()

    def _close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@hookimpl
def cnnpipe_register_reporters(register):
    register(ReporterSpec("tensorboard", TensorBoard, summary="TensorBoard event files in RUN_DIR/tensorboard"))
