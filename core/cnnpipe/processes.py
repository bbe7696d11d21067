"""``cnnpipe`` commands in child processes, N at a time.

With one at a time a child writes to this terminal as it would alone; with several, each line it
writes is prefixed with its label.  Children run in their own sessions, so that an interrupt
(Ctrl-C, or SIGTERM from a container engine or service manager) reaches each of them exactly once,
forwarded as SIGINT: each then records its run as interrupted, ready to be continued.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager


class Children:
    """Starts child ``cnnpipe`` processes and interrupts the live ones on request."""

    def __init__(self, piped: bool, echo):
        self.piped = piped
        self.echo = echo
        self.live: set[subprocess.Popen] = set()
        self.lock = threading.Lock()
        self.stopping = False

    def run(self, label: str, args: list[str]) -> int | None:
        """Run ``cnnpipe ARGS`` to its end; its exit status, or ``None`` when the sweep stopped before it began."""
        pipe = subprocess.PIPE if self.piped else None
        with self.lock:  # no child may start unseen by interrupt()
            if self.stopping:
                return None
            proc = subprocess.Popen([sys.executable, "-m", "cnnpipe", *args], start_new_session=True, stdout=pipe,
                                    stderr=subprocess.STDOUT if self.piped else None, text=self.piped,
                                    errors="replace" if self.piped else None)
            self.live.add(proc)
        try:
            if self.piped:
                for line in proc.stdout:
                    # tqdm redraws with carriage returns; keep the last state of each line.
                    self.echo(f"[{label}] {line.rstrip().rsplit(chr(13), 1)[-1]}")
            return proc.wait()
        finally:
            with self.lock:
                self.live.discard(proc)

    def interrupt(self) -> None:
        """Start no more children; ask each live one to stop (once)."""
        with self.lock:
            self.stopping = True
            for proc in self.live:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)


@contextmanager
def sigterm_interrupts():
    """Within the block, SIGTERM stops this process as Ctrl-C does (so children are interrupted, not orphaned)."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_all(commands: list[tuple[str, list[str]]], parallel: int, echo, before=None) -> list[int | None]:
    """Run each ``(label, args)`` as ``cnnpipe ARGS``, ``parallel`` at a time; their exit statuses in order.

    ``before(label)`` is called as each starts.  On an interrupt the live children are interrupted and
    waited for, and ``KeyboardInterrupt`` is raised.
    """
    children = Children(piped=parallel > 1, echo=echo)

    def one(label, args):
        if before is not None and not children.stopping:
            before(label)
        return children.run(label, args)

    with sigterm_interrupts():
        pool = ThreadPoolExecutor(max_workers=parallel)
        futures = [pool.submit(one, label, args) for label, args in commands]
        try:
            return [f.result() for f in futures]
        except KeyboardInterrupt:
            children.interrupt()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)
