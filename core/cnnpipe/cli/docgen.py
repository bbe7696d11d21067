"""``python -m cnnpipe.cli.docgen [FILE]``: the command reference (docs/cli.md), written from the click commands.

The page is every command's ``--help``, so it says exactly what the installed CLI accepts; a test regenerates it
and fails when the file in the repository differs.
"""

from __future__ import annotations

import sys

import click

WIDTH = 100
HEADER = """# Command reference

Every `cnnpipe` command with its `--help`, generated from the code; do not edit by hand. Regenerate with
`python -m cnnpipe.cli.docgen docs/cli.md` (a test fails when this file is stale). Guides: [usage](usage.md),
[the docs index](../README.md#documentation).
"""


def commands(group: click.Group, path: tuple[str, ...] = ("cnnpipe",)):
    """``(path, command)`` of ``group`` and every command below it, depth first, in name order."""
    yield path, group
    if isinstance(group, click.Group):
        for name in sorted(group.commands):
            yield from commands(group.commands[name], (*path, name))


def help_text(path: tuple[str, ...], root: click.Group) -> str:
    """The ``--help`` of the command at ``path``, as ``cnnpipe ... --help`` prints it at a fixed width."""
    ctx, command = None, root
    for depth, name in enumerate(path):
        if depth:
            command = command.commands[name]
        settings = {"terminal_width": WIDTH, "max_content_width": WIDTH, **command.context_settings}
        ctx = click.Context(command, info_name=name, parent=ctx, **settings)
    return command.get_help(ctx)


def render() -> str:
    """The whole page."""
    from .app import main

    parts = [HEADER]
    for path, _ in commands(main):
        parts.append(f"\n## {' '.join(path)}\n\n```\n{help_text(path, main)}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    page = render()
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(page)
    else:
        sys.stdout.write(page)
