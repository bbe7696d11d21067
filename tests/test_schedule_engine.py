"""The scheduler's policies with real job containers: a retry after a failing job, a timeout, and GPU jobs
queued on one GPU id.  Schedules are added with the CLI; the test drives the scheduler's passes itself,
so that it can act between them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from cnnpipe.schedule.launcher import DockerLauncher
from cnnpipe.schedule.resources import Resources
from cnnpipe.schedule.scheduler import Scheduler
from cnnpipe.schedule.store import Store

pytestmark = [pytest.mark.docker, pytest.mark.real_data]

RUN = ["lenet", "fashion-mnist", "--limit", "600", "--epochs", "2", "--reporter", "console"]


@pytest.fixture
def home(tmp_path, job_image, monkeypatch):
    """``cnnpipe schedule ...`` in a fresh CNNPIPE_HOME with the job image; returns the command runner."""
    env = {**os.environ, "CNNPIPE_HOME": str(tmp_path / "home"), "CNNPIPE_IMAGE": job_image, "CNNPIPE_GPUS": "0"}

    def cnnpipe(*args):
        done = subprocess.run([sys.executable, "-m", "cnnpipe", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stderr
        return done.stdout

    cnnpipe.store = lambda: Store(tmp_path / "home" / "scheduler.sqlite")
    yield cnnpipe
    launcher = DockerLauncher(cnnpipe.store().id)
    for job in cnnpipe.store().jobs():  # whatever a failing test left running
        launcher.finish(job)


def passes(sched: Scheduler, until, limit: float = 300) -> None:
    """Scheduler passes, half a second apart, until ``until()`` holds."""
    deadline = time.monotonic() + limit
    while not until():
        assert time.monotonic() < deadline, [(j.id, j.state, j.note) for j in sched.store.jobs()]
        sched.tick()
        time.sleep(0.5)


def finished(store: Store, count: int):
    return lambda: len(store.jobs()) >= count and all(j.state not in ("queued", "starting", "running")
                                                      for j in store.jobs())


def test_a_failed_job_is_retried_after_its_backoff_and_the_retry_succeeds(home, tmp_path):
    data = tmp_path / "data"  # the four files are there, so the schedule is accepted; they are not gzip yet
    data.mkdir()
    real = Path("/usr/share/datasets/fashion-mnist")
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (data / name).write_text("not gzip")
    home("schedule", "add", "flaky", "--cron", "0 3 1 1 *", "--retries", "2", "--backoff", "2",
         "--", *RUN, "--data-dir", str(data))
    home("schedule", "run-now", "flaky")
    store = home.store()
    sched = Scheduler(store, DockerLauncher(store.id), Resources(cpu_slots=1))
    passes(sched, lambda: store.job(1).state == "failed")
    first = store.job(1)
    assert first.exit_code == 2
    [retry] = [j for j in store.jobs() if j.id != 1]
    assert (retry.state, retry.trigger, retry.attempt) == ("queued", "retry", 2)
    assert retry.not_before == pytest.approx(first.finished + 2)
    for name in os.listdir(data):  # the data are mended before the retry comes due
        shutil.copyfile(real / name, data / name)
    passes(sched, finished(store, 2))
    jobs = store.jobs()
    assert [(j.id, j.state, j.exit_code) for j in jobs] == [(1, "failed", 2), (2, "succeeded", 0)]
    assert jobs[1].started >= first.finished + 2  # not before its backoff
    summary = json.loads((Path(jobs[1].run_dir) / "summary.json").read_text())
    assert summary["status"] == "succeeded" and summary["epochs"] == 2


def test_a_job_past_its_timeout_is_stopped_and_recorded_failed(home, engine):
    home("schedule", "add", "slow", "--cron", "0 3 1 1 *", "--timeout", "3",
         "--", "lenet", "fashion-mnist", "--limit", "6000", "--epochs", "200", "--reporter", "console")
    home("schedule", "run-now", "slow")
    store = home.store()
    sched = Scheduler(store, DockerLauncher(store.id), Resources(cpu_slots=1))
    passes(sched, lambda: store.job(1).state == "running")
    [container] = engine.containers.list(filters={"label": f"cnnpipe.store={store.id}"})
    assert container.status == "running"
    began = time.monotonic()
    passes(sched, finished(store, 1))
    job = store.job(1)
    assert (job.state, job.note) == ("failed", "timed out after 3 s")
    assert time.monotonic() - began < 60
    assert job.finished - job.started >= 3
    assert engine.containers.list(all=True, filters={"label": f"cnnpipe.store={store.id}"}) == []
    assert (Path(job.out_dir) / "job.log").is_file()  # what it printed is kept
    assert not any(json.loads(p.read_text()).get("status") == "succeeded"
                   for p in Path(job.out_dir).glob("*/summary.json"))


class GpuIdsAsLabels(DockerLauncher):
    """The real launcher, except that GPU ids stay labels for the scheduler: this engine has no GPUs."""

    def start(self, job) -> str:
        return super().start(replace(job, gpus=[]))


def run_log_times(run_dir: str) -> tuple[datetime, datetime]:
    """When the job's run started and finished training, by its own log (the container's clock)."""
    stamps = [datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
              for m in re.finditer(r"^(\S+ \S+) INFO (?:starting|finished after)", Path(run_dir, "run.log").read_text(),
                                   re.MULTILINE)]
    assert len(stamps) == 2, stamps
    return stamps[0], stamps[1]


def test_two_jobs_on_one_gpu_id_never_overlap(home):
    home("schedule", "add", "gpu-a", "--cron", "0 3 1 1 *", "--gpus", "1", "--", *RUN, "--device", "cpu")
    home("schedule", "add", "gpu-b", "--cron", "0 3 1 1 *", "--gpus", "1", "--", *RUN, "--device", "cpu")
    home("schedule", "run-now", "gpu-a")
    home("schedule", "run-now", "gpu-b")
    store = home.store()
    # Both are queued before the first pass; two CPU slots, so only the GPU can keep them apart.
    sched = Scheduler(store, GpuIdsAsLabels(store.id), Resources(gpus=("0",), cpu_slots=2))
    sched.tick()
    assert [j.state for j in store.jobs()] == ["running", "queued"]
    passes(sched, finished(store, 2))
    first, second = store.jobs()
    assert (first.state, second.state) == ("succeeded", "succeeded")
    assert first.gpus == second.gpus == ["0"]
    assert first.finished <= second.started
    first_ran, second_ran = run_log_times(first.run_dir), run_log_times(second.run_dir)
    assert first_ran[1] <= second_ran[0], (first_ran, second_ran)
