"""The decoded cache: arrays made once per folder and options, trusted only while nothing changed.

The manifest records every picture's size and modification time and the options used, and each
array file's fingerprint (size and SHA-256, as Fashion-MNIST's cache); a cache that no longer
matches is decoded again.  A read-only or full cache only costs speed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from cnnpipe import files
from cnnpipe.errors import CnnpipeError, UsageError
from cnnpipe.specs import Data

from . import decode, layout

FORMAT = 1
ARRAYS = ("train_X", "train_y", "test_X", "test_y")


def cache_root() -> Path:
    """The ``imagefolder`` folder of cnnpipe's cache (:func:`cnnpipe.files.cache_root`)."""
    return files.cache_root() / "imagefolder"


def stamp(folder: Path, listing: layout.Listing, options: dict) -> dict:
    """What the cache was made from: the pictures' sizes and times, the split and the options."""
    def entries(pairs):
        return [[str(p.relative_to(folder)), k, p.stat().st_size, p.stat().st_mtime_ns] for p, k in pairs]

    return {"format": FORMAT, "source": str(folder.resolve()), "options": dict(sorted(options.items())),
            "classes": listing.class_names, "train": entries(listing.train), "test": entries(listing.test)}


def cache_folder(folder: Path, options: dict) -> Path:
    key = hashlib.sha1(json.dumps([str(folder.resolve()), sorted(options.items())]).encode()).hexdigest()[:12]
    return cache_root() / f"decoded-{key}"


def read(where: Path, expected: dict):
    """The cached arrays when the manifest matches ``expected`` and every array is intact, else ``None``."""
    arrays = files.read_arrays(where, expected, ARRAYS)
    return None if arrays is None else list(arrays)


def write(where: Path, expected: dict, arrays) -> None:
    """Cache ``arrays``; the manifest goes last, so a half-written cache is never trusted."""
    try:
        where.mkdir(parents=True, exist_ok=True)
        fd = files.lock(where / ".lock", wait=False)
        if fd is None:
            return  # another process is writing it
        try:
            files.remove_leftovers(where)
            files.write_arrays(where, expected, ARRAYS, arrays)
        finally:
            os.close(fd)
    except (OSError, CnnpipeError):
        pass


def decode_all(listing: layout.Listing, size: int):
    paths = [p for p, _ in listing.train + listing.test]
    channels, _ = decode.survey(paths) if not size else (decode.survey_channels(paths), None)
    X = decode.decode(paths, channels, size)
    n = len(listing.train)
    labels = np.array([k for _, k in listing.train + listing.test], dtype=np.int64)
    return [X[:n], labels[:n], X[n:], labels[n:]]


def load(folder: Path, options: dict) -> Data:
    """The pictures of ``folder`` as :class:`Data`, from the cache when it still matches the files."""
    size = options["size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise UsageError(f"data.size must be a whole number of pixels (0 keeps the pictures' size), got {size!r}")
    listing = layout.listing(folder, options["test_fraction"], options["split_seed"])
    expected = stamp(folder, listing, options)
    where = cache_folder(folder, options)
    arrays = read(where, expected)
    if arrays is None:
        arrays = decode_all(listing, size)
        write(where, expected, arrays)
    return Data(*arrays, list(listing.class_names), name="imagefolder")
