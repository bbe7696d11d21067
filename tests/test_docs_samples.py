"""The code samples of docs/plugins.md, as a plugin author would use them: the samples headed by a file name
are built into a distribution, installed and run (each backend, the contract kit); the backend skeleton
names exactly the methods of the backend contract."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnpipe.backend import Backend, Session
from conftest import cli

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
FENCE = re.compile(r"^( *)```(python|toml)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def samples() -> list[tuple[str, str]]:
    """``(language, code)`` of every fenced Python and TOML block of the guide, unindented."""
    found = []
    for m in FENCE.finditer(GUIDE.read_text()):
        indent = len(m.group(1))
        found.append((m.group(2), "".join(line[indent:] for line in m.group(3).splitlines(keepends=True))))
    return found


def files() -> dict[str, str]:
    """The samples that start with a file name comment (``# pyproject.toml``): the sample plugin's files."""
    named = {}
    for _, code in samples():
        first, _, rest = code.partition("\n")
        if re.fullmatch(r"# [\w./-]+\.(py|toml)", first.strip()):
            named[first[2:].strip()] = rest
    return named


def test_every_sample_parses():
    for language, code in samples():
        if language == "python":
            ast.parse(code)
        else:
            import tomllib

            tomllib.loads(code)
    assert {"pyproject.toml", "cnnpipe_mymodel/__init__.py", "cnnpipe_mymodel/data.py",
            "cnnpipe_mymodel/reporter.py", "tests/test_mymodel.py"} <= set(files())


def test_the_backend_skeleton_names_the_contracts_methods():
    skeleton = next(code for _, code in samples() if "class JaxBackend(Backend)" in code)
    classes = {node.name: {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
               for node in ast.parse(skeleton).body if isinstance(node, ast.ClassDef)}
    for name, contract in (("JaxBackend", Backend), ("JaxSession", Session)):
        public = {n for n in dir(contract) if not n.startswith("_") and callable(getattr(contract, n))}
        # Every method the contract requires, and otherwise only its optional ones (export, join).
        assert set(contract.__abstractmethods__) <= classes[name] <= public, name


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> dict:
    """The samples written out, installed with pip into a folder of their own, and a folder of images."""
    root = tmp_path_factory.mktemp("docs-sample")
    source = root / "cnnpipe-mymodel"
    for name, code in files().items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(code)
    (source / "cnnpipe_mymodel" / "__init__.py").touch()
    site = root / "site"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
               "--target", str(site), str(source)]
    done = subprocess.run(install, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 600), ("test", 200)):
        y = rng.integers(0, 10, n).astype(np.uint8)
        X = (rng.random((n, 1, 28, 28)) * 40).astype(np.uint8)
        for i, k in enumerate(y):  # class k is a bright square in the k-th of ten places
            r, c = divmod(int(k), 5)
            X[i, 0, 3 + 12 * r:10 + 12 * r, 1 + 5 * c:8 + 5 * c] = 255
        np.savez(images / f"{split}.npz", X=X, y=y)
    path = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {"source": source, "images": images, "env": {"PYTHONPATH": path}}


def test_the_sample_plugin_is_listed(plugin):
    rows = {r["name"]: r for r in json.loads(cli("plugins", "--json", env=plugin["env"]).stdout)}
    assert rows["mymodel"]["registers"] == {"models": ["mymodel"]} and rows["mymodel"]["status"] == "ok"
    assert rows["my-images"]["registers"] == {"datasets": ["my-images"]}
    assert rows["best"]["registers"] == {"reporters": ["best"]}
    assert {r["dist"] for r in rows.values() if r["name"] in ("mymodel", "my-images", "best")} == {"cnnpipe-mymodel"}


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_the_sample_plugin_trains_with_each_backend(plugin, backend, tmp_path):
    result = cli("run", "mymodel", "my-images", "--backend", backend, "--data-dir", str(plugin["images"]),
                 "--lr", "0.1", "--batch-size", "64", "--epochs", "2", "--reporter", "console", "--reporter", "best",
                 "--out", str(tmp_path), env=plugin["env"])
    assert result.returncode == 0, result.stderr
    (folder,) = tmp_path.iterdir()
    metrics = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert json.loads((folder / "best.json").read_text())["test_acc"] == max(m["test_acc"] for m in metrics)
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"]


def test_the_sample_passes_the_contract_kit(plugin):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                          cwd=plugin["source"], env={**os.environ, **plugin["env"]}, capture_output=True, text=True,
                          timeout=900, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout[-4000:]
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed and int(passed.group(1)) >= 12 and "skipped" not in done.stdout, done.stdout[-2000:]
