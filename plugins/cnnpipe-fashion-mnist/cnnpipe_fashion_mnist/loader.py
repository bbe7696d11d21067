"""Find, fetch, check and cache the four Fashion-MNIST files.

Sources, in order: an explicit folder (``data_dir`` or ``CNNPIPE_DATA_DIR``), the user's cache, the
system copy of Debian's ``dataset-fashion-mnist``, then a download from the upstream mirror into the
cache.  Decoded arrays are cached as ``.npy`` files so that later loads are near-instant; the
manifest records each file's size and SHA-256, and a cache that no longer matches is decoded again.
One process at a time writes the cache (a lock file), and it first removes what a killed writer left.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


from cnnpipe import files
from cnnpipe.errors import CnnpipeError, UsageError
from cnnpipe.files import atomic_path

from . import idx

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
SPLITS = ("train", "test")
# Of the decoded cache; 2 records each array file's size and SHA-256; 3 names the source by its files, not its
# path, so that a job container, which sees the same files at /data, finds the host's cache (mounted read-only).
FORMAT = 3
LOCK = ".lock"


@dataclass(frozen=True)
class Expected:
    """What the files must hold: names, example counts, checksums (``None`` skips a check)."""

    files: dict = field(default_factory=lambda: {
        "train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
        "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz",
    })
    counts: dict = field(default_factory=lambda: {"train": 60000, "test": 10000})
    # sha1 of the decompressed files: Debian re-compressed the .gz files, the contents are upstream's.
    sha1: dict = field(default_factory=lambda: {
        "train_images": "b9bd999c0106c9b8b4b0cefce58c9a6060f27095",
        "train_labels": "4bccf37222e01638381eaa326bf730337a597267",
        "test_images": "880056926db704f9f713097915f99da346f5b1d1",
        "test_labels": "958122e8b4b97fd4e71eca2d08ef754ed77c3ad9",
    })
    # md5 of the upstream .gz files, checked on download.
    md5: dict = field(default_factory=lambda: {
        "train_images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train_labels": "25c81989df183df01b3e8a0aad5dffbe",
        "test_images": "bef4ecab320f06d8554ea6380940ec79",
        "test_labels": "bb300cfdad3c16e7a12a480ee83cd310",
    })


FASHION_MNIST = Expected()


def cache_dir() -> Path:
    """``CNNPIPE_CACHE_DIR``, else ``$XDG_CACHE_HOME/cnnpipe``, else ``~/.cache/cnnpipe``; then ``fashion-mnist``."""
    root = os.environ.get("CNNPIPE_CACHE_DIR")
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cnnpipe"
    return Path(root) / "fashion-mnist"


def has_files(folder: Path, expected: Expected) -> bool:
    return all((folder / name).is_file() for name in expected.files.values())


def find_source(data_dir, cache: Path, system: Path, expected: Expected) -> Path | None:
    """The first folder that holds all four files; an explicit folder must hold them."""
    data_dir = data_dir or os.environ.get("CNNPIPE_DATA_DIR")
    if data_dir:
        folder = Path(data_dir)
        missing = [n for n in expected.files.values() if not (folder / n).is_file()]
        if missing:
            raise UsageError(f"data folder {folder} lacks the Fashion-MNIST file(s): {', '.join(missing)}")
        return folder
    for folder in (cache, system):
        if has_files(folder, expected):
            return folder
    return None


def download(cache: Path, mirror: str, expected: Expected, timeout: float = 60) -> None:
    """Fetch the four files into ``cache``; each is checked against its md5 before it is put in place."""
    for key, name in expected.files.items():
        target = cache / name
        if target.is_file():
            continue
        url = mirror.rstrip("/") + "/" + name
        digest = hashlib.md5()
        with atomic_path(target) as tmp:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response, tmp.open("wb") as out:
                    while chunk := response.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", exc)
                raise DownloadFailed(f"{url}: {reason}")
            if expected.md5 and digest.hexdigest() != expected.md5[key]:
                raise UsageError(f"downloaded {url} has md5 {digest.hexdigest()}, expected {expected.md5[key]}; nothing was kept")


class DownloadFailed(Exception):
    """The mirror could not be reached."""


def _stamp(source: Path, expected: Expected) -> dict:
    stats = {key: (source / name).stat() for key, name in expected.files.items()}
    return {
        "format": FORMAT,
        "files": {key: [st.st_size, st.st_mtime_ns] for key, st in stats.items()},
        "sha1": expected.sha1,
        "counts": expected.counts,
    }


def decoded_dir(cache: Path, stamp: dict) -> Path:
    """The folder of the arrays decoded from the source files that ``stamp`` describes (sizes and times)."""
    key = hashlib.sha1(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:12]
    return cache / f"decoded-{key}"


def read_decoded(folder: Path, stamp: dict):
    """The cached arrays when the cache was made from the same source files and is unchanged since, else ``None``."""
    return files.read_arrays(folder, stamp, _array_keys(), mmap=True)


def _array_keys():
    return ("train_images", "train_labels", "test_images", "test_labels")


def decode(source: Path, expected: Expected):
    """Read and check all four files of ``source``."""
    arrays = []
    for split in SPLITS:
        images = source / expected.files[f"{split}_images"]
        labels = source / expected.files[f"{split}_labels"]
        count = expected.counts.get(split)
        arrays.append(idx.parse_images(images, idx.decompress(images), count, expected.sha1.get(f"{split}_images")))
        arrays.append(idx.parse_labels(labels, idx.decompress(labels), count, expected.sha1.get(f"{split}_labels")))
    return tuple(arrays)


@contextmanager
def cache_lock(cache: Path, wait: bool):
    """Hold the cache's lock, removing what a killed writer left; yields ``False`` (holding nothing) when
    another process holds it and ``wait`` is false, or when the cache cannot be written at all."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        fd = files.lock(cache / LOCK, wait=wait)
    except OSError:
        fd = None
    try:
        if fd is not None:
            files.remove_leftovers(cache)
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


def write_decoded(cache: Path, folder: Path, stamp: dict, arrays) -> None:
    """Cache decoded arrays with their fingerprints; the manifest goes last, so a half-written cache is never trusted."""
    try:
        with cache_lock(cache, wait=False) as held:
            if not held:
                return  # another process is writing it, or the cache is read-only
            files.write_arrays(folder, stamp, _array_keys(), arrays)
    except (OSError, CnnpipeError):
        pass  # a read-only or full cache only costs speed


def load(data_dir=None, *, cache=None, system=SYSTEM_DIR, mirror=None, expected=FASHION_MNIST):
    """``(train_X, train_y, test_X, test_y)``: uint8 images ``(N, 1, 28, 28)`` and uint8 labels."""
    cache = Path(cache) if cache else cache_dir()
    system = Path(system)
    mirror = mirror or os.environ.get("CNNPIPE_FASHION_MNIST_MIRROR") or MIRROR
    source = find_source(data_dir, cache, system, expected)
    if source is None:
        try:
            with cache_lock(cache, wait=True):  # one download at a time; the second finds the files there
                download(cache, mirror, expected)
        except DownloadFailed as exc:
            raise UsageError(
                f"Fashion-MNIST is not in {cache} or {system} and downloading it failed ({exc}); "
                f"install it with 'apt-get install dataset-fashion-mnist', or put "
                f"{', '.join(expected.files.values())} in a folder and pass --data-dir FOLDER "
                f"(or set CNNPIPE_DATA_DIR)"
            )
        source = cache
    stamp = _stamp(source, expected)
    folder = decoded_dir(cache, stamp)
    arrays = read_decoded(folder, stamp)
    if arrays is None:
        arrays = decode(source, expected)
        write_decoded(cache, folder, stamp, arrays)
    return arrays
