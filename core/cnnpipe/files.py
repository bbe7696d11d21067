"""Atomic file writing: a file is either complete or absent, never half-written."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import CnnpipeError


class DiskFull(CnnpipeError):
    """No space was left on the device while writing a file; the file was not put in place."""


@contextmanager
def atomic_path(path, durable: bool = False):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    With ``durable``, the file and its folder are flushed to disk before this returns, so that a
    power cut cannot leave a later marker file (a checkpoint's ``state.json``) pointing at nothing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private (0600); give it the mode an ordinary open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        if durable:
            fsync(tmp)
        os.replace(tmp, path)
        if durable:
            fsync(path.parent)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFull(f"no space left on device while writing {path}") from exc
        raise


def fsync(path) -> None:
    """Flush a file or a folder to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (an OSError, or a framework's error wrapping one) means the disk is full."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return "No space left on device" in text or "FileStream.Write incomplete" in text


def write_json(path, data, durable: bool = False) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
