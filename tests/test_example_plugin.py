"""The example plugin package, installed with pip, appears everywhere and runs."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "cnnpipe-example-mlp"


@pytest.fixture
def installed_example(site):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(EXAMPLE)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    return site


def test_pip_installed_plugin_is_listed_and_runs(installed_example, tiny_dataset, tmp_path):
    rows = {r["name"]: r for r in json.loads(cli("plugins", "--json").stdout)}
    assert rows["example-mlp"]["dist"] == "cnnpipe-example-mlp"
    assert rows["example-mlp"]["registers"] == {"models": ["mlp"], "reporters": ["best-epoch"]}
    assert "mlp" in cli("list", "models").stdout
    assert "best-epoch" in cli("list", "reporters").stdout
    result = cli("run", "mlp", tiny_dataset, "--lr", "0.5", "--batch-size", "50", "--epochs", "2",
                 "--reporter", "default", "--reporter", "best-epoch", "--set", "arch.hidden=64",
                 "--out", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    best = json.loads((folder / "best.json").read_text())
    metrics = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert best["test_acc"] == max(m["test_acc"] for m in metrics)


@pytest.mark.real_data  # the example sets real_run
def test_example_passes_the_contract_kit_as_a_third_party_would(installed_example):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(installed_example)}, cwd=EXAMPLE,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed.group(1)) >= 8, result.stdout[-3000:]
