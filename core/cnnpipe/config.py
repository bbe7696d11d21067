"""A run's configuration: recipe defaults, then a TOML file, then ``--set``, then CLI options.

Every layer is checked on its own, so that an error names the setting and where it came from.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional

from .errors import UsageError, short_repr

DEVICE_RE = re.compile(r"^(auto|cpu|gpu|gpu:\d+)$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
NAME_MAX = 255  # bytes in one file name on Linux file systems
SEED_MAX = 2**32 - 1  # the frameworks' seeds are 64-bit; an epoch's seed is seed * 100_003 + epoch
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class RunConfig:
    """Everything that decides what a run does."""

    model: str
    dataset: str
    epochs: int
    batch_size: int
    lr: float
    backend: Optional[str] = None
    optimizer: str = "sgd"
    momentum: float = 0.0  # sgd and nag: the velocity kept between steps (MXNet's and PyTorch's SGD momentum)
    weight_decay: float = 0.0  # L2: weight_decay * weight added to every gradient, as both frameworks' "wd"
    nesterov: bool = False  # sgd: Nesterov's momentum (MXNet's nag)
    crop: int = 0  # augmentation: pad training images by crop zero pixels and take a random crop (cnnpipe.augment)
    flip: bool = False  # augmentation: mirror half of the training images left to right
    resize: Optional[int] = None
    init: str = "xavier"
    device: str = "auto"
    precision: str = "fp32"
    seed: int = 0
    reporters: list = field(default_factory=lambda: ["default"])
    out: str = "runs"
    limit: Optional[int] = None
    data_dir: Optional[str] = None
    arch: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)  # the dataset's options (DatasetSpec.options), given to its load
    workers: int = 1  # training processes; batch_size is per worker (see docs/distributed.md)
    servers: Optional[int] = None  # MXNet's parameter servers (default 1 when workers > 1)
    threads: Optional[int] = None  # compute threads per process; None: the usable CPUs over the workers
    compile: bool = False  # compiled train and eval steps (torch.compile; MXNet's networks are always hybridized)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_saved(cls, saved: dict) -> "RunConfig":
        """The configuration recorded in a run folder, older cnnpipe versions' included."""
        saved = dict(saved)
        trainer = saved.pop("trainer", None)  # before 0.2 a trainer named the backend ('squared-loss' was MXNet's)
        if saved.get("backend") is None and trainer is not None:
            saved["backend"] = "mxnet"
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in saved.items() if k in known})


KEYS = {f.name for f in fields(RunConfig)} - {"model", "dataset"}
ALIASES = {"num_epochs": "epochs", "reporter": "reporters"}
TABLES = {"arch": "architecture arguments", "data": "dataset options"}  # settings that are tables of names


def flag(key: str) -> str:
    """The command-line spelling of a setting."""
    return key.replace("_", "-")


def normalise_key(key: str, source: str) -> str:
    """Map ``batch-size``/``num_epochs``-style spellings onto a :class:`RunConfig` field name."""
    name = str(key).strip().replace("-", "_")
    name = ALIASES.get(name, name)
    if name not in KEYS:
        raise UsageError(f"unknown setting '{key}' in {source}; valid settings: {', '.join(sorted(KEYS))}")
    return name


CONFIG_MAX = 1 << 20  # bytes; more is not a settings file (``--config /dev/zero``)


def read_config_file(path: str) -> dict:
    """Settings from a TOML file (flat keys, plus ``[arch]`` and ``[data]`` tables), each checked."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = f.read(CONFIG_MAX + 1)
        if len(data) > CONFIG_MAX:
            raise UsageError(f"config file {path} is larger than {CONFIG_MAX // 1024} KiB; it is not a settings file")
        raw = tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}")
    except IsADirectoryError:
        raise UsageError(f"config file is a folder: {path}")
    except PermissionError:
        raise UsageError(f"config file {path} is not readable (permission denied)")
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        raise UsageError(f"config file {path} is not UTF-8 text")
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}")
    return check_layer({normalise_key(k, path): v for k, v in raw.items()}, f"config file {path}")


def parse_value(text: str) -> Any:
    """A ``--set`` value read as TOML (``4``, ``0.5``, ``true``, ``"x"``, ``[1, 2]``), else taken as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_sets(items) -> dict:
    """``--set key=value`` items as settings; ``arch.NAME=value`` goes into the ``arch`` table and
    ``data.NAME=value`` into the ``data`` table (the dataset's options)."""
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set takes key=value, got '{item}'")
        table, dot, name = key.strip().partition(".")
        if dot and table in TABLES:
            if not name:
                raise UsageError(f"--set {table}.NAME=VALUE needs a NAME, got '{item}'")
            out.setdefault(table, {})[name] = parse_value(value.strip())
        else:
            out[normalise_key(key, "--set")] = parse_value(value.strip())
    return check_layer(out, "--set")


def merge(*layers: dict) -> dict:
    """Later layers win; ``arch`` and ``data`` tables merge key by key."""
    merged: dict = {}
    for layer in layers:
        for key, value in layer.items():
            if value is None:
                continue
            if key in TABLES:
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    return merged


def _where(source: str) -> str:
    return "" if source == "options" else f" (in {source})"


def _whole(key, value, source, low, high=None):
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise UsageError(f"{flag(key)} must be a whole number {bounds}, got {short_repr(value)}{_where(source)}")
    return value


def _name(key, value, source):
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise UsageError(f"{flag(key)} must be a name, got {short_repr(value)}{_where(source)}")
    return value


def _path(key, value, source):
    """A folder path that can be created and recorded: UTF-8 text, no NUL, no name over 255 bytes."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{flag(key)} must be a folder path, got {short_repr(value)}{_where(source)}")
    if "\0" in value:
        raise UsageError(f"{flag(key)} must not contain a NUL character{_where(source)}")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 reach Python as lone surrogates
        raise UsageError(f"{flag(key)} must be UTF-8 text, got {short_repr(value)}{_where(source)}")
    longest = max(len(part) for part in encoded.split(b"/"))
    if longest > NAME_MAX:
        raise UsageError(f"{flag(key)} holds a name of {longest} bytes; file names have at most {NAME_MAX}, "
                         f"got {short_repr(value)}{_where(source)}")
    return value


def check_setting(key: str, value: Any, source: str = "options") -> Any:
    """``value`` of setting ``key`` checked and normalised; a one-line :class:`UsageError` naming both otherwise."""
    if value is None:
        return None
    if key in ("epochs", "batch_size", "resize", "limit", "workers", "servers", "threads"):
        return _whole(key, value, source, 1)
    if key == "seed":
        return _whole(key, value, source, 0, SEED_MAX)
    if key == "lr":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise UsageError(f"lr must be a positive number, got {short_repr(value)}{_where(source)}")
        return float(value)
    if key in ("momentum", "weight_decay"):
        high = 1 if key == "momentum" else math.inf
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < high:
            bounds = "from 0 up to (not including) 1" if key == "momentum" else "of at least 0"
            raise UsageError(f"{flag(key)} must be a number {bounds}, got {short_repr(value)}{_where(source)}")
        return float(value)
    if key in ("nesterov", "flip"):
        if not isinstance(value, bool):
            raise UsageError(f"{key} must be true or false, got {short_repr(value)}{_where(source)}")
        return value
    if key == "crop":
        return _whole(key, value, source, 0)
    if key == "device":
        if not isinstance(value, str) or not DEVICE_RE.match(value):
            raise UsageError(f"device must be auto, cpu, gpu or gpu:N, got {short_repr(value)}{_where(source)}")
        return value
    if key == "precision":
        if value not in PRECISIONS:
            raise UsageError(f"precision must be {', '.join(PRECISIONS[:-1])} or {PRECISIONS[-1]}, got {value!r}{_where(source)}")
        return value
    if key in ("optimizer", "init", "backend"):
        return _name(key, value, source)
    if key == "compile":
        if not isinstance(value, bool):
            raise UsageError(f"compile must be true or false, got {short_repr(value)}{_where(source)}")
        return value
    if key == "reporters":
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
            raise UsageError(f"reporters must be a list of reporter names, got {short_repr(value)}{_where(source)}")
        return list(value)
    if key in ("out", "data_dir"):
        return _path(key, value, source)
    if key in TABLES:
        if not isinstance(value, dict):
            raise UsageError(f"{key} must be a table of {TABLES[key]}, got {short_repr(value)}{_where(source)}")
        return dict(value)
    raise UsageError(f"unknown setting '{key}'{_where(source)}")


MOMENTUM_OPTIMIZERS = ("sgd", "nag")


def check_optimizer(config: RunConfig) -> None:
    """Momentum and Nesterov are settings of SGD only (``sgd``, ``nag``); a user error for any other optimizer."""
    if config.optimizer.lower() in MOMENTUM_OPTIMIZERS:
        if config.nesterov and not config.momentum:
            raise UsageError("nesterov needs a momentum above 0 (--set momentum=0.9, say)")
        return
    for key in ("momentum", "nesterov"):
        if getattr(config, key):
            raise UsageError(f"{key} applies to the sgd and nag optimizers, not to '{config.optimizer}'")


def check_layer(settings: dict, source: str) -> dict:
    """Every setting of one layer (a file, ``--set``, the options) checked; returns the normalised layer."""
    return {key: check_setting(key, value, source) for key, value in settings.items()}
