"""``cnnpipe sweep``: one run per combination of grid values, here or in containers; resumable."""

from __future__ import annotations

import click

from ..errors import CnnpipeError, UsageError
from .app import debugging, load_registry, main
from .options import CONTAINER_NAMES, run_options, settings_of
from .slurm import check_options, sweep_on_slurm


@main.command()
@run_options
@click.option("--grid", "grid", multiple=True, metavar="KEY=V1,V2",
              help="Values of one setting to sweep (repeatable): lr, batch-size, epochs, optimizer, backend, seed, "
                   "resize, init, limit or arch.NAME.")
@click.option("--parallel", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs (processes, or containers with --runner docker) at once.")
@click.pass_context
def sweep(ctx, model, dataset, config_file, sets, resume, debug, runner, grid, parallel, **params):
    """Train MODEL on DATASET once per combination of --grid values, then compare the runs.

    Run folders go to --out (default runs/sweep-MODEL-DATASET). The same command again trains only
    what is missing: finished runs are skipped, interrupted or failed ones continue from their last
    checkpoint. Other options are those of cnnpipe run and apply to every run.
    """
    from .. import sweep as sweeping

    if debug:
        ctx.find_root().obj["debug"] = True
    if resume:
        raise UsageError("a sweep continues by itself: run the same cnnpipe sweep command again")
    if not model or not dataset:
        raise UsageError("cnnpipe sweep needs MODEL and DATASET, e.g. cnnpipe sweep lenet fashion-mnist --grid lr=0.3,0.9")
    container = {k: params[k] for k in CONTAINER_NAMES}
    check_options(runner, params)
    grid = sweeping.parse_grid(grid)
    options = settings_of(params)
    options["out"] = options.get("out") or sweeping.default_out(model, dataset)
    planned = sweeping.plan(load_registry(ctx), model, dataset, grid, options=options, sets=sets,
                            config_file=config_file)
    sweeping.check_builds(planned, required=runner != "docker")
    counts = {a: sum(p.action == a for p in planned) for a in ("done", "resume", "new", "running")}
    click.echo(f"sweep of {len(planned)} runs in {options['out']}: {counts['done']} done, {counts['resume']} to "
               f"continue, {counts['new']} to start" + (f", {counts['running']} running elsewhere" if counts["running"] else ""),
               err=True)
    for item in planned:
        if item.action in ("done", "running"):
            click.echo(f"  {item.label}: {'done' if item.action == 'done' else 'running'} in {item.record.path}", err=True)
    todo = [p for p in planned if p.action in ("new", "resume")]
    try:
        if runner == "slurm":
            if todo:  # the runs are compared once the array is done: by the same command again
                return sweep_on_slurm(ctx, todo, options["out"], params)
        elif runner == "docker":
            in_containers(ctx, todo, parallel, container)
        else:
            here(ctx, todo, parallel)
    except KeyboardInterrupt:
        click.echo("cnnpipe: sweep interrupted; run the same command again to continue it", err=True)
        ctx.exit(130)
    finish(planned, options["out"])


def global_args(ctx) -> list[str]:
    root = ctx.find_root().obj
    return [arg for name in root["disable"] for arg in ("--disable-plugin", name)] + (["--debug"] if debugging(ctx) else [])


def run_args(item) -> list[str]:
    """``cnnpipe run`` arguments for one combination: a new run, or the folder to continue."""
    from ..docker.request import container_args

    config = item.resolved.config
    if item.action == "resume":
        return ["--resume", str(item.record.path), "--device", config.device,
                *[a for name in config.reporters for a in ("--reporter", name)]]
    # The one builder of run arguments; its --out (the container's) is replaced by the later one.
    args = container_args(config, data_mounted=False) + ["--out", str(config.out)]
    return args + (["--data-dir", str(config.data_dir)] if config.data_dir else [])


def here(ctx, todo, parallel) -> None:
    """Each combination as a ``cnnpipe run`` child process, ``parallel`` at a time."""
    from ..processes import run_all

    verbs = {item.label: ("continuing " + str(item.record.path)) if item.action == "resume" else "starting"
             for item in todo}
    commands = [(item.label, global_args(ctx) + ["run", *run_args(item)]) for item in todo]
    codes = run_all(commands, parallel, echo=lambda line: click.echo(line, err=True),
                    before=lambda label: click.echo(f"sweep: {label}: {verbs[label]}", err=True))
    if 130 in codes:
        raise KeyboardInterrupt


def in_containers(ctx, todo, parallel, container) -> None:
    """Each combination as a job container (see ``cnnpipe run --runner docker``), ``parallel`` at a time."""
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    from ..docker import attached
    from ..docker.image import image_for_plugins

    echo = lambda msg: click.echo(msg, err=True)  # noqa: E731
    client = attached.connect(echo)
    label = {"cnnpipe.sweep": uuid.uuid4().hex[:12]}
    jobs, image = [], container.get("image")
    for item in todo:
        if item.action == "resume":
            # A container cannot continue a folder on the host (root's jobs write into a staging folder).
            echo(f"sweep: {item.label}: {item.record.path} stopped early; a container starts it afresh")
        request = attached.make_request(item.resolved, debug=debugging(ctx), disable=ctx.find_root().obj["disable"],
                                        **{**container, "image": image})
        if not request.image:
            request.image = image_for_plugins(client, "cuda" if request.gpus else "cpu", item.resolved.config.backend)
        image = request.image
        request.labels.update(label)
        jobs.append((item.label, request))

    def one(label_, request):
        echo(f"sweep: {label_}: starting a container")
        return attached.execute(client, request, echo=echo)

    pool = ThreadPoolExecutor(max_workers=parallel)
    try:
        futures = [pool.submit(one, *pair) for pair in jobs]
        for future in futures:
            try:
                future.result()
            except CnnpipeError as exc:
                click.echo(f"cnnpipe: error: {exc}", err=True)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        from ..docker import container as containers, engine

        for found in engine.find(client, label):
            containers.remove(found)
        raise
    finally:
        pool.shutdown(wait=True)


def finish(planned, out) -> None:
    """The runs compared, best test accuracy first; a non-zero exit when any did not succeed."""
    from .. import sweep as sweeping
    from .runs import compare_table

    found = sweeping.results(planned, out)
    click.echo("", err=True)
    if found:
        compare_table(found)
    else:
        click.echo("no run folders")
    failed = len(planned) - sum(r.status == "succeeded" for r in found)
    if failed:
        raise CnnpipeError(f"{failed} of {len(planned)} runs of the sweep did not succeed; "
                           "run the same command again to continue them")
