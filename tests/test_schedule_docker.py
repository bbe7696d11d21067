"""End to end against the real Docker engine: a run-now job, and a scheduler killed with -9 mid-job."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnpipe.errors import CnnpipeError
from cnnpipe.schedule.store import Store
from cnnpipe.testing import unavailable

pytestmark = [pytest.mark.docker, pytest.mark.real_data]

DATA = "/usr/share/datasets/fashion-mnist"
CNNPIPE = [str(Path(sys.executable).with_name("cnnpipe"))]
if not Path(CNNPIPE[0]).exists():
    CNNPIPE = [sys.executable, "-c", "import sys; from cnnpipe.cli import main; sys.exit(main())"]


@pytest.fixture(scope="module")
def engine():
    from cnnpipe.docker import engine

    try:
        return engine.client()
    except CnnpipeError as exc:
        unavailable(str(exc))


@pytest.fixture(scope="module")
def job_image(engine):
    """The job image: CNNPIPE_TEST_IMAGE, else built (or reused) by ``cnnpipe image build``."""
    if os.environ.get("CNNPIPE_TEST_IMAGE"):
        return os.environ["CNNPIPE_TEST_IMAGE"]
    done = subprocess.run([*CNNPIPE, "image", "build", "--base", "cnnpipe-base:py", "-q"],
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        unavailable(f"cannot build the job image: {done.stderr.strip()[-500:]}")
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def cli(tmp_path, engine, job_image):
    if not Path(DATA).is_dir():
        unavailable(f"{DATA} is missing (Debian package dataset-fashion-mnist)")
    env = {**os.environ, "CNNPIPE_HOME": str(tmp_path / "home"), "CNNPIPE_GPUS": "none", "CNNPIPE_IMAGE": job_image}

    def run(*args, check=True, **kw):
        done = subprocess.run([*CNNPIPE, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, **kw)
        if check:
            assert done.returncode == 0, done.stderr
        return done.stdout

    run.env, run.cwd = env, tmp_path
    run("schedule", "add", "e2e", "--cron", "0 3 1 1 *", "--", "lenet", "fashion-mnist",
        "--epochs", "1", "--limit", "200", "--data-dir", DATA, "--memory", "3g")
    yield run
    from cnnpipe.docker import container as containers

    for container in containers_of(engine, store_of(run)):  # what a failed test left behind
        containers.remove(container)


def store_of(cli) -> Store:
    return Store(Path(cli.env["CNNPIPE_HOME"]) / "scheduler.sqlite")


def containers_of(engine, store: Store) -> list:
    from cnnpipe.docker import engine as engines

    return engines.find(engine, {"cnnpipe.store": store.id})


def pass_until_finished(cli, job_id: int, limit: float = 240) -> dict:
    """``scheduler --once`` every second until the job has an outcome."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        cli("scheduler", "--once")
        job = store_of(cli).job(job_id)
        if job.state not in ("queued", "starting", "running"):
            return job
        time.sleep(1)
    pytest.fail(f"job {job_id} did not finish within {limit} s: {job}")


def check_succeeded(cli, engine, job: dict) -> None:
    assert (job.state, job.exit_code, job.trigger) == ("succeeded", 0, "manual")
    assert job.container and job.started <= job.finished
    run_dir = Path(job.run_dir)
    assert run_dir.parent == Path(job.out_dir) and run_dir.parent.parent == cli.cwd / "runs" / "e2e"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["epochs"] == 1 and 0 < summary["test_acc"] <= 1
    assert containers_of(engine, store_of(cli)) == []  # removed once recorded
    assert "epoch 1" in cli("jobs", "logs", str(job.id))


def test_a_run_now_job_runs_to_completion_and_is_recorded(cli, engine):
    assert cli("schedule", "run-now", "e2e").strip() == "queued job 1"
    job = pass_until_finished(cli, 1)
    check_succeeded(cli, engine, job)
    listed = cli("jobs", "list")
    assert "succeeded  exit 0" in listed and job.run_dir in listed
    assert f"run_dir    {job.run_dir}" in cli("jobs", "show", "1")


def test_a_scheduler_killed_mid_job_records_the_true_outcome_once(cli, engine):
    cli("schedule", "run-now", "e2e")
    daemon = subprocess.Popen([*CNNPIPE, "scheduler", "--interval", "0.5"], cwd=cli.cwd, env=cli.env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while store_of(cli).job(1).state != "running":
            assert time.monotonic() < deadline and daemon.poll() is None, "the scheduler did not start the job"
            time.sleep(0.1)
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.wait(10)
    finally:
        if daemon.poll() is None:
            os.kill(daemon.pid, signal.SIGKILL)
    assert store_of(cli).job(1).state == "running"  # killed before it could record anything
    [container] = containers_of(engine, store_of(cli))
    assert container.attrs["HostConfig"]["Memory"] == 3 * 2**30  # the schedule's --memory reached the container
    job = pass_until_finished(cli, 1)
    check_succeeded(cli, engine, job)
    cli("scheduler", "--once")
    assert [(j.id, j.state) for j in store_of(cli).jobs()] == [(1, "succeeded")]
    assert len(list(Path(job.out_dir).glob("*/config.json"))) == 1  # ran once


def test_a_failing_job_and_a_cancelled_job_are_recorded_as_such(cli, engine, tmp_path):
    broken = tmp_path / "broken-data"  # the four files are there, so the schedule is accepted; they are not gzip
    broken.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (broken / name).write_text("not gzip")
    cli("schedule", "add", "broken", "--cron", "0 3 1 1 *", "--", "lenet", "fashion-mnist",
        "--epochs", "1", "--limit", "200", "--data-dir", str(broken))
    cli("schedule", "run-now", "broken")
    failed = pass_until_finished(cli, 1)
    assert (failed.state, failed.exit_code) == ("failed", 2)
    assert "is not a complete gzip file" in cli("jobs", "logs", "1")  # the one-line error from inside the container

    cli("schedule", "run-now", "e2e")
    cli("scheduler", "--once")
    assert store_of(cli).job(2).state == "running"
    assert cli("jobs", "cancel", "2").strip() == "cancelled job 2"
    cli("scheduler", "--once")
    job = store_of(cli).job(2)
    assert job.state == "cancelled" and job.note == "cancelled by user"
    assert containers_of(engine, store_of(cli)) == []
