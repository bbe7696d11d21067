"""Where the output of a launch's processes goes: the terminal, and run.log with each line's rank.

Workers started by cnnpipe's launcher write their log records to standard output as ``[rank R] LEVEL
message`` (see :mod:`.rank`); everything else they print (rank 0's console reporter, an engine's warning,
a traceback) is plain output.  The launcher writes run.log:

- every record, as ``TIME LEVEL rank R: message``;
- every plain line of the other processes (ranks other than 0, servers, the scheduler, torchrun), as
  ``TIME OUTPUT label: line``.  Rank 0's plain output is its console view of its own records.

The terminal shows rank 0's plain output as it is, the other ranks' plain output with their label, and
their records of WARNING and above; the servers', the scheduler's and torchrun's own output stays in
run.log (the launcher says in one line which process failed).
"""

from __future__ import annotations

import collections
import re
import sys
import time

RECORD = re.compile(r"^\[rank (\d+)\] (DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$")
TORCHRUN_PREFIX = re.compile(r"^\[default(\d+)\]:(.*)$")  # torchrun --tee: the local rank's output
LOUD = ("WARNING", "ERROR", "CRITICAL")


class Source:
    """One process of a launch, as its output names it."""

    def __init__(self, label: str, rank: int | None = None, quiet: bool = False):
        self.label = label
        self.rank = rank  # learnt from the process's first record when the engine assigns ranks late
        self.quiet = quiet  # its own plain output goes to run.log only (torchrun's reports, servers)
        self.tail = collections.deque(maxlen=200)  # its last lines, to explain a failure


class Output:
    """Routes the lines of a launch's processes to ``terminal`` and to the run's ``run.log``."""

    def __init__(self, log_path, terminal=None):
        self.log = open(log_path, "a", encoding="utf-8")
        self.terminal = terminal

    def _show(self, text: str) -> None:
        out = self.terminal or sys.stderr
        try:
            print(text, file=out, flush=True)
        except (OSError, ValueError):
            pass  # nobody reads the terminal any more: the run and its log go on

    def _write(self, level: str, label: str, text: str) -> None:
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f",{int(now % 1 * 1000):03d}"  # as logging's
        self.log.write(f"{stamp} {level} {label}: {text}\n")
        self.log.flush()

    def note(self, text: str, level: str = "INFO", show: bool = True) -> None:
        """A line of the launcher's own, to run.log and (with ``show``) to the terminal."""
        self._write(level, "launcher", text)
        if show:
            self._show(f"cnnpipe: {text}")

    def feed(self, source: Source, text: str) -> None:
        """One line ``source`` printed (without its newline)."""
        source.tail.append(text)
        rank = source.rank
        prefixed = TORCHRUN_PREFIX.match(text)
        if prefixed:
            rank, text = int(prefixed.group(1)), prefixed.group(2)
        record = RECORD.match(text)
        if record:
            rank, level, message = int(record.group(1)), record.group(2), record.group(3)
            if source.rank is None and not prefixed and source.label.startswith("worker"):
                source.rank = rank
            self._write(level, f"rank {rank}", message)
            if rank != 0 and level in LOUD:
                self._show(f"rank {rank}: {level} {message}")
            return
        label = source.label if rank is None else f"rank {rank}"
        if rank == 0:
            self._show(text)
            return
        self._write("OUTPUT", label, text)
        if rank is not None or not source.quiet:
            self._show(f"{label}: {text}")

    def close(self) -> None:
        self.log.close()
