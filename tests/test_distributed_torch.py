"""PyTorch's DistributedDataParallel over gloo, started by torchrun on 127.0.0.1, for real."""

import json
import os
import signal
import subprocess
import sys
import uuid

import pytest

from cnnpipe.runner import launch, output
from cnnpipe.distributed.environment import LAUNCH_VAR, free_port
from conftest import cli
from distributed_support import SCRIPTS, children_of, kill_all, launch_of, pids_with, start, wait_for

pytestmark = pytest.mark.usefixtures("real_data")
torch = pytest.importorskip("torch")
ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # as torchrun sets for its workers; a loaded 2-core machine crawls otherwise


def only_folder(out):
    (folder,) = out.iterdir()
    return folder


def test_a_synchronous_step_on_two_ranks_equals_one_step_on_both_shards_together(tmp_path):
    command = [sys.executable, str(SCRIPTS / "one_step.py"), "torch", "16", str(tmp_path)]
    processes = launch.torchrun(command, workers=2, port=free_port(), log_dir=str(tmp_path / "torchrun"))
    result = launch.Launch(processes, output.Output(tmp_path / "launch.log"), uuid.uuid4().hex).run()
    assert result.code == 0, result.failure + (tmp_path / "launch.log").read_text()[-3000:]
    single = subprocess.run([*command[:3], "32", *command[4:]], capture_output=True, text=True,
                            env={**os.environ, **ONE_THREAD})
    assert single.returncode == 0, single.stderr
    rank0, rank1, alone = (torch.load(tmp_path / f"{name}.params", weights_only=True)
                           for name in ("rank0", "rank1", "single"))
    assert rank0.keys() == rank1.keys() == alone.keys()
    for name in alone:
        assert torch.equal(rank0[name], rank1[name]), f"{name} differs between the ranks"
        assert (rank0[name] - alone[name]).abs().max() < 1e-6, f"{name} differs from the single-process step"


def test_two_ranks_train_like_one_process_with_the_total_batch(tmp_path):
    common = ("--backend", "torch", "--limit", "6000", "--epochs", "2", "--set", "arch.activation=relu", "--lr", "0.1",
              "--device", "cpu")
    alone = cli("run", "lenet", "fashion-mnist", *common, "--batch-size", "128", "--out", str(tmp_path / "one"),
                env=ONE_THREAD)
    assert alone.returncode == 0, alone.stderr
    two = cli("run", "lenet", "fashion-mnist", *common, "--workers", "2", "--batch-size", "64",
              "--out", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr
    one_dir, two_dir = only_folder(tmp_path / "one"), only_folder(tmp_path / "two")
    accuracy = [json.loads((d / "summary.json").read_text())["test_acc"] for d in (one_dir, two_dir)]
    assert accuracy[0] > 0.5 and abs(accuracy[0] - accuracy[1]) <= 0.03, accuracy
    record = json.loads((two_dir / "config.json").read_text())
    assert record["distributed"]["launcher"] == "torchrun" and record["config"]["servers"] is None
    log = (two_dir / "run.log").read_text()
    assert " INFO rank 1: epoch 2" in log
    # cnnpipe gives each rank its thread count, so torchrun has no default of its own to announce
    # (its output would reach run.log as "OUTPUT torchrun: ...", as every process's does: test_distributed.py).
    assert "Setting OMP_NUM_THREADS" not in log
    state = torch.load(two_dir / "model.params", weights_only=True)
    assert not any(name.startswith("module.") for name in state), "saved from inside DistributedDataParallel"


def test_torchrun_starts_cnnpipe_run_as_each_rank(tmp_path):
    marker = uuid.uuid4().hex
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--rdzv-backend", "c10d",
               "--rdzv-endpoint", f"127.0.0.1:{free_port()}", "--local-addr", "127.0.0.1",
               "--log-dir", str(tmp_path / "torchrun"), "-m", "cnnpipe", "run",
               "lenet", "fashion-mnist", "--backend", "torch", "--limit", "2000", "--epochs", "1", "--device", "cpu",
               "--out", str(tmp_path / "runs")]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CNNPIPE_TEST_MARK": marker}, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        folder = only_folder(tmp_path / "runs")
        assert json.loads((folder / "config.json").read_text())["config"]["workers"] == 2
        assert "rank 0: epoch 1" in (folder / "run.log").read_text()
        assert "[rank 1] INFO epoch 1" in err
    finally:
        kill_all(proc, "CNNPIPE_TEST_MARK", marker)


def test_a_killed_rank_ends_the_run_in_one_line(tmp_path):
    out = tmp_path / "runs"
    launcher, launch_id = None, None
    try:
        launcher = start("run", "lenet", "fashion-mnist", "--backend", "torch", "--workers", "2", "--limit", "20000",
                         "--epochs", "3", "--device", "cpu", "--out", str(out))
        assert wait_for(lambda: any(out.glob("*/checkpoints/epoch-001/state.json")), 180), "no first checkpoint"
        launch_id = launch_of(launcher.pid)
        (torchrun,) = children_of(launcher.pid)
        ranks = children_of(torchrun)
        assert len(ranks) == 2
        os.kill(ranks[1], signal.SIGKILL)
        _, err = launcher.communicate(timeout=90)
        assert launcher.returncode == 1
        last = err.strip().splitlines()[-1]
        assert last.startswith("cnnpipe: error: rank ") and f"(pid {ranks[1]}) was killed by SIGKILL" in last, err
        assert wait_for(lambda: not pids_with(LAUNCH_VAR, launch_id), 10), "a process of the run is left"
    finally:
        kill_all(launcher, LAUNCH_VAR, launch_id)
