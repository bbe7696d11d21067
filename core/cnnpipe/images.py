"""Image files read as a dataset's examples: PNG and JPEG (through Pillow) and NPY arrays, ``(N, C, H, W)``.

Pictures become ``uint8`` with the dataset's channels (grayscale for one channel), which the backend
scales to [0, 1] as it scales the training data; NPY arrays keep their ``uint8`` or float32 values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PICTURES = (".png", ".jpg", ".jpeg")


class BadFile(Exception):
    """A file that cannot be read as examples of the expected shape; the message names the file."""


def read(path, shape: tuple[int, int, int]) -> np.ndarray:
    """The examples in ``path`` as ``(N, C, H, W)`` for examples of ``shape`` ``(C, H, W)``."""
    path = Path(path)
    if not path.is_file():
        raise BadFile(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    suffix = path.suffix.lower()
    if suffix in (".npy", *PICTURES) and path.stat().st_size == 0:
        raise BadFile(f"{path}: an empty file")
    if suffix == ".npy":
        X = _array(path, shape)
    elif suffix in PICTURES:
        X = _picture(path, shape)
    else:
        raise BadFile(f"{path}: unknown kind of file '{suffix or path.name}'; give .png, .jpg, .jpeg or .npy files")
    if tuple(X.shape[1:]) != tuple(shape):
        raise BadFile(f"{path}: {_describe(X.shape[1:])}; the model takes {_describe(shape)}")
    return X


def _describe(shape) -> str:
    if len(shape) != 3:
        return f"shape {tuple(shape)}"
    c, h, w = shape
    return f"{w}x{h} pixels" if c == 1 else f"{w}x{h} pixels with {c} channels"


def _picture(path: Path, shape) -> np.ndarray:
    import warnings

    from PIL import Image, UnidentifiedImageError

    channels, height, width = shape
    if channels not in (1, 3):
        raise BadFile(f"{path}: the model takes {channels}-channel images, which pictures cannot give; use .npy")
    try:
        with warnings.catch_warnings():
            # A header claiming billions of pixels is refused by its size below, before anything is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.size != (width, height):
                    raise BadFile(f"{path}: {image.size[0]}x{image.size[1]} pixels; the model takes {_describe(shape)}")
                X = np.asarray(image.convert("L" if channels == 1 else "RGB"), dtype=np.uint8)
    except BadFile:
        raise
    except UnidentifiedImageError:
        raise BadFile(f"{path}: not a readable image")
    except Image.DecompressionBombError as exc:
        raise BadFile(f"{path}: claims too many pixels to read safely; the model takes {_describe(shape)}")
    except Exception as exc:  # a hostile file can make a decoder raise anything; it is this file's fault alone
        raise BadFile(f"{path}: cannot read the image ({_first_line(exc)})")
    return X[None, None] if channels == 1 else X.transpose(2, 0, 1)[None]


def _first_line(exc: BaseException) -> str:
    from .errors import one_line

    return one_line(exc).removeprefix(f"{type(exc).__name__}: ")


def _array(path: Path, shape) -> np.ndarray:
    try:
        # Mapped, not read: a header claiming more than the file holds is refused without allocating it.
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # numpy's reader raises several types on malformed headers
        raise BadFile(f"{path}: not a readable .npy array ({_first_line(exc)})")
    if mapped.dtype != np.uint8 and not np.issubdtype(mapped.dtype, np.floating):
        raise BadFile(f"{path}: holds {mapped.dtype} values; give uint8 (0-255) or float (0-1) images")
    if mapped.ndim not in (2, 3, 4):
        raise BadFile(f"{path}: a {mapped.ndim}-dimensional array; give (H, W), (C, H, W), (N, H, W) or (N, C, H, W)")
    if mapped.size == 0:
        raise BadFile(f"{path}: holds no image (shape {mapped.shape})")
    X = np.array(mapped)
    if X.dtype != np.uint8 and not np.isfinite(X).all():
        raise BadFile(f"{path}: holds not-a-number or infinite values; give finite values")
    channels = shape[0]
    if X.ndim == 2:
        X = X[None, None]
    elif X.ndim == 3:
        # One image (C, H, W), or several one-channel images (N, H, W).
        X = X[None] if X.shape[0] == channels else X[:, None]
    return X if X.dtype == np.uint8 else X.astype(np.float32)
