"""``python -m cnnpipe_mxnet.launch [--host-ip IP] LAUNCH_OPTIONS COMMAND``: MXNet's own launcher on Python 3.9+.

The ``mxnet`` wheel ships ``mxnet/tools/launch.py`` and the ``dmlc_tracker`` package it drives (local, ssh,
mpi, sge, yarn), which start a scheduler, servers and workers with the ``DMLC_*`` variables.  On Python 3.9
and newer the tracker stops at once: it calls ``threading.Thread.isAlive``, which Python 3.9 removed.  This
module restores that name and runs ``launch.py`` with every option it has, for example::

    python -m cnnpipe_mxnet.launch -n 2 -s 1 --launcher ssh -H hosts cnnpipe run lenet fashion-mnist
    python -m cnnpipe_mxnet.launch --host-ip 127.0.0.1 -n 2 -s 1 --launcher local cnnpipe run lenet fashion-mnist

``--host-ip`` sets the address the scheduler is reached at (the tracker otherwise takes the machine's
first outward address); with ``--launcher local`` the servers and workers use it too.  The tracker neither
stops the others when one process fails nor restarts anything here: ``cnnpipe run --workers N`` is the
launcher with a watchdog for one machine.
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import sys
import threading
from pathlib import Path


def launch_script() -> Path:
    """``mxnet/tools/launch.py`` of the installed wheel, found without importing mxnet."""
    spec = importlib.util.find_spec("mxnet")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("cnnpipe_mxnet.launch: error: MXNet is not installed (pip install 'cnnpipe-mxnet[cpu]')")
    script = Path(spec.submodule_search_locations[0]) / "tools" / "launch.py"
    if not script.is_file():
        raise SystemExit(f"cnnpipe_mxnet.launch: error: this MXNet has no {script}")
    return script


def launcher_of(argv: list[str]) -> str:
    """The ``--launcher`` launch.py is given (its default is ssh)."""
    for i, arg in enumerate(argv):
        if arg == "--launcher" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--launcher="):
            return arg.split("=", 1)[1]
    return "ssh"


def main(argv: list[str]) -> None:
    host = None
    if argv[:1] == ["--host-ip"] and len(argv) > 1:
        host, argv = argv[1], argv[2:]
    if not hasattr(threading.Thread, "isAlive"):
        threading.Thread.isAlive = threading.Thread.is_alive
    if host is not None:
        from dmlc_tracker import tracker

        tracker.get_host_ip = lambda _requested=None: host
        if launcher_of(argv) == "local":
            os.environ["DMLC_NODE_HOST"] = host
    script = launch_script()
    sys.argv = [str(script), *argv]
    runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
