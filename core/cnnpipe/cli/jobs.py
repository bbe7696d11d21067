"""``cnnpipe jobs ...``: the history of scheduled jobs."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..errors import CnnpipeError, UsageError
from .app import main
from .schedule import open_store

STATES = ("queued", "starting", "running", "succeeded", "failed", "cancelled", "lost", "missed")


@main.group()
def jobs():
    """Scheduled jobs: their slot, state, exit code, run folder and container."""


def _show(ts):
    from ..schedule.slots import show

    return show(ts, "UTC")


@jobs.command("list")
@click.option("--schedule", "name", help="Only this schedule's jobs.")
@click.option("--state", type=click.Choice(STATES), help="Only jobs in this state.")
@click.option("--limit", type=int, default=50, show_default=True, help="Newest N jobs.")
def list_(name, state, limit):
    """List jobs, oldest first."""
    store = open_store()
    rows = store.jobs(schedule=name, states=(state,) if state else None, limit=limit)
    if not rows:
        click.echo("no jobs")
    for j in rows:
        code = "-" if j.exit_code is None else j.exit_code
        click.echo(f"{j.id:<5} {j.schedule:<20} {_show(j.slot)}  {j.state:<10} exit {code:<4} "
                   f"{j.run_dir or j.out_dir or '-'}")


@jobs.command()
@click.argument("job_id")
def show(job_id):
    """Show everything recorded about one job."""
    j = open_store().job(job_id)
    for key in ("id", "schedule", "slot", "attempt", "trigger", "state", "exit_code", "gpus", "container",
                "out_dir", "run_dir", "created", "started", "finished", "note"):
        value = getattr(j, key)
        if key in ("slot", "created", "started", "finished"):
            value = _show(value)
        elif key == "gpus":
            value = ",".join(value) or "none"
        click.echo(f"{key:<10} {'-' if value is None else value}")
    args = " ".join(j.request.args) if j.request else "(its stored request cannot be read)"
    click.echo(f"{'command':<10} cnnpipe run {args}")


@jobs.command()
@click.argument("job_id")
def logs(job_id):
    """Print a job's container output (live while it runs, kept in its folder after)."""
    from ..schedule.launcher import LOG_NAME, DockerLauncher

    store = open_store()
    j = store.job(job_id)
    if j.state in ("running", "starting"):
        text = DockerLauncher(store.id).logs(j)
        if text is not None:
            click.echo(text, nl=False)
            return
    saved = Path(j.out_dir) / LOG_NAME if j.out_dir else None
    if saved is None or not saved.is_file():
        raise UsageError(f"job {j.id} has no logs (state {j.state})")
    click.echo(saved.read_text(errors="replace"), nl=False)


@jobs.command()
@click.argument("job_id")
def cancel(job_id):
    """Cancel a queued or running job (its container is stopped)."""
    from ..schedule.launcher import DockerLauncher
    from ..schedule.store import ACTIVE

    store = open_store()
    j = store.job(job_id)
    with store.tx() as db:
        ok = store.update_job(db, j.id, ACTIVE, state="cancelled", finished=time.time(), note="cancelled by user")
    if not ok:
        raise UsageError(f"job {j.id} is {j.state}; only queued or running jobs can be cancelled")
    if j.state != "queued":
        from ..schedule.scheduler import clear

        try:
            clear(store, DockerLauncher(store.id), j)
        except CnnpipeError as exc:
            # Recorded as cancelled already: any scheduler's next pass stops the container.
            click.echo(f"cancelled job {j.id}; its container is stopped on the scheduler's next pass ({exc})")
            return
    click.echo(f"cancelled job {j.id}")
