"""The backend contract: what a deep-learning framework supplies to the core's trainer.

The core (:mod:`cnnpipe.training`) owns the loop: start or resume from the last complete checkpoint,
per-epoch seeding and shuffling, progress and epoch events, atomic checkpoints and the final
parameters.  A backend supplies only the framework's pieces, as a :class:`Backend` (one per
framework, returned by ``BackendSpec.load()``) that opens a :class:`Session` (one per run: the
network, its optimizer and the data on the device).  The core calls, in this order::

    backend.check(config, model, data)           # before the run folder exists
    session = backend.session(run)
    session.initialize()  or  session.load(params_file, optimizer_file)
    for each epoch:
        session.begin_epoch(epoch, seed)
        for batch in session.batches(order): session.step(batch)   # session.wait() now and then
        loss_sum, correct = session.end_epoch()
        test_acc = session.evaluate()
        session.save_params(tmp); session.save_optimizer(tmp)      # the core makes them atomic
    session.save_params(tmp)                                        # the final model.params

After training, ``cnnpipe evaluate``, ``predict`` and ``export`` open a session for a run folder's saved
configuration, ``session.load(params, None)`` and then call ``evaluate``, ``predict`` or
``backend.export(session, format, path)`` for a format of ``backend.export_formats``.

Shared semantics every backend keeps, so that one model trains alike on each:

- Initialisers (``config.init``): ``xavier`` is Gluon's ``Xavier()`` (uniform in ``±sqrt(3 / ((fan_in +
  fan_out) / 2))``), ``normal`` is N(0, 0.01²), ``uniform`` is U(-0.07, 0.07), for weights; biases start
  at 0, batch-norm scales at 1 and shifts at 0.
- Steps (the book's ``train_ch5``): the gradient of the *summed* per-example loss, divided by
  ``config.batch_size`` (also on the short last batch).  Classification uses softmax cross-entropy,
  regression the squared error ``(y_hat - y) ** 2`` summed over every element.
- Images: ``uint8`` arrays are scaled to [0, 1]; with ``config.resize`` batches are resized on the
  device (bilinear), never as a resized copy of the dataset.
- Precision (``config.precision``): ``fp32``, or mixed ``bf16``/``fp16`` with weights and optimizer state
  kept in fp32; a backend that cannot honour one refuses it in :meth:`Backend.check`.
- The shuffling order comes from the core; the backend seeds its own generator (dropout, say) with the
  ``seed`` given to :meth:`Session.begin_epoch`, so a resumed run repeats an uninterrupted one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from .errors import UsageError

if TYPE_CHECKING:
    import numpy as np

    from .config import RunConfig
    from .distributed.engine import Engine
    from .distributed.environment import Environment
    from .run import Run
    from .specs import Data, ModelSpec

class Backend(ABC):
    """One framework's pieces; ``BackendSpec.load()`` returns an instance."""

    name: str = ""

    @abstractmethod
    def versions(self) -> dict[str, str]:
        """Library versions to record in ``config.json``, e.g. ``{"mxnet": "1.9.1"}``."""

    def build(self) -> tuple[str, int]:
        """The framework build's CUDA version (``""`` for a CPU build) and how many GPUs it can use here."""
        return "", 0

    @abstractmethod
    def check(self, config: RunConfig, model: ModelSpec, data: Data) -> None:
        """Raise :class:`UsageError` for what this backend cannot honour (optimizer, initialiser, device,
        architecture arguments, input size), before anything is written."""

    @abstractmethod
    def describe(self, model: ModelSpec, arch: dict, shape: tuple[int, ...]) -> tuple[list[tuple[str, tuple]], int]:
        """``(layers, num_params)`` for ``cnnpipe info``: each top-level layer's name and output shape for an
        input of ``shape`` (batch dimension included), and the number of parameters (running statistics included)."""

    def layer_table(self, model: ModelSpec, arch: dict, shape: tuple[int, ...]) -> list[tuple[str, Any, int | None]]:
        """``[(layer name, output shape, parameters)]`` for ``cnnpipe info``, for any network (not only a plain
        sequence of layers): the shipped backends hook the top-level layers as they run, and the parameters add
        up to the network's.  By default :meth:`describe`'s layers, their parameters unknown (``None``)."""
        layers, _ = self.describe(model, arch, shape)
        return [(name, out, None) for name, out in layers]

    @abstractmethod
    def session(self, run: Run) -> Session:
        """The network of ``run.model`` built with ``run.config.arch`` on ``run.config.device``, the run's data
        on that device; parameters are set by :meth:`Session.initialize` or :meth:`Session.load`."""

    #: Formats :meth:`export` writes, each with the suffix of the file it writes (``{"onnx": ".onnx"}``).
    export_formats: dict[str, str] = {}

    def export(self, session: Session, format: str, path: Path) -> list[Path]:
        """Write ``session``'s network in ``format`` (a key of :attr:`export_formats`) to ``path``, which ends
        in that format's suffix, and any companion files beside it; returns every file written.

        The exported network takes what :meth:`Session.predict` feeds the network: float32 ``(N, C, H, W)``
        images scaled to [0, 1] (resized when the run resized), and gives the scores before softmax.
        """
        raise UsageError(f"backend '{self.name}' exports no format")

    def join(self, environment: Environment, config: RunConfig) -> Engine:
        """Join the run of several processes ``environment`` describes, as a worker, and return the engine that
        connects this rank to the others (see :mod:`cnnpipe.distributed.engine`).  With ``run.world.size > 1``
        the session keeps every rank's parameters equal and divides the summed gradient by the total batch,
        ``batch_size * size``.  A backend whose ``BackendSpec.launcher`` is set implements this."""
        raise UsageError(f"backend '{self.name}' trains in one process only")


class Session(ABC):
    """One run's live state on the device: network, optimizer, data and the epoch's running totals."""

    @abstractmethod
    def initialize(self) -> None:
        """Fresh parameters by ``config.init``, drawn after seeding with ``config.seed``; then the optimizer."""

    @abstractmethod
    def load(self, params: Path, optimizer: Path | None) -> None:
        """Parameters and optimizer state from files this backend's ``save_*`` wrote."""

    @abstractmethod
    def begin_epoch(self, epoch: int, seed: int) -> None:
        """Seed the framework's generators with ``seed``, switch to training mode, zero the running totals."""

    @abstractmethod
    def batches(self, order: np.ndarray) -> Iterable[Any]:
        """The training split in ``order`` (example indices), ``config.batch_size`` at a time, on the device."""

    @abstractmethod
    def step(self, batch: Any) -> None:
        """Forward, loss, backward and one optimizer step; add loss and correct counts to the running totals
        on the device, without waiting for it."""

    @abstractmethod
    def wait(self) -> None:
        """Wait until the device has done the work queued so far (for progress and timing)."""

    @abstractmethod
    def end_epoch(self) -> tuple[float, float | None]:
        """``(loss summed over the epoch's examples, correct predictions)``; ``None`` for regression."""

    @abstractmethod
    def evaluate(self) -> float | None:
        """Accuracy on the test split in prediction mode; ``None`` for regression."""

    @abstractmethod
    def predict(self, X: np.ndarray) -> np.ndarray:
        """The network's outputs (scores, before softmax) for examples converted like the training data."""

    @abstractmethod
    def save_params(self, path: Path) -> None:
        """Write the parameters to ``path`` (a temporary file the core then puts in place)."""

    @abstractmethod
    def save_optimizer(self, path: Path) -> None:
        """Write the optimizer state to ``path`` (a temporary file the core then puts in place)."""


def build_network(model: ModelSpec, backend: str, arch: dict, num_classes: int,
                  input_shape: tuple[int, ...] | None = None) -> Any:
    """``model``'s network for ``backend``; a bad architecture argument is a user error naming the model.

    ``input_shape`` is one example's ``(C, H, W)`` as the network sees it (after ``--resize``); it is passed
    to builds that take an ``input_shape`` argument (or ``**kwargs``), so a network that is not lazy needs no
    channel-count argument of its own."""
    try:
        build = model.builds[backend]
    except KeyError:
        raise UsageError(f"model '{model.name}' has no {backend} build; it offers: {', '.join(model.backends)}")
    extra = {"input_shape": tuple(input_shape)} if input_shape is not None and takes_input_shape(build) else {}
    try:
        return build(num_classes=num_classes, **arch, **extra)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"model '{model.name}' rejected its architecture arguments {dict(arch)}: {exc}")


def takes_input_shape(build) -> bool:
    """Whether ``build`` accepts an ``input_shape`` keyword."""
    import inspect

    try:
        params = inspect.signature(build).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "input_shape" or p.kind is p.VAR_KEYWORD for p in params)


def network_input(config: RunConfig, data_shape) -> tuple[int, ...]:
    """One example's ``(C, H, W)`` as the network sees it: the data's, resized when the run resizes."""
    shape = tuple(data_shape)
    return shape[:1] + (config.resize, config.resize) if config.resize else shape


def parse_device(device: str) -> tuple[str, int | None]:
    """``auto``, ``cpu``, ``gpu`` or ``gpu:N`` as ``(kind, index)``; ``gpu`` alone is GPU 0."""
    kind, _, index = device.partition(":")
    if kind == "gpu":
        return "gpu", int(index or 0)
    return kind, None


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's random draws: a resumed run draws what an uninterrupted one would."""
    return seed * 100_003 + epoch
