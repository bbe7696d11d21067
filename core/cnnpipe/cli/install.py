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
@click.option("--dry-run", is_flag=True, help="Only say what would be installed or replaced; change nothing.")
@click.option("--change-frameworks", is_flag=True,
              help="Let pip replace the installed torch/mxnet builds (kept by default).")
def install(names, upgrade, editable, force_reinstall, no_cache_dir, dry_run, change_frameworks):
    """Install plugins (names on the package index, local folders or wheels) into cnnpipe's own environment,
    then show what each new plugin registers.  The installed torch and mxnet builds are kept."""
    from .. import installing

    if not names and not editable:
        raise UsageError("name at least one distribution to install, e.g. cnnpipe install ./plugins/cnnpipe-mlflow")
    before = plugin_rows() if not dry_run else {}
    args = ["install"] + (["--upgrade"] if upgrade else []) + (["--force-reinstall"] if force_reinstall else [])
    args += (["--no-cache-dir"] if no_cache_dir else []) + [a for path in editable for a in ("--editable", path)]
    kept = {} if change_frameworks else installing.installed_frameworks()
    with tempfile.TemporaryDirectory(prefix="cnnpipe-install-") as tmp:
        from ..docker.wheels import out_of_tree

        if kept:
            args += ["--constraint", str(installing.write_constraints(Path(tmp), kept))]
        if dry_run:
            args += ["--dry-run", "--quiet", "--report", str(Path(tmp) / "report.json")]
        # setuptools builds a local folder in a temporary place: no build/ or *.egg-info left in it
        # (an editable install keeps its egg-info, which it needs).
        try:
            pip(*args, *names, env={**os.environ, "DIST_EXTRA_CONFIG": str(out_of_tree(Path(tmp)))})
        except CnnpipeError:
            if kept:  # a conflict with a kept build is the likely cause; pip's output above says which
                builds = ", ".join(f"{n} {v}" for n, v in sorted(kept.items()))
                click.echo(f"cnnpipe: cnnpipe keeps the installed {builds} (--change-frameworks lets pip replace "
                           f"them)", err=True)
            raise
        if dry_run:
            for line in installing.describe_changes((Path(tmp) / "report.json").read_text()):
                click.echo(line)
            return
    after = plugin_rows()
    changed = [row for key, row in after.items()
               if key not in before or (before[key]["version"], before[key]["status"]) != (row["version"], row["status"])]
    if not changed:
        click.echo("no new or changed cnnpipe plugin (what was installed registers nothing with cnnpipe)")
    for row in changed:
        click.echo(f"installed {describe(row)}")


def protected() -> set[str]:
    """The core and the distributions it requires: uninstalling any of them breaks cnnpipe itself."""
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement

    names = {CORE_DIST}
    for line in metadata.requires(CORE_DIST) or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            names.add(canonical(req.name))
    return names


def uninstall_names(names) -> list[str]:
    """``names`` as bare distribution names; a requirement file, an option or a protected name is refused."""
    from packaging.requirements import InvalidRequirement, Requirement

    keep = protected()
    found = []
    for name in names:
        if name.strip().startswith("-"):
            raise UsageError(f"cnnpipe uninstall takes distribution names, not pip options or files of names: '{name}'")
        try:
            req = Requirement(name)
        except InvalidRequirement:
            raise UsageError(f"'{name}' is not a distribution name")
        if canonical(req.name) == CORE_DIST:
            raise UsageError(f"cnnpipe cannot uninstall itself; to remove it, run: {sys.executable} -m pip uninstall cnnpipe")
        if canonical(req.name) in keep:
            raise UsageError(f"cnnpipe needs '{req.name}' and will not uninstall it; "
                             f"to remove it anyway, run: {sys.executable} -m pip uninstall {req.name}")
        if req.specifier or req.extras or req.marker or req.url:
            raise UsageError(f"cnnpipe uninstall takes bare distribution names, got '{name}' (try '{req.name}')")
        found.append(req.name)
    return found


@main.command()
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
def uninstall(names):
    """Uninstall plugin distributions from cnnpipe's own environment (never cnnpipe itself or what it needs)."""
    names = uninstall_names(names)
    before = plugin_rows()
    pip("uninstall", "--yes", *names)
    after = plugin_rows()
    if before and not after:
        raise CnnpipeError("pip uninstall finished, but cnnpipe no longer starts; "
                           f"see: {sys.executable} -m cnnpipe plugins")
    gone = [row for key, row in before.items() if key not in after]
    if not gone:
        click.echo("no cnnpipe plugin was removed")
    for row in gone:
        click.echo(f"removed {row['dist']} {row['version']}, plugin '{row['name']}'")
