"""Resuming runs that stopped at the worst moments, and run folders that were damaged (issue 10, items 1 and 4)."""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import TINY_DATASET, cli
from fault_plugins import assert_one_line, install, install_fault_reporter, read_metrics, run_folder, snapshot

TRAIN = ["--lr", "0.9", "--batch-size", "100", "--seed", "3"]


def train(tiny, out, epochs=2, *extra, env=None):
    return cli("run", "lenet", tiny, *TRAIN, "--epochs", str(epochs), "--reporter", "default", *extra,
               "--out", str(out), env=env)


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory):
    """One finished two-epoch run of LeNet on the tiny dataset, and the site folder that holds the dataset."""
    root = tmp_path_factory.mktemp("trained")
    install(root / "site", "tiny-data", {"tiny_data": TINY_DATASET}, {"tiny": "tiny_data"})
    env = {"PYTHONPATH": os.pathsep.join([str(root / "site"), os.environ.get("PYTHONPATH", "")])}
    result = train("tiny", root / "runs", env=env)
    assert result.returncode == 0, result.stderr
    return run_folder(root / "runs"), root / "site"


@pytest.fixture
def trained(trained_once, tmp_path, monkeypatch):
    """A copy of that run, and the dataset plugin on the path of every command: ``(folder, its metrics)``."""
    original, site = trained_once
    folder = tmp_path / "runs" / original.name
    shutil.copytree(original, folder)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    return folder, read_metrics(folder)


# --- 1: stopped after the last checkpoint, before the final parameters --------------------------


@pytest.mark.parametrize("action", ["SIGKILL", "SIGINT"])
def test_stopped_after_the_last_checkpoint_is_finished_by_resume_without_training(install_plugin, tiny_dataset,
                                                                                     tmp_path, action):
    install_fault_reporter(install_plugin)
    out = tmp_path / "runs"
    stopped = train(tiny_dataset, out, 2, "--reporter", "fault",
                    env={"FAULT_EPOCH": "2", "FAULT_ACTION": action})
    folder = run_folder(out)
    assert (folder / "checkpoints" / "epoch-002" / "state.json").is_file()
    assert not (folder / "model.params").exists()
    if action == "SIGKILL":
        assert stopped.returncode == -signal.SIGKILL and not (folder / "summary.json").exists()
    else:  # Ctrl-C: the message says how to continue, and that is the command that must work
        assert stopped.returncode == 130
        assert json.loads((folder / "summary.json").read_text())["status"] == "interrupted"
        assert stopped.stderr.strip().splitlines()[-1] == f"cnnpipe: interrupted; continue with: cnnpipe run --resume {folder}"
    expected = json.loads((folder / "checkpoints" / "epoch-002" / "state.json").read_text())["history"]
    # Killed before its last line reached metrics.jsonl (the order of writes before cnnpipe 0.2).
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    (folder / "metrics.jsonl").write_text(lines[0] + "\n")

    resumed = cli("run", "--resume", str(folder), env={"FAULT_EPOCH": ""})
    assert resumed.returncode == 0, resumed.stderr
    assert read_metrics(folder) == expected  # the checkpoint's history, no epoch trained again
    assert not (folder / "checkpoints" / "epoch-003").exists()
    assert (folder / "model.params").read_bytes() == (folder / "checkpoints" / "epoch-002" / "model.params").read_bytes()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "succeeded" and summary["epochs"] == 2
    assert summary["test_acc"] == expected[-1]["test_acc"]
    again = cli("run", "--resume", str(folder))
    assert_one_line(again, 2, "already trained 2 of 2 epochs")


@pytest.mark.parametrize("lost", ["summary.json", "a failed summary.json"])
def test_stopped_after_the_final_parameters_is_finished_by_resume(trained, lost):
    folder, metrics = trained
    if lost == "summary.json":
        (folder / "summary.json").unlink()
    else:  # a summary that says the run failed (it was being rewritten when the disk filled, say)
        (folder / "summary.json").write_text(json.dumps({"status": "failed", "epochs": 2}))
    result = cli("run", "--resume", str(folder))
    assert result.returncode == 0, result.stderr
    assert read_metrics(folder) == metrics
    assert json.loads((folder / "summary.json").read_text())["status"] == "succeeded"


# --- 4: damaged run folders -------------------------------------------------------------------


def flip_bytes(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    path.write_bytes(bytes(data))


DAMAGE = {
    "params overwritten": ("model.params", flip_bytes),
    "params cut short": ("model.params", lambda p: p.write_bytes(p.read_bytes()[:1000])),
    "params missing": ("model.params", lambda p: p.unlink()),
    "params empty": ("model.params", lambda p: p.write_bytes(b"")),
    "optimizer overwritten": ("optimizer.states", flip_bytes),
    "optimizer missing": ("optimizer.states", lambda p: p.unlink()),
    "state not JSON": ("state.json", lambda p: p.write_text("{\"epoch\": 2, \"hist")),
    "state of another epoch": ("state.json", lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "epoch": 1}))),
    "state without history": ("state.json", lambda p: p.write_text(json.dumps({"epoch": 2}))),
    "state with text for a number": ("state.json", lambda p: p.write_text(p.read_text().replace('"time": ', '"time": "x", "was": '))),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_last_checkpoint_falls_back_to_the_one_before_and_says_so(trained, damage):
    folder, metrics = trained
    name, spoil = DAMAGE[damage]
    damaged = folder / "checkpoints" / "epoch-002" / name
    spoil(damaged)
    result = cli("run", "--resume", str(folder), "--epochs", "3")
    assert result.returncode == 0, result.stderr
    assert f"cnnpipe: warning: {damaged} is damaged (" in result.stderr
    assert "resuming from the checkpoint of epoch 1" in result.stderr
    assert "Traceback" not in result.stderr
    resumed = read_metrics(folder)
    assert [m["epoch"] for m in resumed] == [1, 2, 3]
    # Epoch 2 trained again from epoch 1's checkpoint gives the numbers it gave the first time.
    assert resumed[1]["train_loss"] == pytest.approx(metrics[1]["train_loss"], rel=1e-5)
    assert resumed[1]["test_acc"] == pytest.approx(metrics[1]["test_acc"], abs=1e-9)
    assert json.loads((folder / "summary.json").read_text())["epochs"] == 3


def test_no_intact_checkpoint_starts_again_and_says_so(trained):
    folder, metrics = trained
    for epoch in (1, 2):
        flip_bytes(folder / "checkpoints" / f"epoch-00{epoch}" / "model.params")
    result = cli("run", "--resume", str(folder))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("is damaged") == 2 and "starting again from epoch 1" in result.stderr
    again = read_metrics(folder)
    assert [m["epoch"] for m in again] == [1, 2]
    assert again[1]["train_loss"] == pytest.approx(metrics[1]["train_loss"], rel=1e-5)


CONFIGS = {
    "not JSON": ('{"config": {"model": "lenet"', "cannot read"),
    "not UTF-8": (b'{"config": "\xff\xfe"}', "cannot read"),
    "a list": ("[1, 2]", "holds no 'config' table"),
    "no config table": ('{"versions": {}}', "holds no 'config' table"),
    "a setting missing": ('{"config": {"model": "lenet", "dataset": "tiny", "lr": 0.9, "batch_size": 100}}', "damaged"),
    "a setting of the wrong type": (None, "epochs must be a whole number"),
    "model not a name": (None, "damaged: its model is 5"),
}


@pytest.mark.parametrize("case", CONFIGS)
def test_damaged_config_is_one_line_naming_it_and_nothing_is_written(trained, case):
    folder, _ = trained
    text, fragment = CONFIGS[case]
    config = folder / "config.json"
    if text is None:
        saved = json.loads(config.read_text())
        if case == "model not a name":
            saved["config"]["model"] = 5
        else:
            saved["config"]["epochs"] = "two"
        text = json.dumps(saved)
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    (folder / "summary.json").unlink()  # so that resume would otherwise go ahead and finish the run
    (folder / "model.params").unlink()
    before = snapshot(folder)
    result = cli("run", "--resume", str(folder))
    assert_one_line(result, 2, str(config), fragment)
    assert snapshot(folder) == before


def test_a_checkpoint_that_cannot_be_loaded_is_one_line_and_nothing_is_written(trained):
    # A checkpoint of cnnpipe 0.1 records no fingerprints: damage shows only when the backend reads it.
    folder, _ = trained
    checkpoint = folder / "checkpoints" / "epoch-002"
    state = json.loads((checkpoint / "state.json").read_text())
    state.pop("files", None)
    (checkpoint / "state.json").write_text(json.dumps(state))
    if (checkpoint / "optimizer.states").exists():
        (checkpoint / "optimizer.states").rename(checkpoint / "trainer.states")
    (checkpoint / "model.params").write_bytes(b"\x12" * 4000)
    before = snapshot(folder)
    result = cli("run", "--resume", str(folder), "--epochs", "3")
    assert_one_line(result, 2, f"cannot load the checkpoint {checkpoint} with the mxnet backend")
    assert snapshot(folder) == before


def test_second_process_resuming_a_folder_in_use_gets_one_line(trained):
    folder, _ = trained
    (folder / "summary.json").unlink()
    before = snapshot(folder)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT)  # this test process plays the first cnnpipe
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = cli("run", "--resume", str(folder), "--epochs", "3")
    finally:
        os.close(fd)
    assert_one_line(result, 2, f"{folder} is in use by another cnnpipe process")
    assert snapshot(folder) == before
    result = cli("run", "--resume", str(folder), "--epochs", "3")
    assert result.returncode == 0, result.stderr


def test_two_cnnpipe_processes_resuming_one_folder_train_it_once(install_plugin, trained):
    folder, _ = trained
    install_fault_reporter(install_plugin)
    first = subprocess.Popen([sys.executable, "-m", "cnnpipe", "run", "--resume", str(folder), "--epochs", "4",
                              "--reporter", "default", "--reporter", "fault"], stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "FAULT_EPOCH": "3", "FAULT_ACTION": "SIGSTOP"})
    try:
        deadline = time.monotonic() + 120
        while not (folder / "checkpoints" / "epoch-003" / "state.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the first has stopped itself after epoch 3, holding the folder
        second = cli("run", "--resume", str(folder), "--epochs", "4")
        assert_one_line(second, 2, f"{folder} is in use by another cnnpipe process")
    finally:
        first.send_signal(signal.SIGCONT)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert [m["epoch"] for m in read_metrics(folder)] == [1, 2, 3, 4]
