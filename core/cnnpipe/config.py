"""A run's configuration: recipe defaults, then a TOML file, then ``--set``, then CLI options."""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

from .errors import UsageError

DEVICE_RE = re.compile(r"^(auto|cpu|gpu|gpu:\d+)$")


@dataclass
class RunConfig:
    """Everything that decides what a run does."""

    model: str
    dataset: str
    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "sgd"
    resize: Optional[int] = None
    init: str = "xavier"
    device: str = "auto"
    seed: int = 0
    trainer: Optional[str] = None
    reporters: list = field(default_factory=lambda: ["default"])
    out: str = "runs"
    limit: Optional[int] = None
    data_dir: Optional[str] = None
    arch: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


KEYS = {f.name for f in fields(RunConfig)} - {"model", "dataset"}
ALIASES = {"num_epochs": "epochs", "reporter": "reporters"}


def normalise_key(key: str, source: str) -> str:
    """Map ``batch-size``/``num_epochs``-style spellings onto a :class:`RunConfig` field name."""
    name = key.strip().replace("-", "_")
    name = ALIASES.get(name, name)
    if name not in KEYS:
        raise UsageError(f"unknown setting '{key}' in {source}; valid settings: {', '.join(sorted(KEYS))}")
    return name


def read_config_file(path: str) -> dict:
    """Settings from a TOML file (flat keys, plus an ``[arch]`` table)."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}")
    except IsADirectoryError:
        raise UsageError(f"config file is a folder: {path}")
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}")
    return {normalise_key(k, path): v for k, v in raw.items()}


def parse_value(text: str) -> Any:
    """A ``--set`` value read as TOML (``4``, ``0.5``, ``true``, ``"x"``), else taken as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_sets(items) -> dict:
    """``--set key=value`` items as settings; ``arch.NAME=value`` goes into the ``arch`` table."""
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set takes key=value, got '{item}'")
        if key.strip().startswith("arch."):
            out.setdefault("arch", {})[key.strip()[5:]] = parse_value(value.strip())
        else:
            out[normalise_key(key, "--set")] = parse_value(value.strip())
    return out


def merge(*layers: dict) -> dict:
    """Later layers win; ``arch`` tables merge key by key."""
    merged: dict = {}
    for layer in layers:
        for key, value in layer.items():
            if value is None:
                continue
            if key == "arch":
                merged["arch"] = {**merged.get("arch", {}), **value}
            else:
                merged[key] = value
    return merged


def _check_int(settings: dict, key: str, low: int = 1) -> None:
    value = settings.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UsageError(f"{key.replace('_', '-')} must be a whole number of at least {low}, got {value!r}")


def validate(settings: dict) -> dict:
    """Type and range checks that need no plugin; returns ``settings``."""
    for key in ("epochs", "batch_size", "resize", "limit"):
        _check_int(settings, key)
    _check_int(settings, "seed", 0)
    lr = settings.get("lr")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0):
        raise UsageError(f"lr must be a positive number, got {lr!r}")
    if "lr" in settings:
        settings["lr"] = float(settings["lr"])
    device = settings.get("device", "auto")
    if not isinstance(device, str) or not DEVICE_RE.match(device):
        raise UsageError(f"device must be auto, cpu, gpu or gpu:N, got {device!r}")
    reporters = settings.get("reporters")
    if isinstance(reporters, str):
        settings["reporters"] = [reporters]
    arch = settings.get("arch", {})
    if not isinstance(arch, dict):
        raise UsageError("arch must be a table of architecture arguments")
    return settings
