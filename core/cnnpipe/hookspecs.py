"""The cnnpipe plugin API: every hook a plugin may implement, documented hook by hook.

Hooks come in two phases.  *Registration* hooks run once when the plugin manager
loads; each receives a ``register`` callback and hands it spec objects
(see :mod:`cnnpipe.specs`).  *Event* hooks run during a training run; reporters
implement them (as methods marked ``@hookimpl``), and so may any installed plugin
that wants to observe every run (as module-level functions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

from .specs import BackendSpec, DatasetSpec, ModelSpec, ReporterSpec

if TYPE_CHECKING:
    from .run import Run

PROJECT = "cnnpipe"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- registration -----------------------------------------------------------


@hookspec
def cnnpipe_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register datasets.

    :param register: call with one :class:`cnnpipe.specs.DatasetSpec` per dataset.
    """


@hookspec
def cnnpipe_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register models.

    :param register: call with one :class:`cnnpipe.specs.ModelSpec` per model.
    """


@hookspec
def cnnpipe_register_backends(register: Callable[[BackendSpec], None]) -> None:
    """Register training backends, one per deep-learning framework (see :mod:`cnnpipe.backend`).

    :param register: call with one :class:`cnnpipe.specs.BackendSpec` per backend.
    """


@hookspec
def cnnpipe_register_reporters(register: Callable[[ReporterSpec], None]) -> None:
    """Register reporters, which observe runs by implementing the event hooks below.

    :param register: call with one :class:`cnnpipe.specs.ReporterSpec` per reporter.
    """


# --- events of a run ----------------------------------------------------------


@hookspec
def cnnpipe_on_run_start(run: Run) -> None:
    """A run is about to train its first (or, when resumed, next) epoch.

    :param run: the :class:`cnnpipe.run.Run`: configuration, run folder, epochs done so far.
    """


@hookspec
def cnnpipe_on_progress(run: Run, epoch: int, done: int, total: int, images_per_sec: float) -> None:
    """Progress within an epoch; called a few times a second at most, never per image.

    :param run: the :class:`cnnpipe.run.Run`.
    :param epoch: the epoch in progress, counted from 1.
    :param done: training examples seen so far in this epoch.
    :param total: training examples in one epoch.
    :param images_per_sec: training throughput so far in this epoch.
    """


@hookspec
def cnnpipe_on_epoch_end(run: Run, metrics: dict) -> None:
    """An epoch has ended: its checkpoint is on disk and its line is in ``metrics.jsonl``.

    :param run: the :class:`cnnpipe.run.Run`.
    :param metrics: ``epoch``, ``train_loss``, ``train_acc``, ``test_acc``, ``time``, ``images_per_sec``.
    """


@hookspec
def cnnpipe_on_run_end(run: Run, summary: dict) -> None:
    """A run finished every epoch; ``model.params`` and ``summary.json`` are written.

    :param run: the :class:`cnnpipe.run.Run`.
    :param summary: final metrics, total time and the path of the final parameters (``summary.json``).
    """


@hookspec
def cnnpipe_on_run_failed(run: Run, error: BaseException) -> None:
    """A run stopped early: an exception or an interrupt (Ctrl-C); ``summary.json`` says which.

    :param run: the :class:`cnnpipe.run.Run`.
    :param error: what stopped it.
    """
