"""Fixtures for the integration tests: plugins installed into a temporary site folder, small datasets."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DATASET_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on ``sys.path`` (and ``PYTHONPATH`` for subprocesses) to install fake distributions into."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
    return folder


@pytest.fixture
def install_plugin(site):
    """Install a distribution made of ``modules`` (name -> source) with ``cnnpipe`` entry points."""

    def install(dist: str, modules: dict, entry_points: dict, version: str = "1.0"):
        for name, source in modules.items():
            (site / f"{name}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
        (info / "entry_points.txt").write_text(f"[cnnpipe]\n{lines}")
        importlib.invalidate_caches()
        return info

    return install


TINY_DATASET = '''
import numpy as np
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import Data, DatasetSpec


def make(n, seed):
    """Ten classes; class k is a bright 7x7 square at one of ten places on a dark 28x28 image."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.uint8)
    X = (rng.random((n, 1, 28, 28)) * 60).astype(np.uint8)
    for i, k in enumerate(y):
        r, c = divmod(int(k), 5)
        X[i, 0, 3 + 12 * r:10 + 12 * r, 1 + 5 * c:8 + 5 * c] = 255
    return X, y


def load(data_dir=None):
    X, y = make(600, 0)
    tX, ty = make(200, 1)
    return Data(X, y, tX, ty, [str(k) for k in range(10)], name="tiny")


@hookimpl
def cnnpipe_register_datasets(register):
    register(DatasetSpec("tiny", load, summary="600 synthetic 28x28 images in 10 classes", input_shape=(1, 28, 28), num_classes=10))
'''


@pytest.fixture
def tiny_dataset(install_plugin):
    """A dataset plugin ``tiny`` (distribution ``tiny-data``): 600/200 learnable synthetic images."""
    install_plugin("tiny-data", {"tiny_data": TINY_DATASET}, {"tiny": "tiny_data"})
    return "tiny"


def cli(*args, env=None, cwd=None, timeout=600):
    """Run the installed ``cnnpipe`` command in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "cnnpipe", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout,
    )


@pytest.fixture
def real_data():
    """The real Fashion-MNIST folder; its absence skips, except under CI where it installs the data."""
    if not (DATASET_DIR / "train-images-idx3-ubyte.gz").is_file():
        message = f"Fashion-MNIST not installed in {DATASET_DIR} (apt-get install dataset-fashion-mnist)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return DATASET_DIR
