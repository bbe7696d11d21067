"""Ctrl-C while training is taken at the trainer's next check, so that no finalizer can swallow it."""

import os
import signal

import pytest

from cnnpipe import interrupts


@pytest.fixture
def sigint(request):
    """Set SIGINT's handler for the test (the test process may run with SIGINT ignored), then restore it."""
    previous = signal.getsignal(signal.SIGINT)
    yield lambda handler: signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGINT, previous)


def ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)


class Finalized:
    def __del__(self):
        ctrl_c()  # lands while a finalizer runs, as in MXNet's Symbol.__del__


def test_ctrl_c_in_a_finalizer_is_held_for_the_next_check(sigint):
    sigint(signal.default_int_handler)
    with interrupts.deferred() as check:
        Finalized()  # without the deferral: "Exception ignored in ... __del__", and training goes on
        with pytest.raises(KeyboardInterrupt):
            check()
        check()  # taken once
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_interrupts_at_once(sigint):
    sigint(signal.default_int_handler)
    seen = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():
            ctrl_c()
            seen.append("held")
            ctrl_c()
            seen.append("not interrupted")
    assert seen == ["held"]


def test_ctrl_c_after_the_last_check_still_interrupts(sigint):
    sigint(signal.default_int_handler)
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():
            ctrl_c()


def test_an_ignored_ctrl_c_stays_ignored(sigint):
    sigint(signal.SIG_IGN)
    with interrupts.deferred() as check:
        ctrl_c()
        check()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
