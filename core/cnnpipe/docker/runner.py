"""Run ``cnnpipe run`` in a locked-down container: create, start, wait, remove, find.

A job container has no network, a read-only root with a tmpfs ``/tmp``, no capabilities, no new
privileges and a non-root user; the dataset is mounted read-only at ``/data`` and the folder of run
folders read-write at ``/runs``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError

RUNS = "/runs"
DATA = "/data"
JOB_LABEL = {"cnnpipe": "job"}
# Used when the invoking user is root: the job must still not run as root.
NOBODY = (65532, 65532)
GPU_DRIVER_ERROR = "could not select device driver"
MEMORY_RE = re.compile(r"^\d+(\.\d+)?[bkmg]?$", re.IGNORECASE)
GPUS_RE = re.compile(r"^(all|\d+|[\w-]+(,[\w-]+)*,?)$")
NVIDIA_HINT = ("install the NVIDIA Container Toolkit on the host (apt-get install nvidia-container-toolkit; "
               "nvidia-ctk runtime configure --runtime=docker) and restart dockerd")


@dataclass
class ContainerJob:
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
    if config.resize:
        args += ["--resize", str(config.resize)]
    if config.limit:
        args += ["--limit", str(config.limit)]
    for name in config.reporters:
        args += ["--reporter", name]
    for key, value in sorted(config.arch.items()):
        args += ["--set", f"arch.{key}={toml_value(value)}"]
    if data_mounted:
        args += ["--data-dir", DATA]
    if debug:
        args.append("--debug")
    return args + ["--out", RUNS]


def client():
    """A ``docker.DockerClient`` for the engine of ``DOCKER_HOST`` (default: the local socket)."""
    import docker

    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        engine = docker.from_env()
        engine.ping()
    except Exception as exc:
        raise UsageError(
            f"cannot reach a Docker engine at {where} ({first_line(exc)}); start dockerd, "
            f"or point DOCKER_HOST at a running engine (e.g. DOCKER_HOST=unix:///var/run/docker.sock)"
        )
    return engine


def first_line(exc: BaseException) -> str:
    """The gist of an error: the OS reason when one is buried in it, else its first line."""
    text = str(exc).strip()
    errno = (re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
             or re.search(r"\w+Error\(-?\d+, '([^']+)'\)", text))
    if errno:
        return errno.group(1).strip()
    lines = text.splitlines()
    return lines[0] if lines else type(exc).__name__


def device_requests(gpus: str | None) -> list[dict]:
    """``--gpus`` as Docker device requests: ``all``, a count ``N`` or device ids ``ID,ID``."""
    if gpus is None:
        return []
    gpus = str(gpus).strip()
    if gpus == "0":
        raise UsageError("--gpus 0 asks for no GPU; leave --gpus out, or name device 0 alone as --gpus 0,")
    if not GPUS_RE.match(gpus):
        raise UsageError(f"--gpus takes all, a number of GPUs or device ids like 0,1; got '{gpus}'")
    if gpus == "all":
        return [{"count": -1, "capabilities": [["gpu"]]}]
    if gpus.isdigit():
        return [{"count": int(gpus), "capabilities": [["gpu"]]}]
    return [{"device_ids": [i for i in gpus.split(",") if i], "capabilities": [["gpu"]]}]


def check_limits(memory: str | None, cpus: float | None, timeout: float | None) -> None:
    """One-line errors for malformed ``--memory``, ``--cpus`` and ``--timeout`` values."""
    if memory is not None and not MEMORY_RE.match(str(memory)):
        raise UsageError(f"--memory takes a size like 512m or 4g, got '{memory}'")
    if cpus is not None and cpus <= 0:
        raise UsageError(f"--cpus must be positive, got {cpus}")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout must be a positive number of seconds, got {timeout}")


def job_user(uid: int | None = None, gid: int | None = None) -> tuple[int, int]:
    """The container's uid:gid: the invoking user's, or an unprivileged one when that is root."""
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    return NOBODY if uid == 0 else (uid, gid)


def container_spec(job: ContainerJob, user: tuple[int, int], runs_dir: Path) -> dict:
    """Keyword arguments for ``client.containers.create``: the whole security and resource setup."""
    device_requests(job.gpus)
    check_limits(job.memory, job.cpus, job.timeout)
    volumes = {str(runs_dir): {"bind": RUNS, "mode": "rw"}}
    env = {"HOME": "/tmp", "PYTHONUNBUFFERED": "1", **job.env}
    if job.data_dir is not None:
        volumes[str(job.data_dir)] = {"bind": DATA, "mode": "ro"}
    spec = {
        "image": job.image,
        "command": ["cnnpipe", "run", *job.args],
        "user": f"{user[0]}:{user[1]}",
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {"/tmp": "rw,nosuid,nodev,size=1g,mode=1777"},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": 4096,
        # A real init forwards SIGTERM to cnnpipe, which as PID 1 would ignore it.
        "init": True,
        "volumes": volumes,
        "environment": env,
        "labels": {**{k: str(v) for k, v in job.labels.items()}, **JOB_LABEL},
        "working_dir": "/tmp",
        "detach": True,
    }
    if job.memory is not None:
        spec["mem_limit"] = str(job.memory)
        spec["memswap_limit"] = str(job.memory)  # no swap, so that going over the limit is an OOM kill
    if job.cpus is not None:
        spec["nano_cpus"] = int(job.cpus * 1e9)
    if job.gpus is not None:
        spec["device_requests"] = device_requests(job.gpus)
    return spec


def start(client, job: ContainerJob):
    """Create and start the job's container; on any failure remove what was made and raise UsageError."""
    import docker

    out_dir = Path(job.out_dir).resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the run folder parent {out_dir}: {exc.strerror}")
    check_image(client, job.image)
    user = job_user()
    runs_dir, labels = out_dir, {"cnnpipe.out": str(out_dir)}
    if os.getuid() == 0:
        # The unprivileged job user cannot write into root's folder: give it a private staging
        # folder, handed back to root and moved into place when the container is done.
        runs_dir = out_dir / f".cnnpipe-job-{uuid.uuid4().hex[:12]}"
        runs_dir.mkdir()
        os.chown(runs_dir, *user)
        labels["cnnpipe.staging"] = str(runs_dir)
        labels["cnnpipe.owner"] = f"{os.getuid()}:{os.getgid()}"
    spec = container_spec(job, user, runs_dir)
    spec["labels"].update(labels)
    container = None
    try:
        container = client.containers.create(**spec)
        container.start()
    except BaseException as exc:
        # Docker leaves a "created" container behind when starting fails (a GPU request, say).
        try:
            if container is not None:
                remove(container)
            else:
                _hand_back(runs_dir, out_dir, labels)
        except Exception:
            pass  # the original error is the one to report
        if isinstance(exc, docker.errors.APIError):
            raise UsageError(start_error(exc, job)) from exc
        if isinstance(exc, Exception):
            raise UsageError(f"cannot start the job container: {first_line(exc)}") from exc
        raise
    return container


def check_image(client, image: str) -> None:
    """A one-line error naming the build command when ``image`` is not in the engine (no registry is asked)."""
    import docker

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise UsageError(f"image '{image}' is not in the Docker engine; build it with: cnnpipe image build"
                         f"{' --cuda' if 'cuda' in image else ''}")
    except docker.errors.APIError as exc:
        raise UsageError(f"cannot look up image '{image}': {first_line(exc)}")


def start_error(exc, job: ContainerJob) -> str:
    """The one-line message for an engine error at create or start."""
    text = str(getattr(exc, "explanation", None) or exc)
    if GPU_DRIVER_ERROR in text or "nvidia" in text.lower() and job.gpus:
        return f"--gpus {job.gpus} needs the NVIDIA runtime, which this Docker engine lacks; {NVIDIA_HINT}"
    if getattr(exc, "status_code", None) == 404 and "image" in text.lower():
        return f"image '{job.image}' is not in the Docker engine; build it with: cnnpipe image build"
    return f"cannot start the job container: {text.strip().splitlines()[0] if text.strip() else exc}"


def wait(container, timeout=None) -> int:
    """The container's exit code once it stops; UsageError on timeout (container stopped) or OOM kill."""
    import requests

    try:
        result = container.wait(timeout=timeout) if timeout else container.wait()
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
        if timeout is None:
            raise UsageError(f"lost the Docker engine while waiting for the job: {first_line(exc)}")
        kill(container)
        finish(container)
        raise UsageError(f"the job ran longer than --timeout {timeout:g} s and was stopped", exit_code=124)
    code = int(result.get("StatusCode", -1))
    finish(container)
    if code == 137:
        container.reload()
        if container.attrs.get("State", {}).get("OOMKilled"):
            limit = container.attrs.get("HostConfig", {}).get("Memory") or 0
            size = f" of {limit / 2**20:g} MiB" if limit else ""
            raise UsageError(f"the job was killed for exceeding its memory limit{size} (exit 137, OOMKilled); "
                             f"raise --memory", exit_code=137)
    return code


def kill(container) -> None:
    """Stop the container now, ignoring one that has already stopped."""
    import docker

    try:
        container.kill()
    except docker.errors.APIError:
        pass


def remove(container) -> None:
    """Force-remove the container, ignoring "already gone"; hand back any staged run folders."""
    import docker

    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc) and "No such container" not in str(exc):
            raise
    finish(container)


def find(client, labels: dict) -> list:
    """Containers in any state that carry all of ``labels``."""
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    return client.containers.list(all=True, filters=filters)


def finish(container) -> None:
    """Give run folders staged for a root user back to root, in the output folder (idempotent)."""
    labels = (getattr(container, "labels", None) or {})
    if "cnnpipe.staging" in labels:
        _hand_back(Path(labels["cnnpipe.staging"]), Path(labels["cnnpipe.out"]), labels)


def _hand_back(staging: Path, out_dir: Path, labels: dict) -> None:
    if "cnnpipe.staging" not in labels or not staging.is_dir():
        return
    uid, gid = (int(x) for x in labels["cnnpipe.owner"].split(":"))
    for root, dirs, files in os.walk(staging):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)
    for child in sorted(staging.iterdir()):
        target = out_dir / child.name
        n = 1
        while target.exists():
            target = out_dir / f"{child.name}-{n}"
            n += 1
        child.rename(target)
    shutil.rmtree(staging, ignore_errors=True)


def stream_logs(container, out=None, err=None) -> None:
    """Copy the container's stdout and stderr to ours until it stops."""
    out = out or sys.stdout.buffer
    err = err or sys.stderr.buffer
    try:
        for chunk_out, chunk_err in container.attach(stdout=True, stderr=True, stream=True, logs=True, demux=True):
            for data, stream in ((chunk_out, out), (chunk_err, err)):
                if data:
                    stream.write(data)
                    stream.flush()
    except Exception:
        pass  # the container went away (removed after Ctrl-C or a timeout): nothing more to show
