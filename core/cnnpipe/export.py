"""``cnnpipe export``: a run's network written in a format its backend offers, every file complete or absent."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import UsageError
from .inference import Opened

EXPORT_FOLDER = "export"


def formats(backend) -> dict[str, str]:
    """``{format: file suffix}`` that ``backend`` (a loaded Backend) can write."""
    return dict(getattr(backend, "export_formats", None) or {})


def destination(opened: Opened, format: str, out=None) -> Path:
    """Where the export goes: ``out``, else ``RUN_DIR/export/model<suffix>``; an unknown format is a one-line error."""
    backend = opened.run.backend
    offered = formats(backend)
    if format not in offered:
        can = ", ".join(sorted(offered)) or "no format"
        raise UsageError(f"backend '{backend.name}' cannot export {format}; it exports: {can}")
    suffix = offered[format]
    if out is None:
        return opened.run.run_dir.file(EXPORT_FOLDER) / f"model{suffix}"
    path = Path(out)
    if path.is_dir():
        return path / f"model{suffix}"
    return path if path.name.endswith(suffix) else path.with_name(path.name + suffix)


def export(opened: Opened, format: str, out=None) -> list[Path]:
    """Write ``opened``'s network in ``format``; returns the files, which appear only once all are written."""
    path = destination(opened, format, out)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {path.parent}: {exc.strerror or exc}")
    try:
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=path.parent))
    except OSError as exc:
        raise UsageError(f"cannot write into {path.parent}: {exc.strerror or exc}")
    try:
        written = opened.run.backend.export(opened.session, format, staging / path.name)
        for file in written:
            if Path(file).suffix == ".onnx":
                from .onnxfile import add_properties, properties

                add_properties(Path(file), properties(opened))
        final = []
        for file in written:
            target = path.parent / Path(file).name
            os.replace(file, target)
            final.append(target)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)
