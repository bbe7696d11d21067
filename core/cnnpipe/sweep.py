"""A sweep: one run per combination of grid values, resumable.

A combination is done when a run folder under the sweep's folder has its settings and succeeded; a
folder that stopped early (interrupted, failed, killed) is continued from its last checkpoint
(:func:`cnnpipe.pipeline.resolve_resume`). So running the same sweep again trains only what is missing.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, replace
from pathlib import Path

from . import config as cfg, runs
from .errors import UsageError
from .specs import Data
from .pipeline import Resolved, resolve, resolve_resume

# Settings a grid cannot vary: where runs are kept and who watches them.
NOT_GRIDDED = ("out", "data_dir", "reporters", "device")
# Settings that do not change what a run computes, so a folder matches a combination whatever they are.
IGNORED = ("device",)
PREFERENCE = {"succeeded": 0, "interrupted": 1, "failed": 1, "stopped": 1, "running": 2}


def parse_grid(items) -> list[tuple[str, list[str]]]:
    """``--grid KEY=V1,V2`` items as ``(key, values)``; keys as ``--set`` spells them (``arch.NAME`` too)."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--grid takes KEY=VALUE,VALUE..., got '{item}'")
        if key.startswith("arch."):
            if not key[5:]:
                raise UsageError(f"--grid arch.NAME=... needs a NAME, got '{item}'")
        else:
            key = cfg.normalise_key(key, "--grid")
            if key in NOT_GRIDDED:
                raise UsageError(f"--grid cannot vary {cfg.flag(key)}; give it as an option of the whole sweep")
        parts = [v.strip() for v in values.split(",")]
        if not all(parts):
            raise UsageError(f"--grid {key} has an empty value in '{item}'")
        if key in grid:
            raise UsageError(f"--grid names {cfg.flag(key)} twice; list every value in one --grid {cfg.flag(key)}=A,B")
        if len(set(parts)) != len(parts):
            raise UsageError(f"--grid {cfg.flag(key)} lists a value twice: '{values}'")
        if not key.startswith("arch."):
            for value in parts:
                cfg.check_setting(key, cfg.parse_value(value), "--grid")
        grid[key] = parts
    if not grid:
        raise UsageError("a sweep needs at least one --grid KEY=VALUE,VALUE...")
    return list(grid.items())


def combinations(grid) -> list[dict[str, str]]:
    """Every combination of the grid's values, the last key varying fastest."""
    keys = [k for k, _ in grid]
    return [dict(zip(keys, values)) for values in itertools.product(*(v for _, v in grid))]


def describe(combination: dict) -> str:
    return " ".join(f"{cfg.flag(k)}={v}" for k, v in combination.items())


def grid_args(grid) -> list[str]:
    """The grid as ``cnnpipe sweep`` options."""
    return [arg for key, values in grid for arg in ("--grid", f"{cfg.flag(key)}={','.join(values)}")]


def default_out(model: str, dataset: str) -> str:
    return str(Path("runs") / f"sweep-{model}-{dataset}")


@dataclass
class Planned:
    """One combination: its run resolved afresh, and what to do (``new``, ``resume``, ``done`` or ``running``)
    with the folder that ran it before (``record``; ``resume`` holds that folder's run resolved to continue)."""

    combination: dict
    resolved: Resolved
    action: str
    record: runs.RunRecord | None = None
    resume: Resolved | None = None

    @property
    def label(self) -> str:
        return describe(self.combination)


def identity(config: dict) -> str:
    """What must match for a folder to be a combination's run: the settings that decide what it computes."""
    settings = runs.settings(runs.RunRecord(Path(), config=config))
    return json.dumps({k: v for k, v in settings.items() if k not in IGNORED}, sort_keys=True, default=str)


def index(out) -> dict[str, list[runs.RunRecord]]:
    """The run folders under ``out`` by :func:`identity`."""
    found: dict[str, list[runs.RunRecord]] = {}
    for record in runs.find(out) if Path(out).is_dir() else []:
        if record.config:
            found.setdefault(identity(record.config), []).append(record)
    return found


def pick(candidates) -> runs.RunRecord | None:
    """The folder that stands for a combination: a succeeded one, else the one that got furthest."""
    usable = [r for r in candidates if r.status in PREFERENCE]
    return min(usable, key=lambda r: (PREFERENCE[r.status], -r.epochs_done, r.created), default=None)


def resolve_combination(registry, model, dataset, combination, *, options=None, sets=(), config_file=None) -> Resolved:
    """The run of one combination: its grid values take precedence over every other setting."""
    options = dict(options or {})
    extra = []
    for key, value in combination.items():
        if key.startswith("arch."):
            extra.append(f"{key}={value}")
        else:
            options[key] = cfg.check_setting(key, cfg.parse_value(value), "--grid")
    return resolve(registry, model, dataset, options=options, sets=[*sets, *extra], config_file=config_file)


def plan(registry, model, dataset, grid, *, options=None, sets=(), config_file=None) -> list[Planned]:
    """Resolve every combination (each checked before anything runs) and match it to the folders under ``out``."""
    options = dict(options or {})
    options["out"] = options.get("out") or default_out(model, dataset)
    found = index(options["out"])
    planned = []
    for combination in combinations(grid):
        resolved = resolve_combination(registry, model, dataset, combination, options=options, sets=sets,
                                       config_file=config_file)
        record = pick(found.get(identity(resolved.config.to_dict()), []))
        planned.append(action(registry, combination, resolved, record))
    return planned


def check_builds(planned: list[Planned], *, required: bool = True) -> None:
    """Each combination still to start through its backend's own check (its network built and fed a zero input
    on the CPU), before the first run: a value only the framework can judge fails the sweep, not its Nth run.

    Where the framework is not installed here (``required=False``: the runs go to containers) that check is
    left to each container.
    """
    seen = set()
    for item in planned:
        if item.action != "new":
            continue
        config = replace(item.resolved.config, device="cpu")  # the device is not gridded; each run checks its own
        key = json.dumps(config.to_dict(), sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        try:
            backend = item.resolved.backend.load()
        except UsageError:
            if required:
                raise
            continue
        backend.check(config, item.resolved.model, sample_data(item.resolved.dataset))


def sample_data(dataset) -> Data | None:
    """One zero example of the shape and classes ``dataset`` declares, or ``None`` when it declares none."""
    import numpy as np

    if not dataset.input_shape or not dataset.num_classes:
        return None
    X = np.zeros((1, *dataset.input_shape), np.float32)
    y = np.zeros(1, np.int64)
    return Data(X, y, X, y, [str(i) for i in range(dataset.num_classes)], name=dataset.name)


def action(registry, combination, resolved, record) -> Planned:
    """What to do for one combination, given the folder that ran its settings before (or ``None``)."""
    if record is None:
        return Planned(combination, resolved, "new")
    if record.status == "succeeded" and record.epochs_done >= resolved.config.epochs:
        return Planned(combination, resolved, "done", record)
    if record.status == "running":
        return Planned(combination, resolved, "running", record)
    options = {"reporters": resolved.config.reporters, "device": resolved.config.device}
    resumed = resolve_resume(registry, record.path, options=options)
    resumed.run_dir.unlock()  # checked here; the child `cnnpipe run --resume` takes the folder
    return Planned(combination, resolved, "resume", record, resumed)


def results(planned: list[Planned], out) -> list[runs.RunRecord]:
    """The folder of every combination as it is now, best last test accuracy first."""
    found = index(out)
    chosen = [pick(found.get(identity(p.resolved.config.to_dict()), [])) for p in planned]
    chosen = [r for r in chosen if r is not None]
    return sorted(chosen, key=lambda r: -(r.last_acc if r.last_acc is not None else -1))
