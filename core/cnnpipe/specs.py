"""What plugins register: plain data describing datasets, models, backends and reporters."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Callable, Mapping, Optional

# What a model learns; the backend picks the loss and the metrics from it.
CLASSIFICATION = "classification"  # softmax cross-entropy; accuracy on both splits
REGRESSION = "regression"  # the book's squared loss (d2l 5.1.4); image targets, no accuracy
TASKS = (CLASSIFICATION, REGRESSION)


class _NoFiles:
    """The type of :data:`NO_FILES`."""

    def __repr__(self) -> str:
        return "NO_FILES"


# What ``DatasetSpec.locate`` returns for a dataset made in code: no folder is read, none must be mounted.
NO_FILES = _NoFiles()


@dataclass(frozen=True)
class Recipe:
    """A model's default training settings for one dataset (the book's values)."""

    lr: float
    batch_size: int
    epochs: int = 5
    optimizer: str = "sgd"
    resize: Optional[int] = None
    init: str = "xavier"
    momentum: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False


@dataclass
class Data:
    """A framework-neutral dataset: numpy arrays plus what a trainer needs to know.

    ``X`` arrays are ``(N, C, H, W)`` with ``N >= 1``: ``uint8`` (scaled to ``[0, 1]`` by the backend) or
    ``float32`` (used as they are; other float types are converted to it).  For classification ``y``
    arrays hold integer class indices ``0 .. len(class_names)-1``; for regression they hold float32
    targets, one per example (an array each).  The core checks all of this before a run folder exists
    (see :mod:`cnnpipe.datacheck`).
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

    ``locate(data_dir=None)``, when given, returns the folder ``load`` would read its files from,
    ``None`` when it would have to download them, or :data:`NO_FILES` when it reads no files at all (a
    dataset made in code); ``--runner docker`` mounts the folder read-only in the job container.
    ``defaults`` is a :class:`Recipe` used for models that have no recipe for this dataset.  ``options``
    maps the names of the dataset's own settings to their defaults (``--set data.NAME=V``, a ``[data]``
    table); ``load`` receives them as keyword arguments.  ``read(path, shape, **options)``, when given, turns one
    file into examples of ``shape`` as ``load`` would have (``cnnpipe predict`` uses it; it raises
    :class:`cnnpipe.images.BadFile` naming the file), so that a picture of another size is resized as in training.
    ``install`` says how to get its files (``cnnpipe doctor`` prints it when they are not found).
    """

    name: str
    load: Callable[..., Data]
    _: KW_ONLY
    summary: str = ""
    input_shape: tuple[int, ...] = ()
    num_classes: int = 0
    locate: Optional[Callable[..., Any]] = None
    defaults: Optional[Recipe] = None
    options: Mapping[str, Any] = field(default_factory=dict)
    read: Optional[Callable[..., Any]] = None
    install: str = ""
    dist: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """A model: one network, built by each backend it offers.

    ``builds`` maps backend names to ``build(num_classes=..., **arch)``, which returns an
    uninitialised network of that backend (a Gluon ``HybridBlock``, a ``torch.nn.Module``); when the
    user names none, the first entry whose framework is installed is used.  ``arch`` holds the architecture
    arguments a user may override (``--set arch.NAME=V``), the same for every backend; ``recipes``
    maps dataset names to the book's :class:`Recipe`; ``sample_shape`` is the input ``cnnpipe info``
    traces layer by layer; ``task`` is :data:`CLASSIFICATION` or :data:`REGRESSION`.  A build that takes an
    ``input_shape`` argument gets one example's ``(C, H, W)`` as the network sees it.  ``own_init=True`` keeps
    the parameters the build made (drawn after seeding with the run's seed) instead of the book's
    initialisation by ``config.init``.
    """

    name: str
    builds: Mapping[str, Callable[..., Any]]
    _: KW_ONLY
    recipes: Mapping[str, Recipe] = field(default_factory=dict)
    arch: Mapping[str, Any] = field(default_factory=dict)
    sample_shape: tuple[int, ...] = (1, 1, 28, 28)
    task: str = CLASSIFICATION
    own_init: bool = False
    summary: str = ""
    dist: str = ""

    @property
    def backends(self) -> tuple[str, ...]:
        """The backends that can build this model, the default first."""
        return tuple(self.builds)


@dataclass(frozen=True)
class BackendSpec:
    """A training backend: a deep-learning framework's pieces for the core's trainer.

    ``load()`` imports the framework and returns a :class:`cnnpipe.backend.Backend`; it raises
    :class:`cnnpipe.errors.UsageError` (saying what to install) when the framework is missing.
    Nothing heavy is imported before ``load`` is called.  ``launcher`` names how the backend trains in
    several processes (``--workers``): ``"ps-lite"`` (MXNet's parameter server, ``DMLC_*`` variables) or
    ``"torchrun"`` (``torch.distributed.run``); empty when it trains in one process only.  ``framework`` is
    the framework's import name (``"mxnet"``): a model's default backend is its first whose framework is
    installed, found without importing it; empty means always installed.
    """

    name: str
    load: Callable[[], Any]  # a cnnpipe.backend.Backend, which sits above the specs (it sees a Run)
    _: KW_ONLY
    summary: str = ""
    launcher: str = ""
    framework: str = ""
    dist: str = ""

    def installed(self) -> bool:
        """Whether the framework can be imported (looked up, not imported)."""
        import importlib.util

        return not self.framework or importlib.util.find_spec(self.framework) is not None


@dataclass(frozen=True)
class ReporterSpec:
    """A reporter.  ``factory(run)`` returns an object whose methods are event hookimpls (``@hookimpl``).

    Reporters with ``default=True`` observe every run unless ``--reporter`` names others.
    """

    name: str
    factory: Callable[..., Any]
    _: KW_ONLY
    summary: str = ""
    default: bool = False
    dist: str = ""
