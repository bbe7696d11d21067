"""Run folders read back for ``cnnpipe runs``: what each run is, how far it got and how it ended.

Reading never fails on a folder: runs of older cnnpipe versions (0.1: a ``trainer`` instead of a
``backend``, ``trainer.states``) are read like current ones, and a damaged folder is a record with
status ``damaged`` and what is wrong.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import rundir
from .errors import UsageError

# A folder holding any of these is a run folder (perhaps a damaged one); others are searched below.
MARKS = (rundir.CONFIG, rundir.SUMMARY, rundir.METRICS, rundir.CHECKPOINTS)
SEARCH_DEPTH = 3  # run folders under sweep folders under --out
# Settings that say where a run was kept, not what it computed.
PLACE = ("out", "data_dir", "reporters")


@dataclass
class RunRecord:
    """One run folder as found on disk."""

    path: Path
    status: str = "damaged"  # succeeded | failed | interrupted | running | stopped | damaged
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    created: str = ""
    history: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)

    def get(self, key, default=None):
        return self.config.get(key, default)

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    @property
    def test_accs(self) -> list[float]:
        return [m["test_acc"] for m in self.history if isinstance(m.get("test_acc"), (int, float))]

    @property
    def best_acc(self) -> float | None:
        return max(self.test_accs, default=None)

    @property
    def last_acc(self) -> float | None:
        accs = self.test_accs
        return accs[-1] if accs else None

    @property
    def duration(self) -> float | None:
        """Seconds the run took (training and evaluation, all invocations), from its records."""
        if isinstance(self.summary.get("wall_time"), (int, float)) and not self.resumed:
            return float(self.summary["wall_time"])
        times = [m.get("time") for m in self.history]
        return float(sum(times)) if times and all(isinstance(t, (int, float)) for t in times) else None

    @property
    def resumed(self) -> bool:
        return "resuming at epoch" in _read_text(self.path / rundir.LOG)

    @property
    def version(self) -> str:
        return str(self.versions.get("cnnpipe", "?"))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _read_json(path: Path, problems: list):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name} unreadable ({type(exc).__name__})")
        return None


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / mark).exists() for mark in MARKS)


def locked(path: Path) -> bool:
    """Whether a cnnpipe process holds the folder's lock (the run is in progress)."""
    try:
        fd = os.open(path / rundir.LOCK, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def read(path) -> RunRecord:
    """The record of the run folder ``path``; never raises."""
    record = RunRecord(Path(path))
    try:
        _fill(record)
    except Exception as exc:  # a folder must never stop a listing
        record.status = "damaged"
        record.problems.append(f"{type(exc).__name__}: {exc}")
    return record


def _fill(record: RunRecord) -> None:
    path, problems = record.path, record.problems
    run_dir = rundir.RunDir(path)
    try:
        saved = run_dir.read_config()
    except rundir.Unreadable as exc:
        problems.append(exc.short)
        saved = None
    if saved is not None:
        try:
            record.config = vars(run_dir.saved_config(saved))
        except rundir.Unreadable as exc:
            problems.append(exc.short)
            record.config = dict(saved["config"])
        for table in ("arch", "data"):  # hand-edited or damaged: a listing must not trip over it
            if not isinstance(record.config.get(table, {}), dict):
                problems.append(f"config.json: '{table}' is not a table ({type(record.config[table]).__name__})")
                record.config[table] = {}
        record.versions = saved.get("versions") if isinstance(saved.get("versions"), dict) else {}
        record.created = str(saved.get("created", ""))
    summary = _read_json(path / rundir.SUMMARY, problems)
    record.summary = summary if isinstance(summary, dict) else {}
    record.history = _history(path, problems)
    if problems and not record.config:
        record.status = "damaged"
    elif locked(path):
        record.status = "running"
    elif record.summary.get("status") in ("succeeded", "failed", "interrupted"):
        record.status = record.summary["status"]
    elif summary is None and not problems:
        record.status = "stopped"  # killed without a chance to record it (SIGKILL, power cut)
    else:
        record.status = "damaged"
        if summary is not None:
            problems.append("summary.json has no status")


def _history(path: Path, problems: list) -> list[dict]:
    """Per-epoch metrics: ``metrics.jsonl``, else the newest checkpoint's history."""
    text = _read_text(path / rundir.METRICS)
    history = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            item = json.loads(line)
            if isinstance(item, dict) and "epoch" in item:
                history.append(item)
                continue
        except ValueError:
            pass
        problems.append(f"metrics.jsonl line {n} unreadable")
        break
    if history:
        return history
    try:
        found, _ = rundir.RunDir(path).checkpoints()
    except OSError:
        return []
    return list(found[0][1]) if found else []


def find(out) -> list[RunRecord]:
    """Every run folder under ``out`` (searching sweep folders too), oldest first."""
    out = Path(out)
    if not out.exists():
        raise UsageError(f"{out} does not exist; give the folder that holds run folders (--out)")
    if not out.is_dir():
        raise UsageError(f"{out} is not a folder")
    if is_run_folder(out):
        return [read(out)]
    found = []

    def walk(folder: Path, depth: int) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        except OSError:
            return
        for child in children:
            if is_run_folder(child):
                found.append(read(child))
            elif child.is_dir() and depth < SEARCH_DEPTH:
                walk(child, depth + 1)

    walk(out, 1)
    return sorted(found, key=lambda r: (r.created or "~", str(r.path)))


def open_run(path) -> RunRecord:
    """The record of ``path`` for ``runs show``/``compare``; a folder that is no run folder at all is a one-line error."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    if not is_run_folder(path):
        raise UsageError(f"{path} is not a cnnpipe run folder (no {rundir.CONFIG}, {rundir.METRICS} or {rundir.SUMMARY})")
    return read(path)


def settings(record: RunRecord) -> dict:
    """The settings that decide what a run computed, ``arch.NAME`` and ``data.NAME`` flattened."""
    flat = {k: v for k, v in record.config.items() if k not in PLACE and k not in ("arch", "data")}
    for table in ("arch", "data"):
        for key, value in sorted((record.config.get(table) or {}).items()):
            flat[f"{table}.{key}"] = value
    return flat


def differing_versions(records: list[RunRecord]) -> list[str]:
    """The distributions whose recorded versions are not the same in every record (missing counts as ``?``)."""
    names = sorted({name for r in records for name in r.versions})
    return [n for n in names if len({str(r.versions.get(n, "?")) for r in records}) > 1]


def differing(records: list[RunRecord]) -> list[str]:
    """The settings whose values are not the same in every record."""
    rows = [settings(r) for r in records]
    keys = sorted({k for row in rows for k in row})
    return [k for k in keys if len({json.dumps(row.get(k), sort_keys=True) for row in rows}) > 1]


def label(record: RunRecord, keys: list[str]) -> str:
    """A short name of a run among others: its values of ``keys``, else its folder name."""
    flat = settings(record)
    return ", ".join(f"{k}={flat.get(k)}" for k in keys) or record.path.name
