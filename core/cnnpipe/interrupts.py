"""Ctrl-C during training, taken where the trainer can stop cleanly.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be; when that is a finalizer
(MXNet's ``Symbol.__del__``, say) Python prints "Exception ignored" and the run goes on.  While
training, Ctrl-C only sets a flag that the trainer reads between batches; a second Ctrl-C interrupts
at once.  A process started with SIGINT ignored (a background job) keeps ignoring it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable, Iterator


@contextlib.contextmanager
def deferred() -> Iterator[Callable[[], None]]:
    """Within the block Ctrl-C is held until the yielded ``check()`` raises it as ``KeyboardInterrupt``."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous in (signal.SIG_IGN, None):
        yield lambda: None
        return
    pending = []

    def hold(signum, frame):
        if pending:  # asked twice: now
            raise KeyboardInterrupt
        pending.append(signum)

    def check() -> None:
        if pending:
            pending.clear()
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, hold)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)
    check()  # pressed after the last check: the run still ends as interrupted


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """Within the block SIGTERM is Ctrl-C: a container engine's ``docker stop`` (or a service manager) lets the run
    record ``interrupted`` and clean up, where SIGTERM's default would end it with nothing recorded."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def as_ctrl_c(signum, frame):
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)  # held between batches while training, as Ctrl-C is
        else:
            raise KeyboardInterrupt  # SIGINT ignored (a background job): SIGTERM still stops the run

    previous = signal.signal(signal.SIGTERM, as_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
