"""The torch backend's pieces computed against MXNet/Gluon's on the same numbers: optimizers, batch norm,
resizing and initialisation.  Skipped where MXNet is not installed."""

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")
torch = pytest.importorskip("torch")

from mxnet import autograd, nd  # noqa: E402
from mxnet.gluon import nn as gnn  # noqa: E402
from torch import nn  # noqa: E402

from cnnpipe_torch.layers import gluon_batch_norm, initialize, resized  # noqa: E402
from cnnpipe_torch.optimizers import OPTIMIZERS, optimizer  # noqa: E402

# Each element of a 6-vector gets gradients of its own scale, so that where epsilon enters shows.
SCALES = np.array([1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5], dtype=np.float32)


def updates(rng):
    return [rng.normal(size=SCALES.shape).astype(np.float32) * SCALES for _ in range(6)]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_updates_equal_mxnets(name):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=SCALES.shape).astype(np.float32)
    grads = updates(rng)
    lr = 0.01
    mx_opt = mx.optimizer.create(name, learning_rate=lr)
    w = nd.array(w0)
    state = mx_opt.create_state(0, w)
    for g in grads:
        mx_opt.update(0, w, nd.array(g), state)
    p = nn.Parameter(torch.tensor(w0))
    opt = optimizer(name, [p], lr)
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
    moved = np.abs(w.asnumpy() - w0).max()
    assert moved > 1e-3, "the rule did move the weights"
    np.testing.assert_allclose(p.detach().numpy(), w.asnumpy(), rtol=1e-5, atol=1e-7)


def test_optimizer_names_are_case_insensitive():
    assert isinstance(optimizer("SGD", [nn.Parameter(torch.zeros(1))], 0.1), torch.optim.SGD)


@pytest.mark.parametrize("shape", [(16, 3, 4, 4), (8, 5)])
def test_batch_norm_keeps_gluons_running_statistics(shape):
    rng = np.random.default_rng(1)
    gluon = gnn.BatchNorm(in_channels=shape[1])
    gluon.initialize()
    torch_bn = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(shape[1])
    gluon_batch_norm(torch_bn)
    for _ in range(3):
        X = rng.normal(2.0, 3.0, shape).astype(np.float32)
        Xg = nd.array(X)
        with autograd.record():
            Y = gluon(Xg)
        Y.backward()
        Yt = torch_bn(torch.tensor(X, requires_grad=True))
        Yt.sum().backward()  # the backward pass must still find what it saved
        np.testing.assert_allclose(Yt.detach().numpy(), Y.asnumpy(), rtol=1e-4, atol=1e-4)
    assert np.abs(torch_bn.running_var.numpy() - 1).max() > 0.5, "three batches moved the running variance"
    np.testing.assert_allclose(torch_bn.running_mean.numpy(), gluon.running_mean.data().asnumpy(), rtol=1e-5)
    np.testing.assert_allclose(torch_bn.running_var.numpy(), gluon.running_var.data().asnumpy(), rtol=1e-5)
    # Prediction uses them.
    X = rng.normal(0.0, 1.0, shape).astype(np.float32)
    torch_bn.eval()
    np.testing.assert_allclose(torch_bn(torch.tensor(X)).detach().numpy(), gluon(nd.array(X)).asnumpy(),
                               rtol=1e-4, atol=1e-4)


def test_batch_norm_without_the_hooks_differs():
    """PyTorch's own update uses the unbiased variance: what gluon_batch_norm corrects."""
    X = torch.tensor([[1.0], [3.0]])
    plain, matched = nn.BatchNorm1d(1), nn.BatchNorm1d(1)
    gluon_batch_norm(matched)
    plain(X), matched(X)
    assert plain.running_var.item() == pytest.approx(0.9 + 0.1 * 2.0)  # unbiased variance of [1, 3]: 2
    assert matched.running_var.item() == pytest.approx(0.9 + 0.1 * 1.0)  # biased: 1, as Gluon


def test_resize_equals_mxnets_bilinear_resize():
    X = np.random.default_rng(2).random((2, 1, 28, 28), dtype=np.float32)
    for size in (67, 96, 224, 14):
        expected = nd.contrib.BilinearResize2D(nd.array(X), height=size, width=size).asnumpy()
        np.testing.assert_allclose(resized(torch.tensor(X), size).numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(256, 120), (64, 32, 3, 3)])
def test_xavier_draws_from_gluons_range(shape):
    dense = len(shape) == 2
    layer = nn.Linear(shape[1], shape[0]) if dense else nn.Conv2d(shape[1], shape[0], shape[2])
    torch.manual_seed(0)
    initialize(layer, "xavier")
    g = gnn.Dense(shape[0], in_units=shape[1]) if dense else gnn.Conv2D(shape[0], shape[2], in_channels=shape[1])
    g.initialize(mx.init.Xavier())
    ours, gluons = layer.weight.detach().numpy(), g.weight.data().asnumpy()
    bound = np.sqrt(3.0 / ((np.prod(shape[1:]) + shape[0] * np.prod(shape[2:])) / 2))
    for w in (ours, gluons):
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
        assert np.std(w) == pytest.approx(bound / np.sqrt(3), rel=0.03)
    assert (layer.bias.detach().numpy() == 0).all()
