"""Where a command's document goes: a file given with ``-o`` (written atomically), else standard output."""

from __future__ import annotations

import click


def emit(text: str, output=None) -> None:
    """Write ``text`` to the file ``output`` (complete or not at all), or print it when there is none."""
    if output:
        from ..files import atomic_path

        with atomic_path(output) as tmp:
            tmp.write_text(text)
    else:
        click.echo(text, nl=False)
