"""Calling the event hooks of a run: each observer on its own, so one that breaks cannot take others down.

Reporters the user chose may fail the run (it then ends through the failed path); observers the user
did not choose (an installed plugin's module-level hooks) are warned about once and detached.
"""

from __future__ import annotations

import sys

import pluggy

from . import hookspecs
from .errors import PluginError, one_line
from .hookspecs import PROJECT

EVENT_HOOKS = ("cnnpipe_on_run_start", "cnnpipe_on_progress", "cnnpipe_on_epoch_end",
               "cnnpipe_on_run_end", "cnnpipe_on_run_failed")


def _warn(message: str) -> None:
    if sys.stderr is not None:
        print(f"cnnpipe: warning: {message}", file=sys.stderr)


def check_reporter(spec, reporter, warn=_warn) -> None:
    """Refuse a reporter object whose hook implementations pluggy rejects (a misspelt event, a wrong
    argument, a wrapper); warn about event methods that lack ``@hookimpl`` and so would never be called."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    try:
        pm.register(reporter, name="reporter")
        pm.check_pending()
        wrappers = [c.name for c in pm.get_hookcallers(reporter) or () for i in c.get_hookimpls()
                    if i.plugin is reporter and (i.hookwrapper or i.wrapper)]
        if wrappers:
            raise TypeError(f"{wrappers[0]} is marked as a wrapper; event hooks are plain methods")
    except Exception as exc:
        raise PluginError(f"reporter '{spec.name}' ({spec.dist}) cannot observe runs: {one_line(exc)}") from exc
    for attr in EVENT_HOOKS:
        method = getattr(reporter, attr, None)
        if callable(method) and not hasattr(method, f"{PROJECT}_impl"):
            warn(f"reporter '{spec.name}' ({spec.dist}) has a {attr} method without @hookimpl; cnnpipe never calls it")


class Events:
    """Emits event hooks to every registered observer; knows which plugin names are chosen reporters."""

    def __init__(self, pm, dists: dict[str, str] | None = None, warn=_warn):
        self.pm = pm
        self.dists = dists or {}  # plugin name -> distribution, for messages
        self.chosen: dict[str, tuple[str, str]] = {}  # plugin name -> (reporter name, distribution)
        self.detached: set[str] = set()
        self.warn = warn

    def add_reporter(self, name: str, dist: str, reporter) -> str:
        """Register a chosen reporter object (checked beforehand by :func:`check_reporter`)."""
        plugin_name = f"reporter:{name}:{id(reporter)}"
        self.pm.register(reporter, name=plugin_name)
        self.chosen[plugin_name] = (name, dist)
        return plugin_name

    def remove_reporters(self) -> None:
        for plugin_name in list(self.chosen):
            if self.pm.has_plugin(plugin_name):
                self.pm.unregister(name=plugin_name)
        self.chosen.clear()

    def emit(self, hook_name: str, **kwargs) -> None:
        """Call ``hook_name`` on every observer, chosen reporters in the order given."""
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            if impl.plugin_name in self.detached:
                continue
            try:
                if impl.hookwrapper or impl.wrapper:  # a generator: calling it would silently run nothing
                    raise TypeError(f"{hook_name} is marked as a wrapper; event hooks are plain functions")
                impl.function(*[kwargs[name] for name in impl.argnames])
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # SystemExit too: plugin code must not end the run silently
                self._failed(impl.plugin_name, hook_name, exc)

    def emit_quietly(self, hook_name: str, **kwargs) -> None:
        """Like :meth:`emit`, but a chosen reporter's error is only warned about (the run is failing already)."""
        try:
            self.emit(hook_name, **kwargs)
        except PluginError as exc:
            self.warn(str(exc))

    def _failed(self, plugin_name: str, hook_name: str, exc: BaseException) -> None:
        what = one_line(exc)
        if plugin_name in self.chosen:
            name, dist = self.chosen[plugin_name]
            raise PluginError(f"reporter '{name}' ({dist}) failed in {hook_name}: {what}") from exc
        dist = self.dists.get(plugin_name, "?")
        self.detached.add(plugin_name)
        self.warn(f"plugin '{plugin_name}' ({dist}) raised in {hook_name} and stops observing this run: {what}")
