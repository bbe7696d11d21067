"""Checks of the container options (``--gpus``, ``--memory``, ``--cpus``, ``--timeout``) and of other numbers of
seconds, each refused with one line before anything is created."""

from __future__ import annotations

import math
import os
import re

from ..errors import UsageError

MEMORY_RE = re.compile(r"^(\d+(?:\.\d+)?)([bkmg]?)$", re.IGNORECASE)
UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30}
# The engine refuses a smaller limit when it creates the container; say so before.
MIN_MEMORY = 6 * 2**20
# 0 would mean "no limit" to Docker, and whatever the engine can hold is far above any machine's memory.
MAX_MEMORY = 2**50
# Docker's smallest CPU share; the largest is the engine's (this machine's) CPU count, or for a schedule,
# which may be exported to a bigger cluster, Linux's largest CPU count.
MIN_CPUS = 0.01
MAX_CPUS_ANYWHERE = 8192
# The longest span of seconds cnnpipe waits for: more is a mistake, and 1e10 overflows the clocks that wait.
MAX_SECONDS = 366 * 24 * 3600
GPUS_RE = re.compile(r"^(all|\d+|[\w-]+(,[\w-]+)*,?)$")


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


def memory_bytes(memory) -> int:
    """``--memory`` (``512m``, ``4g``, ``1.5g``: powers of 1024) in bytes; at least Docker's 6 MiB."""
    match = MEMORY_RE.match(str(memory).strip())
    if not match:
        raise UsageError(f"--memory takes a size like 512m or 4g, got '{memory}'")
    size = int(float(match.group(1)) * UNITS[match.group(2).lower()])
    if size < MIN_MEMORY:
        # 0 would mean "no limit" to Docker: never what someone who typed a limit meant.
        raise UsageError(f"--memory must be at least 6m (Docker's smallest limit), got '{memory}'")
    if size > MAX_MEMORY:
        raise UsageError(f"--memory must be at most {MAX_MEMORY // 2**30}g, got '{memory}'")
    return size


def positive(value, flag: str, what: str = "positive") -> float | None:
    """``value`` as a finite number above zero (None stays None); a one-line error naming ``flag`` otherwise."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise UsageError(f"{flag} must be {what}, got {value}")
    return number


def seconds(value, flag: str) -> float | None:
    """``value`` as a positive number of seconds up to :data:`MAX_SECONDS` (None stays None)."""
    number = positive(value, flag, "a positive number of seconds")
    if number is not None and number > MAX_SECONDS:
        raise UsageError(f"{flag} must be at most {MAX_SECONDS} seconds (366 days), got {value}")
    return number


def cpu_share(value, here: bool = True) -> float | None:
    """``--cpus`` from Docker's 0.01 up to this machine's CPU count when its engine runs the job (``here``),
    else up to :data:`MAX_CPUS_ANYWHERE` (None stays None)."""
    number = positive(value, "--cpus")
    most, whose = (os.cpu_count() or 1, " (this machine's CPUs)") if here else (MAX_CPUS_ANYWHERE, "")
    if number is not None and not MIN_CPUS <= number <= most:
        raise UsageError(f"--cpus must be between {MIN_CPUS} and {most}{whose}, got {value}")
    return number


def not_negative(value, flag: str) -> float:
    """``value`` as a finite number of zero or more; a one-line error naming ``flag`` otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise UsageError(f"{flag} must not be negative (a finite number), got {value}")
    if number > MAX_SECONDS:
        raise UsageError(f"{flag} must be at most {MAX_SECONDS} seconds (366 days), got {value}")
    return number


def check(memory=None, cpus=None, timeout=None, here: bool = True) -> None:
    """One-line errors for malformed ``--memory``, ``--cpus`` and ``--timeout`` values (see :func:`cpu_share`)."""
    if memory is not None:
        memory_bytes(memory)
    cpu_share(cpus, here)
    seconds(timeout, "--timeout")
