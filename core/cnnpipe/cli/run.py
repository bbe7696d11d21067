"""``cnnpipe run``."""

from __future__ import annotations

import click

from ..errors import UsageError
from .app import load_registry, main
from .options import CONTAINER_NAMES, run_options, settings_of
from .slurm import check_options, run_on_slurm


@main.command()
@run_options
@click.pass_context
def run(ctx, model, dataset, config_file, sets, resume, debug, runner, port, **params):
    """Train MODEL on DATASET (for example: cnnpipe run lenet fashion-mnist)."""
    if debug:
        ctx.find_root().obj["debug"] = True
    options = settings_of(params)
    container = {k: params[k] for k in CONTAINER_NAMES}
    check_options(runner, params)
    if runner != "local" and port is not None:
        raise UsageError(f"--port applies to runs started here; a {runner} job picks its own port")
    if runner == "docker":
        ctx.exit(run_in_docker(ctx, model, dataset, options, sets, config_file, resume, debug, container))
    if runner == "slurm":
        return run_on_slurm(ctx, model, dataset, options, sets, config_file, resume, params)
    run_here(ctx, model, dataset, options, sets, config_file, resume, port, debug)


def run_here(ctx, model, dataset, options, sets, config_file, resume, port=None, debug=False) -> None:
    """Train in this process, as one process of a distributed run, or with --workers N as the processes'
    launcher; Ctrl-C leaves a resumable run folder and says how to continue."""
    from .. import interrupts
    from ..distributed import environment
    from ..pipeline import prepare, resolve_start
    from ..driver import execute

    reg = load_registry(ctx)
    env = environment.detect()
    resolved = resolve_start(reg, model, dataset, resume, options=options, sets=sets, config_file=config_file,
                             lock=env is None)
    for note in resolved.notes:
        click.echo(f"cnnpipe: {note}", err=True)
    if env is not None:
        from ..runner.rank import run_as

        return run_as(reg, resolved, env)
    if resolved.config.workers > 1:
        from ..runner.local import launch_run

        ctx.exit(launch_run(reg, resolved, port=port, debug=debug, disable=ctx.find_root().obj["disable"]))
    if port is not None:
        raise UsageError("--port applies with --workers N only")
    prepared, reporters = prepare(reg, resolved)
    try:
        with interrupts.sigterm_as_ctrl_c():
            execute(prepared, reporters)
    except KeyboardInterrupt:
        click.echo(f"cnnpipe: interrupted; continue with: cnnpipe run --resume {prepared.run_dir.path}", err=True)
        ctx.exit(130)


def run_in_docker(ctx, model, dataset, options, sets, config_file, resume, debug, container) -> int:
    """``cnnpipe run --runner docker``: the container's exit code."""
    from ..docker import attached
    from ..docker.image import image_for_plugins
    from ..pipeline import resolve

    if resume:
        raise UsageError("--resume runs locally only; continue the run with: cnnpipe run --resume RUN_DIR")
    reg = load_registry(ctx)
    resolved = resolve(reg, model, dataset, options=options, sets=sets, config_file=config_file)
    request = attached.make_request(resolved, debug=debug, disable=ctx.find_root().obj["disable"], **container)
    echo = lambda msg: click.echo(msg, err=True)  # noqa: E731
    client = attached.connect(echo)
    if not request.image:
        request.image = image_for_plugins(client, "cuda" if request.gpus else "cpu", resolved.config.backend)
    try:
        return attached.execute(client, request, echo=echo)
    except attached.Stopped as stopped:
        echo(f"cnnpipe: stopped by {stopped}; the job container was removed")
        return 128 + stopped.signum
