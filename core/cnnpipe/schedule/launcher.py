"""Job containers through :mod:`cnnpipe.docker.runner`, each labelled with its store and job id so a restarted scheduler finds it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..files import atomic_path

LOG_NAME = "job.log"


@dataclass(frozen=True)
class Status:
    """A job container as the engine sees it: ``created``, ``running`` or ``exited`` (with its exit code)."""

    state: str
    exit_code: int | None = None
    oom: bool = False
    container: str | None = None


def job_labels(store_id: str, job: dict) -> dict:
    """Labels that tie a container to exactly one job of one store."""
    return {"cnnpipe.store": store_id, "cnnpipe.job": str(job["id"]), "cnnpipe.schedule": job["schedule"]}


def gpu_ids(ids) -> str | None:
    """Device ids as the runner's ``gpus``; the trailing comma keeps ``0,`` from meaning "zero GPUs"."""
    return ",".join(ids) + "," if ids else None


class DockerLauncher:
    """Starts, inspects, stops and removes job containers on the local Docker engine."""

    def __init__(self, store_id: str):
        self.store_id = store_id
        self._client = None

    @property
    def client(self):
        from ..docker import runner

        if self._client is None:
            self._client = runner.client()
        return self._client

    def _find(self, job: dict) -> list:
        from ..docker import runner

        return runner.find(self.client, job_labels(self.store_id, job))

    def start(self, job: dict) -> str:
        """Create and start the job's container; returns its id (UsageError when the engine refuses)."""
        from ..docker import runner

        spec = job["spec"]
        container = runner.start(self.client, runner.ContainerJob(
            image=spec["image"], args=list(spec["args"]), out_dir=Path(job["out_dir"]),
            data_dir=Path(spec["data_dir"]) if spec.get("data_dir") else None,
            gpus=gpu_ids(job["gpus"]), memory=spec.get("memory"), cpus=spec.get("cpus"), timeout=spec.get("timeout"),
            labels=job_labels(self.store_id, job), command=spec.get("command", "run"),
        ))
        return container.id[:12]

    def status(self, job: dict) -> Status | None:
        """The job's container state, or None when no container carries its labels."""
        found = self._find(job)
        if not found:
            return None
        container = found[0]
        container.reload()
        state, short = container.attrs["State"], container.id[:12]
        if state["Status"] in ("exited", "dead"):
            return Status("exited", state.get("ExitCode"), bool(state.get("OOMKilled")), short)
        if state["Status"] == "created":
            return Status("created", container=short)
        return Status("running", container=short)

    def stop(self, job: dict) -> None:
        for container in self._find(job):
            container.stop(timeout=10)

    def logs(self, job: dict) -> str | None:
        found = self._find(job)
        return found[0].logs().decode(errors="replace") if found else None

    def finish(self, job: dict) -> None:
        """Keep the container's output in the job folder, then remove the container."""
        from ..docker import runner

        for container in self._find(job):
            if container.status == "running":
                container.stop(timeout=10)
            if job.get("out_dir") and Path(job["out_dir"]).is_dir():
                with atomic_path(Path(job["out_dir"]) / LOG_NAME) as tmp:
                    tmp.write_bytes(container.logs())
            runner.remove(container)

    def job_ids(self) -> list[int]:
        """Ids of the jobs of this store that still have a container."""
        from ..docker import runner

        found = runner.find(self.client, {"cnnpipe.store": self.store_id})
        return sorted({int(c.labels["cnnpipe.job"]) for c in found if c.labels.get("cnnpipe.job", "").isdigit()})
