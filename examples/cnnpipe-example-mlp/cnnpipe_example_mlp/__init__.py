"""An example cnnpipe plugin: one model and one reporter.

The model offers two backends: MXNet (the first, so the default) and PyTorch (``--backend torch``).
Keep this module light: cnnpipe imports it for ``cnnpipe list``, so each framework is imported only
inside its build function, when a network is actually built.
"""

import json

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe, ReporterSpec


def check_hidden(hidden) -> None:
    """Both builds refuse a bad width with the same message (cnnpipe shows it as one line)."""
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise ValueError(f"hidden must be a whole number of at least 1, got {hidden!r}")


def build_mlp(num_classes=10, hidden=256):
    """The book's concise MLP (d2l 3.10): one hidden ReLU layer of ``hidden`` units."""
    check_hidden(hidden)
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(nn.Dense(hidden, activation="relu"), nn.Dense(num_classes))
    return net


def build_mlp_torch(num_classes=10, hidden=256):
    """The same MLP in PyTorch; Gluon's dense layers flatten their input, so here a Flatten comes first."""
    check_hidden(hidden)
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.LazyLinear(hidden), nn.ReLU(), nn.LazyLinear(num_classes))


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
        builds={"mxnet": build_mlp, "torch": build_mlp_torch},
        recipes={"fashion-mnist": Recipe(lr=0.5, batch_size=256, epochs=10, init="normal")},
        arch={"hidden": 256},
        sample_shape=(1, 1, 28, 28),
        summary="multilayer perceptron with one hidden layer (d2l 3.10)",
    ))


@hookimpl
def cnnpipe_register_reporters(register):
    register(ReporterSpec("best-epoch", BestEpoch, summary="best.json: the epoch with the highest test accuracy"))
