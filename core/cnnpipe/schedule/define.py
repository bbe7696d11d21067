"""A new schedule, checked before anything is stored: its cron line, policies, limits and the run it starts."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from . import slots

POLICIES = ("allow", "forbid", "replace")


def define(resolved, name: str, cron: str, tz: str, *, gpus: int, concurrency: str,
           starting_deadline, retries: int, backoff: float, timeout, memory=None, cpus=None,
           available_gpus: tuple = (), now: float) -> dict:
    """A schedule row for a run ``resolved`` on the host (see :func:`cnnpipe.pipeline.resolve`); its image is
    left to the caller (``spec.image``), so that no engine is asked before every check has passed."""
    from ..docker import job as docker_job, runner

    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise UsageError(f"a schedule name uses letters, digits, '-', '_' or '.', got '{name}'")
    slots.check(cron, tz)
    if concurrency not in POLICIES:
        raise UsageError(f"--concurrency must be one of {', '.join(POLICIES)}, got '{concurrency}'")
    if gpus < 0:
        raise UsageError(f"--gpus must be 0 or more, got {gpus}")
    if gpus > len(available_gpus):
        have = f"{len(available_gpus)} ({', '.join(available_gpus)})" if available_gpus else "none"
        raise UsageError(f"impossible GPU request: the schedule asks for {gpus} GPU(s) but the scheduler has {have}; "
                         "set CNNPIPE_GPUS or install the NVIDIA driver")
    for value, flag in ((starting_deadline, "--starting-deadline"), (timeout, "--timeout")):
        if value is not None and value <= 0:
            raise UsageError(f"{flag} must be a positive number of seconds, got {value}")
    if retries < 0 or backoff < 0:
        raise UsageError("--retries and --backoff must not be negative")
    runner.check_limits(memory, cpus, timeout)
    config = resolved.config
    # The folder the dataset plugin reads here is the one mounted at /data.
    data_dir = docker_job.data_folder(resolved.dataset, config.data_dir)
    return {
        "name": name, "cron": cron.strip(), "timezone": tz,
        "spec": {
            "model": config.model, "dataset": config.dataset,
            "args": runner.container_args(config, data_mounted=data_dir is not None),
            "image": None, "gpus": gpus,
            "out_dir": str(Path(config.out).absolute()), "data_dir": str(data_dir) if data_dir else None,
            "memory": memory, "cpus": cpus,
        },
        "concurrency": concurrency, "starting_deadline": starting_deadline, "retries": retries,
        "backoff": backoff, "timeout": timeout, "paused": 0, "last_slot": now, "created": now,
    }
