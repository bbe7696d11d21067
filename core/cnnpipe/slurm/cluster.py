"""Slurm's commands (``sbatch``, ``squeue``, ``sacct``, ``scancel``) with one-line errors."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from ..errors import JobError, UsageError

JOB_PREFIX = "cnnpipe-"  # the name of every job cnnpipe submits starts with it


def require(command: str = "sbatch") -> None:
    """A one-line error when Slurm's client commands are not installed here."""
    if shutil.which(command) is None:
        raise UsageError(f"{command} is not installed here; --runner slurm needs Slurm's client commands "
                         "(Debian: apt install slurm-client) and a cluster to submit to")


def _slurm(args: list[str], stdin: str | None = None) -> str:
    require(args[0])
    result = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        message = (result.stderr.strip() or result.stdout.strip() or f"exit status {result.returncode}")
        raise JobError(f"{args[0]} failed: {message.splitlines()[-1]}")
    return result.stdout


def submit(script: str) -> str:
    """Submit a batch script; returns the job id."""
    return _slurm(["sbatch", "--parsable"], stdin=script).strip().split(";")[0]


@dataclass(frozen=True)
class SlurmJob:
    """One job (or array task) as Slurm reports it."""

    id: str
    name: str
    state: str
    elapsed: str
    reason: str
    restarts: str = "0"


def queued(user_only: bool = True) -> list[SlurmJob]:
    """cnnpipe's jobs that Slurm still holds (pending, running, requeued), oldest first."""
    fields = "%i|%j|%T|%M|%r"
    text = _slurm(["squeue", "--noheader", "--array", f"--format={fields}", *(["--me"] if user_only else [])])
    return [SlurmJob(*line.split("|")[:5]) for line in text.splitlines()
            if line.split("|")[1].startswith(JOB_PREFIX)]


def finished(since: str = "now-1days") -> list[SlurmJob]:
    """cnnpipe's jobs from Slurm's accounting (empty where the cluster keeps none)."""
    try:
        text = _slurm(["sacct", "--noheader", "--parsable2", "-X", f"--starttime={since}",
                       "--format=JobID,JobName,State,Elapsed,Reason,Restarts"])
    except JobError:  # no accounting storage on this cluster
        return []
    return [SlurmJob(*line.split("|")[:6]) for line in text.splitlines()
            if len(line.split("|")) >= 6 and line.split("|")[1].startswith(JOB_PREFIX)]


def show(job_id: str) -> dict[str, str]:
    """One job's fields as ``scontrol show job`` reports them (while Slurm remembers the job)."""
    text = _slurm(["scontrol", "show", "job", "--oneliner", job_id])
    fields = dict(item.split("=", 1) for item in text.split() if "=" in item)
    if "JobState" not in fields:
        raise JobError(f"scontrol did not report the state of job {job_id}")
    return fields


def cancel(job_id: str) -> None:
    """Cancel a job (or an array, or one task of it as ``JOB_TASK``)."""
    _slurm(["scancel", job_id])
