"""Scheduler passes against a fake launcher and an injected clock: slots, misfires, policies, the GPU queue."""

from datetime import datetime, timezone

import pytest

from cnnpipe.schedule.records import Job, Request, Schedule
from cnnpipe.schedule.resources import Resources, allocate
from cnnpipe.schedule.scheduler import Scheduler
from cnnpipe.schedule.store import Store
from cnnpipe.schedule.testing import Clock, FakeLauncher

T0 = datetime(2026, 1, 1, 0, 0, tzinfo=timezone.utc).timestamp()
MIN = 60.0


def add(store, name, cron="*/10 * * * *", now=T0, gpus=0, tmp=None, **kw):
    request = Request(model="lenet", dataset="fashion-mnist", args=["lenet", "fashion-mnist"], image="cnnpipe:test",
                      gpus=gpus, out_dir=str(tmp), data_dir=None)
    values = dict(name=name, cron=cron, timezone="UTC", request=request, concurrency="forbid", starting_deadline=3600,
                  retries=0, backoff=60, timeout=None, paused=False, last_slot=now, created=now)
    store.add_schedule(Schedule(**{**values, **kw}))


@pytest.fixture
def env(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    clock = Clock(T0)
    launcher = FakeLauncher()
    sched = Scheduler(store, launcher, Resources(("0", "1"), cpu_slots=1), clock=clock)
    sched.tmp = tmp_path / "runs"
    return store, clock, launcher, sched


def states(store, name=None):
    return [j.state for j in store.jobs(schedule=name)]


def test_a_slot_fires_once_and_its_outcome_is_recorded(env):
    store, clock, launcher, sched = env
    add(store, "a", tmp=sched.tmp)
    clock.advance(9 * MIN)
    sched.tick()
    assert store.jobs() == []
    clock.advance(1 * MIN)
    sched.tick()
    sched.tick()
    [job] = store.jobs()
    assert (job.state, job.slot, launcher.started) == ("running", T0 + 600, [job.id])
    launcher.exit(job.id, 0)
    sched.tick()
    job = store.job(job.id)
    assert (job.state, job.exit_code) == ("succeeded", 0)
    assert job.run_dir.endswith("lenet-fashion-mnist-20260101-000000")
    assert job.out_dir.endswith("a/20260101-001000-job1")
    assert launcher.containers == {}  # removed once recorded


def test_failed_exit_code_is_recorded(env):
    store, clock, launcher, sched = env
    add(store, "a", tmp=sched.tmp)
    clock.advance(10 * MIN)
    sched.tick()
    launcher.exit(1, 3)
    sched.tick()
    assert (store.job(1).state, store.job(1).exit_code) == ("failed", 3)


def test_slots_missed_while_down_run_the_latest_once_and_record_the_rest(env):
    store, clock, launcher, sched = env
    add(store, "a", tmp=sched.tmp)
    clock.advance(65 * MIN)  # slots at 10..60 passed with no scheduler
    sched.tick()
    jobs = store.jobs()
    assert [j.state for j in jobs] == ["missed"] * 5 + ["running"]
    assert [j.slot for j in jobs] == [T0 + k * 600 for k in range(1, 7)]
    assert "no scheduler" in jobs[0].note


def test_latest_slot_past_its_starting_deadline_is_missed(env):
    store, clock, launcher, sched = env
    add(store, "a", tmp=sched.tmp, starting_deadline=120)
    clock.advance(13 * MIN)
    sched.tick()
    [job] = store.jobs()
    assert job.state == "missed" and "starting deadline" in job.note
    assert launcher.started == []


def test_forbid_skips_a_slot_while_the_last_job_runs(env):
    store, clock, launcher, sched = env
    add(store, "a", tmp=sched.tmp, concurrency="forbid")
    clock.advance(10 * MIN)
    sched.tick()
    clock.advance(10 * MIN)
    sched.tick()
    assert states(store) == ["running", "missed"]
    assert "forbid" in store.job(2).note


def test_allow_runs_jobs_side_by_side(env):
    store, clock, launcher, sched = env
    sched.resources = Resources((), cpu_slots=2)
    add(store, "a", tmp=sched.tmp, concurrency="allow")
    for _ in range(2):
        clock.advance(10 * MIN)
        sched.tick()
    assert states(store) == ["running", "running"]


def test_replace_cancels_the_running_job_and_starts_the_new_one(env):
    store, clock, launcher, sched = env
    add(store, "a", tmp=sched.tmp, concurrency="replace")
    clock.advance(10 * MIN)
    sched.tick()
    clock.advance(10 * MIN)
    sched.tick()
    assert states(store) == ["cancelled", "running"]
    assert store.job(1).note == "replaced by job 2"
    assert launcher.stopped == [1] and launcher.running() == [2]


def test_retries_wait_with_doubling_backoff_then_stop(env):
    store, clock, launcher, sched = env
    add(store, "a", tmp=sched.tmp, retries=2, backoff=30)
    clock.advance(10 * MIN)
    sched.tick()
    launcher.exit(1, 1)
    sched.tick()
    retry = store.job(2)
    assert (retry.state, retry.attempt, retry.slot) == ("queued", 2, store.job(1).slot)
    clock.advance(29)
    sched.tick()
    assert store.job(2).state == "queued"
    clock.advance(1)
    sched.tick()
    assert store.job(2).state == "running"
    launcher.exit(2, 1)
    sched.tick()
    assert store.job(3).not_before == clock() + 60  # 30 s doubled
    clock.advance(60)
    sched.tick()
    launcher.exit(3, 1)
    sched.tick()
    assert states(store) == ["failed", "failed", "failed"]  # 1 + 2 retries, no more


def test_a_job_past_its_timeout_is_stopped_and_failed(env):
    store, clock, launcher, sched = env
    add(store, "a", tmp=sched.tmp, timeout=300)
    clock.advance(10 * MIN)
    sched.tick()
    clock.advance(299)
    sched.tick()
    assert store.job(1).state == "running"
    clock.advance(2)
    sched.tick()
    job = store.job(1)
    assert job.state == "failed" and "timed out" in job.note
    assert launcher.stopped == [1] and launcher.containers == {}


def test_gpus_are_exclusive_and_queued_jobs_wait_in_order(env):
    store, clock, launcher, sched = env
    for name in ("g1", "g2", "g3"):
        add(store, name, tmp=sched.tmp, gpus=1)
    clock.advance(10 * MIN)
    sched.tick()
    jobs = store.jobs()
    assert [j.state for j in jobs] == ["running", "running", "queued"]
    assert sorted(jobs[0].gpus + jobs[1].gpus) == ["0", "1"]
    freed = jobs[1].gpus
    launcher.exit(jobs[1].id, 0)
    sched.tick()
    assert store.job(jobs[2].id).gpus == freed


def test_a_big_gpu_request_is_not_overtaken(env):
    store, clock, launcher, sched = env
    for name, gpus in (("one", 1), ("two", 2), ("late", 1)):
        add(store, name, cron="0 0 1 1 *", tmp=sched.tmp, gpus=gpus)
    one = sched.run_now("one")
    sched.tick()  # "one" holds one of the two GPUs
    two, late = sched.run_now("two"), sched.run_now("late")
    sched.tick()
    assert [store.job(i).state for i in (two, late)] == ["queued", "queued"]
    launcher.exit(one, 0)
    sched.tick()
    assert store.job(two).gpus == ["0", "1"] and store.job(two).state == "running"
    assert store.job(late).state == "queued"


def test_allocate_never_oversubscribes():
    res = Resources(("0", "1", "2"), cpu_slots=2)
    def job(i, g, held=()):
        return Job(id=i, schedule="s", slot=0, state="queued", gpus=list(held),
                   request=Request(model="m", dataset="d", args=[], gpus=g))

    busy = [job(9, 1, ["1"]), job(8, 0)]
    chosen = allocate([job(1, 2), job(2, 1), job(3, 0), job(4, 0)], busy, res)
    assert [(j.id, g) for j, g in chosen] == [(1, ["0", "2"]), (3, [])]


def test_cpu_jobs_are_limited_by_the_configured_concurrency(env):
    store, clock, launcher, sched = env
    add(store, "c1", tmp=sched.tmp)
    add(store, "c2", tmp=sched.tmp)
    clock.advance(10 * MIN)
    sched.tick()
    assert states(store) == ["running", "queued"]
    launcher.exit(1, 0)
    sched.tick()
    assert states(store) == ["succeeded", "running"]


def test_paused_schedules_do_not_fire_and_resume_owes_nothing(env):
    store, clock, launcher, sched = env
    add(store, "a", tmp=sched.tmp)
    store.set_paused("a", True, clock())
    clock.advance(30 * MIN)
    sched.tick()
    assert store.jobs() == []
    store.set_paused("a", False, clock())
    sched.tick()
    assert store.jobs() == []
    clock.advance(10 * MIN)
    sched.tick()
    assert states(store) == ["running"]


def test_run_now_queues_a_manual_job(env):
    store, clock, launcher, sched = env
    add(store, "a", tmp=sched.tmp)
    job_id = sched.run_now("a")
    assert sched.run_now("a") != job_id
    sched.tick()
    assert store.job(job_id).trigger == "manual" and store.job(job_id).state == "running"


def test_a_container_that_cannot_start_fails_the_job_with_the_reason(env):
    store, clock, launcher, sched = env
    add(store, "a", tmp=sched.tmp)
    launcher.refuse = "image 'cnnpipe:test' not found"
    sched.run_now("a")
    sched.tick()
    job = store.job(1)
    assert job.state == "failed" and "image 'cnnpipe:test' not found" in job.note


def test_slots_follow_the_schedules_time_zone(env):
    store, clock, launcher, sched = env
    add(store, "berlin", cron="0 2 * * *", tmp=sched.tmp, timezone="Europe/Berlin")
    clock.advance(24 * 3600)
    sched.tick()
    [job] = store.jobs()
    assert job.slot == T0 + 3600  # 02:00 in Berlin is 01:00 UTC in winter
