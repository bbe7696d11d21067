"""What plugins register: plain data describing datasets, models, trainers and reporters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional


@dataclass(frozen=True)
class Recipe:
    """A model's default training settings for one dataset (the book's values)."""

    lr: float
    batch_size: int
    num_epochs: int = 5
    optimizer: str = "sgd"
    resize: Optional[int] = None
    init: str = "xavier"


@dataclass
class Data:
    """A framework-neutral dataset: numpy arrays plus what a trainer needs to know.

    ``X`` arrays are ``(N, C, H, W)``; ``uint8`` arrays are scaled to ``[0, 1]`` by the trainer,
    floating ones are used as they are.  ``y`` arrays hold class indices.
    """

    train_X: Any
    train_y: Any
    test_X: Any
    test_y: Any
    class_names: list[str]
    name: str = ""

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, ``(C, H, W)``."""
        return tuple(self.train_X.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset.  ``load(data_dir=None)`` returns :class:`Data`; ``data_dir`` overrides where files are looked for.

    ``locate(data_dir=None)``, when given, returns the folder ``load`` would read its files from
    (``None`` when it would have to download them); ``--runner docker`` mounts that folder read-only
    in the job container and points ``CNNPIPE_DATA_DIR`` at it.
    """

    name: str
    load: Callable[..., Data]
    summary: str = ""
    input_shape: tuple[int, ...] = ()
    num_classes: int = 0
    dist: str = ""
    locate: Optional[Callable[..., Any]] = None


@dataclass(frozen=True)
class ModelSpec:
    """A model.  ``build(num_classes=..., **arch)`` returns an uninitialised network for ``backend``.

    ``arch`` holds the default architecture arguments a user may override (``--set arch.NAME=V``);
    ``recipes`` maps dataset names to the book's :class:`Recipe`; ``sample_shape`` is the input
    ``cnnpipe info`` traces layer by layer; ``trainer`` names the trainer to use when the user
    names none (default: the trainer named after the backend, else the first for the backend).
    """

    name: str
    build: Callable[..., Any]
    backend: str = "mxnet"
    recipes: dict[str, Recipe] = field(default_factory=dict)
    arch: dict[str, Any] = field(default_factory=dict)
    sample_shape: tuple[int, ...] = (1, 1, 28, 28)
    summary: str = ""
    trainer: Optional[str] = None
    dist: str = ""


@dataclass(frozen=True)
class TrainerSpec:
    """A trainer for one backend.

    ``train(run)`` trains ``run`` (a :class:`cnnpipe.run.Run`) and returns the list of epoch metrics;
    ``describe(model, arch, shape)`` returns ``(layers, num_params)`` where ``layers`` is a list of
    ``(name, output_shape)`` for ``cnnpipe info``; ``check(config, model, data)`` raises
    :class:`cnnpipe.errors.UsageError` for settings or data this trainer cannot honour, before anything is written.
    """

    name: str
    backend: str
    train: Callable[..., list]
    describe: Optional[Callable[..., tuple]] = None
    check: Optional[Callable[..., None]] = None
    summary: str = ""
    dist: str = ""


@dataclass(frozen=True)
class ReporterSpec:
    """A reporter.  ``factory(run)`` returns an object whose methods are event hookimpls.

    Reporters with ``default=True`` observe every run unless ``--reporter`` names others.
    """

    name: str
    factory: Callable[..., Any]
    summary: str = ""
    default: bool = False
    dist: str = ""
