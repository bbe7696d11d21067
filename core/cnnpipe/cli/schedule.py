"""``cnnpipe schedule ...`` and ``cnnpipe scheduler``: cron schedules of container jobs."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from dataclasses import replace

import click

from ..errors import UsageError
from .app import load_registry, main
from .options import parse_run_args
from .output import emit


def open_store():
    from ..schedule.store import Store

    return Store()


@main.group()
def schedule():
    """Cron schedules of training jobs that run in containers (see docs/scheduling.md)."""


@schedule.command("add", context_settings={"ignore_unknown_options": False})
@click.argument("name")
@click.option("--cron", required=True, metavar="EXPR", help='Five-field cron line, e.g. "0 2 * * *", or @daily.')
@click.option("--timezone", "tz", default="UTC", show_default=True, help="IANA time zone of the cron line.")
@click.option("--gpus", type=int, default=0, show_default=True, help="GPUs each job gets, exclusively.")
@click.option("--image", help="Job image (default CNNPIPE_IMAGE, else the one built for the installed plugins).")
@click.option("--concurrency", default="forbid", show_default=True,
              help="When a slot comes while the last job still runs: forbid (skip), allow, replace.")
@click.option("--starting-deadline", type=float, default=3600, show_default=True, metavar="SECONDS",
              help="A slot later than this (scheduler down) is recorded as missed instead of run.")
@click.option("--retries", type=int, default=0, show_default=True, help="Retries of a failed job.")
@click.option("--backoff", type=float, default=60, show_default=True, metavar="SECONDS",
              help="Wait before the first retry; doubles for each further one.")
@click.option("--timeout", type=float, metavar="SECONDS", help="Stop a job that runs longer and record it failed.")
@click.option("--grid", multiple=True, metavar="KEY=V1,V2",
              help="Make each job a sweep (cnnpipe sweep) over these values; repeatable.")
@click.option("--on", "target", type=click.Choice(["docker", "slurm"]), default="docker", show_default=True,
              help="Where each job runs: a container here, or a Slurm job the scheduler submits with sbatch.")
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED, metavar="-- MODEL DATASET [RUN OPTIONS]")
@click.pass_context
def add(ctx, name, cron, tz, gpus, image, concurrency, starting_deadline, retries, backoff, timeout, grid, target,
        run_args):
    """Add schedule NAME that runs MODEL on DATASET in a container at each cron slot (with --grid: a sweep)."""
    from ..pipeline import resolve
    from ..schedule import resources, slots
    from ..schedule.define import define

    run = scheduled_run(run_args, gpus)
    resolved = resolve(load_registry(ctx), run["model"], run["dataset"], options=run["options"], sets=run["sets"],
                       config_file=run["config_file"])
    new = define(resolved, name, cron, tz, gpus=gpus, concurrency=concurrency, starting_deadline=starting_deadline,
                 retries=retries, backoff=backoff, timeout=timeout if timeout is not None else run["timeout"],
                 memory=run["memory"], cpus=run["cpus"], now=time.time(),
                 available_gpus=resources.configured().gpus if gpus else ())
    if target == "slurm":
        from .slurm import add_on_slurm

        return add_on_slurm(open_store(), new, gpus=gpus, grid=grid, image=image or run["image"])
    if grid:
        new = replace(new, request=scheduled_sweep(ctx, new.request, run, grid))
    # Asked of the engine only once everything else is known to be right.
    chosen = image or run["image"] or os.environ.get("CNNPIPE_IMAGE")
    if chosen:
        check_image(chosen)
    else:
        chosen = default_image(gpus, resolved.config.backend)
    new = replace(new, request=replace(new.request, image=chosen))
    store = open_store()
    store.add_schedule(new)
    nxt = slots.next_slot(new.cron, tz, new.last_slot)
    click.echo(f"added schedule {name}: {new.request.model} on {new.request.dataset}, next slot {slots.show(nxt, tz)}")


def scheduled_sweep(ctx, request, run: dict, grid):
    """``request`` made to run ``cnnpipe sweep`` over ``grid`` in its container, each combination checked now."""
    from .. import sweep

    grid = sweep.parse_grid(grid)
    planned = [sweep.Planned(combination, resolved, "new") for combination in sweep.combinations(grid)
               for resolved in [sweep.resolve_combination(load_registry(ctx), run["model"], run["dataset"], combination,
                                                          options=run["options"], sets=run["sets"],
                                                          config_file=run["config_file"])]]
    sweep.check_builds(planned, required=False)  # the jobs run in containers: a framework here is optional
    return replace(request, command="sweep", args=list(request.args) + sweep.grid_args(grid))


def scheduled_run(args, gpus: int) -> dict:
    """The run options after ``--`` as plain values, parsed like ``cnnpipe run``'s; what cannot be scheduled is refused."""
    from click.core import ParameterSource

    from .options import settings_of

    args = list(args)
    if "-h" in args or "--help" in args:
        raise UsageError("run options after -- are those of 'cnnpipe run --help'")
    try:
        parsed = parse_run_args(args)
    except click.ClickException as exc:
        raise UsageError(f"bad run options after --: {exc.format_message()}")
    params = parsed.params
    if not params.get("model") or not params.get("dataset"):
        raise UsageError("give MODEL and DATASET after --, for example: -- lenet fashion-mnist --epochs 10")
    for key in ("resume", "debug", "port"):
        if params.get(key):
            raise UsageError(f"--{key} cannot be scheduled")
    if params["runner"] == "local" and parsed.get_parameter_source("runner") == ParameterSource.COMMANDLINE:
        raise UsageError("scheduled jobs always run in containers; leave out --runner local")
    if params.get("gpus") is not None:
        raise UsageError("give the GPU count before --: cnnpipe schedule add NAME --gpus N ... -- MODEL DATASET")
    options = settings_of(params)
    device = options.get("device")
    if gpus and device in (None, "auto"):
        options["device"] = "gpu"
    elif not gpus and device and device.startswith("gpu"):
        raise UsageError(f"--device {device} needs GPUs: add --gpus N to the schedule")
    elif not gpus:
        options["device"] = "cpu"
    options["out"] = options.get("out") or "runs"
    return {"model": params["model"], "dataset": params["dataset"], "options": options, "sets": list(params["sets"]),
            "config_file": params["config_file"], "image": params["image"], "timeout": params["timeout"],
            "memory": params["memory"], "cpus": params["cpus"]}


def default_image(gpus: int, backend: str) -> str:
    """The job image built for the installed plugins and ``backend`` (CUDA for GPU jobs), asked of the engine."""
    from ..docker import attached, image

    return image.image_for_plugins(attached.connect(), "cuda" if gpus else "cpu", backend)


def check_image(name: str) -> None:
    """Refuse an image the local engine lacks (or that is no job image); unchecked when no engine answers here."""
    from ..docker import attached, image
    from ..errors import EngineError

    try:
        client = attached.connect()
    except EngineError:
        return  # a schedule made here for another machine, or for export to Kubernetes
    image.require(client, name)


@schedule.command("list")
def list_():
    """List schedules with their next slot and last job."""
    from ..schedule import slots

    store = open_store()
    rows = store.schedules()
    if not rows:
        click.echo("no schedules; add one with cnnpipe schedule add")
    for s in rows:
        last = store.jobs(schedule=s.name, limit=1)
        state = f"last job {last[0].id} {last[0].state}" if last else "no jobs yet"
        problem = trouble(s)
        if problem:
            state = f"cannot fire: {problem}"
        nxt = "paused" if s.paused else "next " + (slots.show(upcoming(s, time.time()), s.timezone) if not problem else "-")
        click.echo(f"{s.name:<20} {s.cron:<16} {nxt:<32} {state}")


def upcoming(s, after: float) -> float:
    from ..schedule import slots

    return slots.next_slot(s.cron, s.timezone, after)


def trouble(s) -> str | None:
    """Why schedule ``s`` cannot fire (recorded by a scheduler, or found now), or None."""
    if s.problem or s.request is None:
        return s.problem or "its stored request cannot be read"
    try:
        upcoming(s, time.time())
    except Exception as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


@schedule.command()
@click.argument("name")
def show(name):
    """Show a schedule's settings, its next slots and its recent jobs."""
    from ..schedule import slots

    store = open_store()
    s = store.schedule(name)
    tz = s.timezone
    try:
        slots.zone(tz)
    except UsageError:
        tz = "UTC"  # shown as is below; times in UTC
    for key in ("name", "cron", "timezone", "concurrency", "starting_deadline", "retries", "backoff", "timeout", "paused"):
        value = getattr(s, key)
        click.echo(f"{key:<18} {'-' if value is None else value}")
    for key in ("model", "dataset", "image", "gpus", "memory", "cpus", "out_dir", "data_dir"):
        value = getattr(s.request, key) if s.request else None
        click.echo(f"{key:<18} {'-' if value is None else value}")
    command = f"cnnpipe {s.request.command} {' '.join(s.request.args)}" if s.request else "-"
    click.echo(f"{'container args':<18} {command}")
    problem = trouble(s)
    if problem:
        click.echo(f"{'cannot fire':<18} {problem}")
    at = time.time()
    for i in range(0 if problem else 3):
        at = upcoming(s, at)
        click.echo(f"{'next slot' if i == 0 else '':<18} {slots.show(at, tz)}")
    for job in store.jobs(schedule=name, limit=5):
        click.echo(f"job {job.id:<5} {slots.show(job.slot, tz)}  {job.state}")


@schedule.command()
@click.argument("name")
def remove(name):
    """Remove a schedule (its job history stays)."""
    open_store().remove_schedule(name)
    click.echo(f"removed schedule {name}")


@schedule.command()
@click.argument("name")
def pause(name):
    """Stop firing a schedule's slots until it is resumed."""
    open_store().set_paused(name, True, time.time())
    click.echo(f"paused schedule {name}")


@schedule.command()
@click.argument("name")
def resume(name):
    """Fire a paused schedule again, from its next slot on."""
    open_store().set_paused(name, False, time.time())
    click.echo(f"resumed schedule {name}")


@schedule.command("run-now")
@click.argument("name")
def run_now(name):
    """Queue a job of NAME now; the scheduler starts it on its next pass."""
    job_id = open_store().queue_now(name, time.time())
    click.echo(f"queued job {job_id}")


@schedule.command()
@click.argument("name")
@click.option("--kubernetes", is_flag=True, required=True, help="Write a Kubernetes CronJob (JSON, for kubectl apply -f).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: standard output).")
@click.pass_context
def export(ctx, name, kubernetes, output):
    """Write the Kubernetes CronJob equivalent to schedule NAME (with its Service and NetworkPolicy when the run
    has several workers, which its Jobs then start as an Indexed Job)."""
    from ..kube.cronjob import cronjob

    s = open_store().schedule(name)
    if s.request is None:
        raise UsageError(f"schedule '{name}' cannot be exported: {s.problem}")
    manifest = cronjob(s)
    run = parse_run_args(s.request.args).params if s.request.command == "run" else {}
    if (run.get("workers") or 1) > 1:
        from ..kube.distributed import scheduled

        launcher = load_registry(ctx).backend(run["backend"]).launcher
        manifest = scheduled(manifest, launcher, run["workers"], run["servers"], s.request.gpus, s.retries)
    emit(json.dumps(manifest, indent=2) + "\n", output)


@main.command()
@click.option("--once", is_flag=True, help="Do one pass and exit (for tests, cron or a systemd timer).")
@click.option("--interval", type=float, default=10, show_default=True, metavar="SECONDS", help="Time between passes.")
@click.option("--gpus", metavar="IDS", help="GPU ids jobs may use, e.g. 0,1, or none (default CNNPIPE_GPUS, else detected).")
@click.option("--cpu-jobs", type=int, help="CPU-only jobs that may run at once (default CNNPIPE_CPU_JOBS, else 1).")
def scheduler(once, interval, gpus, cpu_jobs):
    """Fire due schedules and run their jobs, in the foreground."""
    from ..schedule import resources
    from ..schedule.scheduler import Scheduler, loop
    from ..schedule.slurm import launchers

    from ..docker import limits

    limits.seconds(interval, "--interval")
    res = resources.configured(gpus, cpu_jobs)
    store = open_store()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    sched = Scheduler(store, launchers(store, store.schedules()), res)
    if once:
        sched.tick()
        return
    click.echo(f"scheduler on {store.path}: GPUs {', '.join(res.gpus) or 'none'}, {res.cpu_slots} CPU job(s) at once", err=True)
    stopping = []
    # systemd stops the service with SIGTERM: finish the current pass, then exit. Jobs keep running
    # in their containers and the next scheduler picks them up.
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    loop(sched, interval, stop=lambda: bool(stopping))
