"""Fixtures for the integration tests: plugins installed into a temporary site folder, small datasets,
child processes that take Ctrl-C, and the Docker engine.

Markers select what a test needs: ``real_data`` (the real Fashion-MNIST), ``docker`` (a Docker
engine with the base image) and ``slurm`` (a Slurm cluster, ``.ci/slurm-setup.sh``).  A missing requirement skips the test with its reason, except under CI
(``CI=true``, set by ``.ci/run``), where it fails; ``pytest -m "not docker"`` is a quick run.  A test
not marked ``docker`` cannot reach an engine: ``DOCKER_HOST`` points nowhere while it runs.
"""

from __future__ import annotations

import functools
import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cnnpipe.testing import SIGINT_DEFAULT, unavailable

BASE_IMAGE = os.environ.get("CNNPIPE_BASE_IMAGE", "cnnpipe-base:py")
NO_ENGINE = "unix:///nonexistent/test-not-marked-docker.sock"

if os.environ.get("PYTEST_XDIST_WORKER_COUNT") and not os.environ.get("OMP_NUM_THREADS"):
    # Parallel test workers share the cores: each one's training processes get their share of threads.
    from cnnpipe.threads import threads_for

    os.environ["OMP_NUM_THREADS"] = str(threads_for(int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))


def test_group(item) -> str | None:
    """The xdist group of a test (``--dist loadgroup``): tests that must not overlap, or that share an expensive
    fixture, run in one worker.  Docker tests share the engine and the job image's build; Slurm tests share the
    one-node cluster; the tests of what
    comes after training share the LeNet runs of ``trained.py``; a module's own module- or session-scoped
    fixtures (wheels, venvs, trained runs) are built once."""
    if item.get_closest_marker("docker"):
        return "docker"
    if item.get_closest_marker("slurm"):  # one node of two CPUs: jobs of several workers would queue behind each other
        return "slurm"
    module = getattr(item, "module", None)
    if module is not None and hasattr(module, "lenet_run"):
        return "trained-lenet"
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    if any(d.scope in ("module", "session") and d.baseid for fixturedefs in defs.values() for d in fixturedefs):
        return item.nodeid.split("::")[0]
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        group = test_group(item)
        if group and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on ``sys.path`` (and ``PYTHONPATH`` for subprocesses) to install fake distributions into."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
    return folder


@pytest.fixture
def install_plugin(site):
    """Install a distribution made of ``modules`` (name -> source) with ``cnnpipe`` entry points."""

    def install(dist: str, modules: dict, entry_points: dict, version: str = "1.0"):
        for name, source in modules.items():
            (site / f"{name}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
        (info / "entry_points.txt").write_text(f"[cnnpipe]\n{lines}")
        importlib.invalidate_caches()
        return info

    return install


TINY_DATASET = '''
import numpy as np
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import Data, DatasetSpec


def make(n, seed):
    """Ten classes; class k is a bright 7x7 square at one of ten places on a dark 28x28 image."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.uint8)
    X = (rng.random((n, 1, 28, 28)) * 60).astype(np.uint8)
    for i, k in enumerate(y):
        r, c = divmod(int(k), 5)
        X[i, 0, 3 + 12 * r:10 + 12 * r, 1 + 5 * c:8 + 5 * c] = 255
    return X, y


def load(data_dir=None):
    X, y = make(600, 0)
    tX, ty = make(200, 1)
    return Data(X, y, tX, ty, [str(k) for k in range(10)], name="tiny")


@hookimpl
def cnnpipe_register_datasets(register):
    register(DatasetSpec("tiny", load, summary="600 synthetic 28x28 images in 10 classes", input_shape=(1, 28, 28), num_classes=10))
'''


@pytest.fixture
def tiny_dataset(install_plugin):
    """A dataset plugin ``tiny`` (distribution ``tiny-data``): 600/200 learnable synthetic images."""
    install_plugin("tiny-data", {"tiny_data": TINY_DATASET}, {"tiny": "tiny_data"})
    return "tiny"


def cli(*args, env=None, cwd=None, timeout=600):
    """Run the installed ``cnnpipe`` command in a subprocess, which takes Ctrl-C as from a terminal."""
    return subprocess.run(
        [*SIGINT_DEFAULT, sys.executable, "-m", "cnnpipe", *args], stdin=subprocess.DEVNULL,
        capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout,
    )


@pytest.fixture
def real_data(fashion_mnist):
    """The real Fashion-MNIST's folder (the contract kit's ``fashion_mnist``); marks the test ``real_data``."""
    return fashion_mnist


@functools.lru_cache(maxsize=1)
def engine_problem() -> str | None:
    """Why the Docker tests cannot run here (no engine, no base image), or ``None``."""
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as exc:
        return f"no Docker engine reachable ({type(exc).__name__}); start one with .ci/docker-setup.sh"
    try:
        client.images.get(BASE_IMAGE)
    except Exception:
        return f"base image {BASE_IMAGE} is missing; make it with .ci/docker-setup.sh"
    return None


@functools.lru_cache(maxsize=1)
def cluster_problem() -> str | None:
    """Why the Slurm tests cannot run here (no client commands, no node up), or ``None``."""
    try:
        found = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no Slurm cluster ({type(exc).__name__}); start one with .ci/slurm-setup.sh"
    states = found.stdout.split()
    if found.returncode != 0 or not any(s.rstrip("*") in ("idle", "mixed", "allocated") for s in states):
        return f"no Slurm node is up ({found.stderr.strip() or states}); start one with .ci/slurm-setup.sh"
    return None


def pytest_runtest_setup(item):
    if item.get_closest_marker("docker") and engine_problem():
        unavailable(engine_problem())
    if item.get_closest_marker("slurm") and cluster_problem():
        unavailable(cluster_problem())


@pytest.fixture(scope="session")
def engine():
    """A client of the Docker engine (for tests marked ``docker``)."""
    import docker

    return docker.from_env()


@pytest.fixture(scope="session")
def job_image(engine) -> str:
    """The CPU job image of the installed plugins, built by ``cnnpipe image build`` (reused when unchanged)."""
    done = subprocess.run([sys.executable, "-m", "cnnpipe", "image", "build", "--cpu", "--base", BASE_IMAGE, "-q"],
                          capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(autouse=True)
def _engine_only_when_marked(request, monkeypatch):
    """Keep tests not marked ``docker`` away from the engine, so that a missing marker shows."""
    if not request.node.get_closest_marker("docker"):
        monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
