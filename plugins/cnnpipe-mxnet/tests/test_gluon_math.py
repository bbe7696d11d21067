"""The core's trainer with the MXNet backend keeps the book's mathematics: it matches a plain Gluon loop step for step."""

from __future__ import annotations

import numpy as np
import pytest

from cnnpipe.config import RunConfig
from cnnpipe.registry import build_registry
from cnnpipe.rundir import PARAMS, RunDir
from cnnpipe.run import Run
from cnnpipe.specs import Data, ModelSpec
from cnnpipe.training import train

SEED, LR, BATCH, EPOCHS = 3, 0.9, 32, 2


def small_lenet(num_classes=10, activation="sigmoid"):
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, kernel_size=5, activation=activation), nn.MaxPool2D(pool_size=2, strides=2),
            nn.Dense(16, activation=activation), nn.Dense(num_classes))
    return net


MODEL = ModelSpec("small-lenet", {"mxnet": small_lenet}, arch={"activation": "sigmoid"})


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    # 100 is not a multiple of the batch size, so the short last batch is covered too.
    return Data(rng.integers(0, 256, (100, 1, 28, 28), dtype=np.uint8), rng.integers(0, 10, 100, dtype=np.uint8),
                rng.integers(0, 256, (40, 1, 28, 28), dtype=np.uint8), rng.integers(0, 10, 40, dtype=np.uint8),
                [str(i) for i in range(10)])


def new_run(tmp_path, data, epochs, run_dir=None, history=()):
    config = RunConfig(model=MODEL.name, dataset="synthetic", epochs=epochs, batch_size=BATCH, lr=LR,
                       backend="mxnet", seed=SEED, device="cpu", out=str(tmp_path))
    if run_dir is None:
        run_dir = RunDir.create(tmp_path, MODEL.name, "synthetic")
        run_dir.write_config({"config": config.to_dict(), "versions": {}})
    registry = build_registry()
    return Run(config, registry, MODEL, None, registry.backend("mxnet").load(), data, run_dir, history)


def reference(data, epochs):
    """The book's loop written plainly: numpy batches copied and scaled one by one, same seeds and order."""
    import mxnet as mx
    from mxnet import autograd, gluon, init, nd

    mx.random.seed(SEED)
    net = small_lenet()
    net.initialize(init.Xavier())
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": LR})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    n, history = len(data.train_X), []
    for epoch in range(1, epochs + 1):
        mx.random.seed(SEED * 100_003 + epoch)
        order = np.random.default_rng([SEED, epoch]).permutation(n)
        total = 0.0
        for start in range(0, n, BATCH):
            idx = order[start:start + BATCH]
            X = nd.array(data.train_X[idx], dtype="uint8").astype("float32") / 255
            y = nd.array(data.train_y[idx], dtype="float32")
            with autograd.record():
                l = loss(net(X), y)
            l.backward()
            trainer.step(BATCH)  # the book's train_ch5 scales the short last batch by batch_size too
            total += float(l.sum().asscalar())
        X = nd.array(data.test_X, dtype="uint8").astype("float32") / 255
        correct = (net(X).argmax(axis=1) == nd.array(data.test_y, dtype="float32")).sum()
        acc = float(correct.asscalar()) / len(data.test_X)
        history.append((total / n, acc))
    return {name: p.data().asnumpy() for name, p in net.collect_params().items()}, history


def trained_params(path):
    from mxnet import nd

    return {k: v.asnumpy() for k, v in nd.load(str(path)).items()}


def assert_same_params(got, expected):
    # Names differ (save_parameters uses structural names); both list the layers in order.
    assert len(got) == len(expected)
    for a, b in zip(got.values(), expected.values()):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_trainer_matches_a_plain_gluon_loop(tmp_path, data):
    run = new_run(tmp_path, data, EPOCHS)
    history = train(run)
    expected_params, expected_history = reference(data, EPOCHS)
    assert_same_params(trained_params(run.run_dir.file(PARAMS)), expected_params)
    for metrics, (loss, acc) in zip(history, expected_history):
        assert metrics["train_loss"] == pytest.approx(loss, rel=1e-5)
        assert metrics["test_acc"] == pytest.approx(acc, abs=1e-9)


def test_resumed_run_matches_an_uninterrupted_one(tmp_path, data):
    whole = new_run(tmp_path / "whole", data, EPOCHS)
    train(whole)
    first = new_run(tmp_path / "split", data, 1)
    train(first)
    done, history = first.run_dir.last_checkpoint()
    assert done == 1
    rest = new_run(tmp_path / "split", data, EPOCHS, run_dir=first.run_dir, history=history)
    train(rest)
    a, b = trained_params(whole.run_dir.file(PARAMS)), trained_params(rest.run_dir.file(PARAMS))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_every_model_hybridizes_to_the_same_function(cnnpipe_registry):
    """Hybridizing (what the backend does) must not change any MXNet network's function."""
    import mxnet as mx
    from mxnet import init, nd

    rng = np.random.default_rng(0)
    for name in cnnpipe_registry.names("models"):
        spec = cnnpipe_registry.model(name)
        if "mxnet" not in spec.backends:
            continue
        shape = (2,) + tuple(spec.sample_shape[1:])
        if shape[2] > 96:
            shape = shape[:2] + (96, 96)  # the 224-pixel networks accept 96 too; keeps this quick
        X = nd.array(rng.random(shape, dtype=np.float32))
        outputs = []
        for hybridize in (False, True):
            mx.random.seed(1)
            net = spec.builds["mxnet"](num_classes=10, **spec.arch)
            net.initialize(init.Xavier())
            if hybridize:
                net.hybridize()
            outputs.append(net(X).asnumpy())
        np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-4, atol=1e-5, err_msg=name)
