"""A trained run opened again: its saved configuration, the backend's session with the run's parameters
loaded, and what ``cnnpipe evaluate`` and ``cnnpipe predict`` compute with it.

The session is the one training used (:mod:`cnnpipe.backend`), so evaluating the run's own test split
gives the test accuracy the run recorded, to the last digit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import config as cfg
from .errors import CnnpipeError, UsageError, one_line
from .pipeline import load_backend, load_data, pick_backend
from .rundir import PARAMS, RunDir
from .run import Run
from .specs import CLASSIFICATION, Data

if TYPE_CHECKING:
    from .backend import Session

SPLITS = ("test", "train")


@dataclass
class Opened:
    """A run folder's network on the device, ready to evaluate, predict or export."""

    run: Run            # the run as the backend sees it; ``run.data.test_X`` is the split being evaluated
    session: Session    # the backend's session, parameters loaded
    params: Path        # the parameter file loaded
    epoch: int | None   # the checkpoint's epoch; None for the final parameters
    recorded: float | None  # the test accuracy the run recorded for these parameters (None if unknown)

    @property
    def class_names(self) -> list[str]:
        return list(self.run.data.class_names)

    @property
    def classifies(self) -> bool:
        return self.run.model.task == CLASSIFICATION


def params_file(run_dir: RunDir, checkpoint: int | None) -> tuple[Path, int | None]:
    """The parameters to load: checkpoint ``N``'s, else the final ones, else the newest complete checkpoint's."""
    found, _ = run_dir.checkpoints()
    epochs = sorted(epoch for epoch, _ in found)
    if checkpoint is not None:
        if checkpoint not in epochs:
            have = ", ".join(map(str, epochs)) or "none"
            raise UsageError(f"{run_dir.path} has no complete checkpoint {checkpoint}; it has: {have}")
        return run_dir.checkpoint(checkpoint) / PARAMS, checkpoint
    final = run_dir.file(PARAMS)
    if final.is_file() and final.stat().st_size:
        return final, None
    if epochs:
        return run_dir.checkpoint(epochs[-1]) / PARAMS, epochs[-1]
    raise UsageError(f"{run_dir.path} holds no trained parameters yet (no {PARAMS}, no complete checkpoint)")


def recorded_accuracy(run_dir: RunDir, epoch: int | None) -> float | None:
    """The test accuracy the run recorded after ``epoch`` (after its last epoch for the final parameters)."""
    found, _ = run_dir.checkpoints()  # newest first; the final parameters are the newest checkpoint's
    history = (found[0][1] if found else []) if epoch is None else dict(found).get(epoch, [])
    return history[-1].get("test_acc") if history else None


def open_run(registry, path, *, checkpoint=None, dataset=None, split="test", device=None, whole_split=True) -> Opened:
    """Open the run folder ``path`` with ``split`` of ``dataset`` (default: the run's own) as the data to
    evaluate; with ``whole_split=False`` one example of it goes to the device (enough to predict files or export)."""
    if split not in SPLITS:
        raise UsageError(f"--split must be one of {', '.join(SPLITS)}, got '{split}'")
    run_dir = RunDir.open(path)
    config = run_dir.saved_config()
    if device is not None:
        config = replace(config, device=cfg.check_setting("device", device))
    params, epoch = params_file(run_dir, checkpoint)
    model = registry.model(config.model)
    own = registry.dataset(config.dataset)
    spec = own if dataset in (None, config.dataset) else registry.dataset(dataset)
    backend_spec = pick_backend(registry, model, config.backend)
    backend = load_backend(backend_spec)
    data = load_data(spec, model, config)
    if spec is not own:
        check_compatible(config, own, spec, data)
    X, y = (data.test_X, data.test_y) if split == "test" else (data.train_X, data.train_y)
    if not whole_split:
        X, y = X[:1], y[:1]
    # The session puts both splits on the device: the one to evaluate goes in as the test split.
    data = Data(X[:1], y[:1], X, y, list(data.class_names), name=data.name)
    backend.check(config, model, data)
    run = Run(config, registry, model, spec, backend, data, run_dir)
    session = backend.session(run)
    try:
        session.load(params, None)
    except CnnpipeError:
        raise
    except Exception as exc:
        reason = one_line(exc)  # MXNet's messages begin with a C++ traceback
        raise UsageError(f"cannot load {params} into {config.model} ({backend.name}): {reason}")
    own_test = spec is own and split == "test"
    return Opened(run, session, params, epoch, recorded_accuracy(run_dir, epoch) if own_test else None)


def check_compatible(config, own, other, data) -> None:
    """A run evaluated on another dataset needs that dataset's images to fit and its classes to match in number."""
    if own.input_shape and tuple(data.input_shape) != tuple(own.input_shape) and not config.resize:
        raise UsageError(f"dataset '{other.name}' has {tuple(data.input_shape)} images; the run learnt "
                         f"{tuple(own.input_shape)} images of '{own.name}'")
    if own.num_classes and data.num_classes != own.num_classes:
        raise UsageError(f"dataset '{other.name}' has {data.num_classes} classes; the run learnt {own.num_classes}")


def softmax(scores: np.ndarray) -> np.ndarray:
    """Probabilities of each row of ``scores``, in float64."""
    z = np.asarray(scores, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def evaluate(opened: Opened) -> dict:
    """Accuracy, loss, per-class accuracy and confusion matrix on the opened split (loss alone for regression)."""
    data, session = opened.run.data, opened.session
    n = len(data.test_X)
    scores = session.predict(data.test_X)
    result = {"examples": n, "params": str(opened.params), "checkpoint": opened.epoch}
    if not opened.classifies:
        y = np.asarray(data.test_y, dtype=np.float64)
        result["loss"] = float(((scores.astype(np.float64) - y) ** 2).sum() / n)
        return result
    result.update(classification(scores, data.test_y, opened.class_names))
    result.update({"accuracy": session.evaluate(), "recorded_test_acc": opened.recorded})
    return result


def classification(scores: np.ndarray, labels, class_names: list[str]) -> dict:
    """Accuracy (from ``scores``), loss, per-class accuracy and confusion matrix of scores against labels."""
    y = np.asarray(labels, dtype=np.int64)
    n, k = len(y), len(class_names)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y, scores.argmax(axis=1)), 1)
    probs = softmax(scores)
    loss = -np.log(np.maximum(probs[np.arange(n), y], np.finfo(np.float64).tiny)).mean()
    counts = confusion.sum(axis=1)
    return {
        "accuracy": float(np.trace(confusion) / n),
        "loss": float(loss),
        "classes": list(class_names),
        "per_class": {name: (float(confusion[i, i] / counts[i]) if counts[i] else None)
                      for i, name in enumerate(class_names)},
        "confusion": confusion.tolist(),
    }


def require_classifier(opened: Opened) -> None:
    if not opened.classifies:
        raise UsageError(f"model '{opened.run.model.name}' learns {opened.run.model.task} targets; "
                         "predict names the classes of classifiers only")


def classify(opened: Opened, X: np.ndarray, top: int) -> list[list[tuple[str, float]]]:
    """The ``top`` most likely classes of each example of ``X``, with their probabilities."""
    require_classifier(opened)
    probs = softmax(opened.session.predict(X))
    names = opened.class_names
    best = np.argsort(-probs, axis=1, kind="stable")[:, :top]
    return [[(names[j], float(p[j])) for j in row] for p, row in zip(probs, best)]
