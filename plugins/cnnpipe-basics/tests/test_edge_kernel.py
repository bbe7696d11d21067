"""The book's kernel-learning example through the normal pipeline: dataset, model, the core's trainer, run folder."""

import json
from pathlib import Path

import numpy as np
import pytest

from cnnpipe.testing import ModelContract


class TestEdgeKernel(ModelContract):
    """The contract for an image-to-image model: its output is an edge map, not class scores."""

    model = "edge-kernel"
    input_shape = (2, 1, 6, 8)
    lr = 3e-2

    def output_shape(self):
        return (2, 1, 6, 7)


def test_the_dataset_is_the_books_corr2d_of_the_image():
    from cnnpipe_basics.edge import edge_image, load

    X, Y = edge_image()
    data = load()
    np.testing.assert_array_equal(data.train_X[0, 0], X.asnumpy())
    np.testing.assert_array_equal(data.train_y[0, 0], Y.asnumpy())
    assert data.class_names == [] and data.train_X.dtype == np.float32


def test_shapes_parameters_and_recipe(cnnpipe_registry):
    spec = cnnpipe_registry.model("edge-kernel")
    layers, num_params = cnnpipe_registry.backend("mxnet").load().describe(spec, spec.arch, spec.sample_shape)
    assert [shape for _, shape in layers] == [(1, 1, 6, 7)]
    assert num_params == 1 * 2  # one 1x2 kernel, no bias
    recipe = spec.recipes["edge-image"]
    assert (recipe.lr, recipe.batch_size, recipe.epochs, recipe.optimizer) == (3e-2, 1, 10, "sgd")
    assert spec.task == "regression" and spec.backends == ("mxnet", "torch")


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
    quiet = ("--reporter", "console")  # the plot reporter redraws every epoch; not what this test is about
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


@pytest.mark.real_data  # refused once Fashion-MNIST is loaded
def test_class_label_datasets_are_refused(cnnpipe_cli):
    result = cnnpipe_cli("run", "edge-kernel", "fashion-mnist", "--lr", "0.1", "--batch-size", "4", "--epochs", "1")
    assert result.exit_code == 2
    assert "learns image targets (regression); dataset 'fashion-mnist' has class labels" in result.output
    assert not Path("runs").exists()


def test_bad_kernel_size_is_a_usage_error(cnnpipe_cli):
    result = cnnpipe_cli("run", "edge-kernel", "edge-image", "--set", "arch.kernel_size=[0, 2]")
    assert result.exit_code == 2
    assert "kernel_size" in result.output
    assert not Path("runs").exists()


def test_torch_learns_the_same_kernel(cnnpipe_cli):
    import torch

    result = cnnpipe_cli("run", "edge-kernel", "edge-image", "--backend", "torch")
    assert result.exit_code == 0, result.output
    (run_dir,) = Path("runs").iterdir()
    (kernel,) = torch.load(run_dir / "model.params", weights_only=True).values()
    np.testing.assert_allclose(kernel.numpy().ravel(), [1, -1], atol=0.05)
