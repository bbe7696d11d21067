"""``--runner slurm`` for ``cnnpipe run`` and ``cnnpipe sweep``, and ``cnnpipe slurm ...``: cnnpipe's Slurm jobs."""

from __future__ import annotations

import click

from ..errors import UsageError
from .app import debugging, load_registry, main
from .options import CONTAINER_NAMES, SLURM_NAMES


def check_options(runner: str, params: dict) -> None:
    """One line for an option of another runner."""
    allowed = {"docker": CONTAINER_NAMES, "slurm": SLURM_NAMES}.get(runner, ())
    given = [f"--{k}" for k in dict.fromkeys(CONTAINER_NAMES + SLURM_NAMES)
             if params.get(k) is not None and k not in allowed]
    if given:
        where = " or ".join(f"--runner {r}" for r, names in (("docker", CONTAINER_NAMES), ("slurm", SLURM_NAMES))
                            if set(k[2:] for k in given) <= set(names))
        raise UsageError(f"{', '.join(given)} only apply with {where or 'another runner'}")


def resources(params: dict, cluster: bool = True):
    """The Slurm resources the options ask for (checked: one line for a bad value); with ``cluster``, sbatch
    must be here to submit them."""
    from ..slurm.cluster import require
    from ..slurm.script import Resources

    if cluster:
        require("sbatch")
    asked = Resources(partition=params.get("partition"), time_limit=params.get("timeout"), cpus=params.get("cpus"),
                      memory=params.get("memory"), gpus=params.get("gpus"))
    asked.directives()
    return asked


def run_on_slurm(ctx, model, dataset, options, sets, config_file, resume, params) -> None:
    """``cnnpipe run --runner slurm``: the run folder made here, then a job that trains in it."""
    from ..pipeline import resolve_start
    from ..slurm import submit

    asked = resources(params)
    reg = load_registry(ctx)
    resolved = resolve_start(reg, model, dataset, resume, options=options, sets=sets, config_file=config_file)
    for note in resolved.notes:
        click.echo(f"cnnpipe: {note}", err=True)
    folder = submit.ready_folder(reg, resolved)
    job = submit.run_job(resolved, folder, asked, disable=ctx.find_root().obj["disable"], debug=debugging(ctx))
    with submit.removed_unless_submitted([] if resume else [folder]):
        job_id = submit.submit(job)
    click.echo(f"cnnpipe: submitted Slurm job {job_id} ({job.tasks} task(s)); run folder {folder}; "
               f"follow with: cnnpipe slurm jobs", err=True)
    click.echo(job_id)


def sweep_on_slurm(ctx, todo, out, params) -> None:
    """``cnnpipe sweep --runner slurm``: every run folder made here, then a job array with a task for each."""
    from ..slurm import submit

    asked = resources(params)
    submit.check_single_process(item.resolved for item in todo)
    reg = load_registry(ctx)
    folders = [item.record.path.resolve() if item.action == "resume" else submit.ready_folder(reg, item.resolved)
               for item in todo]
    config = todo[0].resolved.config
    job = submit.array_job(f"sweep-{config.model}-{config.dataset}", folders, out, asked,
                           disable=ctx.find_root().obj["disable"], debug=debugging(ctx))
    with submit.removed_unless_submitted([f for f, item in zip(folders, todo) if item.action != "resume"]):
        job_id = submit.submit(job)
    for item, folder in zip(todo, folders):
        click.echo(f"sweep: {item.label}: array task {job_id}_{folders.index(folder)} in {folder}", err=True)
    click.echo(f"cnnpipe: submitted Slurm job array {job_id} ({len(folders)} task(s)); when it is done, the same "
               "cnnpipe sweep command compares the runs (and submits what did not finish)", err=True)
    click.echo(job_id)


def add_on_slurm(store, new, *, gpus, grid, image) -> None:
    """``schedule add --on slurm``: the schedule stored with its jobs marked for Slurm."""
    from dataclasses import replace

    from ..schedule import slots

    for given, flag in ((gpus, "--gpus"), (grid, "--grid"), (image, "--image")):
        if given:
            raise UsageError(f"{flag} does not apply to schedule add --on slurm (yet: one CPU run per job)")
    store.add_schedule(replace(new, request=replace(new.request, on="slurm")))
    nxt = slots.next_slot(new.cron, new.timezone, new.last_slot)
    click.echo(f"added schedule {new.name} (on slurm): {new.request.model} on {new.request.dataset}, "
               f"next slot {slots.show(nxt, new.timezone)}")


@main.group()
def slurm():
    """cnnpipe's Slurm jobs (submitted with --runner slurm or by the scheduler)."""


@slurm.command("jobs")
@click.option("--all-users", is_flag=True, help="Every user's cnnpipe jobs, not only yours.")
def jobs(all_users):
    """cnnpipe's jobs that Slurm holds, with Slurm's state, then finished ones where the cluster keeps accounting."""
    from ..slurm import cluster

    held = cluster.queued(user_only=not all_users)
    held_ids = {job.id for job in held}
    done = [job for job in cluster.finished() if job.id not in held_ids]
    if not held and not done:
        click.echo("no cnnpipe jobs in Slurm")
    for job in held + done:
        click.echo(f"{job.id:<12} {job.state:<12} {job.elapsed:>10}  {job.name}"
                   + (f"  ({job.reason})" if job.reason not in ("None", "") else ""))


@slurm.command("cancel")
@click.argument("job_ids", nargs=-1, required=True)
def cancel(job_ids):
    """Cancel Slurm jobs (JOB, or JOB_TASK for one task of an array); their run folders stay, to resume."""
    from ..slurm import cluster

    for job_id in job_ids:
        if not job_id.replace("_", "").isdigit():
            raise UsageError(f"a Slurm job id is a number (or JOB_TASK for an array task), got '{job_id}'")
        cluster.cancel(job_id)
        click.echo(f"cancelled Slurm job {job_id}")
