"""Contract tests for plugin authors, loaded as a pytest plugin.

A model package proves it honours the cnnpipe contract with a few lines::

    from cnnpipe.testing import ModelContract

    class TestLeNet(ModelContract):
        model = "lenet"
        input_shape = (2, 1, 28, 28)

Every registered model gets the same checks: it is registered by its own distribution, loading it
imports no MXNet, its output has one score per class, it hybridizes to the same function, the same
seed gives the same output, a few training steps on tiny data lower the loss, and its recipes are
sane.  Set ``real_run`` to options of ``cnnpipe run`` (``--limit 64 --epochs 4 ...``) and a short
run on the real Fashion-MNIST must succeed and lower the training loss.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


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


def conv_params(c_in: int, c_out: int, k: int) -> int:
    """Parameters of a ``k`` x ``k`` convolution with bias, for counting a model's parameters by hand."""
    return c_out * (c_in * k * k + 1)


def dense_params(n_in: int, n_out: int) -> int:
    """Parameters of a dense layer with bias."""
    return n_out * (n_in + 1)


def batchnorm_params(channels: int) -> int:
    """Parameters of a batch-norm layer: gamma, beta, running mean and running variance."""
    return 4 * channels


class ModelContract:
    """Subclass in a test module and set ``model`` (and usually ``input_shape``)."""

    model: str = ""
    input_shape: tuple = (2, 1, 28, 28)
    arch: dict = {}
    num_classes: int = 10
    train_steps: int = 8
    lr: float | None = None  # default: the smallest recipe learning rate
    real_run: tuple = ()  # `cnnpipe run MODEL fashion-mnist` options for a short real run; empty skips it

    @pytest.fixture(scope="class")
    def spec(self):
        from cnnpipe.registry import build_registry

        return build_registry().get("models", self.model)

    def _net(self, spec, seed=0, hybridize=False):
        import mxnet as mx
        from mxnet import init

        mx.random.seed(seed)
        net = spec.build(num_classes=self.num_classes, **{**spec.arch, **self.arch})
        net.initialize(init.Xavier())
        if hybridize:
            net.hybridize()
        return net

    def _data(self, seed=0):
        import numpy as np
        from mxnet import nd

        rng = np.random.default_rng(seed)
        X = nd.array(rng.random(self.input_shape, dtype=np.float32))
        y = nd.array(rng.integers(0, self.num_classes, self.input_shape[0]))
        return X, y

    def test_registered_by_its_distribution(self, spec):
        assert spec.name == self.model
        assert spec.dist and spec.dist != "cnnpipe", "a model comes from its own distribution"
        assert spec.summary, "give the model a one-line summary"

    def test_loading_the_plugin_imports_no_mxnet(self, spec):
        package = spec.build.__module__.split(".")[0]
        code = (f"import sys, {package}; from cnnpipe.registry import build_registry; "
                f"build_registry().get('models', {self.model!r}); print('mxnet' in sys.modules)")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[-1] == "False", "import MXNet inside build functions, not at module level"

    @pytest.mark.real_data
    def test_short_run_on_real_fashion_mnist(self, spec, tmp_path):
        if not self.real_run:
            pytest.skip("set real_run to check a short run on the real Fashion-MNIST")
        if not (FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file():
            message = f"Fashion-MNIST not installed in {FASHION_MNIST} (apt-get install dataset-fashion-mnist)"
            pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
        from click.testing import CliRunner

        from cnnpipe.cli import main

        out = tmp_path / "runs"
        args = ["run", self.model, "fashion-mnist", *self.real_run, "--out", str(out)]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        (run_dir,) = out.iterdir()
        assert json.loads((run_dir / "summary.json").read_text())["status"] == "succeeded"
        losses = [json.loads(line)["train_loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        assert losses[-1] < losses[0] - 0.002, f"training loss did not fall: {losses}"

    def test_output_has_one_score_per_class(self, spec):
        X, _ = self._data()
        assert self._net(spec)(X).shape == (self.input_shape[0], self.num_classes)

    def test_hybridizes_to_the_same_function(self, spec):
        X, _ = self._data()
        imperative = self._net(spec, seed=1)(X).asnumpy()
        hybrid = self._net(spec, seed=1, hybridize=True)(X).asnumpy()
        import numpy as np

        np.testing.assert_allclose(hybrid, imperative, rtol=1e-4, atol=1e-5)

    def test_same_seed_gives_same_output(self, spec):
        X, _ = self._data()
        first = self._net(spec, seed=3)(X).asnumpy()
        again = self._net(spec, seed=3)(X).asnumpy()
        other = self._net(spec, seed=4)(X).asnumpy()
        assert (first == again).all()
        assert (first != other).any()

    def test_training_steps_lower_the_loss(self, spec):
        from mxnet import autograd, gluon

        X, y = self._data()
        net = self._net(spec, hybridize=True)
        lr = self.lr or min(r.lr for r in spec.recipes.values()) if spec.recipes else self.lr or 0.1
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
        loss = gluon.loss.SoftmaxCrossEntropyLoss()
        losses = []
        for _ in range(self.train_steps):
            with autograd.record():
                l = loss(net(X), y)
            l.backward()
            trainer.step(len(X))
            losses.append(float(l.mean().asscalar()))
        assert losses[-1] < losses[0], f"loss went {losses[0]:.4f} -> {losses[-1]:.4f} in {self.train_steps} steps"

    def test_recipes_are_sane(self, spec):
        for dataset, recipe in spec.recipes.items():
            assert recipe.lr > 0 and recipe.batch_size >= 1 and recipe.num_epochs >= 1, dataset
            assert recipe.resize is None or recipe.resize >= 1, dataset
