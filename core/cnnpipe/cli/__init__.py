"""The ``cnnpipe`` command: a click group (:mod:`.app`) whose commands live one group per module."""

from .app import Group, debugging, exit_code, load_registry, main, open_missing_streams

from . import (  # noqa: E402,F401  (commands register themselves on main)
    containers, doctor, evaluate, export, image, install, jobs, listing, manifest, run, runs, schedule, slurm, sweep,
)

__all__ = ["Group", "debugging", "exit_code", "load_registry", "main", "open_missing_streams"]
