"""Seeded augmentation (random crop with zero padding, horizontal flip): the same batches in both backends as in
numpy, drawn from the epoch's seed, and a run setting that changes training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnpipe.augment import apply, indices
from conftest import cli


def test_numpy_reference_crops_and_flips():
    X = np.arange(2 * 1 * 3 * 4, dtype=np.float32).reshape(2, 1, 3, 4)
    assert np.array_equal(apply(X, 0, 0, 0, False), X)
    flipped = apply(X, 0, 0, 0, True)
    assert all(np.array_equal(f, x) or np.array_equal(f, x[..., ::-1]) for f, x in zip(flipped, X))
    cropped = apply(X, 5, 0, 1, False)
    for c, x in zip(cropped, X):  # a shifted window of the zero-padded image
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
        assert any(np.array_equal(c, padded[:, i:i + 3, j:j + 4]) for i in range(3) for j in range(3))
    draws = {indices(7, b, (64, 1, 8, 8), 2, True).tobytes() for b in range(3)}
    assert len(draws) == 3 and indices(7, 1, (64, 1, 8, 8), 2, True).tobytes() in draws  # seeded per batch


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_backends_gather_what_numpy_does(backend):
    X = np.random.default_rng(0).random((5, 3, 6, 7)).astype(np.float32)
    expected = apply(X, 11, 2, 3, True)
    if backend == "torch":
        import torch

        from cnnpipe_torch.layers import augmented
        got = augmented(torch.from_numpy(X), 11, 2, 3, True).numpy()
    else:
        from mxnet import nd

        from cnnpipe_mxnet.backend import augmented
        got = augmented(nd.array(X), 11, 2, 3, True).asnumpy()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_run_setting_changes_training_and_is_recorded(tiny_dataset, tmp_path, backend):
    losses = []
    for name, extra in (("plain", []), ("augmented", ["--set", "crop=2", "--set", "flip=true"])):
        result = cli("run", "lenet", tiny_dataset, "--backend", backend, "--epochs", "1", "--limit", "128", "--lr", "0.1",
                     "--batch-size", "32", "--reporter", "console", *extra, "--out", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        (run,) = (tmp_path / name).iterdir()
        losses.append(json.loads((run / "metrics.jsonl").read_text())["train_loss"])
    config = json.loads((run / "config.json").read_text())["config"]
    assert (config["crop"], config["flip"]) == (2, True)
    assert losses[0] != losses[1]
    bad = cli("run", "lenet", tiny_dataset, "--set", "crop=-1", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "crop must be a whole number of at least 0" in bad.stderr
