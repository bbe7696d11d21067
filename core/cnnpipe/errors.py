"""Errors that cnnpipe prints as one line: whose fault it is decides the class and the exit code.

:class:`UsageError` is the user's mistake (a wrong name, option, file or setting); the others say that
something outside the user's command failed: the container engine, a job, or a plugin's own code.
"""

from __future__ import annotations


class CnnpipeError(Exception):
    """Printed by the CLI as one line (a traceback only with ``--debug``), exiting with ``exit_code``."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CnnpipeError):
    """The user did something wrong: a wrong name, option, file, plugin or setting."""

    exit_code = 2


class EngineError(CnnpipeError):
    """The Docker engine cannot be reached, or refused a request."""

    exit_code = 3


class JobError(CnnpipeError):
    """A job failed for a reason of its own: killed for memory (137), out of time (124), a failed build."""


class PluginError(CnnpipeError):
    """Code of a plugin raised; the message names the plugin and its distribution."""


def one_line(exc: BaseException) -> str:
    """``Type: message`` of ``exc`` on one line: its first line, or for a message that is a traceback
    (MXNet's errors carry their C++ one) the last line, which says what went wrong."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return line if line.startswith(f"{type(exc).__name__}: ") else f"{type(exc).__name__}: {line}"


def short_repr(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for values quoted in one-line messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
