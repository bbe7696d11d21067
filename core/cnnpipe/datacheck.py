"""Checking what a dataset plugin's ``load`` returned, before a run folder exists.

Every check is vectorised (a few passes over the arrays at most), so Fashion-MNIST's 70,000 images
cost milliseconds.  Float images other than ``float32`` are converted to it, as the backends would
otherwise do batch by batch or fail; any other surprise is a :class:`PluginError` naming the dataset
and its distribution.
"""

from __future__ import annotations

import numpy as np

from .errors import PluginError, UsageError, short_repr
from .specs import CLASSIFICATION, Data

SPLITS = ("train", "test")


def check_data(data, dataset, model) -> Data:
    """``data`` from ``dataset`` checked for ``model``; returns it with float images and targets as float32."""

    def fail(problem: str):
        raise PluginError(f"dataset '{dataset.name}' ({dataset.dist or '?'}) {problem}")

    if not isinstance(data, Data):
        fail(f"returned {type(data).__name__} from load(), not cnnpipe.specs.Data")
    names = data.class_names
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        fail(f"has class_names {short_repr(names)}; expected a list of strings (empty for image targets)")
    task = model.task
    if task == CLASSIFICATION and not names:
        raise UsageError(f"model '{model.name}' is a classifier; dataset '{dataset.name}' has no class labels")
    if task != CLASSIFICATION and names:
        raise UsageError(f"model '{model.name}' learns image targets ({task}); dataset '{dataset.name}' has class labels")
    shapes = {}
    for split in SPLITS:
        X = _array(data, f"{split}_X", fail)
        y = _array(data, f"{split}_y", fail)
        if X.ndim != 4:
            fail(f"has {split}_X of shape {X.shape}; images must be (N, C, H, W)")
        if len(X) == 0 or 0 in X.shape[1:]:
            fail(f"has an empty {split} split: {split}_X has shape {X.shape}")
        if len(y) != len(X):
            fail(f"has {len(X)} {split} images but {len(y)} {split} targets")
        shapes[split] = X.shape[1:]
        setattr(data, f"{split}_X", _images(X, f"{split}_X", fail))
        if task == CLASSIFICATION:
            setattr(data, f"{split}_y", _labels(y, f"{split}_y", len(names), fail))
        else:
            setattr(data, f"{split}_y", _targets(y, f"{split}_y", fail))
    if shapes["train"] != shapes["test"]:
        fail(f"has train images of shape {shapes['train']} but test images of shape {shapes['test']}")
    return data


def _array(data, field: str, fail) -> np.ndarray:
    value = getattr(data, field, None)
    if not isinstance(value, np.ndarray):
        fail(f"has {field} of type {type(value).__name__}; expected a numpy array")
    if value.ndim == 0:
        fail(f"has {field} of shape (); expected one entry per example")
    return value


def _images(X: np.ndarray, field: str, fail) -> np.ndarray:
    if X.dtype == np.uint8:
        return X
    if not np.issubdtype(X.dtype, np.floating):
        fail(f"has {field} of dtype {X.dtype}; images must be uint8 (0-255) or float32")
    return _finite_float32(X, field, fail)


def _labels(y: np.ndarray, field: str, num_classes: int, fail) -> np.ndarray:
    if y.ndim != 1:
        fail(f"has {field} of shape {y.shape}; class labels must be one integer per example")
    if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.floating) or not np.isfinite(y).all() or (y != np.floor(y)).any():
            fail(f"has {field} of dtype {y.dtype} with values that are not whole numbers; class labels are integers")
        y = y.astype(np.int64)
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        fail(f"has label {bad} in {field}; with {num_classes} class names labels run from 0 to {num_classes - 1}")
    return y


def _targets(y: np.ndarray, field: str, fail) -> np.ndarray:
    if y.dtype == np.bool_ or not (np.issubdtype(y.dtype, np.floating) or np.issubdtype(y.dtype, np.integer)):
        fail(f"has {field} of dtype {y.dtype}; regression targets must be numbers")
    return _finite_float32(y, field, fail)


def _finite_float32(values: np.ndarray, field: str, fail) -> np.ndarray:
    """``values`` as float32, refused when any is NaN or infinite."""
    if values.dtype != np.float32:
        values = values.astype(np.float32)
    if not np.isfinite(values).all():
        fail(f"has {field} with NaN or infinite values")
    return values
