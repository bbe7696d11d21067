"""``cnnpipe install`` and ``cnnpipe uninstall``: pip in cnnpipe's own interpreter, then what changed among the plugins."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from ..errors import CnnpipeError, UsageError
from .app import main

CORE_DIST = "cnnpipe"  # as in cnnpipe.plugins, which --help must not import


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def plugin_rows() -> dict[tuple[str, str], dict]:
    """``cnnpipe plugins --json`` of a fresh interpreter (this one has already imported the old versions)."""
    done = subprocess.run([sys.executable, "-m", "cnnpipe", "plugins", "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        return {}
    return {(row["dist"], row["name"]): row for row in json.loads(done.stdout)}


def pip(*args: str, env: dict | None = None) -> None:
    """Run pip in this interpreter, its output shown as it goes; a one-line error when it fails."""
    command = [sys.executable, "-m", "pip", *args]
    code = subprocess.run(command, env=env).returncode
    if code != 0:
        raise CnnpipeError(f"pip {args[0]} failed (exit {code}); see its output above", exit_code=code)


def describe(row: dict) -> str:
    what = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in row["registers"].items()) or "nothing"
    state = f" ({row['status']}: {row['error']})" if row["status"] != "ok" else ""
    return f"{row['dist']} {row['version']}, plugin '{row['name']}': {what}{state}"


@main.command()
@click.argument("names", nargs=-1, metavar="NAME...")
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade the named distributions to their newest versions.")
@click.option("-e", "--editable", multiple=True, metavar="PATH", help="Install a local folder in editable mode.")
@click.option("--force-reinstall", is_flag=True, help="Reinstall even when already up to date.")
@click.option("--no-cache-dir", is_flag=True, help="Do not use pip's cache.")
def install(names, upgrade, editable, force_reinstall, no_cache_dir):
    """Install plugins (names on the package index, local folders or wheels) into cnnpipe's own environment,
    then show what each new plugin registers."""
    if not names and not editable:
        raise UsageError("name at least one distribution to install, e.g. cnnpipe install cnnpipe-mlflow")
    before = plugin_rows()
    args = ["install"] + (["--upgrade"] if upgrade else []) + (["--force-reinstall"] if force_reinstall else [])
    args += (["--no-cache-dir"] if no_cache_dir else []) + [a for path in editable for a in ("--editable", path)]
    with tempfile.TemporaryDirectory(prefix="cnnpipe-install-") as tmp:
        from ..docker.wheels import out_of_tree

        # setuptools builds a local folder in a temporary place: no build/ or *.egg-info left in it
        # (an editable install keeps its egg-info, which it needs).
        pip(*args, *names, env={**os.environ, "DIST_EXTRA_CONFIG": str(out_of_tree(Path(tmp)))})
    after = plugin_rows()
    changed = [row for key, row in after.items()
               if key not in before or (before[key]["version"], before[key]["status"]) != (row["version"], row["status"])]
    if not changed:
        click.echo("no new or changed cnnpipe plugin (what was installed registers nothing with cnnpipe)")
    for row in changed:
        click.echo(f"installed {describe(row)}")


@main.command()
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
def uninstall(names):
    """Uninstall plugin distributions from cnnpipe's own environment (never cnnpipe itself)."""
    if any(canonical(n) == CORE_DIST for n in names):
        raise UsageError(f"cnnpipe cannot uninstall itself; to remove it, run: {sys.executable} -m pip uninstall cnnpipe")
    before = plugin_rows()
    pip("uninstall", "--yes", *names)
    after = plugin_rows()
    gone = [row for key, row in before.items() if key not in after]
    if not gone:
        click.echo("no cnnpipe plugin was removed")
    for row in gone:
        click.echo(f"removed {row['dist']} {row['version']}, plugin '{row['name']}'")
