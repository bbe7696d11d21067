"""The ``mlflow`` reporter against the real MLflow client and a real store, on the real Fashion-MNIST."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnpipe.testing import started

DATA = Path("/usr/share/datasets/fashion-mnist")
QUICK = ["--limit", "300", "--batch-size", "64", "--lr", "0.1", "--set", "arch.activation=relu"]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """``cnnpipe ARGS`` in a subprocess, in a fresh folder, with no tracking URI unless given."""
    if not (DATA / "train-images-idx3-ubyte.gz").is_file():
        message = f"Fashion-MNIST not installed in {DATA}"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)

    def run(*args, env=None):
        return subprocess.run([sys.executable, "-m", "cnnpipe", *args], cwd=tmp_path, capture_output=True, text=True,
                              env={**os.environ, **(env or {})}, timeout=600)

    return run


def client(uri):
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def only_run(uri, experiment="cnnpipe"):
    mlflow = client(uri)
    found = mlflow.search_runs([mlflow.get_experiment_by_name(experiment).experiment_id])
    assert len(found) == 1
    return mlflow, found[0]


def history(mlflow, run_id, key):
    return [(m.step, m.value) for m in sorted(mlflow.get_metric_history(run_id, key), key=lambda m: m.step)]


def test_a_run_is_read_back_from_the_default_store(cli, tmp_path):
    result = cli("run", "lenet", "fashion-mnist", *QUICK, "--epochs", "2", "--reporter", "default",
                 "--reporter", "mlflow", "--out", "runs")
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    mlflow, run = only_run((tmp_path / "mlruns").as_uri())
    assert run.info.status == "FINISHED" and run.info.run_name == folder.name
    tags = run.data.tags
    assert (tags["backend"], tags["model"], tags["dataset"]) == ("mxnet", "lenet", "fashion-mnist")
    params = run.data.params
    assert params["lr"] == "0.1" and params["batch_size"] == "64" and params["epochs"] == "2"
    assert params["arch.activation"] == "relu" and params["version.mxnet"] == "1.9.1"
    assert params["version.cnnpipe-mlflow"] == "0.2.0"
    epochs = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    for key in ("train_loss", "train_acc", "test_acc"):
        assert history(mlflow, run.info.run_id, key) == [(m["epoch"], pytest.approx(m[key])) for m in epochs]
    artifacts = {a.path for a in mlflow.list_artifacts(run.info.run_id)}
    assert artifacts == {"config.json", "plot.png", "model.params"}
    local = Path(mlflow.download_artifacts(run.info.run_id, "model.params", str(tmp_path / "back")))
    assert local.read_bytes() == (folder / "model.params").read_bytes()
    assert json.loads((folder / "mlflow.json").read_text())["run_id"] == run.info.run_id


def test_a_resumed_run_goes_on_in_the_same_mlflow_run(cli, tmp_path):
    uri = (tmp_path / "store").as_uri()
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": "resumed"}
    first = cli("run", "lenet", "fashion-mnist", *QUICK, "--backend", "torch", "--epochs", "1",
                "--reporter", "mlflow", "--out", "runs", env=env)
    assert first.returncode == 0, first.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    again = cli("run", "--resume", str(folder), "--epochs", "3", "--reporter", "mlflow", env=env)
    assert again.returncode == 0, again.stderr
    mlflow, run = only_run(uri, "resumed")
    assert [step for step, _ in history(mlflow, run.info.run_id, "test_acc")] == [1, 2, 3]
    assert run.info.status == "FINISHED" and run.data.tags["backend"] == "torch"
    assert run.data.tags["cnnpipe.resumed_at_epoch"] == "2"


def test_a_run_resumed_from_another_shell_and_folder_is_one_mlflow_run_with_every_epoch(cli, tmp_path):
    uri = (tmp_path / "store").as_uri()
    first = cli("run", "lenet", "fashion-mnist", *QUICK, "--epochs", "1", "--reporter", "mlflow", "--out", "runs",
                env={"MLFLOW_TRACKING_URI": uri})
    assert first.returncode == 0, first.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = subprocess.run([sys.executable, "-m", "cnnpipe", "run", "--resume", str(folder), "--epochs", "2",
                            "--reporter", "mlflow"], cwd=elsewhere, capture_output=True, text=True, timeout=600,
                           env={**os.environ})  # no MLFLOW_TRACKING_URI (the fixture removed it)
    assert again.returncode == 0, again.stderr
    assert not (elsewhere / "mlruns").exists()
    mlflow, run = only_run(uri)
    assert [step for step, _ in history(mlflow, run.info.run_id, "test_acc")] == [1, 2]


def test_an_unreachable_store_stops_the_run_before_training(cli, tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    result = cli("run", "lenet", "fashion-mnist", *QUICK, "--epochs", "1", "--reporter", "mlflow", "--out", "runs",
                 env={"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"})
    assert result.returncode == 2
    assert result.stderr == (f"cnnpipe: error: reporter 'mlflow' cannot reach the MLflow tracking store "
                             f"http://127.0.0.1:{port} (Connection refused); start it or point MLFLOW_TRACKING_URI "
                             "at one\n")
    assert not (tmp_path / "runs").exists()
    assert time.monotonic() - started < 60


def test_a_store_folder_that_cannot_be_made(cli, tmp_path):
    (tmp_path / "a-file").write_text("")
    result = cli("run", "lenet", "fashion-mnist", *QUICK, "--epochs", "1", "--reporter", "mlflow", "--out", "runs",
                 env={"MLFLOW_TRACKING_URI": str(tmp_path / "a-file" / "mlruns")})
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "reporter 'mlflow' cannot use the MLflow store" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_listed_by_cnnpipe_plugins_without_importing_mlflow(cli):
    result = cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = [r for r in json.loads(result.stdout) if r["dist"] == "cnnpipe-mlflow"]
    assert row["status"] == "ok" and row["registers"] == {"reporters": ["mlflow"]}
    code = "import sys; from cnnpipe.registry import build_registry; build_registry(); print('mlflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_an_interrupted_run_is_killed_in_mlflow(cli, tmp_path):
    import signal

    uri = (tmp_path / "store").as_uri()
    cmd = [sys.executable, "-m", "cnnpipe", "run", "lenet", "fashion-mnist", *QUICK, "--epochs", "500",
           "--reporter", "mlflow", "--out", "runs"]
    with started(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                 env={**os.environ, "MLFLOW_TRACKING_URI": uri}) as proc:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(tmp_path.glob("runs/*/checkpoints/epoch-001/state.json")):
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    mlflow, run = only_run(uri)
    assert run.info.status == "KILLED" and run.data.tags["cnnpipe.error"].startswith("KeyboardInterrupt")
    assert len(history(mlflow, run.info.run_id, "test_acc")) >= 1


def test_a_sqlite_store_is_a_real_sqlite_file_that_mlflow_reads_back(cli, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = cli("run", "lenet", "fashion-mnist", *QUICK, "--epochs", "1", "--reporter", "mlflow", "--out", "runs",
                 env={"MLFLOW_TRACKING_URI": uri})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "mlflow.db").read_bytes()[:16] == b"SQLite format 3\x00"
    mlflow, run = only_run(uri)
    assert run.info.status == "FINISHED" and [s for s, _ in history(mlflow, run.info.run_id, "test_acc")] == [1]


def test_a_sqlite_store_without_its_packages_is_one_line_naming_the_extra(tmp_path):
    # As on a machine without the extra: the SQL store's packages cannot be imported.
    hide = ("import sys; sys.modules['sqlalchemy'] = None; import importlib.util as u; real = u.find_spec; "
            "u.find_spec = lambda n, *a: None if n in ('sqlalchemy', 'alembic') else real(n, *a); "
            "from cnnpipe.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", hide, "run", "lenet", "fashion-mnist", *QUICK, "--epochs", "1",
                             "--reporter", "mlflow", "--out", "runs"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "MLFLOW_TRACKING_URI": "sqlite:///x.db"}, timeout=600)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith(
        "needs sqlalchemy and alembic: pip install 'cnnpipe-mlflow[sqlite]' (from plugins/cnnpipe-mlflow)")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "x.db").exists()
