"""Everything the loaded plugins register, with one-line errors for unknown or clashing names."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any

from . import specs
from .config import NAME_RE
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
        broken = "".join(f"; plugin '{i.name}' ({i.dist}) is broken: {i.error}" for i in self.infos if i.status == "broken")
        raise UsageError(f"unknown {SINGULAR[kind]} '{name}'{maybe}; choose from: {valid}{broken}")

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
        if not isinstance(spec.name, str) or not NAME_RE.match(spec.name):
            raise TypeError(f"a {KINDS[kind].__name__} needs a name of letters, digits and _.+- (it names run folders), "
                            f"got {spec.name!r}")
        CHECKS[kind](spec)
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


# Specs that no run could use are refused at registration (a plugin bug, reported as the plugin being broken).


def check_model_spec(spec: specs.ModelSpec) -> None:
    if not isinstance(spec.builds, Mapping) or not spec.builds or not all(
            isinstance(k, str) and callable(v) for k, v in spec.builds.items()):
        raise TypeError(f"model '{spec.name}' needs builds={{backend name: build function}}")
    if spec.task not in specs.TASKS:
        raise TypeError(f"model '{spec.name}' has task '{spec.task}'; choose from: {', '.join(specs.TASKS)}")
    if not isinstance(spec.recipes, Mapping) or not all(isinstance(r, specs.Recipe) for r in spec.recipes.values()):
        raise TypeError(f"model '{spec.name}' needs recipes={{dataset name: Recipe}}")
    if not isinstance(spec.arch, Mapping):
        raise TypeError(f"model '{spec.name}' needs arch={{argument name: default value}}")


def check_dataset_spec(spec: specs.DatasetSpec) -> None:
    if not callable(spec.load) or (spec.locate is not None and not callable(spec.locate)):
        raise TypeError(f"dataset '{spec.name}' needs load (and locate, when given) to be functions")
    if spec.read is not None and not callable(spec.read):
        raise TypeError(f"dataset '{spec.name}' needs read to be a function")
    if not isinstance(spec.options, Mapping):
        raise TypeError(f"dataset '{spec.name}' needs options={{option name: default value}}")
    if spec.defaults is not None and not isinstance(spec.defaults, specs.Recipe):
        raise TypeError(f"dataset '{spec.name}' has defaults of type {type(spec.defaults).__name__}; give a Recipe")


def check_backend_spec(spec: specs.BackendSpec) -> None:
    if not callable(spec.load):
        raise TypeError(f"backend '{spec.name}' needs load to be a function")


def check_reporter_spec(spec: specs.ReporterSpec) -> None:
    if spec.name == "default":
        raise TypeError("a reporter cannot be called 'default': --reporter default stands for the default set")
    if not callable(spec.factory):
        raise TypeError(f"reporter '{spec.name}' needs factory to be a function or class")


CHECKS = {"models": check_model_spec, "datasets": check_dataset_spec, "backends": check_backend_spec,
          "reporters": check_reporter_spec}


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
                with contextlib.redirect_stdout(sys.stderr):  # what a plugin prints is not cnnpipe's output
                    impl.function(register=lambda spec, kind=kind, info=info: registry.add(kind, spec, info))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # SystemExit too: one plugin must not stop every command
                registry.drop(info)
                plugins.mark_broken(pm, info, exc, warn)
    for (kind, name), dists in registry.clashes.items():
        warn(f"{SINGULAR[kind]} '{name}' is registered by both {' and '.join(dists)}; it cannot be used until one is removed")
    return registry
