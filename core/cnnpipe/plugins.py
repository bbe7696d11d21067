"""The plugin manager: built-in and entry-point plugins loaded the same way, each in isolation."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from . import api, hookspecs
from .errors import one_line
from .requirements import Installed, unmet

GROUP = "cnnpipe"
CORE_DIST = "cnnpipe"

# Built-in plugins, loaded through the same path as installed ones so that they can be
# listed and disabled the same way.
BUILTIN = (
    ("reporters", "cnnpipe.builtin.reporters"),
)


@dataclass
class PluginInfo:
    """One plugin as loaded: where it comes from, and whether it works."""

    name: str
    module: str
    dist: str
    version: str
    status: str = "ok"  # ok | disabled | broken
    error: str = ""
    api: str = ""  # the plugin API version the plugin declares (api.ATTRIBUTE), "" when it declares none
    registers: dict = field(default_factory=dict)  # kind -> [names]


def disabled_names(extra=()) -> set[str]:
    """Plugin names disabled by ``CNNPIPE_DISABLE_PLUGINS`` (comma-separated) plus ``extra``."""
    names = {n.strip() for n in os.environ.get("CNNPIPE_DISABLE_PLUGINS", "").split(",")}
    return {n for n in names | set(extra) if n}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _candidates():
    """Yield ``(name, module, dist, loader)`` for every plugin, built-in first."""
    for name, module in BUILTIN:
        yield name, module, CORE_DIST, lambda module=module: importlib.import_module(module)
    for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist is not None else "?"
        yield ep.name, ep.value, dist, ep.load


def warn(message: str) -> None:
    """Print a plugin warning as one line on standard error (nowhere when there is none)."""
    if sys.stderr is not None:
        print(f"cnnpipe: warning: {message}", file=sys.stderr)


def load_plugins(disable=(), warn=warn) -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    """Create the plugin manager and load every plugin that is not disabled.

    A plugin whose declared requirements are not installed (checked from package metadata, without
    importing them), that fails to import or does not match the hook specs is reported through
    ``warn`` and left out; the others keep working.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    off = disabled_names(disable)
    infos, index = [], None
    for name, module, dist, loader in _candidates():
        info = PluginInfo(name, module, dist, _version(dist))
        infos.append(info)
        if name in off:
            info.status = "disabled"
            continue
        if index is None and dist != CORE_DIST:
            index = Installed()
        missing = unmet(dist, index) if dist != CORE_DIST else None
        if missing:
            info.status, info.error = "broken", missing
            warn(f"plugin '{name}' from {dist} is broken and was skipped ({missing})")
            continue
        try:
            with contextlib.redirect_stdout(sys.stderr):  # a plugin that prints must not spoil `plugins --json`
                plugin = loader()
            info.api = api.API_VERSION if dist == CORE_DIST else api.declared(plugin)
            refused = api.too_new(info.api) if info.api else None
            if refused:
                info.status, info.error = "broken", refused
                warn(f"plugin '{name}' from {dist} is broken and was skipped ({refused})")
                continue
            pm.register(plugin, name=name)
            pm.check_pending()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit included: a broken plugin must never take the CLI down
            mark_broken(pm, info, exc, warn)
    return pm, infos


def mark_broken(pm, info: PluginInfo, exc: BaseException, warn) -> None:
    """Unregister ``info``'s plugin, record why, and warn once."""
    if pm.has_plugin(info.name):
        pm.unregister(name=info.name)
    info.status = "broken"
    info.error = api.explain(one_line(exc), info.api)
    warn(f"plugin '{info.name}' from {info.dist} is broken and was skipped ({info.error})")
