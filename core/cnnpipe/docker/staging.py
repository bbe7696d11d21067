"""Run folders of a job container started by root: written into a private staging folder that the
unprivileged job user owns, then handed back to root and moved into the output folder.

The container's labels say where everything goes (``cnnpipe.out``, ``cnnpipe.staging``, ``cnnpipe.owner``),
so whoever removes the container (the client, a scheduler, the next command after a crash) can finish
the hand-back.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

OUT = "cnnpipe.out"
STAGING = "cnnpipe.staging"
OWNER = "cnnpipe.owner"
PREFIX = ".cnnpipe-job-"


def prepare(out_dir: Path, user: tuple[int, int]) -> tuple[Path, dict]:
    """The folder to mount at ``/runs`` and the labels that record it; a staging folder when we are root."""
    labels = {OUT: str(out_dir)}
    if os.getuid() != 0:
        return out_dir, labels
    # The unprivileged job user cannot write into root's folder: give it a private staging folder.
    runs_dir = out_dir / f"{PREFIX}{uuid.uuid4().hex[:12]}"
    runs_dir.mkdir()
    os.chown(runs_dir, *user)
    labels[STAGING] = str(runs_dir)
    labels[OWNER] = f"{os.getuid()}:{os.getgid()}"
    return runs_dir, labels


def hand_back(labels: dict) -> list[Path]:
    """Give the staged run folders back to their owner, in the output folder; returns where they went.

    Idempotent, and safe when two processes hand back the same folder at once.
    """
    if STAGING not in labels:
        return []
    staging, out_dir = Path(labels[STAGING]), Path(labels[OUT])
    if not staging.is_dir():
        return []
    uid, gid = (int(x) for x in labels[OWNER].split(":"))
    moved = []
    for root, dirs, files in os.walk(staging):
        for name in dirs + files:
            try:
                os.lchown(os.path.join(root, name), uid, gid)
            except FileNotFoundError:
                pass
    for child in sorted(staging.iterdir()):
        target = out_dir / child.name
        n = 1
        while target.exists():
            target = out_dir / f"{child.name}-{n}"
            n += 1
        try:
            child.rename(target)
        except FileNotFoundError:
            continue  # handed back by someone else meanwhile
        moved.append(target)
    shutil.rmtree(staging, ignore_errors=True)
    return moved


def finish(container) -> list[Path]:
    """Hand back the run folders staged for ``container`` (idempotent); returns where they went."""
    return hand_back(getattr(container, "labels", None) or {})
