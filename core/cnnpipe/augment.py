"""Seeded augmentation of training batches, drawn once here so that every backend applies the same draws.

``--set crop=N`` pads each training image with N zero pixels on every side and takes a random crop of its
own size (the CIFAR recipe); ``--set flip=true`` mirrors half of them left to right.  Both are drawn from
the epoch's seed and the batch's position, so a resumed run augments as an uninterrupted one.  Test
images, ``evaluate``, ``predict`` and exports are never augmented.

A backend pads the batch by ``crop`` (zeros) and gathers :func:`indices` from it, flattened: one
gather does both the crop and the flip, and both backends gather the same elements.
"""

from __future__ import annotations

import numpy as np


def wanted(config) -> bool:
    """Whether ``config`` asks for any augmentation."""
    return bool(getattr(config, "crop", 0) or getattr(config, "flip", False))


def indices(seed: int, batch: int, shape: tuple[int, int, int, int], crop: int, flip: bool) -> np.ndarray:
    """Flat indices into a batch of ``shape`` ``(N, C, H, W)`` padded by ``crop`` on each side, which pick each
    augmented image; batch number ``batch`` of the epoch seeded ``seed``."""
    n, c, h, w = shape
    rng = np.random.default_rng([seed, batch])
    dy, dx = rng.integers(0, 2 * crop + 1, (2, n)) if crop else np.zeros((2, n), dtype=np.int64)
    mirrored = rng.random(n) < 0.5 if flip else np.zeros(n, dtype=bool)
    rows = dy[:, None] + np.arange(h)                                     # (N, H)
    cols = np.where(mirrored[:, None], np.arange(w)[::-1], np.arange(w)) + dx[:, None]  # (N, W)
    hp, wp = h + 2 * crop, w + 2 * crop
    plane = (np.arange(n)[:, None] * c + np.arange(c)) * hp * wp          # (N, C)
    return (plane[:, :, None, None] + rows[:, None, :, None] * wp + cols[:, None, None, :]).astype(np.int64)


def apply(X: np.ndarray, seed: int, batch: int, crop: int, flip: bool) -> np.ndarray:
    """The augmented batch in numpy: the reference the backends are tested against."""
    padded = np.pad(X, ((0, 0), (0, 0), (crop, crop), (crop, crop))) if crop else X
    return padded.reshape(-1)[indices(seed, batch, X.shape, crop, flip)]
