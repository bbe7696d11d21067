"""Runs submitted to Slurm: their run folders made here first, then one batch script for them all."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from ..errors import UsageError
from . import cluster
from .script import PASSED, Job, Resources, render  # noqa: F401  (render: for cnnpipe manifest --slurm)


def ready_folder(registry, resolved) -> Path:
    """The run folder a job continues: the resumed one, or a new one made now with the run's checks passed
    (the same checks as a run here; no training)."""
    from ..pipeline import prepare

    if resolved.run_dir is not None:
        resolved.run_dir.unlock()
        return resolved.run_dir.path.resolve()
    run, _ = prepare(registry, resolved, session=False)
    run.run_dir.unlock()
    return run.run_dir.path.resolve()


def environment() -> dict[str, str]:
    """The submitting shell's variables that a job needs to see the same plugins, data and tracker."""
    return {name: os.environ[name] for name in PASSED if os.environ.get(name)}


def run_job(resolved, folder: Path, resources: Resources, *, disable=(), debug=False) -> Job:
    """The job of one run (one task, or a task per process of a run of several workers)."""
    config = resolved.config
    launcher = resolved.backend.launcher if config.workers > 1 else None
    return Job(name=f"{cluster.JOB_PREFIX}{config.model}-{config.dataset}", folders=(str(folder),),
               log=str(folder / "slurm-%j.out"), workdir=os.getcwd(), resources=resources, launcher=launcher,
               workers=config.workers, servers=config.servers or 0, environment=environment(),
               disable=tuple(disable), debug=debug)


def array_job(name: str, folders: list[Path], out: Path, resources: Resources, *, disable=(), debug=False) -> Job:
    """A job array with one task per run folder (a sweep)."""
    return Job(name=f"{cluster.JOB_PREFIX}{name}", folders=tuple(str(f) for f in folders),
               log=str(Path(out).resolve() / "slurm-%A_%a.out"), workdir=os.getcwd(), resources=resources,
               environment=environment(), disable=tuple(disable), debug=debug)


def check_single_process(resolved_runs) -> None:
    """A sweep's array task is one process: refuse runs of several workers in one line."""
    for resolved in resolved_runs:
        if resolved.config.workers > 1:
            raise UsageError("sweep --runner slurm runs each grid point as one process; leave out --workers")


def submit(job: Job) -> str:
    """Submit ``job``; its id."""
    return cluster.submit(render(job))


@contextlib.contextmanager
def removed_unless_submitted(folders):
    """New run folders are removed when their job could not be submitted: nothing is left half-made."""
    try:
        yield
    except BaseException:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
        raise
