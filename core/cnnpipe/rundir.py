"""A run folder, and the one place that knows its layout.

``config.json`` (settings, versions), ``metrics.jsonl`` (a line per epoch), ``checkpoints/epoch-NNN/``
(``model.params``, ``optimizer.states``, then ``state.json`` marking it complete), ``model.params`` (final
parameters), ``summary.json`` (outcome), ``run.log``; reporters may add files (``plot.png``).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Callable

from .errors import UsageError
from .files import atomic_path, write_json

CONFIG = "config.json"
METRICS = "metrics.jsonl"
PARAMS = "model.params"
OPTIMIZER = "optimizer.states"
OLD_OPTIMIZER = "trainer.states"  # the name before cnnpipe 0.2; still read on resume
STATE = "state.json"
SUMMARY = "summary.json"
PLOT = "plot.png"
LOG = "run.log"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"


class RunDir(os.PathLike):
    """The folder of one run; ``os.fspath(run_dir)`` is its path."""

    def __init__(self, path):
        self.path = Path(path)
        self._lock_fd = None

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def __truediv__(self, name) -> Path:
        return self.path / name

    @classmethod
    def create(cls, out, model: str, dataset: str) -> "RunDir":
        """A new, uniquely named folder under ``out``."""
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {out} exists and is not a folder")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{model}-{dataset}-{stamp}"
        for n in range(1000):
            path = out / (base if n == 0 else f"{base}-{n}")
            try:
                path.mkdir(parents=True)
                return cls(path)
            except FileExistsError:
                continue
            except OSError as exc:
                raise UsageError(f"cannot create a run folder under {out}: {exc.strerror}")
        raise UsageError(f"too many runs named {base} under {out}")

    @classmethod
    def open(cls, path) -> "RunDir":
        """An existing run folder, for ``--resume``."""
        run_dir = cls(path)
        if not (run_dir.path / CONFIG).is_file():
            raise UsageError(f"{path} is not a cnnpipe run folder (no {CONFIG})")
        return run_dir

    def file(self, name: str) -> Path:
        return self.path / name

    def lock(self) -> None:
        """Hold the folder for this process until :meth:`unlock` (or exit); a second process gets a one-line error."""
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(f"{self.path} is in use by another cnnpipe process; wait for it to finish")
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def remove_leftovers(self) -> None:
        """Delete temporary files a killed run left half-written."""
        for tmp in self.path.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    # configuration and records

    def read_config(self) -> dict:
        """``config.json`` as written at the start of the run."""
        try:
            data = json.loads(self.file(CONFIG).read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {self.file(CONFIG)}: {exc}")
        if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
            raise UsageError(f"{self.file(CONFIG)} is damaged: it holds no 'config' table")
        return data

    def write_config(self, data: dict) -> None:
        write_json(self.file(CONFIG), data)

    def write_metrics(self, history: list[dict]) -> None:
        """``metrics.jsonl``, rewritten whole so that it always matches the checkpoints."""
        with atomic_path(self.file(METRICS)) as tmp:
            tmp.write_text("".join(json.dumps(m, sort_keys=True) + "\n" for m in history))

    def write_summary(self, summary: dict) -> None:
        write_json(self.file(SUMMARY), summary)

    # checkpoints

    def checkpoint(self, epoch: int) -> Path:
        """Folder of the checkpoint taken after ``epoch``."""
        return self.path / CHECKPOINTS / f"epoch-{epoch:03d}"

    def optimizer_file(self, epoch: int) -> Path:
        """The optimizer state of a checkpoint (under its pre-0.2 name in older run folders)."""
        folder = self.checkpoint(epoch)
        old = folder / OLD_OPTIMIZER
        return old if old.is_file() and not (folder / OPTIMIZER).is_file() else folder / OPTIMIZER

    def checkpoints(self) -> tuple[list[tuple[int, list]], list[tuple[Path, str]]]:
        """``(intact, damaged)``: ``(epoch, history)`` of every complete checkpoint whose files are there,
        newest first, and ``(file, what is wrong)`` of those skipped, so that resume can fall back.
        """
        found, damaged = [], []
        for folder in sorted((self.path / CHECKPOINTS).glob("epoch-*"), reverse=True):
            state = folder / STATE
            if not state.is_file():
                continue
            try:
                data = json.loads(state.read_text())
                epoch, history = int(data["epoch"]), list(data["history"])
                if len(history) != epoch or folder != self.checkpoint(epoch):
                    raise ValueError("epoch and history disagree")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                damaged.append((state, str(exc)))
                continue
            for needed in (folder / PARAMS, self.optimizer_file(epoch)):
                if not needed.is_file() or needed.stat().st_size == 0:
                    damaged.append((needed, "missing or empty"))
                    break
            else:
                found.append((epoch, history))
        return found, damaged

    def last_checkpoint(self) -> tuple[int, list]:
        """``(epoch, history)`` of the newest intact checkpoint, ``(0, [])`` when there is none."""
        found, _ = self.checkpoints()
        return found[0] if found else (0, [])

    def save_checkpoint(self, epoch: int, history: list, save_params: Callable, save_optimizer: Callable) -> None:
        """Write the checkpoint of ``epoch``: each file atomically and durably, ``state.json`` last."""
        folder = self.checkpoint(epoch)
        with atomic_path(folder / PARAMS, durable=True) as tmp:
            save_params(tmp)
        with atomic_path(folder / OPTIMIZER, durable=True) as tmp:
            save_optimizer(tmp)
        write_json(folder / STATE, {"epoch": epoch, "history": history}, durable=True)

    def save_params(self, save_params: Callable) -> Path:
        """Write the final parameters atomically; returns their path."""
        with atomic_path(self.file(PARAMS), durable=True) as tmp:
            save_params(tmp)
        return self.file(PARAMS)
