"""A run folder: configuration, metrics, per-epoch checkpoints, final parameters, plot and log."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .errors import UsageError
from .files import write_json

CONFIG = "config.json"
METRICS = "metrics.jsonl"
PARAMS = "model.params"
SUMMARY = "summary.json"
PLOT = "plot.png"
LOG = "run.log"
CHECKPOINTS = "checkpoints"


class RunDir:
    """The folder of one run."""

    def __init__(self, path):
        self.path = Path(path)

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

    def remove_leftovers(self) -> None:
        """Delete temporary files a killed run left half-written."""
        for tmp in self.path.rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    def file(self, name: str) -> Path:
        return self.path / name

    def read_config(self) -> dict:
        try:
            return json.loads(self.file(CONFIG).read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {self.file(CONFIG)}: {exc}")

    def write_config(self, data: dict) -> None:
        write_json(self.file(CONFIG), data)

    def checkpoint(self, epoch: int) -> Path:
        """Folder of the checkpoint taken after ``epoch``."""
        return self.path / CHECKPOINTS / f"epoch-{epoch:03d}"

    def last_checkpoint(self) -> tuple[int, list]:
        """``(epoch, history)`` of the last complete checkpoint, ``(0, [])`` when there is none."""
        root = self.path / CHECKPOINTS
        for folder in sorted(root.glob("epoch-*"), reverse=True):
            state = folder / "state.json"
            if state.is_file():
                data = json.loads(state.read_text())
                return data["epoch"], data["history"]
        return 0, []

    def write_checkpoint_state(self, epoch: int, history: list) -> None:
        """Mark the checkpoint of ``epoch`` complete; written last, after its parameter files."""
        write_json(self.checkpoint(epoch) / "state.json", {"epoch": epoch, "history": history})
