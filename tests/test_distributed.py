"""Runs of several processes without an engine: environments, settings, shards, output routing, failure lines."""

import io
import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from cnnpipe.cli import main
from cnnpipe.config import RunConfig
from cnnpipe.distributed import environment
from cnnpipe.runner import launch, local
from cnnpipe.distributed.environment import Environment, detect
from cnnpipe.runner.output import Output, Source
from cnnpipe.docker.request import container_args
from cnnpipe.errors import UsageError
from cnnpipe.run import World
from conftest import cli

DMLC = {"DMLC_ROLE": "worker", "DMLC_PS_ROOT_URI": "10.0.0.1", "DMLC_PS_ROOT_PORT": "9091", "DMLC_NUM_WORKER": "4",
        "DMLC_NUM_SERVER": "2"}
TORCHRUN = {"RANK": "3", "WORLD_SIZE": "8", "MASTER_ADDR": "node-0", "MASTER_PORT": "29500", "LOCAL_RANK": "1"}
MXNET = SimpleNamespace(name="mxnet", launcher="ps-lite")
TORCH = SimpleNamespace(name="torch", launcher="torchrun")
ALONE = SimpleNamespace(name="numpy", launcher="")


def config(**kw):
    return RunConfig(model="lenet", dataset="fashion-mnist", epochs=1, batch_size=256, lr=0.9, **kw)


def test_no_engine_variables_is_a_single_process():
    assert detect({}) is None
    assert detect({"RANK": "0"}) is None  # RANK alone is not torchrun's environment


def test_dmlc_and_torchrun_variables_are_read():
    assert detect(DMLC) == Environment("ps-lite", "worker", 4, 2, address="10.0.0.1", port=9091)
    env = detect({**TORCHRUN, environment.LAUNCH_VAR: "x"})
    assert (env.launcher, env.rank, env.workers, env.local_rank, env.launched) == ("torchrun", 3, 8, 1, True)


@pytest.mark.parametrize("change, message", [
    ({"DMLC_ROLE": "boss"}, "DMLC_ROLE must be one of worker, server, scheduler, got 'boss'"),
    ({"DMLC_NUM_WORKER": "two"}, "DMLC_NUM_WORKER must be a whole number of at least 1, got 'two'"),
    ({"DMLC_PS_ROOT_PORT": None}, "DMLC_PS_ROOT_PORT is not set"),
])
def test_bad_dmlc_variables_are_one_line(change, message):
    env = {k: v for k, v in {**DMLC, **change}.items() if v is not None}
    with pytest.raises(UsageError, match=message):
        detect(env)


def test_a_rank_beyond_the_world_is_refused():
    with pytest.raises(UsageError, match="RANK 8 is not below WORLD_SIZE 8"):
        detect({**TORCHRUN, "RANK": "8"})


def test_workers_and_servers_are_checked_against_the_backend():
    environment.check(config(workers=2), MXNET)
    with pytest.raises(UsageError, match="backend 'numpy' trains in one process only"):
        environment.check(config(workers=2), ALONE)
    with pytest.raises(UsageError, match="--servers is for MXNet's parameter server; backend 'torch' has none"):
        environment.check(config(workers=2, servers=1), TORCH)
    with pytest.raises(UsageError, match="--servers needs --workers N"):
        environment.check(config(servers=2), MXNET)
    defaulted = config(workers=2)
    environment.check(defaulted, MXNET)
    assert defaulted.servers == 1


def test_a_process_takes_its_counts_from_the_engine():
    adopted = environment.adopt(detect(DMLC), config(), MXNET)
    assert (adopted.workers, adopted.servers) == (4, 2)
    with pytest.raises(UsageError, match="--workers 3 disagrees with the 4 worker"):
        environment.adopt(detect(DMLC), config(workers=3), MXNET)
    with pytest.raises(UsageError, match="started with DMLC_\\* variables \\(ps-lite\\), but backend 'torch' trains "
                                         "with torchrun"):
        environment.adopt(detect(DMLC), config(), TORCH)


def test_shards_are_disjoint_equal_and_cover_all_but_the_remainder():
    order = np.random.default_rng(0).permutation(1003)
    shards = [World(rank, 4).shard(order) for rank in range(4)]
    assert {len(s) for s in shards} == {250}
    seen = np.concatenate(shards)
    assert len(set(seen.tolist())) == 1000
    assert all(s.flags["C_CONTIGUOUS"] for s in shards)
    assert World().shard(order) is order and World().sum([1.5, 2]) == [1.5, 2]


def test_the_run_record_states_the_total_batch_and_the_rule():
    record = environment.record(config(workers=4, servers=1), MXNET)
    assert (record["workers"], record["total_batch_size"], record["batch_size_per_worker"]) == (4, 1024, 256)
    assert "not scaled" in record["lr_rule"]


def test_containers_get_the_worker_options():
    args = container_args(config(workers=2, servers=1, backend="mxnet"), data_mounted=False)
    assert args[args.index("--workers") + 1] == "2" and args[args.index("--servers") + 1] == "1"
    assert "--workers" not in container_args(config(backend="mxnet"), data_mounted=False)


def test_output_routes_records_to_run_log_and_rank_0_to_the_terminal(tmp_path):
    terminal = io.StringIO()
    out = Output(tmp_path / "run.log", terminal)
    worker, server = Source("worker 1"), Source("server 0", quiet=True)
    out.feed(worker, "[rank 1] INFO joined as rank 1 of 2")
    out.feed(worker, "a warning from the engine")
    out.feed(worker, "[rank 1] ERROR run failed: boom")
    leader = Source("worker 0")
    out.feed(leader, "[rank 0] INFO epoch 1, loss 2.3")
    out.feed(leader, "epoch 1, loss 2.3")
    out.feed(server, "server noise")
    torchrun = Source("torchrun", quiet=True)
    out.feed(torchrun, "[default1]:[rank 1] WARNING slow")
    out.feed(torchrun, "[default0]:training lenet")
    out.close()
    log = (tmp_path / "run.log").read_text()
    assert worker.rank == 1 and leader.rank == 0
    assert "INFO rank 1: joined as rank 1 of 2" in log and "OUTPUT rank 1: a warning from the engine" in log
    assert "INFO rank 0: epoch 1, loss 2.3" in log and "OUTPUT rank 0" not in log
    assert "OUTPUT server 0: server noise" in log and "WARNING rank 1: slow" in log
    assert terminal.getvalue().splitlines() == [
        "rank 1: a warning from the engine", "rank 1: ERROR run failed: boom", "epoch 1, loss 2.3",
        "rank 1: WARNING slow", "training lenet"]


TORCHRUN_REPORT = """\
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
======================================================
cnnpipe FAILED
------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-11-27_11:06:51
  host      : localhost
  rank      : 1 (local_rank: 1)
  exitcode  : -9 (pid: 3138)  (SIGKILL)
  error_file: <N/A>
======================================================"""


def test_failure_lines_name_the_process():
    assert launch.torchrun_cause(TORCHRUN_REPORT.splitlines()) == "rank 1 (pid 3138) was killed by SIGKILL"
    assert launch.torchrun_cause(["no report"]) == ""
    p = launch.Process(Source("worker 2"), [], {}, worker=True, popen=SimpleNamespace(pid=42))
    assert launch.failure_line(p, 3) == "worker 2 (pid 42) exited with status 3"
    p.source.rank = 0
    assert launch.failure_line(p, -15) == "rank 0 (pid 42) was killed by SIGTERM"


def test_the_parameter_server_plan_stays_on_loopback():
    processes = launch.ps_lite(["python", "-m", "cnnpipe", "run"], workers=2, servers=3, port=4242)
    roles = [p.env["DMLC_ROLE"] for p in processes]
    assert roles == ["scheduler", "server", "server", "server", "worker", "worker"]
    assert all(p.env["DMLC_PS_ROOT_URI"] == p.env["DMLC_NODE_HOST"] == "127.0.0.1" for p in processes)
    assert [p.env["LOCAL_RANK"] for p in processes if p.worker] == ["0", "1"]
    (torchrun,) = launch.torchrun(["python", "-m", "cnnpipe", "run"], workers=2, port=4242, log_dir="/tmp/x")
    assert "127.0.0.1:4242" in torchrun.argv and torchrun.argv[-3:] == ["-m", "cnnpipe", "run"]


def test_a_missing_launcher_is_one_line(monkeypatch):
    monkeypatch.setattr(local.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UsageError, match="--workers needs PyTorch's torchrun \\(pip install torch\\), which is not "
                                         "installed here"):
        local.check_launcher("torchrun")


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "workers must be a whole number of at least 1, got 0"),
    (["--workers", "2", "--servers", "1", "--backend", "torch"], "--servers is for MXNet's parameter server"),
    (["--servers", "2"], "--servers needs --workers N"),
    (["--port", "4242"], "--port applies with --workers N only"),
])
def test_bad_worker_options_are_one_line_and_write_nothing(tmp_path, args, message):
    result = CliRunner().invoke(main, ["run", "lenet", "fashion-mnist", "--limit", "10", "--out", str(tmp_path / "r"),
                                       *args])
    assert result.exit_code == 2
    assert result.output.strip().startswith("cnnpipe: error: ") and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_resume_keeps_the_worker_count(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"config": config(workers=2, backend="mxnet").to_dict()}))
    result = cli("run", "--resume", str(folder), "--workers", "3")
    assert result.returncode == 2 and "--workers cannot change" in result.stderr


def test_help_lists_the_worker_options_without_importing_frameworks():
    code = ("import sys; from click.testing import CliRunner; from cnnpipe.cli import main; "
            "out = CliRunner().invoke(main, ['run', '--help']).output; "
            "print('--workers' in out, '--servers' in out, '--port' in out, "
            "sorted(set(sys.modules) & {'mxnet', 'torch'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "True True True []", result.stderr
