"""What the scheduler may use: GPU ids (configured or detected) and a CPU-job concurrency."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from ..errors import UsageError
from .records import Job

GPU_ID = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Resources:
    """GPU ids jobs may be given (each to one job at a time) and how many CPU-only jobs may run at once."""

    gpus: tuple[str, ...] = ()
    cpu_slots: int = 1


def parse_gpus(text: str, source: str) -> tuple[str, ...]:
    """``"0,1"`` as ids; ``"none"`` or ``""`` as no GPU."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return ()
    ids = tuple(part.strip() for part in text.split(","))
    bad = [i for i in ids if not GPU_ID.match(i)]
    if bad or len(set(ids)) != len(ids):
        raise UsageError(f"{source} takes GPU ids separated by commas (for example 0,1) or 'none', got '{text}'")
    return ids


def detect_gpus() -> tuple[str, ...]:
    """GPU indices that ``nvidia-smi`` reports; none when it is absent or fails."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return ()
    try:
        out = subprocess.run([exe, "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(line.strip() for line in out.splitlines() if line.strip())


def configured(gpus: str | None = None, cpu_slots: int | None = None) -> Resources:
    """Resources from options, else ``CNNPIPE_GPUS`` / ``CNNPIPE_CPU_JOBS``, else detection and 1 CPU job."""
    if gpus is not None:
        ids = parse_gpus(gpus, "--gpus")
    elif "CNNPIPE_GPUS" in os.environ:
        ids = parse_gpus(os.environ["CNNPIPE_GPUS"], "CNNPIPE_GPUS")
    else:
        ids = detect_gpus()
    if cpu_slots is None:
        raw = os.environ.get("CNNPIPE_CPU_JOBS", "1")
        try:
            cpu_slots = int(raw)
        except ValueError:
            raise UsageError(f"CNNPIPE_CPU_JOBS must be a whole number, got '{raw}'")
    if cpu_slots < 1:
        raise UsageError(f"the CPU job limit must be at least 1, got {cpu_slots}")
    return Resources(ids, cpu_slots)


def allocate(queued: list[Job], busy: list[Job], res: Resources) -> list[tuple[Job, list[str]]]:
    """Which queued jobs start now and on which GPUs, in queue order and never oversubscribing.

    A GPU job that does not fit blocks the GPU jobs behind it (so a big request is not starved);
    CPU-only jobs have their own line, limited by ``res.cpu_slots``.
    """
    held = {g for job in busy for g in job.gpus}
    free = [g for g in res.gpus if g not in held]
    cpu_free = res.cpu_slots - sum(1 for job in busy if not job.gpu_count)
    chosen, gpu_blocked = [], False
    for job in queued:
        need = job.gpu_count
        if need:
            if gpu_blocked or need > len(free):
                gpu_blocked = True
                continue
            chosen.append((job, free[:need]))
            free = free[need:]
        elif cpu_free > 0:
            chosen.append((job, []))
            cpu_free -= 1
    return chosen
