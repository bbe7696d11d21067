"""The Docker engine: a client, containers found by label, and the gist of its error messages."""

from __future__ import annotations

import os
import re

from ..errors import EngineError

DEFAULT_HOST = "unix:///var/run/docker.sock"


def client():
    """A ``docker.DockerClient`` for the engine of ``DOCKER_HOST`` (default: the local socket)."""
    import docker

    where = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    try:
        engine = docker.from_env()
        engine.ping()
    except Exception as exc:
        raise EngineError(
            f"cannot reach a Docker engine at {where} ({first_line(exc)}); start dockerd, "
            f"or point DOCKER_HOST at a running engine (e.g. DOCKER_HOST={DEFAULT_HOST})"
        )
    return engine


def first_line(exc: BaseException) -> str:
    """The gist of an error: the OS reason when one is buried in it, else its first line."""
    text = str(getattr(exc, "explanation", None) or exc).strip()
    errno = (re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
             or re.search(r"\w+Error\(-?\d+, '([^']+)'\)", text))
    if errno:
        return errno.group(1).strip()
    lines = text.splitlines()
    return lines[0] if lines else type(exc).__name__


def find(client, labels: dict) -> list:
    """Containers in any state that carry all of ``labels`` (one removed while listing is left out)."""
    filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
    # Another scheduler or client may remove a container between the list and its inspection.
    return client.containers.list(all=True, filters=filters, ignore_removed=True)
