"""Momentum, weight decay and Nesterov as run settings: checked, recorded, used by both backends and compared."""

from __future__ import annotations

import json

import pytest

from conftest import cli

TINY = ("--epochs", "1", "--limit", "128", "--lr", "0.1", "--batch-size", "32", "--reporter", "console")


@pytest.mark.parametrize("sets, message", [
    (["momentum=0.9", "optimizer=\"adam\""], "momentum applies to the sgd and nag optimizers, not to 'adam'"),
    (["nesterov=true"], "nesterov needs a momentum above 0 (--set momentum=0.9, say)"),
    (["momentum=1.5"], "momentum must be a number from 0 up to (not including) 1, got 1.5 (in --set)"),
    (["weight_decay=-1"], "weight-decay must be a number of at least 0, got -1 (in --set)"),
])
def test_bad_settings_are_one_line(tiny_dataset, tmp_path, sets, message):
    args = [a for s in sets for a in ("--set", s)]
    result = cli("run", "lenet", tiny_dataset, *TINY, *args, "--out", str(tmp_path))
    assert result.returncode == 2 and result.stderr.strip() == f"cnnpipe: error: {message}"


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_settings_change_training_and_are_compared(tiny_dataset, tmp_path, backend):
    (tmp_path / "sgd.toml").write_text("momentum = 0.9\nweight_decay = 0.001\nnesterov = true\n")
    losses, folders = [], []
    for name, extra in (("plain", []), ("nesterov", ["--config", str(tmp_path / "sgd.toml")])):
        out = tmp_path / name
        result = cli("run", "lenet", tiny_dataset, "--backend", backend, *TINY, *extra, "--out", str(out))
        assert result.returncode == 0, result.stderr
        (run,) = out.iterdir()
        folders.append(run)
        losses.append(json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["train_loss"])
    config = json.loads((folders[1] / "config.json").read_text())["config"]
    assert (config["momentum"], config["weight_decay"], config["nesterov"]) == (0.9, 0.001, True)
    assert losses[0] != losses[1]
    table = cli("runs", "compare", *map(str, folders)).stdout
    assert table.splitlines()[0].split()[:4] == ["RUN", "momentum", "nesterov", "weight_decay"]
