"""What the README promises and no other test holds: every network trains on the real data, debugging by
environment, optimizers besides SGD, resizing on the device, seeded dropout, the cache before the system copy."""

from __future__ import annotations

import importlib.util
import json
import os
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cnnpipe.testing import ModelContract, unavailable
from conftest import cli

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("mxnet", "torch")

# A network with dropout and nothing else random after initialisation, for both backends.
PROBES = '''
import numpy as np
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import Data, DatasetSpec, ModelSpec


def build_mxnet(num_classes=10, dropout=0.5, channels=2):
    from mxnet.gluon import nn
    net = nn.HybridSequential()
    if dropout:
        net.add(nn.Flatten(), nn.Dense(64, activation="relu"), nn.Dropout(dropout), nn.Dense(num_classes))
    else:  # a tiny convolution: its activations stay small at any input size
        net.add(nn.Conv2D(channels, 3), nn.GlobalAvgPool2D(), nn.Dense(num_classes))
    return net


def build_torch(num_classes=10, dropout=0.5, channels=2):
    from torch import nn
    if dropout:
        return nn.Sequential(nn.Flatten(), nn.LazyLinear(64), nn.ReLU(), nn.Dropout(dropout), nn.LazyLinear(num_classes))
    return nn.Sequential(nn.LazyConv2d(channels, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LazyLinear(num_classes))


def load(data_dir=None):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (3200, 1, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 3200).astype(np.uint8)
    return Data(X[:3000], y[:3000], X[3000:], y[3000:], [str(k) for k in range(10)], name="noise")


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec("probe", {"mxnet": build_mxnet, "torch": build_torch}, arch={"dropout": 0.5, "channels": 2},
                       summary="dropout, or a tiny convolution"))


@hookimpl
def cnnpipe_register_datasets(register):
    register(DatasetSpec("noise", load, summary="3,200 random 28x28 images", input_shape=(1, 28, 28), num_classes=10))
'''


@pytest.fixture
def probes(install_plugin):
    install_plugin("cnnpipe-probes", {"cnnpipe_probes": PROBES}, {"probes": "cnnpipe_probes"})


def read_metrics(out: Path) -> list[dict]:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def invoke(*args):
    """``cnnpipe ARGS`` in this process (no start-up cost): click's result."""
    from click.testing import CliRunner

    from cnnpipe.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run(*args, out: Path) -> list[dict]:
    result = invoke("run", *args, "--reporter", "console", "--out", str(out))
    assert result.exit_code == 0, result.output
    return read_metrics(out)


def resume(out: Path, epochs: int) -> list[dict]:
    (folder,) = out.iterdir()
    result = invoke("run", "--resume", str(folder), "--epochs", str(epochs))
    assert result.exit_code == 0, result.output
    return read_metrics(out)


# Every built-in network trains on the real data.

def builtin_dists() -> set[str]:
    return {tomllib.loads(p.read_text())["project"]["name"] for p in ROOT.glob("plugins/*/pyproject.toml")}


def contract_classes() -> list[type]:
    """The ``ModelContract`` subclasses of every plugin's tests, imported from their files."""
    found = []
    for path in sorted(ROOT.glob("plugins/*/tests/test_*.py")):
        spec = importlib.util.spec_from_file_location(f"contract_of_{path.parent.parent.name}_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found += [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, ModelContract) and v.model]
    return found


def test_every_builtin_network_trains_on_the_real_data_in_a_test(cnnpipe_registry):
    builtin = builtin_dists()
    networks = {name for name in cnnpipe_registry.names("models")
                if cnnpipe_registry.model(name).dist in builtin and "fashion-mnist" in cnnpipe_registry.model(name).recipes}
    assert {"lenet", "alexnet", "vgg", "nin", "googlenet", "lenet-bn", "resnet18", "densenet"} <= networks
    trained = {cls.model for cls in contract_classes() if cls.real_run}
    assert networks - trained == set(), "set real_run in these models' ModelContract classes"


# Debugging by environment.

def test_cnnpipe_debug_shows_the_traceback(tmp_path):
    plain = cli("run", "lenet", "fashion-mnist", "--set", "colour=red", cwd=tmp_path)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert plain.stderr.count("\n") == 1 and "unknown setting 'colour'" in plain.stderr
    debug = cli("run", "lenet", "fashion-mnist", "--set", "colour=red", cwd=tmp_path, env={"CNNPIPE_DEBUG": "1"})
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr and "unknown setting 'colour'" in debug.stderr
    assert list(tmp_path.iterdir()) == []


# An optimizer other than SGD, end to end.

@pytest.mark.parametrize("backend", BACKENDS)
def test_adam_trains_saves_its_state_and_resumes_exactly(backend, tiny_dataset, tmp_path):
    args = ["lenet", tiny_dataset, "--backend", backend, "--lr", "0.01", "--batch-size", "50",
            "--set", "arch.activation=relu"]
    adam = run(*args, "--optimizer", "adam", "--epochs", "3", out=tmp_path / "adam")
    sgd = run(*args, "--optimizer", "sgd", "--epochs", "3", out=tmp_path / "sgd")
    assert adam[-1]["test_acc"] > 0.5  # adam learns the tiny set at this rate; plain SGD barely moves
    assert adam[-1]["train_loss"] < sgd[-1]["train_loss"] / 2
    (folder,) = (tmp_path / "adam").iterdir()
    assert json.loads((folder / "config.json").read_text())["config"]["optimizer"] == "adam"

    run(*args, "--optimizer", "adam", "--epochs", "1", out=tmp_path / "parts")
    # Adam's moments come back from optimizer.states: without them epoch 2 would differ.
    for resumed, straight in zip(resume(tmp_path / "parts", 3), adam, strict=True):
        assert resumed["train_loss"] == pytest.approx(straight["train_loss"], rel=1e-5)


# Dropout is seeded.

@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_is_seeded_and_a_resumed_run_draws_the_same_masks(backend, probes, tmp_path):
    args = ["probe", "noise", "--backend", backend, "--lr", "0.05", "--batch-size", "100", "--limit", "500"]
    first = run(*args, "--epochs", "3", "--seed", "5", out=tmp_path / "first")
    again = run(*args, "--epochs", "3", "--seed", "5", out=tmp_path / "again")
    other = run(*args, "--epochs", "3", "--seed", "6", out=tmp_path / "other")
    assert [m["train_loss"] for m in first] == [m["train_loss"] for m in again]
    assert [m["train_loss"] for m in first] != [m["train_loss"] for m in other]
    run(*args, "--epochs", "2", "--seed", "5", out=tmp_path / "parts")
    assert [m["train_loss"] for m in resume(tmp_path / "parts", 3)] == pytest.approx(
        [m["train_loss"] for m in first], rel=1e-6)


# Resizing happens batch by batch on the device.

def resident_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def first_step(backend, spec, data, resize: int) -> object:
    """A session of ``backend`` on ``data`` that has taken one training step at ``--resize resize``."""
    from types import SimpleNamespace

    from cnnpipe.config import RunConfig
    from cnnpipe.run import World

    config = RunConfig(model=spec.name, dataset=data.name, epochs=1, batch_size=100, lr=0.1, backend=backend.name,
                       device="cpu", resize=resize, arch={"dropout": 0, "channels": 2})
    session = backend.session(SimpleNamespace(config=config, model=spec, data=data, world=World()))
    session.initialize()
    session.begin_epoch(1, 1)
    session.step(next(iter(session.batches(np.arange(len(data.train_X))))))
    session.wait()
    return session


@pytest.mark.parametrize("backend", BACKENDS)
def test_resize_happens_batch_by_batch_not_as_a_resized_copy(backend, probes, cnnpipe_registry):
    spec, data = cnnpipe_registry.model("probe"), cnnpipe_registry.dataset("noise").load()
    loaded = cnnpipe_registry.backend(backend).load()
    small = replace(data, train_X=data.train_X[:100], train_y=data.train_y[:100])
    warm = first_step(loaded, spec, small, 160)  # the framework's own start-up memory, before measuring
    before = resident_mib()
    session = first_step(loaded, spec, data, 160)
    grown = resident_mib() - before
    copy_mib = len(data.train_X) * 160 * 160 * 4 / 2**20  # the training split as float32 at 160 x 160
    assert grown < copy_mib / 3, f"a session at --resize 160 took {grown:.0f} MiB; a resized copy is {copy_mib:.0f}"
    del warm, session


# Fashion-MNIST: the cache is searched before the system copy.

@pytest.mark.real_data
def test_the_cache_is_searched_before_the_system_copy(real_data, tmp_path, monkeypatch):
    from cnnpipe_fashion_mnist import loader

    if not loader.has_files(loader.SYSTEM_DIR, loader.FASHION_MNIST):
        unavailable(f"no system copy in {loader.SYSTEM_DIR} (apt-get install dataset-fashion-mnist)")
    monkeypatch.delenv("CNNPIPE_DATA_DIR", raising=False)
    monkeypatch.setenv("CNNPIPE_CACHE_DIR", str(tmp_path))
    from cnnpipe.registry import build_registry

    spec = build_registry().dataset("fashion-mnist")
    assert spec.locate() == loader.SYSTEM_DIR  # an empty cache: the system copy
    cache = loader.cache_dir()
    cache.mkdir(parents=True)
    for name in loader.FASHION_MNIST.files.values():
        (cache / name).symlink_to(loader.SYSTEM_DIR / name)
    assert spec.locate() == cache  # the same four files in the cache come first
    data = spec.load()
    assert data.train_X.shape == (60000, 1, 28, 28)
    assert loader.decoded_dir(cache, loader._stamp(cache, loader.FASHION_MNIST)).is_dir()  # decoded from the cache's files
