"""``cnnpipe gc``: clear what job containers of stopped clients left behind."""

from __future__ import annotations

import click

from .app import main


@main.command()
@click.option("--out", default="runs", show_default=True, metavar="DIR",
              help="Also hand back run folders staged in DIR whose container is gone.")
def gc(out):
    """Remove job containers whose client is gone and hand their run folders back.

    Any command that connects to the Docker engine does this too; gc also finds staged run folders in
    --out whose container was removed by other means.
    """
    from pathlib import Path

    from ..docker import attached, engine

    echo = lambda msg: click.echo(msg, err=True)  # noqa: E731
    client = engine.client()
    reaped = attached.reap(client, echo)
    moved = attached.orphans(client, Path(out), echo)
    if not reaped and not moved:
        click.echo("nothing to clear", err=True)
