"""Helpers for the tests of runs of several processes: start them, find them by their variables, stop them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cnnpipe.distributed.environment import LAUNCH_VAR

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def environ_of(pid: int) -> dict:
    """The environment of process ``pid`` (empty when it is gone or not readable)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            items = f.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return {}
    return dict(item.split("=", 1) for item in items if "=" in item)


def pids_with(name: str, value: str | None = None) -> list[int]:
    """Live processes whose environment has variable ``name`` (set to ``value`` when given)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            env = environ_of(int(entry))
            if name in env and (value is None or env[name] == value):
                found.append(int(entry))
    return found


def children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry))
    return found


def launch_of(launcher_pid: int) -> str | None:
    """The launch id that cnnpipe's launcher ``launcher_pid`` gave its processes (once they run)."""
    for child in children_of(launcher_pid):
        launch = environ_of(child).get(LAUNCH_VAR)
        if launch:
            return launch
    return None


def _default_sigint() -> None:
    # A process started from a non-interactive shell may inherit SIGINT ignored; the tests send it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args, env=None, cwd=None) -> subprocess.Popen:
    """``cnnpipe ARGS`` in a session of its own, SIGINT at its default, output captured."""
    return subprocess.Popen([sys.executable, "-m", "cnnpipe", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
                            preexec_fn=_default_sigint)


def kill_all(popen: subprocess.Popen | None, variable: str | None = None, value: str | None = None) -> None:
    """Kill ``popen``'s process group and every process carrying ``variable`` (= ``value``); for ``finally``."""
    if popen is not None and popen.poll() is None:
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        popen.wait()
    if variable:
        for pid in pids_with(variable, value):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def wait_for(predicate, timeout: float, every: float = 0.2) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())
