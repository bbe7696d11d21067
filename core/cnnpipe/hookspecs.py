"""The cnnpipe plugin API: every hook a plugin may implement, documented hook by hook.

Hooks come in two phases.  *Registration* hooks run once when the plugin manager
loads; each receives a ``register`` callback and hands it spec objects
(see :mod:`cnnpipe.specs`).  *Event* hooks run during a training run; reporters
implement them, and so may any installed plugin that wants to observe runs.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

PROJECT = "cnnpipe"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- registration -----------------------------------------------------------


@hookspec
def cnnpipe_register_datasets(register: Callable[[Any], None]) -> None:
    """Register datasets.

    :param register: call with one :class:`cnnpipe.specs.DatasetSpec` per dataset.
    """


@hookspec
def cnnpipe_register_models(register: Callable[[Any], None]) -> None:
    """Register models.

    :param register: call with one :class:`cnnpipe.specs.ModelSpec` per model.
    """


@hookspec
def cnnpipe_register_trainers(register: Callable[[Any], None]) -> None:
    """Register trainers, one per training backend or strategy.

    :param register: call with one :class:`cnnpipe.specs.TrainerSpec` per trainer.
    """


@hookspec
def cnnpipe_register_reporters(register: Callable[[Any], None]) -> None:
    """Register reporters, which observe runs by implementing the event hooks below.

    :param register: call with one :class:`cnnpipe.specs.ReporterSpec` per reporter.
    """


# --- events of a run ----------------------------------------------------------


@hookspec
def cnnpipe_on_run_start(run: Any) -> None:
    """A run is about to train its first (or, when resumed, next) epoch.

    :param run: the :class:`cnnpipe.run.Run`: configuration, run folder, epochs done so far.
    """


@hookspec
def cnnpipe_on_progress(run: Any, epoch: int, done: int, total: int, images_per_sec: float) -> None:
    """Progress within an epoch; called a few times a second at most, never per image.

    :param run: the :class:`cnnpipe.run.Run`.
    :param epoch: the epoch in progress, counted from 1.
    :param done: training examples seen so far in this epoch.
    :param total: training examples in one epoch.
    :param images_per_sec: training throughput so far in this epoch.
    """


@hookspec
def cnnpipe_on_epoch_end(run: Any, metrics: dict) -> None:
    """An epoch has ended and its checkpoint is on disk.

    :param run: the :class:`cnnpipe.run.Run`.
    :param metrics: ``epoch``, ``train_loss``, ``train_acc``, ``test_acc``, ``time``, ``images_per_sec``.
    """


@hookspec
def cnnpipe_on_run_end(run: Any, summary: dict) -> None:
    """A run finished every epoch.

    :param run: the :class:`cnnpipe.run.Run`.
    :param summary: final metrics, total time and the path of the final parameters.
    """


@hookspec
def cnnpipe_on_run_failed(run: Any, error: BaseException) -> None:
    """A run stopped early: an exception or an interrupt (Ctrl-C).

    :param run: the :class:`cnnpipe.run.Run`.
    :param error: what stopped it.
    """
