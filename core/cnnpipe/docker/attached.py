"""``cnnpipe run --runner docker``: the same ``cnnpipe run`` in a job container, attached to this terminal.

However the client stops (it returns, Ctrl-C once or twice, SIGTERM, SIGHUP) the container is removed and
the run folder lands in ``--out``.  A client killed outright (SIGKILL) cannot clean up: its container
carries the client's identity (``cnnpipe.client``), and the next command that connects to the engine
(or ``cnnpipe gc``) removes the containers of clients that are gone and hands their run folders back.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ..errors import JobError, UsageError
from ..files import DiskFull
from ..rundir import CONTAINER
from ..specs import NO_FILES
from . import container as containers, engine, limits, staging
from .request import ContainerRequest, container_args, shared_cache

CLIENT = "cnnpipe.client"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(BaseException):
    """The client got SIGTERM or SIGHUP; like KeyboardInterrupt, no ``except Exception`` catches it."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def data_folder(dataset_spec, data_dir) -> Path | None:
    """The host folder to mount at ``/data``: what the dataset plugin would read (see ``DatasetSpec.locate``)."""
    if dataset_spec.locate is not None:
        folder = dataset_spec.locate(data_dir)
        if folder is NO_FILES:
            return None
        if folder is None:
            raise UsageError(
                f"dataset '{dataset_spec.name}' has no files on this host to mount, and job containers have "
                f"no network; run it once locally to download it, or pass --data-dir FOLDER"
            )
        return Path(folder).resolve()
    return Path(data_dir).resolve() if data_dir else None


def make_request(resolved, *, image=None, gpus=None, memory=None, cpus=None, timeout=None, debug=False,
                 disable=()) -> ContainerRequest:
    """The container request of a run resolved on the host (names and settings already checked).

    Without ``image`` the request's image is left empty, for the caller to choose once an engine is
    connected (:func:`cnnpipe.docker.image.image_for_plugins`): nothing is asked of the engine before
    every check has passed.
    """
    from ..plugins import disabled_names

    limits.device_requests(gpus)
    limits.check(memory, cpus, timeout)
    config = resolved.config
    data_dir = data_folder(resolved.dataset, config.data_dir)
    env = {}
    off = disabled_names(disable)
    if off:
        env["CNNPIPE_DISABLE_PLUGINS"] = ",".join(sorted(off))
    return ContainerRequest(
        image=image or "",
        args=container_args(config, data_mounted=data_dir is not None, debug=debug),
        out_dir=Path(config.out).resolve(),
        data_dir=data_dir, gpus=gpus, memory=memory, cpus=cpus, timeout=timeout, env=env, cache_dir=shared_cache(),
    )


def execute(client, request: ContainerRequest, echo=None) -> int:
    """Run ``request`` with its output streamed live; returns the container's exit code.

    The container is removed however this ends; a second signal while it is being removed is noted, not obeyed.
    """
    echo = echo or (lambda msg: print(msg, file=sys.stderr))
    request = replace(request, labels={**request.labels, CLIENT: identity()})
    out_dir = Path(request.out_dir).resolve()
    before = _listing(out_dir)
    stops = StopSignals()
    container, code = None, None
    with stops.installed():
        try:
            with stops.deferred():
                container = containers.create(client, request)
                output = containers.attach(container)
            logs = threading.Thread(target=containers.copy_output, args=(output,), daemon=True)
            logs.start()
            containers.begin(container, request)
            code = containers.wait(container, request.timeout)
            logs.join(timeout=10)
        except JobError as exc:
            code = exc.exit_code
            raise
        finally:
            with stops.shielded(echo):
                if container is not None:
                    if code is None:  # stopped by the client's signal, or an error: let the run inside end
                        containers.halt(container)
                    containers.refresh(container)  # its exit and times, before it is gone
                    moved = containers.remove(container)
                    made = moved or [out_dir / name for name in sorted(_listing(out_dir) - before)]
                    try:
                        containers.record(container, made, code)
                    except (OSError, DiskFull) as exc:  # the job's outcome stands; only its record is missing
                        echo(f"cnnpipe: warning: could not write {CONTAINER}: {exc}")
                    for run_dir in made:
                        echo(f"run folder on the host: {run_dir}")
    return code


def _listing(folder: Path) -> set[str]:
    return {n for n in os.listdir(folder) if not n.startswith(".")} if folder.is_dir() else set()


class StopSignals:
    """SIGINT, SIGTERM and SIGHUP stop the job: the first one raises (inside :meth:`deferred`, once that ends);
    any later one, and any while :meth:`shielded` (removing the container), is only noted."""

    def __init__(self):
        self.pending: int | None = None
        self.deferring = 0
        self.stopping = False
        self.note = lambda message: print(message, file=sys.stderr)

    def _handle(self, signum, frame):
        if self.stopping:
            self.note(f"cnnpipe: {signal.Signals(signum).name} noted; removing the job container first")
            return
        if self.deferring:
            self.pending = self.pending or signum
            return
        self.stopping = True
        raise stop(signum)

    @contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield  # signals reach only the main thread
            return
        previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    @contextmanager
    def deferred(self):
        self.deferring += 1
        try:
            yield
        finally:
            self.deferring -= 1
        if not self.deferring and self.pending is not None and not self.stopping:
            self.stopping = True
            raise stop(self.pending)

    @contextmanager
    def shielded(self, echo):
        said = []

        def note(message):
            if not said:
                said.append(message)
                echo(message)

        self.stopping, self.note = True, note
        yield


def stop(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Stopped(signum)


# Clients that died without removing their container (SIGKILL, a crash, a reboot).

def identity() -> str:
    """This process as a label value: host, boot, pid and the pid's start time (pids are reused)."""
    pid = os.getpid()
    return json.dumps({"host": socket.gethostname(), "boot": _boot_id(), "pid": pid, "start": _start_time(pid)},
                      sort_keys=True)


def alive(label: str) -> bool | None:
    """Whether the client of ``label`` still runs; None when it ran on another host (not ours to judge)."""
    try:
        who = json.loads(label)
        if who["host"] != socket.gethostname():
            return None
        if who.get("boot") and _boot_id() and who["boot"] != _boot_id():
            return False
        return _start_time(int(who["pid"])) == who["start"]  # None once it is gone or a zombie
    except (ValueError, KeyError, TypeError):
        return None


def reap(client, echo=None) -> list:
    """Remove the containers of ``--runner docker`` clients that are gone, handing their run folders back."""
    echo = echo or (lambda msg: print(msg, file=sys.stderr))
    reaped = []
    for found in client.containers.list(all=True, filters={"label": CLIENT}, ignore_removed=True):
        if alive(found.labels.get(CLIENT, "")) is not False:
            continue
        if found.status == "running":
            containers.halt(found, grace=10)  # the run inside records "interrupted"
            containers.refresh(found)
        state = (found.attrs.get("State") or {})
        moved = containers.remove(found)
        containers.record(found, moved, state.get("ExitCode"))
        pid = json.loads(found.labels[CLIENT])["pid"]
        where = f"; run folders: {', '.join(map(str, moved))}" if moved else ""
        echo(f"cnnpipe: removed job container {found.short_id}, whose client (pid {pid}) is gone{where}")
        reaped.append(found)
    return reaped


def orphans(client, out_dir: Path, echo=None, min_age: float = 60.0) -> list[Path]:
    """Hand back staged run folders in ``out_dir`` whose container is gone (removed by other means)."""
    import time

    echo = echo or (lambda msg: print(msg, file=sys.stderr))
    if os.getuid() != 0 or not out_dir.is_dir():
        return []  # only root's runs are staged
    owned = {c.labels.get(staging.STAGING) for c in client.containers.list(
        all=True, filters={"label": staging.STAGING}, ignore_removed=True)}
    moved = []
    for folder in sorted(out_dir.glob(f"{staging.PREFIX}*")):
        # A folder this young may belong to a container being created right now.
        if str(folder.resolve()) in owned or time.time() - folder.stat().st_mtime < min_age:
            continue
        labels = {staging.STAGING: str(folder.resolve()), staging.OUT: str(out_dir.resolve()),
                  staging.OWNER: f"{os.getuid()}:{os.getgid()}"}
        handed = staging.hand_back(labels)
        echo(f"cnnpipe: handed back {folder.name}, whose container is gone"
             f"{': ' + ', '.join(map(str, handed)) if handed else ''}")
        moved += handed or [folder]
    return moved


def connect(echo=None):
    """A client of the engine, after clearing what dead clients left behind."""
    client = engine.client()
    reap(client, echo)
    return client


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):  # exited, not yet reaped by its parent
        return None
    return int(fields[19])
