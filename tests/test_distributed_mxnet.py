"""MXNet's parameter server on 127.0.0.1, for real: equivalence of a synchronous step, accuracy, failure, resume,
and the engine's own launcher (mxnet/tools/launch.py) starting ``cnnpipe run`` in each role."""

import json
import os
import signal
import socket
import subprocess
import sys
import uuid

import pytest

from cnnpipe.runner import launch, output
from cnnpipe.distributed.environment import LAUNCH_VAR, free_port
from cnnpipe.rundir import RunDir
from conftest import cli
from distributed_support import SCRIPTS, children_of, environ_of, kill_all, launch_of, pids_with, start, wait_for

pytestmark = pytest.mark.usefixtures("real_data")
mx = pytest.importorskip("mxnet")
LEARNS = ("--set", "arch.activation=relu", "--lr", "0.1")  # LeNet learns to about 0.65 in 2 epochs of 6,000 images


def params(path):
    return {name: value.asnumpy() for name, value in mx.nd.load(str(path)).items()}


def only_folder(out):
    (folder,) = out.iterdir()
    return folder


@pytest.mark.parametrize("steps", [1, 3])
def test_synchronous_steps_on_two_workers_equal_steps_on_both_shards_together(tmp_path, steps):
    command = [sys.executable, str(SCRIPTS / "one_step.py"), "mxnet", "16", str(tmp_path), str(steps)]
    processes = launch.ps_lite(command, workers=2, servers=1, port=free_port())
    result = launch.Launch(processes, output.Output(tmp_path / "launch.log"), uuid.uuid4().hex, join=120).run()
    assert result.code == 0, result.failure + (tmp_path / "launch.log").read_text()[-3000:]
    single = subprocess.run([*command[:3], "32", *command[4:]], capture_output=True, text=True)
    assert single.returncode == 0, single.stderr
    rank0, rank1, alone = (params(tmp_path / f"{name}.params") for name in ("rank0", "rank1", "single"))
    assert rank0.keys() == rank1.keys() == alone.keys()
    for name in alone:
        assert (rank0[name] == rank1[name]).all(), f"{name} differs between the ranks"
        assert abs(rank0[name] - alone[name]).max() < 1e-6, f"{name} differs from the single-process step"


def test_two_workers_train_like_one_process_with_the_total_batch(tmp_path):
    alone = cli("run", "lenet", "fashion-mnist", "--limit", "6000", "--epochs", "2", "--batch-size", "128", *LEARNS,
                "--device", "cpu", "--out", str(tmp_path / "one"))
    assert alone.returncode == 0, alone.stderr
    two = cli("run", "lenet", "fashion-mnist", "--workers", "2", "--limit", "6000", "--epochs", "2", "--batch-size",
              "64", *LEARNS, "--device", "cpu", "--out", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr
    one_dir, two_dir = only_folder(tmp_path / "one"), only_folder(tmp_path / "two")
    accuracy = [json.loads((d / "summary.json").read_text())["test_acc"] for d in (one_dir, two_dir)]
    assert accuracy[0] > 0.5, "the reference run should learn"
    assert abs(accuracy[0] - accuracy[1]) <= 0.03, accuracy
    record = json.loads((two_dir / "config.json").read_text())
    assert record["config"]["workers"] == 2 and record["config"]["servers"] == 1
    assert record["distributed"]["total_batch_size"] == 128 and "lr" in record["distributed"]["lr_rule"]
    log = (two_dir / "run.log").read_text()
    assert " INFO rank 0: epoch 2" in log and " INFO rank 1: epoch 2" in log
    assert len(RunDir(two_dir).checkpoints()[0]) == 2


def test_the_book_recipe_on_two_workers_records_them(tmp_path):
    result = cli("run", "lenet", "fashion-mnist", "--workers", "2", "--limit", "6000", "--epochs", "2",
                 "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    folder = only_folder(tmp_path)
    assert json.loads((folder / "config.json").read_text())["distributed"]["workers"] == 2
    assert json.loads((folder / "summary.json").read_text())["status"] == "succeeded"
    assert "done: test acc" in result.stderr


@pytest.fixture
def in_epoch_2(tmp_path):
    """A 2-worker run started by cnnpipe's launcher, just past its first checkpoint: ``(launcher, out)``; every
    process of the launch is killed afterwards, whatever the test did."""
    out = tmp_path / "runs"
    launcher, launch_id = None, None
    try:
        launcher = start("run", "lenet", "fashion-mnist", "--workers", "2", "--limit", "20000", "--epochs", "3",
                         "--device", "cpu", "--out", str(out))
        assert wait_for(lambda: any(out.glob("*/checkpoints/epoch-001/state.json")), 180), "no first checkpoint"
        launch_id = launch_of(launcher.pid)
        yield launcher, out, launch_id
    finally:
        kill_all(launcher, LAUNCH_VAR, launch_id)


def test_a_killed_worker_stops_the_run_and_resume_finishes_it(in_epoch_2):
    launcher, out, launch_id = in_epoch_2
    workers = [pid for pid in children_of(launcher.pid) if environ_of(pid).get("DMLC_ROLE") == "worker"]
    assert len(workers) == 2
    os.kill(workers[1], signal.SIGKILL)  # in epoch 2: its checkpoint is written only after the epoch
    _, err = launcher.communicate(timeout=60)
    assert launcher.returncode == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("cnnpipe: error: ") and f"(pid {workers[1]}) was killed by SIGKILL" in last, err
    assert "rank " in last and "--resume" in last
    assert wait_for(lambda: not pids_with(LAUNCH_VAR, launch_id), 10), "a process of the run is left"
    folder = only_folder(out)
    assert RunDir(folder).last_checkpoint()[0] == 1
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "failed" and "SIGKILL" in summary["error"]
    assert "ERROR launcher: " in (folder / "run.log").read_text()
    resumed = cli("run", "--resume", str(folder))
    assert resumed.returncode == 0, resumed.stderr
    assert [m["epoch"] for m in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines())] == [1, 2, 3]
    assert json.loads((folder / "summary.json").read_text())["status"] == "succeeded"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_every_process_and_says_how_to_continue(in_epoch_2, sig):
    launcher, out, launch_id = in_epoch_2
    launcher.send_signal(sig)
    _, err = launcher.communicate(timeout=60)
    assert launcher.returncode == 130, err
    assert "interrupted; continue with: cnnpipe run --resume" in err.strip().splitlines()[-1]
    assert wait_for(lambda: not pids_with(LAUNCH_VAR, launch_id), 10), "a process of the run is left"
    assert json.loads((only_folder(out) / "summary.json").read_text())["status"] == "interrupted"


def test_mxnet_launch_py_starts_cnnpipe_run_in_every_role(tmp_path):
    marker = uuid.uuid4().hex
    cnnpipe = os.path.join(os.path.dirname(sys.executable), "cnnpipe")
    command = [sys.executable, "-m", "cnnpipe_mxnet.launch", "--host-ip", "127.0.0.1", "-n", "2", "-s", "1",
               "--launcher", "local", cnnpipe, "run", "lenet", "fashion-mnist", "--limit", "2000", "--epochs", "1",
               "--device", "cpu", "--out", str(tmp_path)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CNNPIPE_TEST_MARK": marker}, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        folder = only_folder(tmp_path)  # rank 0 wrote the one run folder; the other rank wrote nothing
        record = json.loads((folder / "config.json").read_text())
        assert record["config"]["workers"] == 2 and record["config"]["servers"] == 1
        assert "rank 0: epoch 1" in (folder / "run.log").read_text()
        assert "[rank 1] INFO epoch 1" in err  # the other rank logs to its standard error
        assert wait_for(lambda: not pids_with("CNNPIPE_TEST_MARK", marker), 20), "a process of the run is left"
    finally:
        kill_all(proc, "CNNPIPE_TEST_MARK", marker)


def test_a_port_in_use_is_one_line_and_writes_nothing(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = cli("run", "lenet", "fashion-mnist", "--workers", "2", "--limit", "600", "--port", port,
                     "--out", str(tmp_path / "runs"))
        assert result.returncode == 2
        assert result.stderr.strip() == f"cnnpipe: error: --port {port} on 127.0.0.1 is in use; choose another, or " \
                                        "leave it out for a free one"
        assert not (tmp_path / "runs").exists()
        scheduler = cli("run", "lenet", "fashion-mnist", "--limit", "600", env={
            "DMLC_ROLE": "scheduler", "DMLC_PS_ROOT_URI": "127.0.0.1", "DMLC_PS_ROOT_PORT": port,
            "DMLC_NUM_WORKER": "2", "DMLC_NUM_SERVER": "1"}, timeout=60)
        assert scheduler.returncode == 2
        assert scheduler.stderr.strip().splitlines() == [
            f"cnnpipe: error: DMLC_PS_ROOT_PORT {port} on 127.0.0.1 is in use; choose another, or leave it out for "
            "a free one"]
