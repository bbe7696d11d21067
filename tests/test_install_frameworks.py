"""``cnnpipe install`` keeps the installed framework builds and has a dry run (offline: a local wheel folder)."""

from __future__ import annotations

import os
import subprocess
import zipfile
from importlib import metadata

from plugin_source import plugin_source
from test_install import PLUGIN, venv  # noqa: F401  (venv is a fixture)

TORCH = metadata.version("torch")  # this machine's CPU build, 2.13.0+cpu


def cnnpipe(python, *args, env=None):
    # Offline: no index, and the build uses the setuptools already installed.
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", **(env or {})}
    return subprocess.run([str(python), "-m", "cnnpipe", *args], capture_output=True, text=True, env=env, timeout=300)


def fake_wheel(folder, name, version):
    """A wheel of ``name`` holding only its metadata, standing for another build on the package index."""
    info = f"{name}-{version}.dist-info"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        whl.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(f"{info}/RECORD", "")
    return path


def test_dry_run_keeps_torch_and_says_what_would_change(venv, tmp_path):  # noqa: F811
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    fake_wheel(wheels, "torch", "2.14.1")  # the newest this machine's pip admits (/etc/xdg/pip)
    needs = plugin_source(tmp_path, "cnnpipe-needs-torch", PLUGIN, dependencies=("cnnpipe", "torch==2.14.1"))
    env = {"PIP_FIND_LINKS": str(wheels)}
    kept = cnnpipe(venv, "install", "--dry-run", str(needs), env=env)
    assert kept.returncode != 0
    (note,) = [line for line in kept.stderr.splitlines() if "cnnpipe keeps the installed" in line]
    assert f"torch {TORCH}" in note
    assert kept.stderr.splitlines()[-1] == "cnnpipe: error: pip install failed (exit 1); see its output above"
    changed = cnnpipe(venv, "install", "--dry-run", "--change-frameworks", str(needs), env=env)
    assert changed.returncode == 0, changed.stderr
    assert f"would install torch 2.14.1 (replacing {TORCH})" in changed.stdout
    assert "would install cnnpipe-needs-torch 0.0.1 (new)" in changed.stdout
    assert "quiet" not in cnnpipe(venv, "list", "reporters").stdout  # a dry run installs nothing


def test_dry_run_of_a_plugin_that_fits(venv, tmp_path):  # noqa: F811
    quiet = plugin_source(tmp_path, "cnnpipe-quiet", PLUGIN, version="0.0.3", dependencies=("cnnpipe", "torch"))
    result = cnnpipe(venv, "install", "--dry-run", str(quiet))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["would install cnnpipe-quiet 0.0.3 (new)"]
    assert "quiet" not in cnnpipe(venv, "list", "reporters").stdout
