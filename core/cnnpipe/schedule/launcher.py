"""Job containers through :mod:`cnnpipe.docker`, each labelled with its store and job id so a restarted scheduler finds it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..files import DiskFull, atomic_path
from ..rundir import CONFIG, CONTAINER
from .records import Job

LOG_NAME = "job.log"
log = logging.getLogger("cnnpipe.scheduler")


@dataclass(frozen=True)
class Status:
    """A job container as the engine sees it: ``created``, ``running`` or ``exited`` (with its exit code)."""

    state: str
    exit_code: int | None = None
    oom: bool = False
    container: str | None = None


def job_labels(store_id: str, job: Job) -> dict:
    """Labels that tie a container to exactly one job of one store."""
    return {"cnnpipe.store": store_id, "cnnpipe.job": str(job.id), "cnnpipe.schedule": job.schedule}


def gone(exc: Exception) -> bool:
    """An engine error saying another process removed the container (404) or is removing it (409)."""
    import docker

    return isinstance(exc, docker.errors.APIError) and getattr(exc, "status_code", None) in (404, 409)


def gpu_ids(ids) -> str | None:
    """Device ids as a container request's ``gpus``; the trailing comma keeps ``0,`` from meaning "zero GPUs"."""
    return ",".join(ids) + "," if ids else None


class DockerLauncher:
    """Starts, inspects, stops and removes job containers on the local Docker engine."""

    def __init__(self, store_id: str):
        self.store_id = store_id
        self._client = None

    @property
    def client(self):
        from ..docker import engine

        if self._client is None:
            self._client = engine.client()
        return self._client

    def _find(self, job: Job) -> list:
        from ..docker import engine

        return engine.find(self.client, job_labels(self.store_id, job))

    def start(self, job: Job) -> str:
        """Create and start the job's container; returns its id (a CnnpipeError when it cannot start)."""
        from ..docker import container
        from ..docker.request import ContainerRequest, shared_cache

        request = job.request
        started = container.start(self.client, ContainerRequest(
            image=request.image, args=list(request.args), out_dir=Path(job.out_dir),
            data_dir=Path(request.data_dir) if request.data_dir else None,
            gpus=gpu_ids(job.gpus), memory=request.memory, cpus=request.cpus, timeout=request.timeout,
            labels=job_labels(self.store_id, job), command=request.command, cache_dir=shared_cache(),
        ))
        return started.id[:12]

    def status(self, job: Job) -> Status | None:
        """The job's container state, or None when no container carries its labels."""
        for container in self._find(job):
            try:
                container.reload()
            except Exception as exc:
                if gone(exc):
                    continue  # removed meanwhile by another scheduler, which recorded the outcome
                raise
            state, short = container.attrs["State"], container.id[:12]
            if state["Status"] in ("exited", "dead"):
                return Status("exited", state.get("ExitCode"), bool(state.get("OOMKilled")), short)
            if state["Status"] == "created":
                return Status("created", container=short)
            return Status("running", container=short)
        return None

    def stop(self, job: Job) -> None:
        from ..docker.container import GRACE

        for container in self._find(job):
            try:
                container.stop(timeout=GRACE)  # the run inside records "interrupted"
            except Exception as exc:
                if not gone(exc):
                    raise

    def logs(self, job: Job) -> str | None:
        for container in self._find(job):
            try:
                return container.logs().decode(errors="replace")
            except Exception as exc:
                if not gone(exc):
                    raise
        return None

    def finish(self, job: Job) -> None:
        """Keep the container's output in the job folder, then remove the container.

        Another scheduler may be finishing the same job: whatever it removed first is skipped.
        """
        from ..docker import container as containers
        from ..docker.container import GRACE

        for container in self._find(job):
            try:
                if container.status == "running":
                    container.stop(timeout=GRACE)  # the run inside records "interrupted"
                    container.reload()
                output = container.logs()
            except Exception as exc:
                if gone(exc):
                    continue
                raise
            folder = Path(job.out_dir) if job.out_dir else None
            if folder and folder.is_dir():
                kept(job, folder / LOG_NAME, lambda: _write_log(folder / LOG_NAME, output))
            # Removed even when nothing could be kept (a full disk): a container kept "until there is room"
            # would be retried, and warned about, on every pass.
            moved = containers.remove(container)
            run_dirs = moved or ([p.parent for p in folder.glob(f"*/{CONFIG}")] if folder else [])
            exit_code = (container.attrs.get("State") or {}).get("ExitCode")
            kept(job, CONTAINER, lambda: containers.record(container, run_dirs, exit_code))

    def job_ids(self) -> list[int]:
        """Ids of the jobs of this store that still have a container."""
        from ..docker import engine

        found = engine.find(self.client, {"cnnpipe.store": self.store_id})
        return sorted({int(c.labels["cnnpipe.job"]) for c in found if c.labels.get("cnnpipe.job", "").isdigit()})


def _write_log(path: Path, output: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(output)


def kept(job: Job, what, write) -> None:
    """``write()`` a record of a finished job; when the disk refuses it, one warning: the job's outcome is in the
    store already and must not change because a file about it could not be written."""
    try:
        write()
    except (OSError, DiskFull) as exc:
        log.warning("job %s (%s): could not write %s: %s", job.id, job.schedule, what, getattr(exc, "strerror", None) or exc)
