"""Everything the loaded plugins register, with one-line errors for unknown or clashing names."""

from __future__ import annotations

import dataclasses
from difflib import get_close_matches
from typing import Any

from . import specs
from .errors import UsageError

KINDS = {
    "datasets": specs.DatasetSpec,
    "models": specs.ModelSpec,
    "backends": specs.BackendSpec,
    "reporters": specs.ReporterSpec,
}
SINGULAR = {"datasets": "dataset", "models": "model", "backends": "backend", "reporters": "reporter"}


class Registry:
    """Specs by kind and name, plus the plugin manager and what each plugin registered."""

    def __init__(self, pm, infos: list):
        self.pm = pm
        self.infos = infos
        self.specs: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        self.clashes: dict[tuple[str, str], list[str]] = {}

    def names(self, kind: str) -> list[str]:
        """The usable names of ``kind``, sorted."""
        return sorted(self.specs[kind])

    def get(self, kind: str, name: str):
        """The spec called ``name``; a :class:`UsageError` listing the valid names otherwise."""
        if (kind, name) in self.clashes:
            dists = " and ".join(self.clashes[kind, name])
            raise UsageError(
                f"{SINGULAR[kind]} '{name}' is registered by both {dists}; "
                "uninstall one or disable it with --disable-plugin"
            )
        try:
            return self.specs[kind][name]
        except (KeyError, TypeError):
            pass
        valid = ", ".join(self.names(kind)) or "none installed"
        hint = get_close_matches(str(name), self.names(kind), n=1)
        maybe = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise UsageError(f"unknown {SINGULAR[kind]} '{name}'{maybe}; choose from: {valid}")

    def model(self, name: str) -> specs.ModelSpec:
        """The model called ``name``."""
        return self.get("models", name)

    def dataset(self, name: str) -> specs.DatasetSpec:
        """The dataset called ``name``."""
        return self.get("datasets", name)

    def backend(self, name: str) -> specs.BackendSpec:
        """The backend called ``name``."""
        return self.get("backends", name)

    def reporter(self, name: str) -> specs.ReporterSpec:
        """The reporter called ``name``."""
        return self.get("reporters", name)

    def info(self, dist: str):
        """The :class:`cnnpipe.plugins.PluginInfo` of the first plugin from distribution ``dist``."""
        return next((i for i in self.infos if i.dist == dist), None)

    def drop(self, info) -> None:
        """Forget everything ``info``'s plugin registered (it broke half-way)."""
        for kind, names in info.registers.items():
            for name in names:
                if self.specs[kind].get(name) is not None and self.specs[kind][name].dist == info.dist:
                    del self.specs[kind][name]
        info.registers = {}

    def add(self, kind: str, spec, info) -> None:
        """Record ``spec`` as registered by ``info``'s plugin; a second spec of the same name is a clash."""
        if not isinstance(spec, KINDS[kind]):
            raise TypeError(f"register() for {kind} takes a {KINDS[kind].__name__}, got {type(spec).__name__}")
        if not isinstance(spec.name, str) or not spec.name:
            raise TypeError(f"a {KINDS[kind].__name__} needs a non-empty name")
        if kind == "models":
            check_model(spec)
        spec = dataclasses.replace(spec, dist=info.dist)
        table = self.specs[kind]
        if (kind, spec.name) in self.clashes:
            self.clashes[kind, spec.name].append(info.dist)
        elif spec.name in table:
            first = table.pop(spec.name)
            self.clashes[kind, spec.name] = [first.dist, info.dist]
        else:
            table[spec.name] = spec
        info.registers.setdefault(kind, []).append(spec.name)


def check_model(spec: specs.ModelSpec) -> None:
    """Refuse a model spec that no run could use (a plugin bug, reported as the plugin being broken)."""
    if not spec.builds or not all(isinstance(k, str) and callable(v) for k, v in dict(spec.builds).items()):
        raise TypeError(f"model '{spec.name}' needs builds={{backend name: build function}}")
    if spec.task not in specs.TASKS:
        raise TypeError(f"model '{spec.name}' has task '{spec.task}'; choose from: {', '.join(specs.TASKS)}")


def build_registry(disable=(), warn=None) -> Registry:
    """Load every plugin and collect what it registers; broken plugins are warned about and skipped."""
    # Imported here: plugin loading needs importlib.metadata (0.1-0.3 s), which `cnnpipe --help` can skip.
    from . import plugins

    warn = warn or plugins.warn
    pm, infos = plugins.load_plugins(disable, warn)
    registry = Registry(pm, infos)
    by_name = {info.name: info for info in infos}
    for kind in KINDS:
        hook = getattr(pm.hook, f"cnnpipe_register_{kind}")
        for impl in hook.get_hookimpls():  # in registration order: built-ins, then entry points by name
            info = by_name[impl.plugin_name]
            if info.status != "ok":
                continue
            try:
                impl.function(register=lambda spec, kind=kind, info=info: registry.add(kind, spec, info))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # SystemExit too: one plugin must not stop every command
                registry.drop(info)
                plugins.mark_broken(pm, info, exc, warn)
    for (kind, name), dists in registry.clashes.items():
        warn(f"{SINGULAR[kind]} '{name}' is registered by both {' and '.join(dists)}; it cannot be used until one is removed")
    return registry
