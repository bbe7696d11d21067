"""Atomic file writing: a file is either complete or absent, never half-written."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import CnnpipeError


def cache_root() -> Path:
    """cnnpipe's cache folder: ``CNNPIPE_CACHE_DIR``, else ``$XDG_CACHE_HOME/cnnpipe``, else ``~/.cache/cnnpipe``."""
    root = os.environ.get("CNNPIPE_CACHE_DIR")
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cnnpipe"
    return Path(root)


class DiskFull(CnnpipeError):
    """No space was left on the device while writing a file; the file was not put in place."""


@contextmanager
def atomic_path(path, durable: bool = False):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    With ``durable``, the file and its folder are flushed to disk before this returns, so that a
    power cut cannot leave a later marker file (a checkpoint's ``state.json``) pointing at nothing;
    and a device left with no free space counts as full, since a library that ignores errors when
    closing a file (MXNet's C++ writer does) may have lost its last bytes silently.
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
            if no_space_left(path.parent):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), tmp)
        os.replace(tmp, path)
        if durable:
            fsync(path.parent)
    except BaseException as exc:
        # Some writers hide the cause (PyTorch: "unexpected pos 576 vs 534"): a device without a free
        # block, looked at before the partial file is removed, tells.
        full = is_disk_full(exc) or (isinstance(exc, Exception) and no_space_left(path.parent))
        Path(tmp).unlink(missing_ok=True)
        if full:
            raise DiskFull(f"no space left on device while writing {path}") from exc
        raise


def fsync(path) -> None:
    """Flush a file or a folder to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def no_space_left(folder) -> bool:
    """Whether the file system of ``folder`` has no block left for this user (root may use reserved ones)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    free = st.f_bfree if os.geteuid() == 0 else st.f_bavail
    return st.f_blocks > 0 and free == 0


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (an OSError, or a framework's error wrapping one) means the disk is full."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return "No space left on device" in text or "FileStream.Write incomplete" in text


def fingerprint(path) -> dict:
    """``{"size": bytes, "sha256": hex digest}`` of a file, to notice later that it was changed or cut short."""
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
        return {"size": os.fstat(f.fileno()).st_size, "sha256": digest}


def lock(path, wait: bool = False) -> int | None:
    """A descriptor holding an exclusive lock on the file ``path`` (created if needed), or ``None`` when
    another process holds it and ``wait`` is false.  Closing the descriptor (or exiting) releases it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove_leftovers(folder) -> None:
    """Delete the temporary files that :func:`atomic_path` calls killed half-way left in ``folder`` and below.

    Call it only while no other process can be writing there (a run folder's or a cache's lock held).
    """
    for tmp in Path(folder).rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def write_json(path, data, durable: bool = False) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def read_arrays(folder, stamp: dict, keys, mmap: bool = False):
    """The arrays ``KEY.npy`` of ``folder`` that :func:`write_arrays` saved for ``stamp``, each still matching its
    fingerprint in ``manifest.json``; ``None`` when the manifest, the stamp or any array does not match."""
    import numpy as np

    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest.get("stamp") != stamp:
            return None
        arrays = []
        for key in keys:
            path = folder / f"{key}.npy"
            if fingerprint(path) != manifest["arrays"][key]:
                return None  # overwritten or cut short since it was written
            arrays.append(np.load(path, mmap_mode="r" if mmap else None))
        return tuple(arrays)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_arrays(folder, stamp: dict, keys, arrays) -> None:
    """Save ``arrays`` as ``KEY.npy`` in ``folder`` with their fingerprints and ``stamp`` in ``manifest.json``,
    which goes last, so that a half-written set is never read back.  The caller holds the folder's lock."""
    import numpy as np

    folder = Path(folder)
    (folder / "manifest.json").unlink(missing_ok=True)
    recorded = {}
    for key, array in zip(keys, arrays):
        with atomic_path(folder / f"{key}.npy") as tmp:
            with tmp.open("wb") as f:
                np.save(f, array)
            recorded[key] = fingerprint(tmp)
    with atomic_path(folder / "manifest.json") as tmp:
        tmp.write_text(json.dumps({"stamp": stamp, "arrays": recorded}, sort_keys=True))
