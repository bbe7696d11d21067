"""The batch script of a Slurm job: one run (one task, or one task per process of a run of several workers),
or a job array with one task per run of a sweep.

The script runs ``cnnpipe run --resume FOLDER`` on a run folder made at submission.  Slurm sends it
``SIGUSR1`` :data:`SIGNAL_LEAD` seconds before its time limit (``--signal``), or an operator does
(``scancel --signal=USR1 --batch JOB``); it then interrupts the training processes, which checkpoint and
stop as after Ctrl-C, and requeues the job (``--requeue``): the job starts again later and continues
the same folder from its last complete epoch.
"""

from __future__ import annotations

import math
import shlex
import sys
from dataclasses import dataclass, field

from ..docker.limits import memory_bytes, positive
from ..errors import UsageError

SIGNAL_LEAD = 120  # seconds before the time limit: time to finish a batch and write the checkpoint
# Variables a job takes from the shell that submits it (besides what sbatch exports by itself).
PASSED = ("PYTHONPATH", "CNNPIPE_DATA_DIR", "CNNPIPE_CACHE_DIR", "MLFLOW_TRACKING_URI", "OMP_NUM_THREADS")


@dataclass(frozen=True)
class Resources:
    """What the job asks Slurm for (``None``: the partition's default)."""

    partition: str | None = None
    time_limit: float | None = None  # seconds
    cpus: float | None = None  # per task
    memory: str | None = None  # per node, as --memory takes it (4g)
    gpus: str | None = None  # a count, as --gpus takes it

    def directives(self) -> list[str]:
        """The ``#SBATCH`` options for these resources."""
        lines = []
        if self.partition:
            lines.append(f"--partition={self.partition}")
        if self.time_limit is not None:
            minutes = math.ceil(positive(self.time_limit, "--timeout", "a positive number of seconds") / 60)
            lines.append(f"--time={minutes}")
        if self.cpus is not None:
            lines.append(f"--cpus-per-task={math.ceil(positive(self.cpus, '--cpus'))}")
        if self.memory is not None:
            lines.append(f"--mem={math.ceil(memory_bytes(self.memory) / 2**20)}M")
        if self.gpus is not None:
            if not str(self.gpus).isdigit() or int(self.gpus) < 1:
                raise UsageError(f"--gpus with --runner slurm takes a number of GPUs per node, got '{self.gpus}'")
            lines.append(f"--gres=gpu:{int(self.gpus)}")
        return lines


@dataclass(frozen=True)
class Job:
    """One batch script: ``folders`` holds one run folder, or one per task of a job array."""

    name: str
    folders: tuple[str, ...]
    log: str  # file of the job's output, with Slurm's %j / %A_%a
    workdir: str
    resources: Resources = Resources()
    launcher: str | None = None  # the engine of a run of several workers
    workers: int = 1
    servers: int = 0
    environment: dict[str, str] = field(default_factory=dict)
    disable: tuple[str, ...] = ()
    debug: bool = False

    @property
    def tasks(self) -> int:
        """Slurm tasks: one per process (ps-lite adds its scheduler and servers)."""
        return self.workers + (1 + self.servers if self.servers else 0)

    def command(self) -> list[str]:
        """The job step's command for the run folder in ``$folder``."""
        python = sys.executable
        run = [python, "-m", "cnnpipe", *(a for name in self.disable for a in ("--disable-plugin", name)),
               "run", "--resume", "$folder", *(["--debug"] if self.debug else [])]
        if self.launcher is None:
            return run
        return [python, "-m", "cnnpipe.slurm.task", self.launcher, str(self.servers), *run]


def _quote(arg: str) -> str:
    return '"$folder"' if arg == "$folder" else shlex.quote(arg)


def render(job: Job) -> str:
    """The batch script's text."""
    options = [f"--job-name={job.name}", f"--ntasks={job.tasks}", *job.resources.directives()]
    if len(job.folders) > 1:
        options.append(f"--array=0-{len(job.folders) - 1}")
    if job.servers:
        options.append("--overcommit")  # ps-lite's scheduler and servers need little CPU beside the workers
    options += [f"--output={job.log}", "--open-mode=append", "--requeue", f"--signal=B:USR1@{SIGNAL_LEAD}"]
    lines = ["#!/bin/bash", f"# cnnpipe: {job.name}; submit with: sbatch THIS_FILE",
             *(f"#SBATCH {shlex.quote(o)}" for o in options), ""]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in sorted(job.environment.items())]
    lines += [f"cd {shlex.quote(job.workdir)}",
              "# Job control: the background step below takes SIGINT (a script's background job ignores it).",
              "set -m",
              f"folders=({' '.join(shlex.quote(f) for f in job.folders)})",
              'folder=${folders[${SLURM_ARRAY_TASK_ID:-0}]}',
              "signalled=",
              "# Before the time limit (or on preemption): interrupt the training, which checkpoints, then requeue.",
              "trap 'signalled=1; scancel --signal=INT \"$SLURM_JOB_ID\"' USR1",
              f"srun --kill-on-bad-exit=1 {' '.join(_quote(a) for a in job.command())} &",
              "step=$!",
              'wait "$step"; code=$?',
              'while kill -0 "$step" 2>/dev/null; do wait "$step"; code=$?; done',
              'if [ -n "$signalled" ] && [ "$code" -ne 0 ]; then',
              '    echo "cnnpipe: job $SLURM_JOB_ID was signalled before its end; requeued to continue $folder"',
              '    scontrol requeue "$SLURM_JOB_ID" && exit 0',
              "fi",
              'exit "$code"', ""]
    return "\n".join(lines)
