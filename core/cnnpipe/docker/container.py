"""A job container's life: create (after every check), start, follow its output, wait, remove.

Whatever goes wrong, nothing is left behind: a container that fails to start is removed, and
removing a container hands its staged run folders back (:mod:`.staging`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..errors import CnnpipeError, EngineError, JobError, UsageError
from ..files import write_json
from ..rundir import CONFIG, CONTAINER
from . import engine, image, staging
from .request import ContainerRequest, check, create_kwargs, job_user

GPU_DRIVER_ERROR = "could not select device driver"
NVIDIA_HINT = ("install the NVIDIA Container Toolkit on the host (apt-get install nvidia-container-toolkit; "
               "nvidia-ctk runtime configure --runtime=docker) and restart dockerd")
TIMEOUT_EXIT = 124
OOM_EXIT = 137
# Seconds a stopped job has between SIGTERM (the run inside records "interrupted", cleans up) and SIGKILL.
GRACE = 30
NEVER = "0001-01-01T00:00:00Z"  # the engine's time for "not yet"


def create(client, request: ContainerRequest):
    """Create the request's container, not yet started; every check comes first, and a failure leaves nothing."""
    check(request)
    if request.data_dir is not None and not Path(request.data_dir).is_dir():
        raise UsageError(f"the dataset folder {request.data_dir} does not exist (any more); nothing to mount at /data")
    image.require(client, request.image)
    out_dir = Path(request.out_dir).resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the run folder parent {out_dir}: {exc.strerror}")
    user = job_user()
    runs_dir, labels = staging.prepare(out_dir, user)
    try:
        kwargs = create_kwargs(request, user, runs_dir)
        kwargs["labels"].update(labels)
        return client.containers.create(**kwargs)
    except BaseException as exc:
        staging.hand_back(labels)
        raise refusal(exc, request) from exc


def begin(container, request: ContainerRequest) -> None:
    """Start a created container; on failure remove it (Docker keeps one whose start failed) and raise."""
    try:
        container.start()
    except BaseException as exc:
        try:
            remove(container)
        except Exception:
            pass  # the original error is the one to report
        raise refusal(exc, request) from exc


def start(client, request: ContainerRequest):
    """Create and start the request's container."""
    container = create(client, request)
    begin(container, request)
    return container


def refusal(exc: BaseException, request: ContainerRequest) -> BaseException:
    """The error to raise for ``exc`` met while creating or starting: one line, the right class."""
    import docker

    if isinstance(exc, CnnpipeError) or not isinstance(exc, Exception):
        return exc  # ours already, or an interrupt to pass on
    if not isinstance(exc, docker.errors.APIError):
        return EngineError(f"cannot start the job container: {engine.first_line(exc)}")
    text = str(getattr(exc, "explanation", None) or exc)
    if GPU_DRIVER_ERROR in text or ("nvidia" in text.lower() and request.gpus):
        return EngineError(f"--gpus {request.gpus} needs the NVIDIA runtime, which this Docker engine lacks; {NVIDIA_HINT}")
    if getattr(exc, "status_code", None) == 404 and "image" in text.lower():
        return UsageError(f"image '{request.image}' is not in the Docker engine; build it with: cnnpipe image build")
    if "bind source path does not exist" in text:
        return UsageError(f"a folder to mount does not exist (any more): {text.rsplit(':', 1)[-1].strip()}")
    return EngineError(f"cannot start the job container: {engine.first_line(exc)}")


def attach(container):
    """The container's output as a stream of ``(stdout, stderr)`` chunks; attach before starting to miss nothing."""
    return container.attach(stdout=True, stderr=True, stream=True, logs=True, demux=True)


def copy_output(stream, out=None, err=None) -> None:
    """Copy an :func:`attach` stream to our stdout and stderr until the container stops."""
    out = out or sys.stdout.buffer
    err = err or sys.stderr.buffer
    try:
        for chunk_out, chunk_err in stream:
            for data, dest in ((chunk_out, out), (chunk_err, err)):
                if data:
                    dest.write(data)
                    dest.flush()
    except Exception:
        pass  # the container went away (removed after Ctrl-C or a timeout): nothing more to show


def wait(container, timeout=None) -> int:
    """The container's exit code once it stops; JobError on timeout (the job stopped with a grace period), on an
    OOM kill, or when something outside cnnpipe killed it."""
    import requests

    try:
        result = container.wait(timeout=timeout) if timeout else container.wait()
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
        if timeout is None:
            raise EngineError(f"lost the Docker engine while waiting for the job: {engine.first_line(exc)}")
        halt(container)
        raise JobError(f"the job ran longer than --timeout {timeout:g} s and was stopped", exit_code=TIMEOUT_EXIT)
    code = int(result.get("StatusCode", -1))
    if code == OOM_EXIT:
        container.reload()
        if container.attrs.get("State", {}).get("OOMKilled"):
            raise JobError(f"the job was killed for exceeding its memory limit{memory_limit(container)} "
                           f"(exit 137, OOMKilled); raise --memory", exit_code=OOM_EXIT)
        raise JobError("the job container was killed (exit 137: SIGKILL from outside cnnpipe, such as docker kill); "
                       "its run folder keeps the last checkpoint", exit_code=OOM_EXIT)
    return code


def memory_limit(container) -> str:
    """`` of N MiB``: the container's memory limit, for messages; empty without one."""
    limit = (container.attrs.get("HostConfig") or {}).get("Memory") or 0
    return f" of {limit / 2**20:g} MiB" if limit else ""


def halt(container, grace: float = GRACE) -> None:
    """Stop the container as ``docker stop`` does: SIGTERM, so that the run inside records ``interrupted`` and
    removes its temporary files, then SIGKILL after ``grace`` seconds; one already stopped is no error."""
    import docker

    try:
        container.stop(timeout=grace)
    except docker.errors.APIError:
        pass


def refresh(container) -> None:
    """Read the container's state again (its exit and times, for :func:`record`); gone is no error."""
    import docker

    try:
        container.reload()
    except docker.errors.APIError:
        pass


def kill(container) -> None:
    """Stop the container now, ignoring one that has already stopped."""
    import docker

    try:
        container.kill()
    except docker.errors.APIError:
        pass


def remove(container) -> list[Path]:
    """Force-remove the container, ignoring "already gone"; hand back its staged run folders (returned)."""
    import docker

    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc) and "No such container" not in str(exc):
            raise
    return staging.finish(container)


def record(container, run_dirs, exit_code: int | None) -> None:
    """Write ``container.json`` into each run folder the container made: the image (name and id) that ran, how
    the container ended (exit code, OOM kill) and when; read the state (:func:`refresh`) before removing it."""
    attrs = getattr(container, "attrs", None) or {}
    state = attrs.get("State") or {}
    if exit_code is None and state.get("Status") in ("exited", "dead"):
        exit_code = state.get("ExitCode")
    info = {
        "image": (attrs.get("Config") or {}).get("Image"),
        "image_id": attrs.get("Image"),
        "container": getattr(container, "id", None),
        "exit_code": exit_code,
        "oom_killed": bool(state.get("OOMKilled")),
        # The engine's times (RFC 3339, nanoseconds): when the container started and stopped.
        "started": moment(state.get("StartedAt")),
        "finished": moment(state.get("FinishedAt")),
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if info["oom_killed"]:
        info["reason"] = f"killed for exceeding its memory limit{memory_limit(container)} (exit 137, OOMKilled)"
    for run_dir in run_dirs:
        if (Path(run_dir) / CONFIG).is_file():
            write_json(Path(run_dir) / CONTAINER, info)


def moment(value):
    """An engine time, ``None`` for its "not yet"."""
    return None if not value or value.startswith(NEVER[:4]) else value
