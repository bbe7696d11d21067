"""An example cnnpipe plugin: one model and one reporter.

Keep this module light: cnnpipe imports it for ``cnnpipe list``, so MXNet is imported only inside
``build_mlp``, when a network is actually built.
"""

import json

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe, ReporterSpec


def build_mlp(num_classes=10, hidden=256):
    """The book's concise MLP (d2l 3.10): one hidden ReLU layer of ``hidden`` units."""
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(nn.Dense(hidden, activation="relu"), nn.Dense(num_classes))
    return net


class BestEpoch:
    """Writes ``best.json`` with the epoch of the highest test accuracy so far."""

    def __init__(self, run):
        self.best = None

    @hookimpl
    def cnnpipe_on_epoch_end(self, run, metrics):
        if self.best is None or metrics["test_acc"] > self.best["test_acc"]:
            self.best = metrics
            (run.run_dir.path / "best.json").write_text(json.dumps(metrics, indent=2))


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="mlp",
        builds={"mxnet": build_mlp},
        recipes={"fashion-mnist": Recipe(lr=0.5, batch_size=256, epochs=10, init="normal")},
        arch={"hidden": 256},
        sample_shape=(1, 1, 28, 28),
        summary="multilayer perceptron with one hidden layer (d2l 3.10)",
    ))


@hookimpl
def cnnpipe_register_reporters(register):
    register(ReporterSpec("best-epoch", BestEpoch, summary="best.json: the epoch with the highest test accuracy"))
