"""Restarts and rivals on a real SQLite file: slots fire at most once, outcomes are recorded once."""

import json
import multiprocessing
import os
import sqlite3

import pytest

from cnnpipe.errors import UsageError
from cnnpipe.schedule import store as store_mod
from cnnpipe.schedule.resources import Resources
from cnnpipe.schedule.scheduler import START_GRACE, Scheduler
from cnnpipe.schedule.store import SCHEMA_VERSION, Store
from cnnpipe.schedule.testing import Clock, FakeLauncher

from test_schedule_scheduler import MIN, T0, add


def scheduler(path, clock, launcher):
    """A fresh scheduler process, as after a restart: new connection, nothing kept in memory."""
    return Scheduler(Store(path), launcher, Resources(("0",), cpu_slots=2), clock=clock)


def test_a_killed_scheduler_is_replaced_and_records_the_true_outcome_once(tmp_path):
    path, clock, engine = tmp_path / "s.sqlite", Clock(T0), FakeLauncher()
    first = scheduler(path, clock, engine)
    add(first.store, "a", tmp=tmp_path / "runs")
    clock.advance(10 * MIN)
    first.tick()
    del first  # kill -9: no clean-up runs; the container keeps going
    engine.exit(1, 0)
    clock.advance(5 * MIN)
    second = scheduler(path, clock, engine)
    second.tick()
    second.tick()
    assert [(j.id, j.state, j.exit_code) for j in second.store.jobs()] == [(1, "succeeded", 0)]
    assert engine.started == [1] and engine.containers == {}


def test_a_restarted_scheduler_re_attaches_to_a_running_job(tmp_path):
    path, clock, engine = tmp_path / "s.sqlite", Clock(T0), FakeLauncher()
    first = scheduler(path, clock, engine)
    add(first.store, "a", tmp=tmp_path / "runs")
    clock.advance(10 * MIN)
    first.tick()
    second = scheduler(path, clock, engine)
    clock.advance(MIN)
    second.tick()
    assert second.store.job(1).state == "running" and engine.started == [1]
    engine.exit(1, 2)
    second.tick()
    assert (second.store.job(1).state, second.store.job(1).exit_code) == ("failed", 2)


def test_a_job_whose_container_vanished_is_recorded_lost(tmp_path):
    path, clock, engine = tmp_path / "s.sqlite", Clock(T0), FakeLauncher()
    first = scheduler(path, clock, engine)
    add(first.store, "a", tmp=tmp_path / "runs")
    clock.advance(10 * MIN)
    first.tick()
    engine.containers.clear()  # someone ran docker rm -f
    scheduler(path, clock, engine).tick()
    assert first.store.job(1).state == "lost"


def test_a_claim_left_by_a_dead_scheduler_is_started_once(tmp_path):
    path, clock, engine = tmp_path / "s.sqlite", Clock(T0), FakeLauncher()
    first = scheduler(path, clock, engine)
    add(first.store, "a", tmp=tmp_path / "runs")
    first.run_now("a")
    first._start = lambda job: None  # dies after claiming, before the container exists
    first.dispatch()
    assert first.store.job(1).state == "starting"
    second = scheduler(path, clock, engine)
    second.tick()
    assert second.store.job(1).state == "starting"  # the first may still be starting it
    clock.advance(START_GRACE + 1)
    second.tick()  # taken back and queued
    second.tick()
    assert second.store.job(1).state == "running" and engine.started == [1]


def test_a_claim_whose_container_did_start_is_re_attached_not_run_again(tmp_path):
    path, clock, engine = tmp_path / "s.sqlite", Clock(T0), FakeLauncher()
    first = scheduler(path, clock, engine)
    add(first.store, "a", tmp=tmp_path / "runs")
    first.run_now("a")
    # dies after the container started, before recording it
    first._start = lambda job: engine.start(job)
    first.dispatch()
    clock.advance(START_GRACE + 1)
    second = scheduler(path, clock, engine)
    second.tick()
    second.tick()
    assert second.store.job(1).state == "running" and engine.started == [1]
    assert second.store.job(1).container == "fake1"


def test_a_leftover_container_of_a_finished_job_is_removed(tmp_path):
    path, clock, engine = tmp_path / "s.sqlite", Clock(T0), FakeLauncher()
    first = scheduler(path, clock, engine)
    add(first.store, "a", tmp=tmp_path / "runs")
    first.run_now("a")
    first.tick()
    with first.store.tx() as db:  # recorded as cancelled, then killed before stopping it
        first.store.update_job(db, 1, "running", state="cancelled")
    scheduler(path, clock, engine).tick()
    assert engine.containers == {} and engine.stopped == [1]


def test_slots_missed_across_a_restart_are_recorded(tmp_path):
    path, clock, engine = tmp_path / "s.sqlite", Clock(T0), FakeLauncher()
    add(Store(path), "a", tmp=tmp_path / "runs", starting_deadline=60)
    clock.advance(3 * 3600 + 5 * MIN)  # the 03:00 slot is 5 minutes late, past its 60 s deadline
    scheduler(path, clock, engine).tick()
    jobs = Store(path).jobs()
    assert len(jobs) == 18 and {j.state for j in jobs} == {"missed"}
    clock.advance(5 * MIN)
    scheduler(path, clock, engine).tick()
    assert Store(path).jobs()[-1].state == "running"


def _tick_in_process(path, now, marker_dir, barrier):
    engine = FakeLauncher()
    real_start = engine.start

    def start(job):
        (marker_dir / f"job{job.id}-{os.getpid()}").touch()
        return real_start(job)

    engine.start = start
    sched = scheduler(path, Clock(now), engine)
    barrier.wait()
    sched.fire()
    sched.dispatch()


def test_two_scheduler_processes_on_one_file_fire_a_slot_once(tmp_path):
    path = tmp_path / "s.sqlite"
    parent = Store(path)
    add(parent, "a", cron="* * * * *", tmp=tmp_path / "runs")
    parent.close()  # no connection may cross into the children
    markers = tmp_path / "started"
    markers.mkdir()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_tick_in_process, args=(path, T0 + 5 * MIN, markers, barrier)) for _ in range(2)]
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
    finally:
        for p in procs:  # a child stuck past the join would otherwise hold pytest at exit
            if p.is_alive():
                p.kill()
                p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    jobs = Store(path).jobs()
    assert [j.state for j in jobs] == ["missed"] * 4 + ["running"]
    assert len(list(markers.iterdir())) == 1


OLD_SPEC = {"model": "lenet", "dataset": "fashion-mnist", "args": ["lenet", "fashion-mnist", "--out", "/runs"],
            "image": "cnnpipe-job:cpu-0", "gpus": 0, "out_dir": "runs", "data_dir": None, "memory": "2g", "cpus": None}


def write_version_2_file(path, out_dir) -> None:
    """A store exactly as cnnpipe 0.2 wrote it (schema version 2: the "spec" columns), with a schedule and a job."""
    spec = {**OLD_SPEC, "out_dir": str(out_dir)}
    db = sqlite3.connect(path)
    for migration in store_mod.MIGRATIONS[:2]:  # shipped migrations are never edited
        db.executescript(migration)
    db.execute("INSERT INTO meta VALUES ('store_id', 'old0store0id')")
    db.execute("INSERT INTO schedules (name, cron, timezone, spec, concurrency, starting_deadline, retries, backoff,"
               " timeout, paused, last_slot, created) VALUES ('a', '*/10 * * * *', 'UTC', ?, 'forbid', 3600, 1, 60,"
               " 600, 0, ?, ?)", (json.dumps(spec), T0, T0))
    db.execute("INSERT INTO jobs (schedule, slot, attempt, trigger, state, spec, gpus, exit_code, out_dir, created,"
               " finished) VALUES ('a', ?, 1, 'cron', 'succeeded', ?, '', 0, 'runs/a/x-job1', ?, ?)",
               (T0, json.dumps({**spec, "timeout": 600}), T0, T0 + 60))
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()


def test_a_version_2_file_is_migrated_and_keeps_its_data(tmp_path):
    path = tmp_path / "s.sqlite"
    write_version_2_file(path, tmp_path / "runs")
    store = Store(path)
    assert store.version() == SCHEMA_VERSION == 3 and store.id == "old0store0id"
    [schedule] = store.schedules()
    assert (schedule.name, schedule.request.image, schedule.request.memory, schedule.timeout) == (
        "a", "cnnpipe-job:cpu-0", "2g", 600)
    [job] = store.jobs()
    assert (job.state, job.exit_code, job.request.args, job.request.timeout) == ("succeeded", 0, OLD_SPEC["args"], 600)
    indexes = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"jobs_by_state", "jobs_by_schedule"} <= indexes
    # and the migrated file works: the next slot fires and starts
    clock, engine = Clock(T0 + 10 * MIN), FakeLauncher()
    Scheduler(store, engine, Resources((), cpu_slots=1), clock=clock).tick()
    assert [j.state for j in Store(path).jobs()] == ["succeeded", "running"]


def test_a_file_from_a_newer_cnnpipe_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(UsageError, match="newer than this cnnpipe knows"):
        Store(path)


def test_the_store_lives_under_cnnpipe_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPIPE_HOME", str(tmp_path / "home"))
    assert Store().path == tmp_path / "home" / "scheduler.sqlite"
    assert (tmp_path / "home" / "scheduler.sqlite").is_file()
