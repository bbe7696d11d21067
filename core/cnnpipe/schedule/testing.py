"""A launcher without containers and a settable clock, for testing schedulers."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import EngineError
from ..rundir import CONFIG
from .launcher import Status
from .records import Job


class Clock:
    """Epoch seconds that move only when told to."""

    def __init__(self, now: float):
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeLauncher:
    """Keeps 'containers' in a dict; they outlive any scheduler object, like real ones outlive a killed process."""

    def __init__(self):
        self.containers: dict[int, dict] = {}
        self.started: list[int] = []
        self.stopped: list[int] = []
        self.refuse: str | None = None  # set to make start() fail with this message

    def start(self, job: Job) -> str:
        if self.refuse:
            raise EngineError(self.refuse)
        self.containers[job.id] = {"state": "running", "exit_code": None, "job": job}
        self.started.append(job.id)
        return f"fake{job.id}"

    def exit(self, job_id: int, code: int = 0) -> None:
        """The job's process ends with ``code``; a succeeding one leaves a run folder like ``cnnpipe run``."""
        c = self.containers[job_id]
        c.update(state="exited", exit_code=code)
        if code == 0 and c["job"].out_dir:
            run = Path(c["job"].out_dir) / "lenet-fashion-mnist-20260101-000000"
            run.mkdir(parents=True, exist_ok=True)
            (run / CONFIG).write_text(json.dumps({"config": {}}))

    def status(self, job: Job) -> Status | None:
        c = self.containers.get(job.id)
        return None if c is None else Status(c["state"], c["exit_code"], container=f"fake{job.id}")

    def stop(self, job: Job) -> None:
        c = self.containers.get(job.id)
        if c and c["state"] == "running":
            c.update(state="exited", exit_code=137)
            self.stopped.append(job.id)

    def logs(self, job: Job):
        return "" if job.id in self.containers else None

    def finish(self, job: Job) -> None:
        self.stop(job)
        self.containers.pop(job.id, None)

    def job_ids(self) -> list[int]:
        return sorted(self.containers)

    def running(self) -> list[int]:
        return sorted(i for i, c in self.containers.items() if c["state"] == "running")
