"""What ``cnnpipe install`` keeps and reports: the installed framework builds, and the changes pip would make.

pip, asked for a plugin that depends on ``torch``, may replace the CPU build that is installed with the
package index's CUDA build (several GB of ``nvidia-*`` wheels), or a matching vision package with one
built for another torch.  ``cnnpipe install`` passes pip a constraints file that pins every installed
framework distribution to its exact version, local build tag included (``torch==2.13.0+cpu``), so an
install that needs another build fails in pip's resolver instead of swapping it.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

FRAMEWORKS = ("torch", "torchvision", "torchaudio", "mxnet")  # and mxnet-cu117 and its kind


def is_framework(name: str) -> bool:
    name = canonicalize_name(name)
    return name in FRAMEWORKS or name.startswith("mxnet-")


def installed_frameworks() -> dict[str, str]:
    """``{name: version}`` of the framework distributions installed here."""
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and is_framework(name):
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def write_constraints(folder: Path, frameworks: dict[str, str]) -> Path:
    """A pip constraints file pinning each of ``frameworks`` to its installed version."""
    path = folder / "keep-frameworks.txt"
    path.write_text("".join(f"{name}=={version}\n" for name, version in sorted(frameworks.items())))
    return path


def changes(report: dict) -> list[tuple[str, str, str | None]]:
    """``[(name, new version, installed version or None)]`` from pip's ``--report`` of a dry run."""
    out = []
    for item in report.get("install", []):
        meta = item.get("metadata", {})
        name, version = meta.get("name", "?"), meta.get("version", "?")
        try:
            now = metadata.version(name)
        except metadata.PackageNotFoundError:
            now = None
        out.append((name, version, now))
    return out


def describe_changes(report_text: str) -> list[str]:
    """One line per distribution pip would install, saying what it replaces."""
    lines = []
    for name, version, now in changes(json.loads(report_text)):
        was = "new" if now is None else ("reinstalled" if now == version else f"replacing {now}")
        lines.append(f"would install {name} {version} ({was})")
    return lines or ["nothing would change: everything asked for is installed"]
