"""``cnnpipe doctor``."""

from __future__ import annotations

from pathlib import Path

import click

from .app import load_registry, main


@main.command()
@click.argument("datasets", nargs=-1, metavar="[DATASET]...")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="The folder that holds run folders, as given to cnnpipe run.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Where the dataset's files are, as given to cnnpipe run (also CNNPIPE_DATA_DIR).")
@click.pass_context
def doctor(ctx, datasets, out, data_dir):
    """Check each piece a run needs; print one line per check, with the fix when it fails.

    DATASET names the datasets whose files to check (default: every installed one).  Exits 0 when every
    check passes, 1 otherwise.
    """
    from ..doctor import run_checks

    checks = run_checks(load_registry(ctx), out=out, data_dir=data_dir, datasets=datasets)
    for check in checks:
        click.echo(check.line())
    failed = [c.name for c in checks if not c.ok]
    click.echo(f"{len(failed)} of {len(checks)} checks failed: {', '.join(failed)}" if failed
               else f"all {len(checks)} checks passed")
    ctx.exit(1 if failed else 0)
