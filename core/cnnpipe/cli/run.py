"""``cnnpipe run``."""

from __future__ import annotations

import click

from ..errors import UsageError
from . import main, registry


@main.command()
@click.argument("model", required=False)
@click.argument("dataset", required=False)
@click.option("--epochs", type=int, help="Number of epochs (num_epochs).")
@click.option("--batch-size", type=int, help="Examples per batch.")
@click.option("--lr", type=float, help="Learning rate.")
@click.option("--optimizer", help="Optimizer name (sgd, adam, ...).")
@click.option("--resize", type=int, help="Resize images to RESIZE x RESIZE, batch by batch.")
@click.option("--device", help="auto (GPU when present, else CPU), cpu, gpu or gpu:N.")
@click.option("--seed", type=int, help="Random seed (default 0).")
@click.option("--trainer", help="Trainer plugin (default: the first for the model's backend).")
@click.option("--reporter", "reporters", multiple=True,
              help="Reporter to use (repeatable; 'default' stands for the default set).")
@click.option("--out", type=click.Path(file_okay=False), help="Folder that holds run folders (default ./runs).")
@click.option("--limit", type=int, help="Use only the first N examples of each split, for quick runs.")
@click.option("--data-dir", type=click.Path(), help="Folder with the dataset's files (also CNNPIPE_DATA_DIR).")
@click.option("--config", "config_file", type=click.Path(), help="TOML file with the same settings.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a setting; arch.NAME=VALUE sets an architecture argument.")
@click.option("--resume", type=click.Path(), metavar="RUN_DIR", help="Continue a run from its last complete epoch.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--runner", type=click.Choice(["local", "docker"]), default="local", show_default=True,
              help="Run here, or in a container of the job image (see cnnpipe image build).")
@click.option("--gpus", help="docker: GPUs for the container: all, a count N, or device ids ID,ID.")
@click.option("--image", help="docker: job image (default: the newest built for the installed plugins).")
@click.option("--memory", help="docker: memory limit, like 4g.")
@click.option("--cpus", type=float, help="docker: CPU limit, like 2 or 0.5.")
@click.option("--timeout", type=float, help="docker: stop the job after this many seconds.")
@click.pass_context
def run(ctx, model, dataset, config_file, sets, resume, debug, runner, gpus, image, memory, cpus, timeout, **options):
    """Train MODEL on DATASET (for example: cnnpipe run lenet fashion-mnist)."""
    from ..pipeline import prepare
    from ..run import execute

    if debug:
        ctx.find_root().obj["debug"] = True
    options["reporters"] = list(options["reporters"]) or None
    docker_options = {"gpus": gpus, "image": image, "memory": memory, "cpus": cpus, "timeout": timeout}
    if runner == "docker":
        ctx.exit(run_in_docker(ctx, model, dataset, options, sets, config_file, resume, debug, docker_options))
    given = [f"--{k}" for k, v in docker_options.items() if v is not None]
    if given:
        raise UsageError(f"{', '.join(given)} only apply with --runner docker")
    reg = registry(ctx)
    prepared, reporters = prepare(reg, model, dataset, options=options, sets=sets,
                                  config_file=config_file, resume=resume)
    try:
        execute(prepared, reporters)
    except KeyboardInterrupt:
        click.echo(f"cnnpipe: interrupted; continue with: cnnpipe run --resume {prepared.run_dir.path}", err=True)
        ctx.exit(130)


def run_in_docker(ctx, model, dataset, options, sets, config_file, resume, debug, docker_options) -> int:
    """``cnnpipe run --runner docker``: the container's exit code."""
    from ..docker import job, runner

    if resume:
        raise UsageError("--resume runs locally only; continue the run with: cnnpipe run --resume RUN_DIR")
    client = runner.client()
    spec = job.make_job(registry(ctx), model, dataset, options, sets, config_file, debug=debug,
                        disable=ctx.find_root().obj["disable"], client=client, **docker_options)
    return job.execute(client, spec, echo=lambda msg: click.echo(msg, err=True))
