"""Where the pictures are: the class-per-folder layout, with or without its own train/test split."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnpipe.errors import UsageError

PICTURES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Listing:
    """The files of each split with their labels, and the class names (the folders' names, sorted)."""

    class_names: list
    train: list  # [(path, label), ...]
    test: list


def data_folder(data_dir) -> Path:
    """``data_dir``, else ``CNNPIPE_DATA_DIR``; a user error when neither names a folder."""
    data_dir = data_dir or os.environ.get("CNNPIPE_DATA_DIR")
    if not data_dir:
        raise UsageError("dataset 'imagefolder' needs --data-dir DIR (a folder with a folder of pictures per class)")
    folder = Path(data_dir)
    if not folder.is_dir():
        raise UsageError(f"data folder {folder} is not a folder")
    return folder


def classes(folder: Path) -> dict[str, list[Path]]:
    """``{class name: sorted picture files}`` for each sub-folder of ``folder``; an empty class is an error."""
    found = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        pictures = sorted(p for p in sub.iterdir() if p.is_file() and p.suffix.lower() in PICTURES)
        if not pictures:
            raise UsageError(f"class folder {sub} holds no pictures (.png, .jpg, .jpeg)")
        found[sub.name] = pictures
    if not found:
        raise UsageError(f"data folder {folder} holds no class folders: put each class's pictures in a folder of its own")
    return found


def listing(folder: Path, test_fraction: float, split_seed: int) -> Listing:
    """The layout of ``folder``: ``train/`` and ``test/`` when both exist, else every class split by ``test_fraction``."""
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        train, test = classes(folder / "train"), classes(folder / "test")
        if set(train) != set(test):
            odd = sorted(set(train) ^ set(test))[0]
            raise UsageError(f"class '{odd}' is in only one of {folder / 'train'} and {folder / 'test'}")
        names = list(train)
        pairs = lambda split: [(path, k) for k, name in enumerate(names) for path in split[name]]  # noqa: E731
        return Listing(names, shuffled(pairs(train), split_seed), shuffled(pairs(test), split_seed + 1))
    if not 0 < test_fraction < 1:
        raise UsageError(f"data.test_fraction must lie between 0 and 1, got {test_fraction!r}")
    found = classes(folder)
    rng = np.random.default_rng(split_seed)
    train, test = [], []
    for k, (name, pictures) in enumerate(found.items()):
        if len(pictures) < 2:
            raise UsageError(f"class folder {folder / name} holds one picture; a split needs at least two")
        order = rng.permutation(len(pictures))
        held = min(len(pictures) - 1, max(1, round(test_fraction * len(pictures))))
        test += [(pictures[i], k) for i in order[:held]]
        train += [(pictures[i], k) for i in order[held:]]
    return Listing(list(found), shuffled(train, split_seed), shuffled(test, split_seed + 1))


def shuffled(pairs: list, seed: int) -> list:
    """``pairs`` in a seeded order, so that ``--limit N`` takes examples of every class."""
    order = np.random.default_rng(seed).permutation(len(pairs))
    return [pairs[i] for i in order]
