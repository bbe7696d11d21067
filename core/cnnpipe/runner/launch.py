"""Start a run's processes on this machine and watch them: a failure anywhere stops all of them.

MXNet's parameter server: cnnpipe starts the scheduler, the servers and the workers itself, with the
``DMLC_*`` variables on 127.0.0.1.  (The ``dmlc_tracker`` that ``mxnet/tools/launch.py`` drives calls
``Thread.isAlive``, which Python 3.9 removed, picks its address by probing a private one, and restarts
or waits on failed processes instead of stopping the run; see docs/distributed.md.)  PyTorch:
``torch.distributed.run`` (torchrun) with a c10d rendezvous on 127.0.0.1 starts and watches the workers;
cnnpipe watches torchrun.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from ..distributed import PS_LITE
from ..distributed.environment import LAUNCH_VAR, LOCALHOST
from ..threads import threads_for
from .output import Output, Source

GRACE = 5.0  # seconds between SIGTERM and SIGKILL when stopping the processes
LINGER = 120.0  # once one process has finished, the others must finish within this
JOIN = 300.0  # every worker must have joined (logged its first line as a rank) within this
POLL = 0.2


@dataclass
class Process:
    """One process to start: its command, its environment additions, and how its output names it."""

    source: Source
    argv: list[str]
    env: dict[str, str]
    worker: bool = False  # a training process of its own (ps-lite's workers), to be seen joining
    popen: subprocess.Popen | None = field(default=None, repr=False)


def ps_lite(command: list[str], workers: int, servers: int, port: int) -> list[Process]:
    """The scheduler, ``servers`` servers and ``workers`` workers of MXNet's parameter server on 127.0.0.1."""
    common = {"DMLC_PS_ROOT_URI": LOCALHOST, "DMLC_PS_ROOT_PORT": str(port), "DMLC_NUM_SERVER": str(servers),
              "DMLC_NUM_WORKER": str(workers), "DMLC_NODE_HOST": LOCALHOST}
    threads = str(threads_for(workers))  # no more threads than the CPUs this process may use
    processes = [Process(Source("scheduler", quiet=True), command, {**common, "DMLC_ROLE": "scheduler"})]
    processes += [Process(Source(f"server {i}", quiet=True), command, {**common, "DMLC_ROLE": "server"})
                  for i in range(servers)]
    processes += [Process(Source(f"worker {i}"), command,
                          {**common, "DMLC_ROLE": "worker", "LOCAL_RANK": str(i),
                           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", threads)}, worker=True)
                  for i in range(workers)]
    return processes


def torchrun(command: list[str], workers: int, port: int, log_dir: str) -> list[Process]:
    """torchrun starting ``workers`` processes of ``command`` (``python -m ...`` arguments) on 127.0.0.1."""
    argv = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(workers),
            "--rdzv-backend", "c10d", "--rdzv-endpoint", f"{LOCALHOST}:{port}", "--local-addr", LOCALHOST,
            "--max-restarts", "0", "--tee", "3", "--log-dir", log_dir, *command[1:]]
    return [Process(Source("torchrun", quiet=True), argv, {"GLOO_SOCKET_IFNAME": "lo"})]


def plan(launcher: str, command: list[str], workers: int, servers: int | None, port: int, log_dir: str):
    """The processes of a launch by ``launcher``; ``command`` starts with the Python interpreter."""
    if launcher == PS_LITE:
        return ps_lite(command, workers, servers or 1, port)
    return torchrun(command, workers, port, log_dir)


def _die_with_parent() -> None:
    # In the child, before exec: killed with the launcher, however the launcher ends (Linux only).
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def processes_of(launch: str) -> list[int]:
    """The pids of live processes started by the launch named ``launch`` (found by the variable they carry)."""
    found = []
    needle = f"{LAUNCH_VAR}={launch}".encode()
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


@dataclass
class Result:
    """How a launch ended: ``code`` 0 when every process finished well, else ``failure`` says who did not."""

    code: int
    failure: str = ""
    interrupted: bool = False


class Launch:
    """Starts ``processes``, routes their output, and stops all of them as soon as one fails."""

    def __init__(self, processes: list[Process], output: Output, launch: str, *, grace=GRACE, linger=LINGER,
                 join=JOIN):
        self.processes, self.output, self.launch = processes, output, launch
        self.grace, self.linger, self.join = grace, linger, join
        self.lines: queue.Queue = queue.Queue()

    def run(self) -> Result:
        """Start every process and wait until all have finished, or one has failed and the rest are stopped.

        Ctrl-C, or SIGTERM (``docker stop``, systemd), interrupts them all.
        """
        readers = []
        previous = _interrupt_on_sigterm()
        try:
            for p in self.processes:
                p.popen = subprocess.Popen(
                    p.argv, env={**os.environ, **p.env, LAUNCH_VAR: self.launch}, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                    preexec_fn=_die_with_parent)
            # Readers start after the last fork: a fork while other threads run may copy a held lock.
            for p in self.processes:
                for stream in (p.popen.stdout, p.popen.stderr):
                    reader = threading.Thread(target=self._read, args=(p.source, stream), daemon=True)
                    reader.start()
                    readers.append(reader)
            result = self._watch()
            self._stop(signal.SIGTERM)
        except KeyboardInterrupt:
            result = Result(130, "interrupted", interrupted=True)
            self._stop(signal.SIGINT)
        finally:
            self._stop(signal.SIGKILL)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        for reader in readers:
            reader.join(timeout=self.grace)
        self._drain()
        return result

    def _read(self, source: Source, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.lines.put((source, raw.decode("utf-8", "replace").rstrip("\r\n")))
        stream.close()

    def _drain(self, timeout: float = 0.0) -> None:
        try:
            item = self.lines.get(timeout=timeout) if timeout else self.lines.get_nowait()
            while True:
                self.output.feed(*item)
                item = self.lines.get_nowait()
        except queue.Empty:
            pass

    def _watch(self) -> Result:
        start, first_done = time.monotonic(), None
        while True:
            self._drain(POLL)
            codes = [p.popen.poll() for p in self.processes]
            for p, code in zip(self.processes, codes):
                if code not in (None, 0):
                    self._drain()
                    return Result(1, failure_line(p, code))
            if all(code == 0 for code in codes):
                return Result(0)
            now = time.monotonic()
            if first_done is None and 0 in codes:
                first_done = now
            if first_done is not None and now - first_done > self.linger:
                late = next(p for p, code in zip(self.processes, codes) if code is None)
                return Result(1, f"{name(late)} (pid {late.popen.pid}) had not finished {self.linger:g} s after "
                                 f"the first process of the run did")
            waiting = [p for p in self.processes if p.worker and p.source.rank is None]
            if waiting and now - start > self.join:
                return Result(1, f"{name(waiting[0])} (pid {waiting[0].popen.pid}) did not join the run within "
                                 f"{self.join:g} s")

    def _stop(self, sig: int) -> None:
        """Send ``sig`` to every process of the launch still running; with SIGKILL, wait until they are gone."""
        started = [p.popen for p in self.processes if p.popen is not None]
        if sig != signal.SIGKILL:
            for popen in started:
                if popen.poll() is None:
                    _signal_group(popen.pid, sig)
            deadline = time.monotonic() + self.grace
            while time.monotonic() < deadline and any(popen.poll() is None for popen in started):
                self._drain(POLL)
            return
        for popen in started:
            if popen.poll() is None:
                _signal_group(popen.pid, sig)
        for pid in processes_of(self.launch):  # descendants that left their group (torchrun's workers)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for popen in started:
            popen.wait()


def _interrupt_on_sigterm():
    """Make SIGTERM interrupt this process as Ctrl-C does; returns the handler to restore (None off the main thread)."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        return None


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def name(p: Process) -> str:
    """How messages name a process: by its rank once known."""
    return f"rank {p.source.rank}" if p.source.rank is not None else p.source.label


def failure_line(p: Process, code: int) -> str:
    """One line naming the process of a launch that failed, and how."""
    if p.source.label == "torchrun":
        cause = torchrun_cause(p.source.tail)
        if cause:
            return cause
    return f"{name(p)} (pid {p.popen.pid}) {describe_exit(code)}"


def torchrun_cause(lines) -> str:
    """The first failed rank of torchrun's failure report, as one line (empty when there is none)."""
    text = list(lines)
    for i, line in enumerate(text):
        if "Root Cause" in line:
            rank = exitcode = pid = None
            for follow in text[i + 1:i + 12]:
                field_name, _, value = (part.strip() for part in follow.partition(":"))
                if field_name == "rank":
                    rank = value.split()[0]
                elif field_name == "exitcode":
                    exitcode, _, rest = value.partition(" ")
                    pid = rest.strip(" ()").replace("pid: ", "").split(")")[0]
            if rank is not None and exitcode is not None:
                try:
                    how = describe_exit(int(exitcode))
                except ValueError:
                    how = f"failed ({exitcode})"
                return f"rank {rank} (pid {pid}) {how}"
    return ""
