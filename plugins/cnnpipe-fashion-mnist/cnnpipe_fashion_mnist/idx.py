"""Reading and checking IDX files, the format of (Fashion-)MNIST."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from cnnpipe.errors import UsageError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def decompress(path: Path) -> bytes:
    """The bytes of a ``.gz`` file; a truncated or foreign file is a user error naming it."""
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise UsageError(f"{path} is not a complete gzip file ({exc})")


def check_sha1(path: Path, raw: bytes, sha1) -> None:
    if sha1 is not None and hashlib.sha1(raw).hexdigest() != sha1:
        raise UsageError(f"{path} has the wrong checksum (sha1 of its contents is not {sha1}); the file is corrupt or not Fashion-MNIST")


def _header(path: Path, raw: bytes, magic: int, dims: int) -> list[int]:
    size = 4 * (1 + dims)
    if len(raw) >= 4 and int.from_bytes(raw[:4], "big") != magic:
        kind = "image" if magic == IMAGES_MAGIC else "label"
        raise UsageError(f"{path} has magic number {int.from_bytes(raw[:4], 'big')}, expected {magic}: not an IDX {kind} file")
    if len(raw) < size:
        raise UsageError(f"{path} is too short for an IDX header")
    return np.frombuffer(raw[4:size], dtype=">u4").tolist()


def parse_images(path: Path, raw: bytes, count: int | None, sha1=None, side: int = 28) -> np.ndarray:
    """Images as a uint8 ``(N, 1, side, side)`` array, after checking header, size and checksum."""
    n, rows, cols = _header(path, raw, IMAGES_MAGIC, 3)
    if count is not None and n != count:
        raise UsageError(f"{path} holds {n} images, expected {count}")
    if (rows, cols) != (side, side):
        raise UsageError(f"{path} holds {rows}x{cols} images, expected {side}x{side}")
    if len(raw) != 16 + n * rows * cols:
        raise UsageError(f"{path} is truncated: {len(raw) - 16} bytes of pixels for {n} images of {rows}x{cols}")
    check_sha1(path, raw, sha1)
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 1, rows, cols)


def parse_labels(path: Path, raw: bytes, count: int | None, sha1=None, classes: int = 10) -> np.ndarray:
    """Labels as a uint8 ``(N,)`` array, after checking header, size, range and checksum."""
    (n,) = _header(path, raw, LABELS_MAGIC, 1)
    if count is not None and n != count:
        raise UsageError(f"{path} holds {n} labels, expected {count}")
    if len(raw) != 8 + n:
        raise UsageError(f"{path} is truncated: {len(raw) - 8} bytes of labels for {n}")
    labels = np.frombuffer(raw, dtype=np.uint8, offset=8)
    if n and labels.max() >= classes:
        raise UsageError(f"{path} has label {labels.max()}, expected 0-{classes - 1}")
    check_sha1(path, raw, sha1)
    return labels


def encode_images(images: np.ndarray) -> bytes:
    """IDX bytes of a uint8 ``(N, H, W)`` or ``(N, 1, H, W)`` array (for tests and tools)."""
    images = np.asarray(images, dtype=np.uint8).reshape(len(images), images.shape[-2], images.shape[-1])
    header = np.array([IMAGES_MAGIC, *images.shape], dtype=">u4").tobytes()
    return header + images.tobytes()


def encode_labels(labels) -> bytes:
    """IDX bytes of a label vector."""
    labels = np.asarray(labels, dtype=np.uint8)
    return np.array([LABELS_MAGIC, len(labels)], dtype=">u4").tobytes() + labels.tobytes()
