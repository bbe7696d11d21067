"""The scheduler and its store under faults, on a real SQLite file (and, where a container is involved, the
real engine): no single schedule stops the others, bad values are refused at ``add``, a damaged store is
refused and left as it is, and a pass tolerates another scheduler's work."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnpipe.errors import UsageError
from cnnpipe.schedule.resources import Resources
from cnnpipe.schedule.scheduler import Scheduler
from cnnpipe.schedule.store import Store
from cnnpipe.schedule.testing import Clock, FakeLauncher
from cnnpipe.testing import unavailable
from schedule_support import cli, one_line_error  # noqa: F401  (cli is a fixture)

T0 = 1767225600.0  # 2026-01-01 00:00 UTC
MIN = 60.0

DATA = Path("/usr/share/datasets/fashion-mnist")
GOOD = ["--", "lenet", "fashion-mnist", "--epochs", "1", "--limit", "200"]
CNNPIPE = [str(Path(sys.executable).with_name("cnnpipe"))]


# 1. A schedule that can never fire

@pytest.mark.parametrize("cron", ["0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6 *"])
def test_a_cron_line_no_date_matches_is_refused_at_add(cli, cron):
    line = one_line_error(cli("schedule", "add", "never", "--cron", cron, *GOOD, code=2))
    assert f"cron expression '{cron}' never matches a date" in line
    assert Store().schedules() == []


def insert_raw(path: Path, name: str, **values) -> None:
    """A copy of schedule "good" written past every check, as a hand edit, a bug or an older cnnpipe could."""
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    row = dict(db.execute("SELECT * FROM schedules WHERE name = 'good'").fetchone())
    if "request" in values and "request" not in row:  # the column's name before schema 3
        values["spec"] = values.pop("request")
    row.update(name=name, **values)
    db.execute(f"INSERT INTO schedules ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))
    db.commit()
    db.close()


def test_no_schedule_however_broken_stops_the_others(cli, tmp_path, caplog):
    cli("schedule", "add", "good", "--cron", "*/10 * * * *", *GOOD)
    path = Store().path
    insert_raw(path, "feb30", cron="0 0 30 2 *")
    insert_raw(path, "mars", timezone="Mars/Olympus")
    insert_raw(path, "garbled", request="{not json")
    insert_raw(path, "hollow", request=json.dumps({"model": "lenet"}))
    with sqlite3.connect(path) as db:  # last_slot in the past, so that slots are due
        db.execute("UPDATE schedules SET last_slot = ?", (T0,))
    engine = FakeLauncher()
    sched = Scheduler(Store(path), engine, Resources((), cpu_slots=4), clock=Clock(T0 + 15 * MIN))
    with caplog.at_level(logging.ERROR, logger="cnnpipe.scheduler"):
        sched.tick()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT schedule, state FROM jobs").fetchall() == [("good", "running")]
        problems = dict(db.execute("SELECT name, problem FROM schedules"))
    assert len(engine.started) == 1
    assert problems["good"] is None
    assert "never matches" in problems["feb30"] or "failed to find" in problems["feb30"]
    assert "Mars/Olympus" in problems["mars"]
    assert "request cannot be read" in problems["garbled"] and "request cannot be read" in problems["hollow"]
    assert sum("cannot fire" in r.getMessage() for r in caplog.records) == 4
    listed = cli("schedule", "list")
    assert "good" in listed and listed.count("cannot fire") == 4
    assert "cannot fire" in cli("schedule", "show", "mars")
    assert "cannot fire" in cli("schedule", "show", "garbled")
    assert "cannot be exported" in one_line_error(cli("schedule", "export", "garbled", "--kubernetes", code=2))
    cli("jobs", "list")


def test_a_job_whose_stored_request_is_damaged_fails_alone(cli, tmp_path):
    cli("schedule", "add", "good", "--cron", "0 3 1 1 *", *GOOD)
    store = Store()
    first, second = store.queue_now("good", T0), store.queue_now("good", T0 + 1)
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE jobs SET request = 'garbage' WHERE id = ?", (first,))
    engine = FakeLauncher()
    Scheduler(Store(), engine, Resources((), cpu_slots=2), clock=Clock(T0 + 2)).tick()
    assert (Store().job(first).state, Store().job(first).note) == ("failed", "its stored request cannot be read")
    assert Store().job(second).state == "running" and engine.started == [second]
    assert "cannot be read" in cli("jobs", "show", str(first))


# 6. Values

@pytest.mark.parametrize("args, message", [
    (["--timeout", "nan"], "--timeout must be a positive number of seconds, got nan"),
    (["--timeout", "inf"], "--timeout must be a positive number of seconds, got inf"),
    (["--starting-deadline", "nan"], "--starting-deadline must be a positive number of seconds, got nan"),
    (["--backoff", "nan"], "--backoff must not be negative (a finite number), got nan"),
    (["--backoff", "inf"], "--backoff must not be negative (a finite number), got inf"),
])
def test_non_finite_schedule_values_are_refused(cli, args, message):
    line = one_line_error(cli("schedule", "add", "n", "--cron", "@daily", *args, *GOOD, code=2))
    assert message in line
    assert Store().schedules() == []


@pytest.mark.parametrize("run_args, message", [
    (["--cpus", "nan"], "--cpus must be positive, got nan"),
    (["--timeout", "inf"], "--timeout must be a positive number of seconds, got inf"),
    (["--memory", "0"], "--memory must be at least 6m"),
])
def test_non_finite_container_limits_are_refused(cli, run_args, message):
    line = one_line_error(cli("schedule", "add", "n", "--cron", "@daily", *GOOD, *run_args, code=2))
    assert message in line
    assert Store().schedules() == []


@pytest.mark.parametrize("interval", ["nan", "inf", "-1"])
def test_the_scheduler_interval_must_be_finite_and_positive(cli, interval):
    assert "--interval must be a positive number of seconds" in one_line_error(cli("scheduler", "--interval", interval, code=2))


# 8. The store

def store_with_history(cli, path: Path) -> None:
    cli("schedule", "add", "good", "--cron", "@daily", *GOOD)
    cli("schedule", "run-now", "good")
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    row = dict(db.execute("SELECT * FROM jobs").fetchone())
    del row["id"]
    for i in range(1, 200):  # a history of several pages
        row["slot"] += 1
        db.execute(f"INSERT INTO jobs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))
    db.commit()
    gc.collect()  # the stores the commands above opened in this process: closed, so none writes later
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def damage(path: Path, how: str) -> None:
    if how == "empty":
        path.write_bytes(b"")
    elif how == "not a database":
        path.write_text("schedules: none\n")
    else:  # pages overwritten in the middle: the header still says SQLite
        data = bytearray(path.read_bytes())
        assert len(data) > 6 * 4096
        data[2 * 4096:5 * 4096] = bytes((i * 37 + 11) % 256 for i in range(3 * 4096))
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["empty", "not a database", "corrupt pages"])
def test_a_damaged_store_is_refused_and_left_as_it_is(cli, how):
    path = Path(os.environ["CNNPIPE_HOME"]) / "scheduler.sqlite"
    store_with_history(cli, path)
    damage(path, how)
    before = digest(path)
    for command in (["schedule", "list"], ["jobs", "list"], ["schedule", "add", "x", "--cron", "@daily", *GOOD]):
        line = one_line_error(cli(*command, code=2))
        assert line.startswith(f"cnnpipe: error: the scheduler store {path} is damaged (")
    assert digest(path) == before
    with pytest.raises(UsageError, match="is damaged"):
        Store(path)


def test_two_processes_creating_the_store_at_once_share_one(tmp_path):
    path = tmp_path / "home" / "scheduler.sqlite"
    code = "import sys; from cnnpipe.schedule.store import Store; print(Store(sys.argv[1]).id)"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
             for _ in range(4)]
    ids = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(ids) == 1 and ids != {""}
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.endswith(("-wal", "-shm"))) == ["scheduler.sqlite"]


# With the real engine: 6 (an image that does not exist), 7 (a deleted dataset folder), 9 (another scheduler)

@pytest.fixture(scope="module")
def engine():
    try:
        import docker

        client = docker.from_env()
        client.ping()
        return client
    except Exception as exc:
        unavailable(f"no Docker engine: {exc}")


@pytest.fixture(scope="module")
def job_image(engine):
    done = subprocess.run([*CNNPIPE, "image", "build", "--base", "cnnpipe-base:py", "-q"], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def real_cli(tmp_path, image):
    env = {**os.environ, "CNNPIPE_HOME": str(tmp_path / "home"), "CNNPIPE_GPUS": "none", "CNNPIPE_IMAGE": image}

    def run(*args):
        return subprocess.run([*CNNPIPE, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    return run


def remove_containers_of(engine, store_path: Path) -> None:
    with sqlite3.connect(store_path) as db:
        store_id = db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0]
    for found in engine.containers.list(all=True, filters={"label": f"cnnpipe.store={store_id}"}):
        found.remove(force=True)


@pytest.mark.docker
def test_an_image_the_engine_lacks_is_refused_at_add(engine, tmp_path):
    run = real_cli(tmp_path, "cnnpipe-job:no-such-image")
    done = run("schedule", "add", "n", "--cron", "@daily", *GOOD)
    assert done.returncode == 2
    assert "image 'cnnpipe-job:no-such-image' is not in the Docker engine" in one_line_error(done.stderr)
    assert not (tmp_path / "home" / "scheduler.sqlite").exists()  # refused before the store was opened


@pytest.mark.docker
@pytest.mark.real_data
def test_a_deleted_dataset_folder_fails_the_job_and_is_not_recreated(engine, job_image, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for f in DATA.iterdir():
        (data / f.name).symlink_to(f)
    run = real_cli(tmp_path, job_image)
    added = run("schedule", "add", "n", "--cron", "0 3 1 1 *", *GOOD, "--data-dir", str(data))
    assert added.returncode == 0, added.stderr
    shutil.rmtree(data)
    store_path = tmp_path / "home" / "scheduler.sqlite"
    try:
        assert run("schedule", "run-now", "n").returncode == 0
        done = run("scheduler", "--once")
        assert done.returncode == 0, done.stderr
        with sqlite3.connect(store_path) as db:
            state, note = db.execute("SELECT state, note FROM jobs WHERE id = 1").fetchone()
        assert state == "failed" and f"the dataset folder {data} does not exist" in note
        assert not data.exists()  # the engine did not make an empty one in its place
    finally:
        remove_containers_of(engine, store_path)


@pytest.mark.docker
def test_a_pass_tolerates_containers_another_scheduler_removed(engine, job_image, tmp_path):
    """The other scheduler removes each container right after this one listed it: no pass may fail."""
    from cnnpipe.docker import engine as engines
    from cnnpipe.schedule.launcher import DockerLauncher

    run = real_cli(tmp_path, job_image)
    # `cnnpipe run --help` in the container: a job that exits at once
    added = run("schedule", "add", "n", "--cron", "0 3 1 1 *", "--", "lenet", "fashion-mnist", "--epochs", "1")
    assert added.returncode == 0, added.stderr
    store = Store(tmp_path / "home" / "scheduler.sqlite")
    with sqlite3.connect(store.path) as db:
        request = json.loads(db.execute("SELECT request FROM schedules").fetchone()[0])
        request["args"] = ["--help"]
        db.execute("UPDATE schedules SET request = ?", (json.dumps(request),))
    assert run("schedule", "run-now", "n").returncode == 0
    launcher = DockerLauncher(store.id)
    sched = Scheduler(store, launcher, Resources((), cpu_slots=1))
    try:
        sched.tick()
        assert store.job(1).state == "running"
        deadline = time.monotonic() + 60
        while launcher.status(store.job(1)).state != "exited":
            assert time.monotonic() < deadline
            time.sleep(0.2)

        def rival_removes(job):
            found = engines.find(launcher.client, {"cnnpipe.store": store.id, "cnnpipe.job": str(job.id)})
            for container in found:
                launcher.client.api.remove_container(container.id, force=True)
            return found  # as listed a moment before

        launcher._find = rival_removes
        assert launcher.logs(store.job(1)) is None
        launcher.finish(store.job(1))
        sched.tick()  # reload() meets a 404: the job's container is gone
        assert store.job(1).state == "lost"
    finally:
        remove_containers_of(engine, store.path)


@pytest.mark.docker
@pytest.mark.real_data
def test_a_finished_job_on_a_full_disk_is_cleared_in_one_pass_and_keeps_its_outcome(engine, job_image, tmp_path):
    """Issue 24, item 8: the job's output cannot be kept (no room), yet its container and staging folder go, its
    outcome stays ``succeeded``, and the next pass has nothing left to warn about."""
    from fault_plugins import fill_disk

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    run = real_cli(tmp_path, job_image)
    store_path = tmp_path / "home" / "scheduler.sqlite"
    try:
        added = run("schedule", "add", "n", "--cron", "0 3 1 1 *", *GOOD, "--out", str(disk))
        assert added.returncode == 0, added.stderr
        assert run("schedule", "run-now", "n").returncode == 0
        assert run("scheduler", "--once").returncode == 0  # starts the job
        deadline = time.monotonic() + 240
        with sqlite3.connect(store_path) as db:
            store_id = db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0]
        label = {"label": f"cnnpipe.store={store_id}"}
        while time.monotonic() < deadline and any(c.status != "exited" for c in engine.containers.list(all=True, filters=label)):
            time.sleep(0.5)
        fill_disk(disk / "filler")
        done = run("scheduler", "--once")
        assert done.returncode == 0, done.stderr
        with sqlite3.connect(store_path) as db:
            state, = db.execute("SELECT state FROM jobs WHERE id = 1").fetchone()
        assert state == "succeeded", done.stderr
        assert engine.containers.list(all=True, filters=label) == [], done.stderr
        assert not [p for p in disk.rglob(".cnnpipe-job-*")], list(disk.rglob("*"))
        assert "no space left on device" in done.stderr.lower()
        again = run("scheduler", "--once")
        assert again.returncode == 0 and "space left" not in again.stderr.lower(), again.stderr
    finally:
        remove_containers_of(engine, store_path)
        subprocess.run(["umount", "-l", str(disk)], check=False)
