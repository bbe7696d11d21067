"""CPU runtime defaults for MXNet, chosen from measurements (see ``benchmarks/RESULTS.md``).

OpenMP threads that outnumber the free cores spin at barriers while the OS runs someone else, and
MXNet's threaded engine adds a hand-off per operator that buys nothing when one CPU does all the
work.  A variable the user has set is never changed.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata

SETTINGS = ("OMP_NUM_THREADS", "MXNET_ENGINE_TYPE")


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def free_cores() -> int:
    """Usable cores minus the one-minute load average, at least one."""
    cores = usable_cores()
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


def cpu_only_mxnet() -> bool:
    """True when the installed MXNet is the CPU build (distribution ``mxnet``, not ``mxnet-cu*``)."""
    try:
        metadata.distribution("mxnet")
    except metadata.PackageNotFoundError:
        return False
    return True


def defaults() -> dict:
    """The settings cnnpipe would choose on this machine now."""
    chosen = {"OMP_NUM_THREADS": str(free_cores())}
    if cpu_only_mxnet():
        # Synchronous execution: no engine thread competing with the OpenMP workers for the cores.
        chosen["MXNET_ENGINE_TYPE"] = "NaiveEngine"
    return chosen


def apply_defaults(environ=os.environ) -> tuple:
    """Set each default the user has not set (call before MXNet is imported); returns the names managed."""
    # Once MXNet is loaded the variables no longer take effect; setting them would only mislead.
    if "CNNPIPE_NO_RUNTIME_DEFAULTS" in environ or "mxnet" in sys.modules:
        return SETTINGS
    for name, value in defaults().items():
        environ.setdefault(name, value)
    return SETTINGS
