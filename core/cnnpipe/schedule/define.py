"""A new schedule, checked before anything is stored: its cron line, policies, limits and the run it starts."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from . import slots
from .records import Request, Schedule

POLICIES = ("allow", "forbid", "replace")
MAX_RETRIES = 1000  # more is a loop, not a retry (and past 2**63 SQLite cannot store it)


def define(resolved, name: str, cron: str, tz: str, *, gpus: int, concurrency: str,
           starting_deadline, retries: int, backoff: float, timeout, memory=None, cpus=None,
           available_gpus: tuple = (), now: float) -> Schedule:
    """A schedule for a run ``resolved`` on the host (see :func:`cnnpipe.pipeline.resolve`); its image is left
    to the caller (``request.image``), so that no engine is asked before every check has passed."""
    from ..docker import attached, limits
    from ..docker.request import container_args

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
        limits.seconds(value, flag)
    if retries < 0:
        raise UsageError(f"--retries must not be negative, got {retries}")
    if retries > MAX_RETRIES:
        raise UsageError(f"--retries must be at most {MAX_RETRIES}, got {retries}")
    limits.not_negative(backoff, "--backoff")
    limits.check(memory, cpus, timeout, here=False)  # a schedule may be exported to a cluster
    config = resolved.config
    # The folder the dataset plugin reads here is the one mounted at /data.
    data_dir = attached.data_folder(resolved.dataset, config.data_dir)
    request = Request(
        model=config.model, dataset=config.dataset,
        args=container_args(config, data_mounted=data_dir is not None),
        image=None, gpus=gpus, out_dir=str(Path(config.out).absolute()),
        data_dir=str(data_dir) if data_dir else None, memory=memory, cpus=cpus,
    )
    return Schedule(
        name=name, cron=cron.strip(), timezone=tz, request=request, concurrency=concurrency,
        starting_deadline=starting_deadline, retries=retries, backoff=backoff, timeout=timeout,
        paused=False, last_slot=now, created=now,
    )
