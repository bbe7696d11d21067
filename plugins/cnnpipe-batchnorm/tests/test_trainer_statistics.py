"""The moving statistics under the trainer's hybridization equal those of imperative training."""

import numpy as np
import pytest


def train_steps(net, batches, lr=1.0):
    from mxnet import autograd, gluon

    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    for X, y in batches:
        with autograd.record():
            l = loss(net(X), y)
        l.backward()
        trainer.step(len(X))


@pytest.mark.parametrize("name, stat", [("lenet-bn", "running"), ("lenet-bn-scratch", "moving")])
def test_hybridized_training_keeps_the_statistics_imperative_training_does(cnnpipe_registry, tmp_path, name, stat):
    import mxnet as mx
    from mxnet import init, nd

    from cnnpipe_mxnet import backend as gluon_loop

    rng = np.random.default_rng(0)
    batches = [(nd.array(rng.random((16, 1, 28, 28), dtype=np.float32)), nd.array(rng.integers(0, 10, 16)))
               for _ in range(5)]
    spec = cnnpipe_registry.model(name)
    mx.random.seed(0)
    start = spec.builds["mxnet"](num_classes=10)
    start.initialize(init.Xavier())
    start(batches[0][0])
    start.save_parameters(str(tmp_path / "start.params"))
    nets = {}
    for how in ("imperative", "trainer"):
        net = spec.builds["mxnet"](num_classes=10)
        net.load_parameters(str(tmp_path / "start.params"))
        if how == "trainer":
            net.hybridize(**gluon_loop.HYBRIDIZE)
        train_steps(net, batches)
        # Layer names count up across builds, so compare in the networks' own order.
        nets[how] = [(k.rpartition("_")[2], v.data().asnumpy()) for k, v in net.collect_params().items() if stat in k]
    assert len(nets["trainer"]) == 8
    for (kind, value), (_, hybrid) in zip(nets["imperative"], nets["trainer"]):
        assert np.abs(value - (1.0 if name == "lenet-bn" and kind == "var" else 0.0)).max() > 1e-3, "training moved it"
        np.testing.assert_allclose(hybrid, value, rtol=1e-3, atol=1e-5)
