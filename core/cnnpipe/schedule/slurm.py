"""Scheduled jobs as Slurm jobs (``schedule add --on slurm``): the scheduler submits each due job with sbatch.

A job's batch script is the one ``cnnpipe manifest --slurm`` prints (its run folder made in the job's
folder, requeue-on-signal included); the Slurm job id takes the place of a container id.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..errors import JobError
from ..files import atomic_path
from ..slurm import cluster
from .launcher import LOG_NAME, DockerLauncher, Status
from .records import Job

SCRIPT_NAME = "slurm-job.sh"
HELD = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING",
        "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT")


class SlurmLauncher:
    """Submits, inspects and cancels the Slurm jobs of scheduled jobs."""

    def start(self, job: Job) -> str:
        """Write the job's batch script (its run folder made) and submit it; returns the Slurm job id."""
        request = job.request
        script = Path(job.out_dir) / SCRIPT_NAME
        args = [*request.args, "--out", str(job.out_dir)]
        if request.data_dir:
            args += ["--data-dir", str(request.data_dir)]
        for flag, value in (("--timeout", request.timeout), ("--memory", request.memory), ("--cpus", request.cpus)):
            if value is not None:
                args += [flag, str(value)]
        made = subprocess.run([sys.executable, "-m", "cnnpipe", "manifest", *args, "--slurm", "-o", str(script)],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if made.returncode != 0:
            lines = made.stderr.strip().splitlines() or [f"exit status {made.returncode}"]
            raise JobError(f"cnnpipe manifest --slurm failed: {lines[-1]}")
        return cluster.submit(script.read_text())

    def status(self, job: Job) -> Status | None:
        if not job.container:
            return None
        try:
            shown = cluster.show(job.container)
        except JobError:  # Slurm forgot the job (MinJobAge) or never knew it
            return None
        state = shown.get("JobState", "")
        if state in HELD:
            return Status("running", container=job.container)
        code, _, signum = shown.get("ExitCode", "1:0").partition(":")
        exit_code = int(code) if code.isdigit() and int(code) else (128 + int(signum) if signum.isdigit()
                                                                   and int(signum) else 0)
        if state != "COMPLETED" and exit_code == 0:
            exit_code = 1  # cancelled, timed out, node failure: not a success whatever the script returned
        return Status("exited", exit_code, state == "OUT_OF_MEMORY", job.container)

    def stop(self, job: Job) -> None:
        if job.container:
            cluster.cancel(job.container)  # the job's processes get SIGTERM, then SIGKILL

    def logs(self, job: Job) -> str | None:
        found = sorted(Path(job.out_dir).glob("*/slurm-*.out")) if job.out_dir else []
        return "".join(p.read_text(errors="replace") for p in found) if found else None

    def finish(self, job: Job) -> None:
        """Cancel the job if Slurm still holds it, and keep its output in the job folder."""
        status = self.status(job)
        if status is not None and status.state == "running":
            self.stop(job)
        output = self.logs(job)
        if output is not None and job.out_dir and Path(job.out_dir).is_dir():
            with atomic_path(Path(job.out_dir) / LOG_NAME) as tmp:
                tmp.write_text(output)

    def job_ids(self) -> list[int]:
        """Slurm jobs are found through their job's row (its container column): none to sweep up here."""
        return []


class ByTarget:
    """Each job goes to the launcher of where its schedule runs (``Request.on``: docker or slurm)."""

    def __init__(self, launchers: dict):
        self.launchers = launchers

    def _of(self, job: Job):
        target = job.request.on if job.request else "docker"
        if target not in self.launchers:
            raise JobError(f"job {job.id} runs on {target}, which this scheduler does not reach")
        return self.launchers[target]

    def start(self, job):
        return self._of(job).start(job)

    def status(self, job):
        return self._of(job).status(job)

    def stop(self, job):
        return self._of(job).stop(job)

    def logs(self, job):
        return self._of(job).logs(job)

    def finish(self, job):
        return self._of(job).finish(job)

    def job_ids(self) -> list[int]:
        return [i for launcher in self.launchers.values() for i in launcher.job_ids()]


def launchers(store, schedules) -> ByTarget:
    """The launchers a store's schedules need: Docker's engine is left alone only when every schedule runs on Slurm."""
    chosen = {"slurm": SlurmLauncher()}
    targets = {s.request.on if s.request else "docker" for s in schedules}
    if targets != {"slurm"}:
        docker = DockerLauncher(store.id)
        docker.client  # fail now, with one line, when no engine answers
        chosen["docker"] = docker
    return ByTarget(chosen)
