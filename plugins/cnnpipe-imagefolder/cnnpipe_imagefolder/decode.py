"""Pictures to arrays: uint8 ``(N, C, H, W)``, one channel when every picture is grey, else three (RGB)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnpipe.errors import UsageError

GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
RESIZE_MODE = "bilinear"  # Pillow's Image.BILINEAR, used when data.size is set


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(path)
    except UnidentifiedImageError:
        raise UsageError(f"{path} is not a readable picture")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc}")


def survey_channels(paths: list[Path]) -> int:
    """1 when every picture is grey, else 3."""
    for path in paths:
        with _open(path) as image:
            if image.mode not in GREY_MODES:
                return 3
    return 1


def survey(paths: list[Path]) -> tuple[int, tuple[int, int]]:
    """``(channels, (width, height))`` of the pictures from their headers; mixed sizes are an error naming a file."""
    channels, first, first_size = 1, None, None
    for path in paths:
        with _open(path) as image:
            if image.mode not in GREY_MODES:
                channels = 3
            if first is None:
                first, first_size = path, image.size
            elif image.size != first_size:
                raise UsageError(f"{path} is {image.size[0]}x{image.size[1]} pixels, {first} is "
                                 f"{first_size[0]}x{first_size[1]}: give pictures of one size or --set data.size=N")
    return channels, first_size


def decode(paths: list[Path], channels: int, size: int) -> np.ndarray:
    """Every picture as uint8 ``(channels, H, W)``, resized to ``size`` x ``size`` when ``size`` is not 0."""
    from PIL import Image

    out = []
    for path in paths:
        with _open(path) as image:
            try:
                image = image.convert("L" if channels == 1 else "RGB")
                if size:
                    image = image.resize((size, size), Image.BILINEAR)
                X = np.asarray(image, dtype=np.uint8)
            except (OSError, ValueError, SyntaxError) as exc:
                raise UsageError(f"cannot decode {path}: {exc}")
        out.append(X[None] if channels == 1 else X.transpose(2, 0, 1))
    return np.stack(out)


def read_one(path, shape, size: int) -> np.ndarray:
    """One picture file as ``(1, C, H, W)`` uint8, decoded and resized as training decoded it; a picture of another
    size is refused when training kept the pictures' own size (``size`` 0)."""
    from cnnpipe.images import PICTURES, BadFile
    from cnnpipe.images import read as read_file

    path = Path(path)
    if path.suffix.lower() not in PICTURES or not size:
        return read_file(path, shape)  # .npy arrays, and pictures that must already have the size
    try:
        X = decode([path], shape[0], size)
    except UsageError as exc:
        raise BadFile(str(exc))
    return X
