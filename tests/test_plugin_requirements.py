"""A plugin whose declared requirements are not installed is broken before a run, named with the requirement."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import cli

MODEL = '''
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec


def build(num_classes=10):
    import no_such_model_library  # imported lazily, as plugins do: only a run would find it missing


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec("outside", {"torch": build}, summary="a model from an outside library"))
'''


def install_with(install_plugin, requires):
    info = install_plugin("cnnpipe-outside", {"cnnpipe_outside": MODEL}, {"outside": "cnnpipe_outside"})
    with (info / "METADATA").open("a") as f:
        f.write("".join(f"Requires-Dist: {r}\n" for r in requires))


def status(result):
    (row,) = [r for r in json.loads(result.stdout) if r["name"] == "outside"]
    return row["status"], row["error"]


def test_missing_library_is_named_by_plugins_and_run(install_plugin, tmp_path):
    install_with(install_plugin, ["cnnpipe>=0.2", "no-such-model-library>=1.0"])
    result = cli("plugins", "--json")
    assert result.returncode == 0
    assert status(result) == ("broken", "needs no-such-model-library>=1.0 (not installed)")
    run = cli("run", "outside", "fashion-mnist", "--epochs", "1", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "plugin 'outside' (cnnpipe-outside) is broken: needs no-such-model-library>=1.0" in run.stderr
    assert not (tmp_path / "runs").exists()


def test_wrong_version_deep_in_the_tree_is_named(install_plugin):
    # pluggy is installed, but not in a version below 0.1: the check reads versions, not only names.
    install_with(install_plugin, ["pluggy<0.1"])
    assert status(cli("plugins", "--json"))[1].startswith("needs pluggy<0.1, but pluggy ")


def test_met_requirements_are_ok_and_no_framework_is_imported(install_plugin):
    install_with(install_plugin, ["cnnpipe>=0.2", "torch", "numpy"])  # the real torch, installed here
    code = ("import sys; from cnnpipe.registry import build_registry; r = build_registry(); "
            "print([i.status for i in r.infos if i.name == 'outside'], 'torch' in sys.modules, 'mxnet' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['ok'] False False"


def test_the_cores_own_requirements_are_not_a_plugins(install_plugin):
    # A --no-deps install may lack what only some commands of the core need; plugins stay usable.
    install_with(install_plugin, ["cnnpipe>=0.2"])
    code = ("from cnnpipe import requirements as r; i = r.Installed(); "
            "i._meta['cnnpipe'] = (r.Requirement('no-such-core-dependency'),); print(r.unmet('cnnpipe-outside', i))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "None"
