"""How many compute threads a run uses: the CPUs this process may really run on, shared by its workers.

A framework left to itself starts one busy-waiting OpenMP thread per core of the machine, even inside a
container limited to one CPU, and with other CPU-bound work around the threads spin against each other
(a LeNet epoch took ten times its quiet time).  So the count comes from the CPU affinity and the cgroup's
CPU quota (a container's ``--cpus``, a pod's CPU limit), divided by the worker processes, and idle
threads wait passively.  Only the standard library: the scheduler and the docs' tools import this.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def affinity_cpus() -> int:
    """CPUs this process may be scheduled on (``taskset``, a cpuset, Slurm's binding)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _quota_v2(folder: Path) -> float | None:
    """``cpu.max`` of a cgroup v2 folder (``"50000 100000"``: half a CPU; ``"max 100000"``: no limit)."""
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" or int(period) <= 0 else int(quota) / int(period)


def _quota_v1(folder: Path) -> float | None:
    """``cpu.cfs_quota_us / cpu.cfs_period_us`` of a cgroup v1 ``cpu`` folder (a quota of -1: no limit)."""
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period


def _lowest(folders, read) -> float | None:
    quotas = [q for q in (read(f) for f in folders) if q is not None]
    return min(quotas) if quotas else None


def _ancestors(mount: Path, path: str) -> list[Path]:
    """``mount/path`` and every folder above it up to ``mount``: a parent's quota caps its children too."""
    parts = [p for p in path.strip("/").split("/") if p]
    return [mount.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def cgroup_cpus(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The CPU quota of this process's cgroup (v2 or v1) in CPUs, or ``None`` when there is none."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    quotas = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":  # v2's single hierarchy: "0::/path"
            quotas.append(_lowest(_ancestors(root, path), _quota_v2))
        elif "cpu" in controllers.split(","):
            mount = next((root / name for name in (controllers, "cpu", "cpu,cpuacct") if (root / name).is_dir()), None)
            if mount is not None:
                # Inside a container the mount is the container's own cgroup, and `path` names the host's.
                quotas.append(_lowest(_ancestors(mount, path) + [mount], _quota_v1))
    quotas = [q for q in quotas if q is not None]
    return min(quotas) if quotas else None


def usable_cpus() -> int:
    """Whole CPUs this process may use: the affinity, capped by the cgroup quota (rounded up, at least 1)."""
    cpus = affinity_cpus()
    quota = cgroup_cpus()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def threads_for(workers: int = 1, cpus: int | None = None) -> int:
    """Compute threads for each of ``workers`` processes sharing this machine's usable CPUs."""
    return max(1, (cpus or usable_cpus()) // max(1, workers))


def settle(requested: int | None, workers: int = 1, environ=os.environ) -> dict:
    """Decide this process's thread count and waiting, and set them for OpenMP before a framework loads.

    ``--threads`` wins, then an ``OMP_NUM_THREADS`` already set (a launcher's, or the user's), then the
    usable CPUs divided by ``workers``.  Returns what was decided, for ``config.json``.
    """
    cpus = usable_cpus()
    inherited = environ.get("OMP_NUM_THREADS", "")
    if requested:
        count, source = requested, "--threads"
    elif inherited.isdigit() and int(inherited) > 0:
        count, source = int(inherited), "OMP_NUM_THREADS"
    else:
        count, source = threads_for(workers, cpus), "usable CPUs"
    environ["OMP_NUM_THREADS"] = str(count)
    if not environ.get("MKL_NUM_THREADS"):
        environ["MKL_NUM_THREADS"] = str(count)
    if not environ.get("OMP_WAIT_POLICY"):
        # Idle OpenMP threads sleep instead of spinning, so that neighbours on a shared machine get the cores.
        environ["OMP_WAIT_POLICY"] = "PASSIVE"
    quota = cgroup_cpus()
    return {"count": count, "from": source, "usable_cpus": cpus, "affinity_cpus": affinity_cpus(),
            "cgroup_quota": quota, "wait_policy": environ["OMP_WAIT_POLICY"]}
