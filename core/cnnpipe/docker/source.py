"""A fingerprint of the cnnpipe code installed here: what a job image must hold to run what a local run would.

Distributions from an index count by name and version; those installed from a local folder or wheel
(editable or not) count by the contents of their import packages, so that a plugin edited without a
version bump gets a new fingerprint.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from urllib.parse import urlparse

from ..plugins import GROUP
from . import wheels

SKIP_DIRS = {"__pycache__"}
SKIP_SUFFIXES = {".pyc", ".pyo"}


def is_local(dist) -> bool:
    """Whether ``dist`` was installed from a local folder or file (PEP 610 ``direct_url.json``)."""
    raw = dist.read_text("direct_url.json")
    return bool(raw) and urlparse(json.loads(raw).get("url", "")).scheme == "file"


def packages(dist) -> list[str]:
    """The top-level import packages of ``dist``: ``top_level.txt``, and the modules its entry points name."""
    names = set((dist.read_text("top_level.txt") or "").split())
    names |= {ep.value.split(":")[0].split(".")[0] for ep in dist.entry_points if ep.group == GROUP}
    return sorted(n for n in names if n)


def files_of(package: str) -> list[tuple[str, Path]]:
    """``(name, path)`` of each file of an installed top-level package (or of a single module), names
    relative to the package's parent; none when it cannot be found."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if not spec.submodule_search_locations:
        origin = Path(spec.origin) if spec.origin else None
        return [(origin.name, origin)] if origin and origin.is_file() else []
    found = []
    for root in map(Path, spec.submodule_search_locations):
        for path in root.rglob("*"):
            if path.is_file() and not SKIP_DIRS & set(path.parts) and path.suffix not in SKIP_SUFFIXES:
                found.append((f"{package}/{path.relative_to(root).as_posix()}", path))
    return sorted(found)


def fingerprint(dists) -> str:
    """A hash of the installed code of ``dists`` (see the module's docstring)."""
    digest = hashlib.sha256()
    for dist in dists:
        name = wheels.canonical(dist.metadata["Name"] or "")
        digest.update(f"{name}=={dist.version}\0".encode())
        if not is_local(dist):
            continue
        digest.update(json.dumps([sorted(dist.requires or []), sorted(str(ep) for ep in dist.entry_points)]).encode())
        for package in packages(dist):
            for relative, path in files_of(package):
                digest.update(relative.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
