"""``cnnpipe run``."""

from __future__ import annotations

import click

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
@click.pass_context
def run(ctx, model, dataset, config_file, sets, resume, debug, **options):
    """Train MODEL on DATASET (for example: cnnpipe run lenet fashion-mnist)."""
    from ..pipeline import prepare
    from ..run import execute

    if debug:
        ctx.find_root().obj["debug"] = True
    options["reporters"] = list(options["reporters"]) or None
    reg = registry(ctx)
    prepared, reporters = prepare(reg, model, dataset, options=options, sets=sets,
                                  config_file=config_file, resume=resume)
    try:
        execute(prepared, reporters)
    except KeyboardInterrupt:
        click.echo(f"cnnpipe: interrupted; continue with: cnnpipe run --resume {prepared.run_dir.path}", err=True)
        ctx.exit(130)
