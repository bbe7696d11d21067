"""Where a run's data came from on the host, with its files' hashes, recorded in ``config.json``.

A run in a container reads its data at ``/data``; its folder records the host folder mounted there
(``CNNPIPE_HOST_DATA_DIR``, set by the container builder), so that the run resumes on the host, locally or
in a container alike.  ``--data-dir`` on resume may point at the same data elsewhere: it is checked
against the recorded hashes, not trusted.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import UsageError
from .specs import NO_FILES

HOST_DATA_ENV = "CNNPIPE_HOST_DATA_DIR"
MOUNT = "/data"  # where a job container sees the data folder
KEY = "data_source"
# A folder larger than this is recorded without hashes (hashing it would delay every run): resumable, unchecked.
MAX_FILES, MAX_BYTES = 10_000, 4 * 2**30


def folder(dataset, data_dir) -> Path | None:
    """The folder ``dataset`` reads for ``data_dir``; ``None`` for a dataset made in code or downloaded later."""
    if dataset.locate is None:
        return Path(data_dir) if data_dir else None
    where = dataset.locate(data_dir)
    return None if where is None or where is NO_FILES else Path(where)


def record(dataset, data_dir) -> dict | None:
    """``config.json``'s record of the data: the host folder (the mounted one, in a container) and its hashes."""
    where = folder(dataset, data_dir)
    if where is None:
        return None
    host = os.environ.get(HOST_DATA_ENV) if str(where) == MOUNT else None
    return {"folder": host or str(where.resolve()), "files": hashes(where)}


def hashes(where: Path) -> dict | None:
    """``{relative path: sha256}`` of the folder's files (hidden ones left out); ``None`` when it is too large."""
    files = sorted(p for p in where.rglob("*") if p.is_file() and not any(part.startswith(".")
                                                                           for part in p.relative_to(where).parts))
    if len(files) > MAX_FILES or sum(p.stat().st_size for p in files) > MAX_BYTES:
        return None
    return {str(p.relative_to(where)): sha256(p) for p in files}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resume_dir(source: dict | None, saved_dir, given):
    """The data folder a resumed run reads: ``--data-dir`` when given; else the recorded host folder when the
    saved one is not on this host (a container's ``/data``); else the saved one."""
    if given:
        return given
    if source and source.get("folder") and saved_dir and not Path(saved_dir).is_dir():
        return source["folder"]
    return saved_dir


def verify(dataset, data_dir, source: dict | None) -> None:
    """Refuse, in one line, a data folder whose files are not those the run trained on."""
    if not source or not source.get("files"):
        return  # nothing recorded (an older run folder, a dataset made in code, a very large folder)
    where = folder(dataset, data_dir)
    if where is None:
        return
    for name, digest in sorted(source["files"].items()):
        path = where / name
        if not path.is_file():
            raise UsageError(f"data folder {where} lacks {name}, which this run trained on (from {source['folder']})")
        if sha256(path) != digest:
            raise UsageError(f"{path} is not the file this run trained on: its sha256 differs from that of "
                             f"{source['folder']}/{name} when the run started")
