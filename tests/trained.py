"""Short real runs of LeNet on Fashion-MNIST, trained once per test session and backend, for the tests of
what comes after training (evaluate, predict, export, runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnpipe.testing import require_fashion_mnist
from conftest import cli

BACKENDS = ("mxnet", "torch")
# Two epochs on 2,000 examples with ReLU: a few seconds, and well above chance (0.1).
OPTIONS = ("--epochs", "2", "--limit", "2000", "--set", "arch.activation=relu", "--lr", "0.1", "--batch-size", "64")
_runs: dict[str, Path] = {}


def lenet_run(backend: str, tmp_path_factory) -> Path:
    """The run folder of LeNet trained with ``backend`` (shared: tests must not change it)."""
    require_fashion_mnist()
    if backend not in _runs:
        out = tmp_path_factory.mktemp(f"lenet-{backend}")
        result = cli("run", "lenet", "fashion-mnist", "--backend", backend, *OPTIONS, "--out", str(out))
        assert result.returncode == 0, result.stderr
        (_runs[backend],) = out.iterdir()
    return _runs[backend]


def copy_run(folder: Path, dest: Path) -> Path:
    """A copy of a run folder that a test may change."""
    import shutil

    target = dest / folder.name
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns(".lock", "export", "evaluation*", "confusion*"))
    return target


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def metrics(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def fashion_test_images(n: int):
    """The first ``n`` Fashion-MNIST test images (uint8, (n, 1, 28, 28)) and labels, read by the dataset plugin."""
    from cnnpipe.registry import build_registry

    data = build_registry().dataset("fashion-mnist").load()
    return data.test_X[:n], data.test_y[:n], list(data.class_names)
