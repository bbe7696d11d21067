"""The ``tensorboard`` reporter on the real Fashion-MNIST, read back with TensorBoard's own event reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path("/usr/share/datasets/fashion-mnist")
QUICK = ["--limit", "300", "--batch-size", "64", "--lr", "0.1", "--set", "arch.activation=relu"]


@pytest.fixture
def cli(tmp_path):
    if not (DATA / "train-images-idx3-ubyte.gz").is_file():
        message = f"Fashion-MNIST not installed in {DATA}"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "cnnpipe", *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=600)

    return run


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder / "tensorboard"))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def epochs(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_every_epoch_is_read_back_by_tensorboard(cli, tmp_path, backend):
    result = cli("run", "lenet", "fashion-mnist", *QUICK, "--backend", backend, "--epochs", "3",
                 "--reporter", "default", "--reporter", "tensorboard", "--out", "runs")
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    found = scalars(folder)
    assert set(found) == {"loss/train", "accuracy/train", "accuracy/test", "epoch/seconds", "epoch/images_per_sec"}
    for key, tag in (("train_loss", "loss/train"), ("train_acc", "accuracy/train"), ("test_acc", "accuracy/test")):
        assert found[tag] == [(m["epoch"], pytest.approx(m[key])) for m in epochs(folder)]


def test_a_resumed_run_continues_the_curves(cli, tmp_path):
    first = cli("run", "lenet", "fashion-mnist", *QUICK, "--epochs", "2", "--reporter", "tensorboard", "--out", "runs")
    assert first.returncode == 0, first.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    again = cli("run", "--resume", str(folder), "--epochs", "4", "--reporter", "tensorboard")
    assert again.returncode == 0, again.stderr
    found = scalars(folder)
    assert [step for step, _ in found["accuracy/test"]] == [1, 2, 3, 4]
    assert found["accuracy/test"] == [(m["epoch"], pytest.approx(m["test_acc"])) for m in epochs(folder)]


def test_listed_by_cnnpipe_plugins_without_importing_tensorboardx(cli):
    result = cli("plugins", "--json")
    (row,) = [r for r in json.loads(result.stdout) if r["dist"] == "cnnpipe-tensorboard"]
    assert row["status"] == "ok" and row["registers"] == {"reporters": ["tensorboard"]}
    code = "import sys; from cnnpipe.registry import build_registry; build_registry(); print('tensorboardX' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_the_settings_are_hparams_against_the_final_metrics(cli, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    result = cli("run", "lenet", "fashion-mnist", *QUICK, "--epochs", "1", "--reporter", "tensorboard", "--out", "runs")
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    events = EventAccumulator(str(folder / "tensorboard"))
    events.Reload()
    content = events.PluginTagToContent("hparams")
    data = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    got = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in data.session_start_info.hparams.items()}
    assert got["lr"] == pytest.approx(0.1) and got["model"] == "lenet" and got["arch.activation"] == "relu"
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert {m.name.tag for m in experiment.metric_infos} == {"loss/train", "accuracy/train", "accuracy/test"}
