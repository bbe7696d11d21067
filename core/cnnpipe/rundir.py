"""A run folder, and the one place that knows its layout.

``config.json`` (settings, versions), ``metrics.jsonl`` (a line per epoch), ``checkpoints/epoch-NNN/``
(``model.params``, ``optimizer.states``, then ``state.json`` marking it complete and recording the
size and SHA-256 of the other two), ``model.params`` (final parameters), ``summary.json`` (outcome),
``run.log``; reporters may add files (``plot.png``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from . import files
from .config import RunConfig, check_layer
from .errors import UsageError
from .files import atomic_path, fingerprint, remove_leftovers, write_json

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
CONTAINER = "container.json"  # written by the Docker runner: the image that ran


class Unreadable(UsageError):
    """A record of the run folder that cannot be used; ``short`` says why in a few words (for listings)."""

    def __init__(self, message: str, short: str):
        super().__init__(message)
        self.short = short


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
        if self._lock_fd is not None:
            return
        try:
            fd = files.lock(self.path / LOCK)
        except OSError as exc:
            raise UsageError(f"cannot lock run folder {self.path}: {exc.strerror}")
        if fd is None:
            raise UsageError(f"{self.path} is in use by another cnnpipe process; wait for it to finish")
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def remove_leftovers(self) -> None:
        """Delete temporary files a killed run left half-written (the folder must be locked)."""
        remove_leftovers(self.path)

    # configuration and records

    def read_config(self) -> dict:
        """``config.json`` as written at the start of the run: the one reader of that file."""
        path = self.file(CONFIG)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise Unreadable(f"cannot read {path}: {exc}", f"{CONFIG} missing")
        except (OSError, ValueError) as exc:
            raise Unreadable(f"cannot read {path}: {exc}", f"{CONFIG} unreadable ({type(exc).__name__})")
        if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
            raise Unreadable(f"{path} is damaged: it holds no 'config' table", f"{CONFIG} holds no 'config' table")
        return data

    def saved_config(self, record: dict | None = None) -> RunConfig:
        """The configuration the run recorded (older cnnpipe versions' included), every value checked;
        ``record`` is :meth:`read_config`'s result when the caller has it already."""
        path = self.file(CONFIG)
        saved = (record or self.read_config())["config"]
        try:
            config = RunConfig.from_saved(saved)
        except TypeError as exc:
            raise Unreadable(f"{path} is damaged: {exc}", f"{CONFIG} incomplete ({exc})")
        for key in ("model", "dataset"):
            if not isinstance(getattr(config, key), str):
                raise Unreadable(f"{path} is damaged: its {key} is {getattr(config, key)!r}",
                                 f"{CONFIG} incomplete (its {key} is {getattr(config, key)!r})")
        settings = {k: v for k, v in vars(config).items() if k not in ("model", "dataset")}
        try:
            return replace(config, **check_layer(settings, f"run folder configuration {path}"))
        except UsageError as exc:
            raise Unreadable(str(exc), f"{CONFIG} incomplete ({exc})") from exc

    def succeeded(self) -> bool:
        """Whether ``summary.json`` records a run that succeeded."""
        try:
            return json.loads(self.file(SUMMARY).read_text()).get("status") == "succeeded"
        except (OSError, ValueError, AttributeError):
            return False

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

    def newest_checkpoint(self) -> tuple[int, list, list[tuple[Path, str]]]:
        """``(epoch, history, damaged)``: the newest checkpoint whose files are whole (``0, []`` when there
        is none), and ``(file, what is wrong)`` for each newer one skipped, newest first.

        Checkpoints are checked from the newest back; checking one reads its files once to compare them
        with the sizes and SHA-256 digests in its ``state.json`` (older checkpoints record none: their
        files need only be there and not be empty).
        """
        damaged = []
        for folder in self._checkpoint_folders():
            found = self._inspect(folder)
            if found is None:
                continue
            if isinstance(found[0], Path):
                damaged.append(found)
                continue
            return found[0], found[1], damaged
        return 0, [], damaged

    def checkpoints(self) -> tuple[list[tuple[int, list]], list[tuple[Path, str]]]:
        """``(intact, damaged)``: ``(epoch, history)`` of every complete checkpoint whose files are whole,
        newest first, and ``(file, what is wrong)`` of each damaged one (reads every checkpoint's files)."""
        intact, damaged = [], []
        for folder in self._checkpoint_folders():
            found = self._inspect(folder)
            if found is not None:
                (damaged if isinstance(found[0], Path) else intact).append(found)
        return intact, damaged

    def _checkpoint_folders(self) -> list[Path]:
        folders = (self.path / CHECKPOINTS).glob("epoch-*")
        return sorted(folders, key=lambda f: (len(f.name), f.name), reverse=True)  # epoch-1000 after epoch-999

    def _inspect(self, folder: Path):
        """``None`` for a checkpoint never completed, ``(epoch, history)`` for a whole one, ``(file, problem)`` else."""
        state = folder / STATE
        if not state.is_file():
            return None  # the run stopped while writing it
        try:
            epoch, history, recorded = self._read_state(folder)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return state, str(exc) or type(exc).__name__
        for needed in (folder / PARAMS, self.optimizer_file(epoch)):
            problem = file_problem(needed, recorded.get(needed.name))
            if problem:
                return needed, problem
        return epoch, history

    def _read_state(self, folder: Path) -> tuple[int, list, dict]:
        data = json.loads((folder / STATE).read_text())
        epoch, history, recorded = int(data["epoch"]), list(data["history"]), dict(data.get("files") or {})
        if folder != self.checkpoint(epoch):
            raise ValueError(f"it is the state of epoch {epoch}")
        if len(history) != epoch or not all(_is_metrics(m, i + 1) for i, m in enumerate(history)):
            raise ValueError(f"its history does not list the metrics of epochs 1 to {epoch}")
        return epoch, history, recorded

    def last_checkpoint(self) -> tuple[int, list]:
        """``(epoch, history)`` of the newest intact checkpoint, ``(0, [])`` when there is none."""
        epoch, history, _ = self.newest_checkpoint()
        return epoch, history

    def save_checkpoint(self, epoch: int, history: list, save_params: Callable, save_optimizer: Callable) -> None:
        """Write the checkpoint of ``epoch``: each file atomically and durably, ``state.json`` last."""
        folder = self.checkpoint(epoch)
        with atomic_path(folder / PARAMS, durable=True) as tmp:
            save_params(tmp)
        with atomic_path(folder / OPTIMIZER, durable=True) as tmp:
            save_optimizer(tmp)
        recorded = {name: fingerprint(folder / name) for name in (PARAMS, OPTIMIZER)}
        write_json(folder / STATE, {"epoch": epoch, "history": history, "files": recorded}, durable=True)

    def save_params(self, save_params: Callable) -> Path:
        """Write the final parameters atomically; returns their path."""
        with atomic_path(self.file(PARAMS), durable=True) as tmp:
            save_params(tmp)
        return self.file(PARAMS)


def _is_metrics(m, epoch: int) -> bool:
    """Whether ``m`` is the metrics line of ``epoch`` as the trainer writes it (accuracies ``None`` for regression)."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    return (isinstance(m, dict) and m.get("epoch") == epoch and number(m.get("time"))
            and all(m.get(k) is None or number(m[k]) for k in ("train_loss", "train_acc", "test_acc")))


def file_problem(path: Path, recorded: dict | None) -> str | None:
    """What is wrong with a checkpoint file, given the fingerprint its ``state.json`` recorded; ``None`` if nothing."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    if size == 0:
        return "empty"
    if not recorded:
        return None
    try:
        if size != recorded["size"]:
            return f"{size} bytes, {recorded['size']} when it was written"
        if fingerprint(path)["sha256"] != recorded["sha256"]:
            return "its contents changed since it was written (SHA-256 differs)"
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    except (KeyError, TypeError):
        return "its state.json records no size and SHA-256 for it"
    return None
