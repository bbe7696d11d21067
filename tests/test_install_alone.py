"""Each network's distribution installs alone on top of the core, one backend and the dataset, and works there.

The fresh environment is a venv whose third-party libraries (MXNet, numpy, click, ...) are those already
installed here, through a folder of links that leaves out every cnnpipe distribution; the cnnpipe
distributions are built from this checkout as wheels and installed with pip, without the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BASE = ["cnnpipe", "cnnpipe-mxnet", "cnnpipe-fashion-mnist"]  # the core, one backend, the dataset
# The backends, the dataset and the trackers (reporters, with tests of their own) are not networks.
NOT_NETWORKS = {"cnnpipe-mxnet", "cnnpipe-torch", "cnnpipe-fashion-mnist", "cnnpipe-imagefolder", "cnnpipe-mlflow", "cnnpipe-tensorboard"}

CHECK = '''
import json, sys
from importlib import metadata
from click.testing import CliRunner
from packaging.requirements import Requirement
from cnnpipe.cli import main

runner = CliRunner()
plugins = json.loads(runner.invoke(main, ["plugins", "--json"]).output)
models = [m for p in plugins for m in p["registers"].get("models", [])]
infos = {m: runner.invoke(main, ["info", m]) for m in models}
dists = {d.metadata["Name"].lower(): d for d in metadata.distributions()}
unmet = [f"{name} needs {req}" for name in sys.argv[1:] for req in map(Requirement, dists[name].requires or [])
         if not req.marker and req.name.lower() not in dists]
print(json.dumps({"plugins": {p["dist"]: p["status"] for p in plugins}, "models": models, "unmet": unmet,
                  "info": {m: [r.exit_code, r.output[-2000:]] for m, r in infos.items()}}))
'''


def distributions() -> dict[str, Path]:
    """Every distribution of this repository (the core and the plugins) by name."""
    found = {"cnnpipe": ROOT}
    for pyproject in ROOT.glob("plugins/*/pyproject.toml"):
        found[tomllib.loads(pyproject.read_text())["project"]["name"]] = pyproject.parent
    return found


NETWORKS = sorted(set(distributions()) - NOT_NETWORKS - {"cnnpipe"})


def pip(*args) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    """Wheels of the core and every plugin, built from this checkout (one pip run, no downloads)."""
    folder = tmp_path_factory.mktemp("wheels")
    pip("wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(folder),
        *map(str, distributions().values()))
    return folder


@pytest.fixture(scope="module")
def third_party(tmp_path_factory) -> Path:
    """Links to the libraries installed here, cnnpipe's own distributions and editable hooks left out."""
    folder = tmp_path_factory.mktemp("third-party")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        name = entry.name.lower()
        if name.startswith(("cnnpipe", "__editable__", "_cnnpipe")) or name.endswith(".pth"):
            continue
        (folder / entry.name).symlink_to(entry)
    return folder


def wheel_of(wheels: Path, dist: str) -> Path:
    [found] = wheels.glob(f"{dist.replace('-', '_')}-*.whl")
    return found


@pytest.mark.parametrize("network", NETWORKS)
def test_a_network_installs_alone_and_works(network, wheels, third_party, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "third_party.pth").write_text(f"{third_party}\n")
    pip("install", "--quiet", "--no-deps", "--no-index", "--target", str(site),
        *(str(wheel_of(wheels, d)) for d in [*BASE, network]))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CNNPIPE_DISABLE_PLUGINS")}
    done = subprocess.run([str(python), "-c", CHECK, *BASE, network], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["plugins"] == {"cnnpipe": "ok", "cnnpipe-mxnet": "ok", "cnnpipe-fashion-mnist": "ok", network: "ok"}
    assert seen["models"], f"{network} registers no model"
    assert seen["unmet"] == []
    for model, (code, output) in seen["info"].items():
        assert code == 0, f"cnnpipe info {model}: {output}"
        assert "parameters" in output, output
