"""``cnnpipe run``."""

from __future__ import annotations

import click

from ..errors import UsageError
from . import load_registry, main
from .options import CONTAINER_NAMES, run_options, settings_of


@main.command()
@run_options
@click.pass_context
def run(ctx, model, dataset, config_file, sets, resume, debug, runner, port, **params):
    """Train MODEL on DATASET (for example: cnnpipe run lenet fashion-mnist)."""
    if debug:
        ctx.find_root().obj["debug"] = True
    options = settings_of(params)
    container = {k: params[k] for k in CONTAINER_NAMES}
    if runner == "docker":
        if port is not None:
            raise UsageError("--port applies to runs started here; a job container picks a free port")
        ctx.exit(run_in_docker(ctx, model, dataset, options, sets, config_file, resume, debug, container))
    given = [f"--{k}" for k, v in container.items() if v is not None]
    if given:
        raise UsageError(f"{', '.join(given)} only apply with --runner docker")
    run_here(ctx, model, dataset, options, sets, config_file, resume, port, debug)


def run_here(ctx, model, dataset, options, sets, config_file, resume, port=None, debug=False) -> None:
    """Train in this process, as one process of a distributed run, or with --workers N as the processes'
    launcher; Ctrl-C leaves a resumable run folder and says how to continue."""
    from ..distributed import environment
    from ..pipeline import prepare, resolve, resolve_resume
    from ..run import execute

    reg = load_registry(ctx)
    if resume:
        resolved = resolve_resume(reg, resume, model, dataset, options=options, sets=sets, config_file=config_file)
    else:
        resolved = resolve(reg, model, dataset, options=options, sets=sets, config_file=config_file)
    env = environment.detect()
    if env is not None:
        from ..distributed.rank import run_as

        return run_as(reg, resolved, env)
    if resolved.config.workers > 1:
        from ..distributed.local import launch_run

        ctx.exit(launch_run(reg, resolved, port=port, debug=debug, disable=ctx.find_root().obj["disable"]))
    if port is not None:
        raise UsageError("--port applies with --workers N only")
    prepared, reporters = prepare(reg, resolved)
    try:
        execute(prepared, reporters)
    except KeyboardInterrupt:
        click.echo(f"cnnpipe: interrupted; continue with: cnnpipe run --resume {prepared.run_dir.path}", err=True)
        ctx.exit(130)


def run_in_docker(ctx, model, dataset, options, sets, config_file, resume, debug, container) -> int:
    """``cnnpipe run --runner docker``: the container's exit code."""
    from ..docker import job, runner
    from ..pipeline import resolve

    if resume:
        raise UsageError("--resume runs locally only; continue the run with: cnnpipe run --resume RUN_DIR")
    reg = load_registry(ctx)
    resolved = resolve(reg, model, dataset, options=options, sets=sets, config_file=config_file)
    client = runner.client()
    spec = job.make_job(resolved, debug=debug, disable=ctx.find_root().obj["disable"], client=client, **container)
    return job.execute(client, spec, echo=lambda msg: click.echo(msg, err=True))
