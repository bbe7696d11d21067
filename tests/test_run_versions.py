"""Runs record the version of every distribution they used (the plugins and what they require), shown by
``runs show`` and compared by ``runs compare``."""

from __future__ import annotations

import json
from importlib import metadata

from conftest import cli


def test_versions_of_plugins_and_their_requirements(install_plugin, tiny_dataset, tmp_path):
    from conftest import TINY_DATASET

    info = install_plugin("tiny-tree", {"tiny_tree": TINY_DATASET.replace('"tiny"', '"tree"')}, {"tree": "tiny_tree"})
    with (info / "METADATA").open("a") as f:
        f.write("Requires-Dist: croniter\n")  # and croniter requires python-dateutil
    runs = []
    for name in ("tiny", "tree"):
        result = cli("run", "lenet", name, "--backend", "torch", "--epochs", "1", "--limit", "64", "--lr", "0.1",
                     "--batch-size", "32", "--reporter", "console", "--out", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        (run,) = (tmp_path / name).iterdir()
        runs.append(run)
    versions = json.loads((runs[1] / "config.json").read_text())["versions"]
    for dist in ("tiny-tree", "croniter", "python-dateutil", "cnnpipe-lenet", "cnnpipe-torch", "numpy", "pluggy"):
        assert versions[dist] == metadata.version(dist), dist
    assert "croniter" in json.loads((runs[0] / "config.json").read_text())["versions"]  # the core requires it too
    assert f"python-dateutil {metadata.version('python-dateutil')}" in cli("runs", "show", str(runs[1])).stdout

    record = json.loads((runs[0] / "config.json").read_text())
    record["versions"]["numpy"] = "0.0.1"  # as if made elsewhere
    (runs[0] / "config.json").write_text(json.dumps(record))
    compared = cli("runs", "compare", str(runs[0]), str(runs[1]))
    assert compared.returncode == 0, compared.stderr
    assert f"numpy differs: {runs[0].name} 0.0.1, {runs[1].name} {metadata.version('numpy')}" in compared.stdout
