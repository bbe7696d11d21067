"""Whether a distribution's declared requirements are installed, read from package metadata only.

Every command that loads plugins (``cnnpipe plugins`` included) checks a plugin this way before
importing it, so a plugin whose library is missing, or installed in a version it does not accept, is
shown as broken and names the requirement, instead of failing at ``run``.  Nothing is imported:
checking a plugin that needs PyTorch must not import PyTorch.
"""

from __future__ import annotations

from functools import cached_property
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


CORE = "cnnpipe"


class Installed:
    """The installed distributions, each one's metadata read at most once (parsing it is the slow part)."""

    def __init__(self):
        self.ok: set[str] = set()  # names whose requirements, all the way down, are met
        self._meta: dict[str, tuple] = {}

    @cached_property
    def dists(self) -> dict[str, metadata.Distribution]:
        found: dict[str, metadata.Distribution] = {}
        for dist in metadata.distributions():  # the first found wins, as for imports
            name = dist.metadata["Name"]
            if name:
                found.setdefault(canonicalize_name(name), dist)
        return found

    def version(self, name: str) -> str | None:
        """The installed version of ``name``, ``None`` when it is not installed."""
        dist = self.dists.get(canonicalize_name(name))
        return None if dist is None else dist.version

    def requires(self, name: str) -> list[Requirement]:
        """The unconditional requirements of ``name`` (extras left out) that apply to this interpreter."""
        key = canonicalize_name(name)
        if key not in self._meta:
            env = {**default_environment(), "extra": ""}
            reqs = []
            for text in self.dists[key].requires or ():
                try:
                    req = Requirement(text)
                except InvalidRequirement:
                    continue
                if req.marker is None or req.marker.evaluate(env):
                    reqs.append(req)
            self._meta[key] = tuple(reqs)
        return list(self._meta[key])


def unmet(dist: str, installed: Installed | None = None) -> str | None:
    """The first requirement of ``dist``, or of what it requires, that is not installed in an accepted
    version, as a phrase (``"needs torchvision (not installed)"``); ``None`` when all are met.
    Pass one :class:`Installed` to several checks to read each distribution's metadata once."""
    installed = installed or Installed()
    top = canonicalize_name(dist)
    # The core runs, so its own requirements are not a plugin's problem (an install with --no-deps, as on the
    # GPU machines, may well lack the Docker SDK that only `--runner docker` needs).
    seen: set[str] = {CORE}
    todo = [(top, dist)]
    while todo:
        key, shown = todo.pop(0)
        if key in seen or key in installed.ok or key not in installed.dists:
            continue
        seen.add(key)
        via = "" if key == top else f", required by {shown}"
        for req in installed.requires(key):
            version = installed.version(req.name)
            if version is None:
                return f"needs {req} (not installed{via})"
            if req.specifier and not req.specifier.contains(version, prereleases=True):
                return f"needs {req}, but {req.name} {version} is installed{via}"
            todo.append((canonicalize_name(req.name), req.name))
    installed.ok |= seen
    return None


def versions_of(dists, installed: Installed | None = None) -> dict[str, str]:
    """``{name: version}`` of ``dists`` and every installed distribution they require, all the way down
    (what a run used, for ``config.json``)."""
    installed = installed or Installed()
    found: dict[str, str] = {}
    todo = list(dists)
    while todo:
        name = todo.pop()
        key = canonicalize_name(name)
        if key in found or key not in installed.dists:
            continue
        found[key] = installed.dists[key].version
        todo += [req.name for req in installed.requires(key)]
    return dict(sorted(found.items()))
