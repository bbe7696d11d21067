"""One scheduler pass: record the outcome of running jobs, fire due slots, start queued jobs.

Every decision is taken inside an immediate SQLite transaction and conditioned on the job's
state, so two schedulers on one file, or one restarted after ``kill -9``, never both act on a job.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from pathlib import Path

from dataclasses import replace

from ..errors import CnnpipeError, UsageError
from ..rundir import CONFIG
from . import slots
from .records import Job, Schedule
from .resources import Resources, allocate
from .store import ACTIVE, FINISHED, Store

log = logging.getLogger("cnnpipe.scheduler")

# A job claimed by a scheduler that died before its container existed is taken back after this long.
START_GRACE = 60.0


class Scheduler:
    """Fires the schedules of ``store`` and runs their jobs through ``launcher``; ``clock`` gives epoch seconds."""

    def __init__(self, store: Store, launcher, resources: Resources, clock=time.time):
        self.store = store
        self.launcher = launcher
        self.resources = resources
        self.clock = clock

    def tick(self) -> None:
        """One pass; ``cnnpipe scheduler --once`` is exactly this."""
        self.reconcile()
        self.fire()
        self.dispatch()

    # outcomes

    def reconcile(self) -> None:
        """Record what happened to running jobs, take back stale claims, and clear finished containers."""
        for job in self.store.jobs(states=("running",)):
            self._each(job, self._check_running)
        for job in self.store.jobs(states=("starting",)):
            if job.started is not None and self.clock() - job.started > START_GRACE:
                self._each(job, self._take_back)
        for job_id in self.launcher.job_ids():
            try:
                job = self.store.job(job_id)
            except UsageError:  # a container of this store's id whose job row is gone: not ours to judge
                continue
            if job.state in FINISHED:
                self._each(job, self.clear)

    def _each(self, job: Job, step) -> None:
        """``step(job)``; an error is logged and the pass goes on with the other jobs.

        Another scheduler on the same store may remove a container between two calls to the engine;
        the next pass sees the outcome it recorded.
        """
        try:
            step(job)
        except Exception as exc:
            log.warning("job %s (%s): %s: %s", job.id, job.schedule, type(exc).__name__, str(exc).splitlines()[0]
                        if str(exc) else "")

    def clear(self, job: Job) -> None:
        """Remove a finished job's container (keeping its output), then note the run folder it left."""
        clear(self.store, self.launcher, job)

    def _check_running(self, job: Job) -> None:
        now = self.clock()
        status = self.launcher.status(job)
        if status is None:
            self._end(job, "lost", note="its container disappeared before its outcome was recorded")
        elif status.state == "exited":
            ok = status.exit_code == 0
            note = "killed for using more memory than allowed" if status.oom else None
            self._end(job, "succeeded" if ok else "failed", exit_code=status.exit_code, note=note)
        elif status.state == "created":
            self._end(job, "lost", note="its container was created but never started")
        else:
            timeout = job.request.timeout
            if timeout and job.started is not None and now - job.started > timeout:
                self._end(job, "failed", note=f"timed out after {timeout:g} s")

    def _take_back(self, job: Job) -> None:
        """A claimed job whose starter died: attach to its container if it has one, else queue it again."""
        status = self.launcher.status(job)
        with self.store.tx() as db:
            if status is not None and status.state != "created":
                self.store.update_job(db, job.id, "starting", state="running", container=status.container)
                return
            self.store.update_job(db, job.id, "starting", state="queued", gpus=None, started=None,
                                  note="queued again: its scheduler stopped before starting it")
        if status is not None:
            self.launcher.finish(job)  # created but never started: nothing ran

    def _end(self, job: Job, state: str, exit_code=None, note=None) -> bool:
        """Record ``job``'s outcome once (with a retry when its schedule allows), then clear its container."""
        now = self.clock()
        with self.store.tx() as db:
            won = self.store.update_job(db, job.id, ("running", "starting"), state=state, exit_code=exit_code,
                                        finished=now, note=note or job.note)
            if won and state in ("failed", "lost"):
                self._retry(db, job, now)
        if won:
            log.info("job %s (%s) %s%s", job.id, job.schedule, state, f": {note}" if note else "")
            self.clear(job)
        return won

    def _retry(self, db, job: Job, now: float) -> None:
        row = db.execute("SELECT retries, backoff FROM schedules WHERE name = ?", (job.schedule,)).fetchone()
        if row is None or job.request is None or job.attempt > row["retries"]:
            return
        delay = row["backoff"] * 2 ** (job.attempt - 1)
        self.store.insert_job(db, job.schedule, job.request, job.slot, now, trigger="retry", attempt=job.attempt + 1,
                              not_before=now + delay, note=f"retry {job.attempt} of job {job.id}")

    # slots

    def fire(self) -> None:
        """Turn each schedule's due slots into jobs: the latest runs if within its deadline, older ones are missed.

        A schedule that cannot fire (a cron line no date matches, an unknown time zone, a damaged row) is
        logged and marked with its problem; the others fire as usual.
        """
        for schedule in self.store.schedules():
            if schedule.paused:
                continue
            try:
                replaced = self._fire_one(schedule.name)
            except Exception as exc:
                self._trouble(schedule, exc)
                continue
            if schedule.problem is not None:
                self.store.set_problem(schedule.name, None)
            for job in replaced:
                self._each(job, self.clear)

    def _fire_one(self, name: str) -> list[Job]:
        with self.store.tx() as db:
            now = self.clock()
            row = db.execute("SELECT 1 FROM schedules WHERE name = ? AND paused = 0", (name,)).fetchone()
            if row is None:
                return []
            schedule = self.store.schedule(name)
            if schedule.request is None:
                raise ValueError(schedule.problem)
            due = slots.due(schedule.cron, schedule.timezone, schedule.last_slot, now)
            if not due:
                return []
            for slot in due[:-1]:
                self.store.insert_job(db, name, schedule.job_request(), slot, now, state="missed",
                                      note="slot passed while no scheduler was running")
            replaced = self._fire_latest(db, schedule, due[-1], now)
            db.execute("UPDATE schedules SET last_slot = ? WHERE name = ?", (due[-1], name))
        return replaced

    def _trouble(self, schedule: Schedule, exc: Exception) -> None:
        problem = str(exc) if isinstance(exc, CnnpipeError) else f"{type(exc).__name__}: {exc}"
        problem = problem.splitlines()[0] if problem else type(exc).__name__
        log.error("schedule %s cannot fire: %s", schedule.name, problem)
        if problem != schedule.problem:
            self.store.set_problem(schedule.name, problem)

    def _fire_latest(self, db, schedule: Schedule, slot: float, now: float) -> list:
        deadline = schedule.starting_deadline
        late = now - slot
        if deadline is not None and late > deadline:
            self.store.insert_job(db, schedule.name, schedule.job_request(), slot, now, state="missed",
                                  note=f"{late:.0f} s late, past the starting deadline of {deadline:g} s")
            return []
        active = [j for j in self.store.jobs(schedule=schedule.name, states=ACTIVE) if j.slot != slot]
        policy = schedule.concurrency
        if active and policy == "forbid":
            ids = ", ".join(str(j.id) for j in active)
            self.store.insert_job(db, schedule.name, schedule.job_request(), slot, now, state="missed",
                                  note=f"skipped: job {ids} still active and concurrency is forbid")
            return []
        new_id = self.store.insert_job(db, schedule.name, schedule.job_request(), slot, now)
        replaced = []
        if active and policy == "replace":
            for job in active:
                if self.store.update_job(db, job.id, ACTIVE, state="cancelled", finished=now,
                                         note=f"replaced by job {new_id}"):
                    replaced.append(job)
        if new_id:
            log.info("job %s queued for %s slot %s", new_id, schedule.name, slots.show(slot, schedule.timezone))
        return [j for j in replaced if j.state != "queued"]

    def run_now(self, name: str) -> int:
        """Queue a job of ``name`` for now, whatever its cron line and concurrency policy say."""
        return self.store.queue_now(name, self.clock())

    # starting

    def dispatch(self) -> None:
        """Start queued jobs in order while GPUs and CPU slots are free."""
        with self.store.tx() as db:
            now = self.clock()
            queued = [j for j in self.store.jobs(states=("queued",)) if (j.not_before or 0) <= now]
            for job in [j for j in queued if j.request is None]:
                self.store.update_job(db, job.id, "queued", state="failed", finished=now,
                                      note="its stored request cannot be read")
            queued = [j for j in queued if j.request is not None]
            busy = self.store.jobs(states=("starting", "running"))
            chosen = allocate(queued, busy, self.resources)
            claimed = []
            for job, gpus in chosen:
                out_dir = job_folder(job)
                if self.store.update_job(db, job.id, "queued", state="starting", gpus=",".join(gpus),
                                         started=now, out_dir=str(out_dir)):
                    claimed.append(replace(job, gpus=gpus, out_dir=str(out_dir), started=now, state="starting"))
        for job in claimed:
            self._each(job, self._start)

    def _start(self, job: Job) -> None:
        try:
            Path(job.out_dir).mkdir(parents=True, exist_ok=True)
            container = self.launcher.start(job)
        except Exception as exc:
            reason = str(exc) if isinstance(exc, (CnnpipeError, OSError)) else f"{type(exc).__name__}: {exc}"
            self._end(job, "failed", note=f"could not start: {reason}")
            return
        with self.store.tx() as db:
            ok = self.store.update_job(db, job.id, "starting", state="running", container=container)
        if ok:
            log.info("job %s (%s) started in container %s", job.id, job.schedule, container)
        else:  # cancelled while it was starting
            self.clear(job)


def clear(store: Store, launcher, job: Job) -> None:
    """Remove a finished job's container through ``launcher`` (keeping its output), then note its run folder."""
    launcher.finish(job)
    run_dir = find_run_dir(job)
    if run_dir:
        with store.tx() as db:
            db.execute("UPDATE jobs SET run_dir = ? WHERE id = ? AND run_dir IS NULL", (run_dir, job.id))


def job_folder(job: Job) -> Path:
    """The job's own folder under the schedule's output folder; its run folder is created inside."""
    stamp = datetime.fromtimestamp(job.slot, timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(job.request.out_dir) / job.schedule / f"{stamp}-job{job.id}"


def find_run_dir(job: Job):
    """The run folder the job's container wrote, if any."""
    if not job.out_dir:
        return None
    found = sorted(p.parent for p in Path(job.out_dir).glob(f"*/{CONFIG}"))
    return str(found[-1]) if found else None


def loop(scheduler: Scheduler, interval: float = 10.0, stop=lambda: False) -> None:
    """Run passes every ``interval`` seconds until ``stop()`` is true."""
    while not stop():
        try:
            scheduler.tick()
        except CnnpipeError as exc:
            log.error("%s", exc)
        except Exception:
            # A passing engine or disk hiccup must not end the service; the next pass starts over.
            log.exception("scheduler pass failed")
        until = time.monotonic() + interval
        while not stop() and time.monotonic() < until:
            time.sleep(min(0.5, interval))
