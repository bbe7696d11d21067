"""The Fashion-MNIST loader on small IDX files written here, on a loopback mirror, and on the real data."""

import gzip
import hashlib
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from cnnpipe.errors import UsageError
from cnnpipe.testing import unavailable
from cnnpipe_fashion_mnist import idx, loader

REAL = Path("/usr/share/datasets/fashion-mnist")


def small_arrays(seed=0, train=30, test=10):
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, test, dtype=np.uint8),
    }


def raw_bytes(arrays):
    return {key: (idx.encode_images(a) if key.endswith("images") else idx.encode_labels(a)) for key, a in arrays.items()}


def write_files(folder, raws):
    folder.mkdir(parents=True, exist_ok=True)
    for key, raw in raws.items():
        (folder / loader.FASHION_MNIST.files[key]).write_bytes(gzip.compress(raw))
    return folder


@pytest.fixture
def small(tmp_path):
    """A folder of small, valid files, and the expectations that match them."""
    arrays = small_arrays()
    raws = raw_bytes(arrays)
    folder = write_files(tmp_path / "data", raws)
    expected = replace(
        loader.FASHION_MNIST,
        counts={"train": 30, "test": 10},
        sha1={k: hashlib.sha1(r).hexdigest() for k, r in raws.items()},
        md5={k: hashlib.md5((folder / loader.FASHION_MNIST.files[k]).read_bytes()).hexdigest() for k in raws},
    )
    return folder, expected, arrays


def load(folder, expected, tmp_path, **kw):
    kw.setdefault("system", tmp_path / "no-system")
    return loader.load(folder, cache=tmp_path / "cache", expected=expected, **kw)


def test_reads_what_was_written(small, tmp_path):
    folder, expected, arrays = small
    train_X, train_y, test_X, test_y = load(folder, expected, tmp_path)
    assert train_X.shape == (30, 1, 28, 28) and train_X.dtype == np.uint8
    np.testing.assert_array_equal(train_X[:, 0], arrays["train_images"])
    np.testing.assert_array_equal(test_y, arrays["test_labels"])


def test_second_load_comes_from_the_decoded_cache_until_a_file_changes(small, tmp_path, monkeypatch):
    folder, expected, arrays = small
    load(folder, expected, tmp_path)
    assert len(list((tmp_path / "cache").glob("decoded-*/manifest.json"))) == 1
    calls = []
    monkeypatch.setattr(loader, "decode", lambda *a: calls.append(a) or pytest.fail("decoded again"))
    assert load(folder, expected, tmp_path)[0].shape == (30, 1, 28, 28)
    monkeypatch.undo()
    new = small_arrays(seed=1)
    write_files(folder, {"train_labels": idx.encode_labels(new["train_labels"])})
    os.utime(folder / "train-labels-idx1-ubyte.gz", ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(UsageError, match="wrong checksum"):
        load(folder, expected, tmp_path)


def decoded(tmp_path):
    (folder,) = (tmp_path / "cache").glob("decoded-*")
    return folder


def test_overwritten_cache_is_noticed_and_decoded_again(small, tmp_path):
    folder, expected, arrays = small
    load(folder, expected, tmp_path)
    labels = np.load(decoded(tmp_path) / "train_labels.npy", mmap_mode="r+")
    labels[:20] = (labels[:20] + 1) % 10  # same size, other values
    labels.flush()
    del labels
    np.testing.assert_array_equal(load(folder, expected, tmp_path)[1], arrays["train_labels"])
    np.testing.assert_array_equal(load(folder, expected, tmp_path)[1], arrays["train_labels"])  # and cached again


def test_shortened_cache_is_noticed_and_decoded_again(small, tmp_path):
    folder, expected, arrays = small
    load(folder, expected, tmp_path)
    labels = decoded(tmp_path) / "train_labels.npy"
    np.save(labels, np.load(labels)[:-5])  # a valid array file, five labels short
    np.testing.assert_array_equal(load(folder, expected, tmp_path)[1], arrays["train_labels"])
    images = decoded(tmp_path) / "test_images.npy"
    images.write_bytes(images.read_bytes()[:-784])  # cut in the middle
    np.testing.assert_array_equal(load(folder, expected, tmp_path)[2][:, 0], arrays["test_images"])


KILLED_WRITER = """
import os, signal, sys
from dataclasses import replace
import numpy as np
from cnnpipe_fashion_mnist import loader

def save(f, array):
    f.write(b"half an array")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)

np.save = save
expected = replace(loader.FASHION_MNIST, counts={"train": 30, "test": 10}, sha1={}, md5={})
loader.load(sys.argv[1], cache=sys.argv[2], system=sys.argv[3], expected=expected)
"""


def test_a_cache_write_killed_half_way_leaves_nothing_a_later_load_keeps(small, tmp_path):
    folder, expected, arrays = small
    cache = tmp_path / "cache"
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(folder), str(cache), str(tmp_path / "none")])
    assert killed.returncode == -signal.SIGKILL
    assert len(list(cache.rglob(".*.tmp"))) == 1
    np.testing.assert_array_equal(load(folder, expected, tmp_path)[0][:, 0], arrays["train_images"])
    assert not list(cache.rglob(".*.tmp"))
    assert len(list(cache.glob("decoded-*/manifest.json"))) == 1


def test_cache_is_left_alone_while_another_process_writes_it(small, tmp_path):
    from cnnpipe import files

    folder, expected, arrays = small
    load(folder, expected, tmp_path)
    (decoded(tmp_path) / "manifest.json").unlink()
    other = decoded(tmp_path) / ".train_images.npy.other.tmp"
    other.write_bytes(b"being written")
    fd = files.lock(tmp_path / "cache" / loader.LOCK)
    try:
        np.testing.assert_array_equal(load(folder, expected, tmp_path)[3], arrays["test_labels"])
        assert other.exists() and not (decoded(tmp_path) / "manifest.json").exists()
    finally:
        os.close(fd)


def test_a_full_cache_disk_costs_only_speed(small, tmp_path):
    folder, expected, arrays = small
    cache = tmp_path / "cache"
    cache.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(cache)]).returncode:
        pytest.skip("a real full file system needs a tmpfs mount, which needs root")
    try:
        np.testing.assert_array_equal(load(folder, expected, tmp_path)[0][:, 0], arrays["train_images"])
        assert not list(cache.rglob(".*.tmp")) and not list(cache.glob("decoded-*/manifest.json"))
    finally:
        subprocess.run(["umount", "-l", str(cache)], check=False)


def test_environment_variable_names_the_folder(small, tmp_path, monkeypatch):
    folder, expected, _ = small
    monkeypatch.setenv("CNNPIPE_DATA_DIR", str(folder))
    assert load(None, expected, tmp_path)[1].shape == (30,)


def test_explicit_folder_must_hold_the_files(tmp_path, small):
    _, expected, _ = small
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=r"empty lacks the Fashion-MNIST file\(s\): train-images-idx3-ubyte.gz"):
        load(tmp_path / "empty", expected, tmp_path)


def corrupt(folder, key, raw):
    (folder / loader.FASHION_MNIST.files[key]).write_bytes(raw)


@pytest.mark.parametrize("key, make, message", [
    ("train_images", lambda raw: gzip.compress(raw)[:-20], "train-images-idx3-ubyte.gz is not a complete gzip file"),
    ("train_images", lambda raw: b"not gzip at all", "train-images-idx3-ubyte.gz is not a complete gzip file"),
    ("train_images", lambda raw: gzip.compress(raw[:-50]), "train-images-idx3-ubyte.gz is truncated"),
    ("train_labels", lambda raw: gzip.compress(raw[:5]), "train-labels-idx1-ubyte.gz is too short for an IDX header"),
    ("test_images", lambda raw: gzip.compress(idx.encode_labels([1, 2])), "t10k-images-idx3-ubyte.gz has magic number 2049, expected 2051"),
    ("test_labels", lambda raw: gzip.compress(idx.encode_labels([1] * 9)), "t10k-labels-idx1-ubyte.gz holds 9 labels, expected 10"),
    ("test_labels", lambda raw: gzip.compress(idx.encode_labels([12] * 10)), "has label 12, expected 0-9"),
    ("train_images", lambda raw: gzip.compress(idx.encode_images(np.zeros((30, 32, 32)))), "holds 32x32 images, expected 28x28"),
    ("train_labels", lambda raw: gzip.compress(idx.encode_labels([0] * 30)), "train-labels-idx1-ubyte.gz has the wrong checksum"),
])
def test_bad_files_are_named_with_what_is_wrong(small, tmp_path, key, make, message):
    folder, expected, arrays = small
    corrupt(folder, key, make(raw_bytes(arrays)[key]))
    with pytest.raises(UsageError, match=message):
        load(folder, expected, tmp_path)
    assert not list((tmp_path / "cache").glob("decoded-*/manifest.json"))


@pytest.fixture
def mirror(small, tmp_path):
    """A loopback HTTP server serving the small files."""
    folder, _, _ = small
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_downloads_into_the_cache_when_no_copy_exists(small, tmp_path, mirror, monkeypatch):
    _, expected, arrays = small
    monkeypatch.delenv("CNNPIPE_DATA_DIR", raising=False)
    data = load(None, expected, tmp_path, mirror=mirror)
    np.testing.assert_array_equal(data[3], arrays["test_labels"])
    assert loader.has_files(tmp_path / "cache", expected)


def test_download_with_wrong_checksum_keeps_nothing(small, tmp_path, mirror, monkeypatch):
    _, expected, _ = small
    monkeypatch.delenv("CNNPIPE_DATA_DIR", raising=False)
    wrong = replace(expected, md5={**expected.md5, "train_images": "0" * 32})
    with pytest.raises(UsageError, match="train-images-idx3-ubyte.gz has md5 .* expected 0000"):
        load(None, wrong, tmp_path, mirror=mirror)
    assert not (tmp_path / "cache" / "train-images-idx3-ubyte.gz").exists()
    assert not list((tmp_path / "cache").glob(".*.tmp"))


def test_when_every_source_fails_the_error_says_how_to_get_the_data(small, tmp_path, monkeypatch):
    _, expected, _ = small
    monkeypatch.delenv("CNNPIPE_DATA_DIR", raising=False)
    with pytest.raises(UsageError) as info:
        load(None, expected, tmp_path, mirror="http://127.0.0.1:9/")  # the discard port: refused
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message and "--data-dir" in message
    assert "\n" not in message
    assert not list((tmp_path / "cache").glob("*.gz"))


def test_system_copy_is_used_after_the_cache(small, tmp_path, monkeypatch):
    folder, expected, _ = small
    monkeypatch.delenv("CNNPIPE_DATA_DIR", raising=False)
    assert load(None, expected, tmp_path, system=folder)[0].shape == (30, 1, 28, 28)


@pytest.fixture
def real():
    if not (REAL / "train-images-idx3-ubyte.gz").is_file():
        unavailable(f"Fashion-MNIST not installed in {REAL} (apt-get install dataset-fashion-mnist)")


@pytest.mark.real_data
def test_real_data_validates_and_caches(real, tmp_path):
    train_X, train_y, test_X, test_y = loader.load(cache=tmp_path / "cache")
    assert train_X.shape == (60000, 1, 28, 28) and test_X.shape == (10000, 1, 28, 28)
    assert np.bincount(train_y).tolist() == [6000] * 10
    start = time.perf_counter()
    again = loader.load(cache=tmp_path / "cache")
    assert (again[1] == train_y).all()
    # Correctness of the cached path; its speed is measured by the benchmarks.
    assert isinstance(again[0], np.memmap)
    print(f"cached load: {time.perf_counter() - start:.3f} s")


@pytest.mark.real_data
def test_registered_dataset_gives_class_names(real, monkeypatch, tmp_path):
    monkeypatch.setenv("CNNPIPE_CACHE_DIR", str(tmp_path))
    from cnnpipe.registry import build_registry

    data = build_registry().dataset("fashion-mnist").load()
    assert data.class_names[0] == "t-shirt" and data.class_names[9] == "ankle boot"
    assert data.input_shape == (1, 28, 28) and data.num_classes == 10


def test_the_same_files_in_another_folder_share_the_decoded_cache(small, tmp_path, monkeypatch):
    """A job container sees the host's files at /data: the cache decoded from them on the host serves it too."""
    import shutil

    folder, expected, arrays = small
    load(folder, expected, tmp_path)
    mounted = tmp_path / "mounted"
    shutil.copytree(folder, mounted)  # copy2: same sizes and times, as a bind mount shows them
    monkeypatch.setattr(loader, "decode", lambda *a: pytest.fail("decoded again"))
    train_X = load(mounted, expected, tmp_path)[0]
    np.testing.assert_array_equal(train_X[:, 0], arrays["train_images"])
    assert len(list((tmp_path / "cache").glob("decoded-*"))) == 1
