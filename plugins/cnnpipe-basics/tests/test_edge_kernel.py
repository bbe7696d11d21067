"""The book's kernel-learning example through the normal pipeline: dataset, model, trainer, run folder."""

import json
from pathlib import Path

import numpy as np
import pytest

from cnnpipe.testing import ModelContract


class TestEdgeKernel(ModelContract):
    """The contract, with the two classification checks restated for an image-to-image model."""

    model = "edge-kernel"
    input_shape = (2, 1, 6, 8)

    def test_output_has_one_score_per_class(self, spec):
        X, _ = self._data()
        assert self._net(spec)(X).shape == (2, 1, 6, 7)

    def test_training_steps_lower_the_loss(self, spec):
        from mxnet import autograd, gluon, nd

        X, _ = self._data()
        Y = nd.array(np.random.default_rng(1).random((2, 1, 6, 7), dtype=np.float32))
        net = self._net(spec, hybridize=True)
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 3e-2})
        losses = []
        for _ in range(self.train_steps):
            with autograd.record():
                l = ((net(X) - Y) ** 2).sum()
            l.backward()
            trainer.step(len(X))
            losses.append(float(l.asscalar()))
        assert losses[-1] < losses[0]


def test_shapes_parameters_and_recipe(cnnpipe_registry):
    spec = cnnpipe_registry.get("models", "edge-kernel")
    layers, num_params = cnnpipe_registry.get("trainers", "mxnet").describe(spec, spec.arch, spec.sample_shape)
    assert [shape for _, shape in layers] == [(1, 1, 6, 7)]
    assert num_params == 1 * 2  # one 1x2 kernel, no bias
    recipe = spec.recipes["edge-image"]
    assert (recipe.lr, recipe.batch_size, recipe.num_epochs, recipe.optimizer) == (3e-2, 1, 10, "sgd")
    assert spec.trainer == "squared-loss"
    assert cnnpipe_registry.get("trainers", "squared-loss").backend == "mxnet"


def read_run(run_dir):
    from mxnet import nd

    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    (kernel,) = nd.load(str(run_dir / "model.params")).values()
    return metrics, kernel.asnumpy()


def test_cli_run_learns_the_edge_kernel(cnnpipe_cli):
    result = cnnpipe_cli("run", "edge-kernel", "edge-image")
    assert result.exit_code == 0, result.output
    (run_dir,) = Path("runs").iterdir()
    metrics, kernel = read_run(run_dir)
    assert [m["epoch"] for m in metrics] == list(range(1, 11))
    assert all(m["train_acc"] is None and m["test_acc"] is None for m in metrics)
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"] / 100
    assert kernel.shape == (1, 1, 1, 2)
    np.testing.assert_allclose(kernel.ravel(), [1, -1], atol=0.05)
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [f"epoch-{e:03d}" for e in range(1, 11)]
    assert "test acc" not in result.output and "epoch 10, loss" in result.output


def test_resumed_run_ends_where_an_uninterrupted_one_does(cnnpipe_cli):
    quiet = ("--reporter", "metrics")  # the plot reporter redraws every epoch; not what this test is about
    assert cnnpipe_cli("run", "edge-kernel", "edge-image", "--out", "whole", *quiet).exit_code == 0
    assert cnnpipe_cli("run", "edge-kernel", "edge-image", "--out", "parts", "--epochs", "4", *quiet).exit_code == 0
    (part,) = Path("parts").iterdir()
    result = cnnpipe_cli("run", "--resume", str(part), "--epochs", "10")
    assert result.exit_code == 0, result.output
    (whole,) = Path("whole").iterdir()
    whole_metrics, whole_kernel = read_run(whole)
    part_metrics, part_kernel = read_run(part)
    np.testing.assert_allclose(part_kernel, whole_kernel, rtol=1e-6)
    assert [m["train_loss"] for m in part_metrics] == pytest.approx([m["train_loss"] for m in whole_metrics])


def test_class_label_datasets_are_refused(cnnpipe_cli):
    result = cnnpipe_cli("run", "edge-kernel", "fashion-mnist", "--lr", "0.1", "--batch-size", "4", "--epochs", "1")
    assert result.exit_code == 2
    assert "fits image targets" in result.output
    assert not Path("runs").exists()


def test_bad_kernel_size_is_a_usage_error(cnnpipe_cli):
    result = cnnpipe_cli("run", "edge-kernel", "edge-image", "--set", "arch.kernel_size=[0, 2]")
    assert result.exit_code == 2
    assert "kernel_size" in result.output
    assert not Path("runs").exists()
