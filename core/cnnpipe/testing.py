"""Contract tests for plugin authors, loaded as a pytest plugin.

A model package proves it honours the cnnpipe contract with a few lines::

    from cnnpipe.testing import ModelContract

    class TestLeNet(ModelContract):
        model = "lenet"
        input_shape = (2, 1, 28, 28)   # a batch: (N, C, H, W), the batch dimension included

Every test of the kit runs once per backend the model offers (its ``builds``), through the same
backend pieces ``cnnpipe run`` uses: the model is registered by its own distribution, loading it
imports no framework, its output has one score per class, the same seed gives the same output, a few
training steps on tiny data lower the loss, its recipes are sane, and every backend traces the same
layer shapes and parameter count.  Set ``real_run`` to options of ``cnnpipe run`` (``--limit 2000
--epochs 2 ...``) and a short run on the real Fashion-MNIST must succeed and learn: its last epoch's
mean training loss must lie ``real_drop`` (10%) below its first epoch's and below the label entropy,
the lowest loss a network that ignores its input can reach.  Without ``real_run`` that check does not
apply to the model (deselected, not skipped).

Fixtures: ``cnnpipe_registry`` (every installed plugin: ``registry.model(name)``, ``.dataset(name)``,
``.backend(name)``, ``.reporter(name)``, ``registry.names(kind)``, ``registry.get(kind, name)``),
``cnnpipe_cli`` (runs the command in a fresh folder and returns click's result) and
``fashion_mnist`` (the folder of the real data).

Markers: ``real_data`` (the test needs the real Fashion-MNIST).  A test whose requirement is missing
is skipped with the reason, except under CI (``CI=true``), where it fails: :func:`unavailable`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import numpy as np
import pytest

FRAMEWORKS = ("mxnet", "torch")
CI_VALUES = ("true", "1", "yes")


def in_ci() -> bool:
    """Whether the tests run under CI (``CI=true``): there, everything the tests need must be installed."""
    return os.environ.get("CI", "").strip().lower() in CI_VALUES


def unavailable(reason: str) -> NoReturn:
    """A requirement of the test is missing: skip with ``reason``, or fail under CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI={os.environ['CI']}: what the tests need must be installed; see .ci/setup.sh)",
                    pytrace=False)
    pytest.skip(reason)


def require_fashion_mnist() -> Path:
    """The folder the Fashion-MNIST plugin reads (data dir, cache or Debian's copy), or :func:`unavailable`."""
    from cnnpipe.errors import CnnpipeError

    try:
        spec = _registry().dataset("fashion-mnist")
        folder = spec.locate(None) if spec.locate else None
    except CnnpipeError as exc:
        unavailable(f"the real Fashion-MNIST is not usable: {exc}")
    if folder is None:
        unavailable("the real Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist, "
                    "or set CNNPIPE_DATA_DIR)")
    return Path(folder)


# A test process started in the background (``python3 -m tox &``) ignores SIGINT, and children inherit
# an ignored signal across exec: this resets it first, so that the command under test sees Ctrl-C.
SIGINT_DEFAULT = [sys.executable, "-c", "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                                        "os.execvp(sys.argv[1], sys.argv[1:])"]


@contextlib.contextmanager
def started(cmd: list, **popen):
    """``cmd`` as a child process that takes Ctrl-C as from a terminal and reads no standard input;
    killed when the block ends, however it ends."""
    proc = subprocess.Popen([*SIGINT_DEFAULT, *cmd], stdin=subprocess.DEVNULL, **popen)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)


@functools.lru_cache(maxsize=1)
def _registry():
    from cnnpipe.registry import build_registry

    return build_registry()


@pytest.fixture
def cnnpipe_registry():
    """The registry of every installed plugin."""
    from cnnpipe.registry import build_registry

    return build_registry()


@pytest.fixture
def cnnpipe_cli(tmp_path, monkeypatch):
    """Run the ``cnnpipe`` command in a fresh folder: ``cnnpipe_cli("list", "models")`` -> click Result."""
    from click.testing import CliRunner

    from cnnpipe.cli import main

    monkeypatch.chdir(tmp_path)

    def invoke(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture
def fashion_mnist() -> Path:
    """The folder of the real Fashion-MNIST; a test using it is marked ``real_data``."""
    return require_fashion_mnist()


def conv_params(c_in: int, c_out: int, k: int) -> int:
    """Parameters of a ``k`` x ``k`` convolution with bias, for counting a model's parameters by hand."""
    return c_out * (c_in * k * k + 1)


def dense_params(n_in: int, n_out: int) -> int:
    """Parameters of a dense layer with bias."""
    return n_out * (n_in + 1)


def batchnorm_params(channels: int) -> int:
    """Parameters of a batch-norm layer: gamma, beta, running mean and running variance."""
    return 4 * channels


def pytest_generate_tests(metafunc):
    """Run each kit test once per backend of the model (and the agreement test per further backend)."""
    cls = metafunc.cls
    if cls is None or not issubclass(cls, ModelContract) or not cls.model:
        return
    backends = list(_registry().model(cls.model).backends)
    if "backend" in metafunc.fixturenames:
        if metafunc.function.__name__ == "test_short_run_on_real_fashion_mnist" and not cls.real_run:
            backends = [pytest.param(b, marks=pytest.mark.cnnpipe_not_applicable) for b in backends]
        metafunc.parametrize("backend", backends)
    if "other_backend" in metafunc.fixturenames:
        others = backends[1:] or [pytest.param(None, marks=pytest.mark.cnnpipe_not_applicable)]
        metafunc.parametrize("other_backend", others)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects by marker
def pytest_collection_modifyitems(config, items):
    """Kit checks that do not apply are deselected, not skipped (an agreement test for a model with one backend,
    a real run without ``real_run``), and so are opt-in tests (``@pytest.mark.opt_in("ENV_VAR")``) whose
    variable is not set; tests using the ``fashion_mnist`` fixture are marked ``real_data``."""
    keep, drop = [], []
    for item in items:
        opt_in = item.get_closest_marker("opt_in")
        off = opt_in is not None and not all(os.environ.get(name) for name in opt_in.args)
        (drop if off or item.get_closest_marker("cnnpipe_not_applicable") else keep).append(item)
        if "fashion_mnist" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("real_data"):
            item.add_marker(pytest.mark.real_data)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_runtest_setup(item):
    """A ``real_data`` test without the real data is skipped (fails under CI) before it starts."""
    if item.get_closest_marker("real_data"):
        require_fashion_mnist()


def label_entropy(labels) -> float:
    """The entropy of the label frequencies (nats): the lowest mean cross-entropy of any prediction that
    ignores the input, so a training loss below it means the network uses its input."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64))
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def shape_trace(layers) -> list[tuple]:
    """The output shapes of ``layers`` where they change: a separate activation, dropout or normalisation
    layer (shape kept) and an explicit flatten (Gluon's dense layers flatten on their own) drop out, so that
    networks built from differently cut layers compare."""
    trace: list[tuple] = []
    for _, shape in layers:
        shape = tuple(shape)
        if trace and shape == trace[-1]:
            continue
        if trace and len(shape) == 2 and len(trace[-1]) > 2 and int(np.prod(shape)) == int(np.prod(trace[-1])):
            continue  # a flatten
        trace.append(shape)
    return trace


def traced(shapes) -> list[tuple]:
    """:func:`shape_trace` of bare output shapes (the book's, say), to compare with a backend's layers."""
    return shape_trace([("", tuple(shape)) for shape in shapes])


class TinyRun:
    """What a backend's session needs of a run, for tiny data and no run folder."""

    def __init__(self, model, backend: str, data, arch: dict, lr: float, seed: int = 0, batch_size: int | None = None,
                 init: str = "xavier"):
        from cnnpipe.config import RunConfig
        from cnnpipe.run import World

        self.model, self.data = model, data
        self.world = World()
        self.config = RunConfig(model=model.name, dataset="tiny", epochs=1, batch_size=batch_size or len(data.train_X),
                                lr=lr, backend=backend, seed=seed, device="cpu", arch=dict(arch), init=init)


class ModelContract:
    """Subclass in a test module and set ``model`` (and usually ``input_shape``, a batch with its batch dimension)."""

    model: str = ""
    input_shape: tuple = (2, 1, 28, 28)
    arch: dict = {}
    num_classes: int = 10
    train_steps: int = 8
    lr: float | None = None  # default: the smallest recipe learning rate
    real_run: tuple = ()  # `cnnpipe run MODEL fashion-mnist` options for a short real run; empty: not applicable
    real_drop: float = 0.10  # how far the last epoch's loss must lie below the first epoch's and below chance

    @pytest.fixture(scope="class")
    @classmethod
    def spec(cls):
        return _registry().model(cls.model)

    def data(self, seed=0, channels=None):
        """Tiny random data of ``input_shape`` (with ``channels`` when given): class labels, or float targets shaped
        like the output for regression."""
        from cnnpipe.specs import CLASSIFICATION, Data

        rng = np.random.default_rng(seed)
        shape = self.input_shape if channels is None else (self.input_shape[0], channels, *self.input_shape[2:])
        X = rng.random(shape, dtype=np.float32)
        spec = _registry().model(self.model)
        if spec.task == CLASSIFICATION:
            y = rng.integers(0, self.num_classes, shape[0])
            return Data(X, y, X, y, [str(i) for i in range(self.num_classes)], name="tiny")
        shape = self.output_shape()
        y = rng.random(shape, dtype=np.float32)
        return Data(X, y, X, y, [], name="tiny")

    def output_shape(self) -> tuple:
        """What the network gives for ``input_shape``: one score per class (override for other tasks)."""
        return (self.input_shape[0], self.num_classes)

    def session(self, spec, backend, seed=0, lr=None, init="xavier", data=None):
        """A backend session on tiny data, its parameters initialised."""
        lr = lr or self.lr or (min(r.lr for r in spec.recipes.values()) if spec.recipes else 0.1)
        run = TinyRun(spec, backend, data or self.data(), {**spec.arch, **self.arch}, lr, seed, init=init)
        session = _registry().backend(backend).load().session(run)
        session.initialize()
        return session

    def test_registered_by_its_distribution(self, spec):
        assert spec.name == self.model
        assert spec.dist and spec.dist != "cnnpipe", "a model comes from its own distribution"
        assert spec.summary, "give the model a one-line summary"

    def test_loading_the_plugin_imports_no_framework(self, spec, backend):
        module = spec.builds[backend].__module__.split(".")[0]
        code = (f"import sys, {module}; from cnnpipe.registry import build_registry; "
                f"build_registry().model({self.model!r}); print(sorted(set(sys.modules) & {set(FRAMEWORKS)!r}))")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split("\n")[-2] == "[]", "import frameworks inside build functions, not at module level"

    def test_output_has_one_score_per_class(self, spec, backend):
        X = self.data().train_X
        assert self.session(spec, backend).predict(X).shape == self.output_shape()

    def test_same_seed_gives_same_output(self, spec, backend):
        X = self.data().train_X
        first = self.session(spec, backend, seed=3).predict(X)
        again = self.session(spec, backend, seed=3).predict(X)
        other = self.session(spec, backend, seed=4).predict(X)
        assert (first == again).all()
        assert (first != other).any()

    def test_builds_for_the_input_channels(self, spec, backend):
        """A classifier trains on colour pictures as well as grey ones: the build is lazy or takes ``input_shape``."""
        from cnnpipe.specs import CLASSIFICATION

        if spec.task != CLASSIFICATION:
            pytest.skip("a regression model's targets are shaped like its input")
        channels = 1 if self.input_shape[1] == 3 else 3
        data = self.data(channels=channels)
        assert self.session(spec, backend, data=data).predict(data.train_X).shape == self.output_shape()

    def test_initialisation_is_as_declared(self, spec, backend):
        """``own_init=True``: the build's parameters whatever ``init`` says; else the book's ``init`` decides."""
        X = self.data().train_X
        xavier = self.session(spec, backend, init="xavier").predict(X)
        normal = self.session(spec, backend, init="normal").predict(X)
        if spec.own_init:
            assert (xavier == normal).all(), "own_init=True, yet the backend re-initialised the network by init"
        else:
            assert (xavier != normal).any(), "init changed nothing: declare own_init=True if the build keeps its own"

    def test_training_steps_lower_the_loss(self, spec, backend):
        session = self.session(spec, backend)
        order = np.arange(self.input_shape[0])
        losses = []
        for step in range(1, self.train_steps + 1):
            session.begin_epoch(step, step)
            for batch in session.batches(order):
                session.step(batch)
            losses.append(session.end_epoch()[0])
        assert losses[-1] < losses[0], f"loss went {losses[0]:.4f} -> {losses[-1]:.4f} in {self.train_steps} steps"

    def test_backends_agree_on_shapes_and_parameters(self, spec, other_backend):
        first = spec.backends[0]
        shape = tuple(spec.sample_shape)
        arch = {**spec.arch, **self.arch}
        ref_layers, ref_params = _registry().backend(first).load().describe(spec, arch, shape)
        layers, params = _registry().backend(other_backend).load().describe(spec, arch, shape)
        # The input leads both traces, so that a flatten as the first layer drops out too.
        assert shape_trace([("input", shape), *layers]) == shape_trace([("input", shape), *ref_layers]), \
            f"{other_backend} and {first} layer shapes differ"
        assert params == ref_params, f"{other_backend} has {params:,} parameters, {first} {ref_params:,}"

    @pytest.mark.real_data
    def test_short_run_on_real_fashion_mnist(self, spec, backend, tmp_path):
        from click.testing import CliRunner

        from cnnpipe import rundir
        from cnnpipe.cli import main

        out = tmp_path / "runs"
        args = ["run", self.model, "fashion-mnist", "--backend", backend, *self.real_run, "--out", str(out)]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        (run_dir,) = out.iterdir()
        assert json.loads((run_dir / rundir.SUMMARY).read_text())["status"] == "succeeded"
        losses = [json.loads(line)["train_loss"] for line in (run_dir / rundir.METRICS).read_text().splitlines()]
        assert len(losses) >= 2, "give real_run at least two epochs, so that the loss can be seen to fall"
        limit = json.loads((run_dir / rundir.CONFIG).read_text())["config"]["limit"]
        chance = label_entropy(_registry().dataset("fashion-mnist").load().train_y[:limit])
        keep = 1 - self.real_drop
        assert losses[-1] <= keep * losses[0], f"training loss fell less than {self.real_drop:.0%}: {losses}"
        assert losses[-1] <= keep * chance, (
            f"training loss {losses[-1]:.4f} is not {self.real_drop:.0%} below {chance:.4f}, the lowest a network "
            f"that ignores its input can reach: {losses}")

    def test_recipes_are_sane(self, spec):
        for dataset, recipe in spec.recipes.items():
            assert recipe.lr > 0 and recipe.batch_size >= 1 and recipe.epochs >= 1, dataset
            assert recipe.resize is None or recipe.resize >= 1, dataset


def pytest_configure(config):
    config.addinivalue_line("markers", "opt_in(*variables): runs only when every named environment variable is set "
                                       "(deselected otherwise, never skipped)")
    config.addinivalue_line("markers", "cnnpipe_not_applicable: a kit check that does not apply to this model (deselected)")
    config.addinivalue_line("markers", "real_data: needs the real Fashion-MNIST (skipped without it; fails under CI=true)")
