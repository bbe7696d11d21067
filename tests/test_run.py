"""Runs end to end: the run folder, configuration layers, reporters, failures, and resuming."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cnnpipe.testing import started
from conftest import cli


def run_folder(out):
    (folder,) = [p for p in out.iterdir() if p.is_dir() and p.name != "site"]
    return folder


def read_metrics(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_run_folder_holds_everything(tiny_dataset, tmp_path):
    result = cli("run", "lenet", tiny_dataset, "--lr", "0.9", "--batch-size", "32", "--epochs", "2",
                 "--out", str(tmp_path / "runs"), "--seed", "7")
    assert result.returncode == 0, result.stderr
    folder = run_folder(tmp_path / "runs")
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert names == ["checkpoints", "config.json", "metrics.jsonl", "model.params", "plot.png", "run.log", "summary.json"]
    config = json.loads((folder / "config.json").read_text())
    assert config["config"]["seed"] == 7 and config["config"]["batch_size"] == 32
    assert {"cnnpipe", "cnnpipe-lenet", "cnnpipe-mxnet", "tiny-data", "mxnet"} <= set(config["versions"])
    assert config["config"]["backend"] == "mxnet"
    metrics = read_metrics(folder)
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert set(metrics[0]) == {"epoch", "train_loss", "train_acc", "test_acc", "time", "images_per_sec"}
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["epoch-001", "epoch-002"]
    assert sorted(p.name for p in (folder / "checkpoints" / "epoch-002").iterdir()) == ["model.params", "optimizer.states", "state.json"]
    assert (folder / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "succeeded" and summary["epochs"] == 2
    assert summary["test_acc"] == metrics[-1]["test_acc"]
    log = (folder / "run.log").read_text()
    assert "epoch 2, loss" in log and "finished after 2 epochs" in log
    assert "epoch 1, loss" in result.stderr and "done: test acc" in result.stderr
    assert not list(folder.rglob("*.tmp"))
    assert (folder / "metrics.jsonl").stat().st_mode & 0o777 == 0o666 & ~current_umask()


def current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_recipe_then_file_then_set_then_options(tiny_dataset, tmp_path):
    # lenet has no recipe for "tiny": the file provides one, --set and options override it.
    config = tmp_path / "run.toml"
    config.write_text('lr = 0.5\nbatch-size = 50\nepochs = 3\nseed = 3\n[arch]\nactivation = "relu"\n')
    result = cli("run", "lenet", tiny_dataset, "--config", str(config), "--set", "lr=0.2", "--set", "epochs=2",
                 "--epochs", "1", "--out", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    saved = json.loads((run_folder(tmp_path / "runs") / "config.json").read_text())["config"]
    assert (saved["lr"], saved["batch_size"], saved["epochs"], saved["seed"]) == (0.2, 50, 1, 3)
    assert saved["arch"] == {"activation": "relu"}


def test_model_without_recipe_needs_settings(tiny_dataset, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    result = cli("run", "lenet", tiny_dataset, cwd=work)
    assert result.returncode == 2
    assert "has no recipe for dataset 'tiny'; give --lr, --batch-size and --epochs" in result.stderr
    assert list(work.iterdir()) == []


def test_learns_the_tiny_dataset(tiny_dataset, tmp_path):
    result = cli("run", "lenet", tiny_dataset, "--lr", "0.5", "--batch-size", "20", "--epochs", "6",
                 "--set", "arch.activation=relu", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert read_metrics(run_folder(tmp_path))[-1]["test_acc"] > 0.5


def test_chosen_reporters_only_and_the_records_whatever_they_are(tiny_dataset, tmp_path):
    result = cli("run", "lenet", tiny_dataset, "--lr", "0.9", "--batch-size", "100", "--epochs", "1",
                 "--reporter", "plot", "--out", str(tmp_path / "plot"))
    assert result.returncode == 0, result.stderr
    folder = run_folder(tmp_path / "plot")
    assert (folder / "plot.png").exists() and "epoch 1" not in result.stderr
    result = cli("run", "lenet", tiny_dataset, "--lr", "0.9", "--batch-size", "100", "--epochs", "1",
                 "--reporter", "console", "--out", str(tmp_path / "console"))
    assert result.returncode == 0, result.stderr
    folder = run_folder(tmp_path / "console")
    assert not (folder / "plot.png").exists() and "epoch 1, loss" in result.stderr
    for records in (tmp_path / "plot", tmp_path / "console"):
        folder = run_folder(records)
        assert len(read_metrics(folder)) == 1
        assert json.loads((folder / "summary.json").read_text())["status"] == "succeeded"


def test_resume_continues_where_it_stopped_and_matches_an_uninterrupted_run(tiny_dataset, tmp_path):
    args = ["run", "lenet", tiny_dataset, "--lr", "0.9", "--batch-size", "64", "--reporter", "console"]
    whole = cli(*args, "--epochs", "3", "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    first = cli(*args, "--epochs", "2", "--out", str(tmp_path / "parts"))
    assert first.returncode == 0, first.stderr
    folder = run_folder(tmp_path / "parts")
    done = cli("run", "--resume", str(folder))
    assert done.returncode == 2 and "already trained 2 of 2 epochs" in done.stderr
    again = cli("run", "--resume", str(folder), "--epochs", "3")
    assert again.returncode == 0, again.stderr
    resumed, uninterrupted = read_metrics(folder), read_metrics(run_folder(tmp_path / "whole"))
    assert [m["epoch"] for m in resumed] == [1, 2, 3]
    for a, b in zip(resumed, uninterrupted):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["test_acc"] == pytest.approx(b["test_acc"], abs=1e-9)


def test_resume_refuses_changes_to_the_saved_configuration(tiny_dataset, tmp_path):
    result = cli("run", "lenet", tiny_dataset, "--lr", "0.9", "--batch-size", "200", "--epochs", "1",
                 "--reporter", "console", "--out", str(tmp_path))
    folder = run_folder(tmp_path)
    before = sorted(p.name for p in folder.rglob("*"))
    for extra, fragment in ((["--lr", "0.1"], "--lr cannot change"),
                            (["--set", "seed=3"], "--set/--config cannot change"),
                            (["resnet", tiny_dataset], "is a run of model 'lenet', not 'resnet'")):
        args = ["run", *extra[:2], "--resume", str(folder)] if extra[0] == "resnet" else ["run", "--resume", str(folder), *extra]
        result = cli(*args)
        assert result.returncode == 2 and fragment in result.stderr, result.stderr
    assert sorted(p.name for p in folder.rglob("*")) == before


def test_failed_run_keeps_its_record(install_plugin, tiny_dataset, tmp_path):
    source = '''
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ReporterSpec

class Explode:
    def __init__(self, run):
        pass
    @hookimpl
    def cnnpipe_on_epoch_end(self, run, metrics):
        if metrics["epoch"] == 2:
            raise RuntimeError("disk on fire")

@hookimpl
def cnnpipe_register_reporters(register):
    register(ReporterSpec("explode", Explode, summary="fails after epoch 2"))
'''
    install_plugin("cnnpipe-explode", {"explode_plugin": source}, {"explode": "explode_plugin"})
    result = cli("run", "lenet", tiny_dataset, "--lr", "0.9", "--batch-size", "100", "--epochs", "3",
                 "--reporter", "default", "--reporter", "explode", "--out", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == ("cnnpipe: error: reporter 'explode' (cnnpipe-explode) failed in "
                                                      "cnnpipe_on_epoch_end: RuntimeError: disk on fire")
    folder = run_folder(tmp_path)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["epochs"] == 2 and "disk on fire" in summary["error"]
    assert "run failed: PluginError: reporter 'explode'" in (folder / "run.log").read_text()
    assert len(read_metrics(folder)) == 2


@pytest.mark.real_data
def test_real_data_trains_lenet_on_a_few_hundred_examples(real_data, tmp_path):
    result = cli("run", "lenet", "fashion-mnist", "--limit", "500", "--epochs", "2", "--set", "arch.activation=relu",
                 "--lr", "0.3", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    metrics = read_metrics(run_folder(tmp_path))
    assert len(metrics) == 2 and metrics[-1]["test_acc"] > 0.2  # ten classes: chance is 0.1


@pytest.mark.real_data
def test_killed_during_epoch_3_then_resumed_gives_the_numbers_of_an_uninterrupted_run(real_data, tmp_path):
    args = ["run", "lenet", "fashion-mnist", "--limit", "6000", "--reporter", "console"]
    with started([sys.executable, "-m", "cnnpipe", *args, "--out", str(tmp_path / "killed")],
                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 300
        state = None
        while time.monotonic() < deadline and proc.poll() is None:
            states = list(tmp_path.glob("killed/*/checkpoints/epoch-002/state.json"))
            if states:
                state = states[0]
                break
            time.sleep(0.05)
        assert state is not None, proc.stderr.read() if proc.poll() is not None else "no epoch 2 checkpoint in time"
        time.sleep(0.3)  # well into epoch 3
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    folder = state.parent.parent.parent
    assert not (folder / "checkpoints" / "epoch-003" / "state.json").exists()
    result = cli("run", "--resume", str(folder))
    assert result.returncode == 0, result.stderr
    assert "resuming at epoch 3" in result.stderr
    metrics = read_metrics(folder)
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4, 5]
    assert json.loads((folder / "summary.json").read_text())["epochs"] == 5
    assert not list(folder.rglob("*.tmp"))
    whole = cli(*args, "--out", str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    uninterrupted = read_metrics(run_folder(tmp_path / "whole"))
    for resumed, straight in zip(metrics, uninterrupted, strict=True):
        for key in ("train_loss", "train_acc", "test_acc"):
            assert resumed[key] == pytest.approx(straight[key], rel=1e-5, abs=1e-6), (resumed["epoch"], key)


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tiny_dataset, tmp_path):
    cmd = [sys.executable, "-m", "cnnpipe", "run", "lenet", tiny_dataset, "--lr", "0.9", "--batch-size", "20",
           "--epochs", "500", "--out", str(tmp_path / "runs")]
    with started(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(tmp_path.glob("runs/*/checkpoints/epoch-001/state.json")):
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    folder = run_folder(tmp_path / "runs")
    assert stderr.strip().splitlines()[-1] == f"cnnpipe: interrupted; continue with: cnnpipe run --resume {folder}"
    assert "Traceback" not in stderr
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "interrupted" and 1 <= summary["epochs"] < 500
