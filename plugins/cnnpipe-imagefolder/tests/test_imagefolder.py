"""The imagefolder dataset on folders of pictures the tests make (Pillow)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnpipe.errors import UsageError
from cnnpipe_imagefolder import cache, load

COLOURS = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}


def picture(path, rgb, size=(12, 10), mode="RGB", fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    pixels = np.clip(np.array(rgb) + rng.integers(-20, 20, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).convert(mode).save(path, format=fmt)
    return path


def make_folder(root, per_class=5, split=False, mode="RGB", size=(12, 10)):
    """Pictures of three colours: ``root/CLASS/*.png`` (or ``train/`` and ``test/``), some JPEG."""
    for name, rgb in COLOURS.items():
        for i in range(per_class):
            sub = root / (("train" if i < per_class - 1 else "test") if split else "") / name
            suffix = ".jpg" if i % 2 else ".png"
            picture(sub / f"{name}-{i}{suffix}", rgb, size, mode)
    return root


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPIPE_CACHE_DIR", str(tmp_path / "cache"))


def test_colour_folder_is_split_by_seed(tmp_path):
    data = load(make_folder(tmp_path / "pics"))
    assert data.class_names == ["blue", "green", "red"]
    assert data.train_X.shape == (12, 3, 10, 12) and data.test_X.shape == (3, 3, 10, 12)
    assert data.train_X.dtype == np.uint8
    assert sorted(data.test_y.tolist()) == [0, 1, 2]  # one of five held out of each class
    # The red class is red: its mean red channel is highest.
    red = data.train_X[data.train_y == 2].astype(float).mean(axis=(0, 2, 3))
    assert red.argmax() == 0
    again = load(tmp_path / "pics", split_seed=0)
    assert np.array_equal(again.train_y, data.train_y)
    other = load(tmp_path / "pics", split_seed=1)
    assert not np.array_equal(other.train_X, data.train_X)


def test_train_and_test_folders_are_kept(tmp_path):
    data = load(make_folder(tmp_path / "pics", split=True))
    assert len(data.train_X) == 12 and len(data.test_X) == 3


def test_grey_pictures_give_one_channel_and_resize(tmp_path):
    data = load(make_folder(tmp_path / "pics", mode="L"), size=8)
    assert data.train_X.shape[1:] == (1, 8, 8)


def test_one_colour_picture_makes_every_picture_colour(tmp_path):
    make_folder(tmp_path / "pics", mode="L")
    picture(tmp_path / "pics" / "red" / "extra.png", COLOURS["red"])
    assert load(tmp_path / "pics").train_X.shape[1] == 3


def test_mixed_sizes_name_the_file(tmp_path):
    make_folder(tmp_path / "pics")
    odd = picture(tmp_path / "pics" / "green" / "odd.png", COLOURS["green"], size=(20, 20))
    with pytest.raises(UsageError, match=f"{odd} is 20x20 pixels.*--set data.size=N"):
        load(tmp_path / "pics")
    assert load(tmp_path / "pics", size=16).train_X.shape[2:] == (16, 16)


def test_bad_picture_empty_class_and_no_classes(tmp_path):
    make_folder(tmp_path / "pics")
    bad = tmp_path / "pics" / "red" / "broken.png"
    bad.write_bytes(b"not a picture")
    with pytest.raises(UsageError, match=f"{bad} is not a readable picture"):
        load(tmp_path / "pics")
    bad.unlink()
    (tmp_path / "pics" / "empty").mkdir()
    with pytest.raises(UsageError, match="class folder .*empty holds no pictures"):
        load(tmp_path / "pics")
    (tmp_path / "none").mkdir()
    with pytest.raises(UsageError, match="holds no class folders"):
        load(tmp_path / "none")
    with pytest.raises(UsageError, match="needs --data-dir"):
        load(None)


def test_cache_is_used_and_checked(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "pics")
    first = load(folder)
    calls = []
    monkeypatch.setattr(cache, "decode_all", lambda *a: calls.append(a) or pytest.fail("decoded again"))
    assert np.array_equal(load(folder).train_X, first.train_X)  # from the cache
    (where,) = (tmp_path / "cache" / "imagefolder").iterdir()
    arr = where / "train_X.npy"
    arr.write_bytes(arr.read_bytes()[:-7])  # a cut-short array is not trusted
    monkeypatch.undo()
    monkeypatch.setenv("CNNPIPE_CACHE_DIR", str(tmp_path / "cache"))
    assert np.array_equal(load(folder).train_X, first.train_X)
    picture(folder / "red" / "new.png", COLOURS["red"])  # a new picture is seen
    assert len(load(folder).train_X) + len(load(folder).test_X) == 16
