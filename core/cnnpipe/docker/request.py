"""What a job container is: a :class:`ContainerRequest`, the ``cnnpipe run`` arguments inside it, and the
keyword arguments that create it locked down.

A job container has no network, a read-only root with a tmpfs ``/tmp``, no capabilities, no new
privileges and a non-root user; the dataset is mounted read-only at :data:`DATA`, the host's cache of
decoded datasets read-only at :data:`CACHE`, and the folder of run folders read-write at :data:`RUNS`.  ``kube/pods.py`` gives Kubernetes pods the same lockdown.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..datasource import HOST_DATA_ENV, MOUNT
from . import limits

RUNS = "/runs"
DATA = MOUNT
CACHE = "/cache"
TMP = "/tmp"
TMP_SIZE = "1g"
PIDS_LIMIT = 4096
JOB_LABEL = {"cnnpipe": "job"}
# Used when the invoking user is root: the job must still not run as root.
NOBODY = (65532, 65532)


@dataclass
class ContainerRequest:
    """One ``cnnpipe run`` to execute in a container."""

    image: str
    args: list[str]              # arguments after `cnnpipe run` inside the container (model, dataset, options)
    out_dir: Path                # host folder that holds run folders; mounted read-write at /runs
    data_dir: Path | None        # host dataset folder; mounted read-only at /data
    gpus: str | None = None      # None, "all", "N" or "ID,ID"
    memory: str | None = None    # like "4g"
    cpus: float | None = None
    timeout: float | None = None  # seconds
    labels: dict = field(default_factory=dict)   # added to the container's labels (always also {"cnnpipe": "job"})
    env: dict = field(default_factory=dict)      # extra environment variables inside the container
    command: str = "run"                         # the cnnpipe command that takes ``args``: run, or sweep
    cache_dir: Path | None = None                # host cache of decoded datasets; mounted read-only at /cache


def toml_value(value) -> str:
    """``value`` as a TOML value, for ``--set`` (strings, numbers, booleans, lists and tables)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


def container_args(config, data_mounted: bool, debug: bool = False) -> list[str]:
    """The arguments of ``cnnpipe run`` in a job container for a configuration resolved on the host.

    Every setting is given explicitly (no host file is needed inside), run folders go to :data:`RUNS`
    and, when the dataset folder is mounted, data come from :data:`DATA`.  ``--runner docker``, the
    scheduler and the Kubernetes export all use this one function.
    """
    args = [config.model, config.dataset, "--backend", str(config.backend), "--epochs", str(config.epochs),
            "--batch-size", str(config.batch_size), "--lr", repr(float(config.lr)), "--optimizer", config.optimizer,
            "--seed", str(config.seed), "--device", config.device, "--precision", config.precision,
            "--set", f"init={toml_value(config.init)}"]
    for key in ("momentum", "weight_decay", "nesterov", "crop", "flip"):
        if getattr(config, key):
            args += ["--set", f"{key}={toml_value(getattr(config, key))}"]
    if config.resize:
        args += ["--resize", str(config.resize)]
    if config.limit:
        args += ["--limit", str(config.limit)]
    if config.workers > 1:
        args += ["--workers", str(config.workers)]
    if config.servers:
        args += ["--servers", str(config.servers)]
    if config.threads:
        args += ["--threads", str(config.threads)]
    if config.compile:
        args.append("--compile")
    for name in config.reporters:
        args += ["--reporter", name]
    for table in ("arch", "data"):
        for key, value in sorted(getattr(config, table).items()):
            args += ["--set", f"{table}.{key}={toml_value(value)}"]
    if data_mounted:
        args += ["--data-dir", DATA]
    if debug:
        args.append("--debug")
    return args + ["--out", RUNS]


def shared_cache() -> Path | None:
    """The host's cache folder to share with job containers, when there is one."""
    from ..files import cache_root

    root = cache_root()
    return root.resolve() if root.is_dir() else None


def job_user(uid: int | None = None, gid: int | None = None) -> tuple[int, int]:
    """The container's uid:gid: the invoking user's, or an unprivileged one when that is root."""
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    return NOBODY if uid == 0 else (uid, gid)


def check(request: ContainerRequest) -> None:
    """One-line errors for malformed limits and GPU requests, before anything is created."""
    limits.device_requests(request.gpus)
    limits.check(request.memory, request.cpus, request.timeout)


def create_kwargs(request: ContainerRequest, user: tuple[int, int], runs_dir: Path) -> dict:
    """Keyword arguments for ``client.containers.create``: the whole security and resource setup."""
    from docker.types import Mount

    check(request)
    # Mounts, not volumes: the engine refuses a host folder that does not exist instead of creating
    # an empty root-owned one in its place.
    mounts = [Mount(RUNS, str(runs_dir), type="bind")]
    if request.data_dir is not None:
        mounts.append(Mount(DATA, str(request.data_dir), type="bind", read_only=True))
    cache = {}
    if request.cache_dir is not None:
        # Decoded once on the host, read (and checked against its manifest) by every job instead of decoded again.
        mounts.append(Mount(CACHE, str(request.cache_dir), type="bind", read_only=True))
        cache = {"CNNPIPE_CACHE_DIR": CACHE}
    kwargs = {
        "image": request.image,
        "command": ["cnnpipe", request.command, *request.args],
        "user": f"{user[0]}:{user[1]}",
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {TMP: f"rw,nosuid,nodev,size={TMP_SIZE},mode=1777"},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": PIDS_LIMIT,
        # A real init forwards SIGTERM to cnnpipe, which as PID 1 would ignore it.
        "init": True,
        "mounts": mounts,
        "environment": {"HOME": TMP, "PYTHONUNBUFFERED": "1", **cache, **request.env,
                        # The run records where its /data came from, so that it resumes on the host.
                        **({HOST_DATA_ENV: str(request.data_dir)} if request.data_dir is not None else {})},
        "labels": {**{k: str(v) for k, v in request.labels.items()}, **JOB_LABEL},
        "working_dir": TMP,
        "detach": True,
    }
    if request.memory is not None:
        kwargs["mem_limit"] = str(request.memory)
        kwargs["memswap_limit"] = str(request.memory)  # no swap, so that going over the limit is an OOM kill
    if request.cpus is not None:
        kwargs["nano_cpus"] = int(request.cpus * 1e9)
    if request.gpus is not None:
        kwargs["device_requests"] = limits.device_requests(request.gpus)
    return kwargs
