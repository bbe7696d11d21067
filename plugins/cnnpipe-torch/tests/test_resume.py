"""A torch run killed with SIGKILL during epoch 3, then resumed, equals the uninterrupted run: metrics and
final parameters, on the real Fashion-MNIST.  LeNet-BN with Adam, so that batch norm's running statistics
and the optimizer's state both go through the checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnpipe.testing import started

torch = pytest.importorskip("torch")
pytest.importorskip("cnnpipe_batchnorm")

# 12,000 images: an epoch lasts long enough (about a second even on a fast machine) for the kill to land inside it.
RUN = ["lenet-bn", "fashion-mnist", "--backend", "torch", "--device", "cpu", "--optimizer", "adam", "--lr", "0.01",
       "--limit", "12000", "--epochs", "4", "--reporter", "console"]


def cnnpipe(*args):
    """A ``cnnpipe`` child, killed when the block ends (see ``cnnpipe.testing.started``)."""
    return started([sys.executable, "-m", "cnnpipe", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   text=True)


def finish(proc, timeout=600):
    _, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, stderr
    return stderr


def folder_of(out):
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


def metrics(folder):
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in ("time", "images_per_sec")} for row in rows]


@pytest.mark.real_data
def test_killed_in_epoch_3_and_resumed_equals_the_uninterrupted_run(tmp_path):
    with cnnpipe("run", *RUN, "--out", str(tmp_path / "whole")) as whole:
        finish(whole)
    with cnnpipe("run", *RUN, "--out", str(tmp_path / "killed")) as killed:
        deadline = time.monotonic() + 300
        while killed.poll() is None and time.monotonic() < deadline:
            if list(tmp_path.glob("killed/*/checkpoints/epoch-002/state.json")):
                break
            time.sleep(0.02)
        assert killed.poll() is None, killed.stderr.read()
        time.sleep(0.1)  # into epoch 3
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
    folder = folder_of(tmp_path / "killed")
    assert not (folder / "checkpoints" / "epoch-003" / "state.json").exists(), "killed after epoch 3 ended"
    with cnnpipe("run", "--resume", str(folder)) as resumed:
        assert "resuming at epoch 3" in finish(resumed)
    uninterrupted = folder_of(tmp_path / "whole")
    assert [m["epoch"] for m in metrics(folder)] == [1, 2, 3, 4]
    assert metrics(folder) == metrics(uninterrupted)
    resumed = torch.load(folder / "model.params", weights_only=True)
    expected = torch.load(uninterrupted / "model.params", weights_only=True)
    assert resumed.keys() == expected.keys() and any("running_var" in k for k in resumed)
    for key in expected:
        assert torch.equal(resumed[key], expected[key]), key
