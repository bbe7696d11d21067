"""The book's from-scratch BatchNorm against Gluon's on the same inputs."""

import numpy as np
import pytest


def pair(num_dims, channels, hybridize):
    from mxnet.gluon import nn

    from cnnpipe_batchnorm.scratch import BatchNorm

    scratch = BatchNorm(channels, num_dims=num_dims)
    # The book starts the moving variance at zero; Gluon at one unless told.
    gluon = nn.BatchNorm(in_channels=channels, running_variance_initializer="zeros")
    for layer in (scratch, gluon):
        layer.initialize()
        if hybridize:
            layer.hybridize()
    return scratch, gluon


def forward_backward(layer, X, weights):
    from mxnet import autograd

    X = X.copy()
    X.attach_grad()
    with autograd.record():
        Y = layer(X)
        (Y * Y * weights).sum().backward()
    return Y.asnumpy(), X.grad.asnumpy()


@pytest.mark.parametrize("hybridize", [False, True])
@pytest.mark.parametrize("shape", [(8, 3, 5, 5), (16, 7)])
def test_scratch_layer_matches_gluon(shape, hybridize):
    from mxnet import nd

    rng = np.random.default_rng(0)
    scratch, gluon = pair(len(shape), shape[1], hybridize)
    for _ in range(4):
        X = nd.array(rng.normal(2.0, 3.0, shape))
        weights = nd.array(rng.random(shape))
        Ys, grads = forward_backward(scratch, X, weights)
        Yg, gradg = forward_backward(gluon, X, weights)
        np.testing.assert_allclose(Ys, Yg, rtol=1e-4, atol=1e-4)  # batch statistics in training
        np.testing.assert_allclose(grads, gradg, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(scratch.gamma.grad().asnumpy().ravel(), gluon.gamma.grad().asnumpy(), rtol=1e-3)
        np.testing.assert_allclose(scratch.beta.grad().asnumpy().ravel(), gluon.beta.grad().asnumpy(), rtol=1e-3)
    moving_mean = scratch.moving_mean.data().asnumpy().ravel()
    assert np.abs(moving_mean).min() > 0.5, "four training steps moved the moving mean towards 2"
    np.testing.assert_allclose(moving_mean, gluon.running_mean.data().asnumpy(), rtol=1e-5)
    np.testing.assert_allclose(scratch.moving_var.data().asnumpy().ravel(), gluon.running_var.data().asnumpy(), rtol=1e-5)
    # Prediction uses the moving statistics and leaves them alone.
    X = nd.array(rng.normal(0.0, 1.0, shape))
    np.testing.assert_allclose(scratch(X).asnumpy(), gluon(X).asnumpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(scratch.moving_mean.data().asnumpy().ravel(), moving_mean)


def test_moving_statistics_follow_the_books_formula():
    from mxnet import autograd, nd

    from cnnpipe_batchnorm.scratch import BatchNorm

    layer = BatchNorm(2, num_dims=2)
    layer.initialize()
    layer.hybridize()
    X = nd.array([[1.0, 10.0], [3.0, 30.0]])
    with autograd.record():
        layer(X)
    # momentum 0.9 from zero: 0.1 * batch mean and 0.1 * biased batch variance
    np.testing.assert_allclose(layer.moving_mean.data().asnumpy(), [[0.2, 2.0]], rtol=1e-6)
    np.testing.assert_allclose(layer.moving_var.data().asnumpy(), [[0.1, 10.0]], rtol=1e-6)


def test_scratch_layer_rejects_other_ranks():
    from cnnpipe_batchnorm.scratch import BatchNorm

    with pytest.raises(ValueError, match="num_dims"):
        BatchNorm(3, num_dims=3)


@pytest.mark.parametrize("shape", [(8, 3, 5, 5), (16, 7)])
def test_torch_scratch_layer_matches_the_mxnet_one(shape):
    torch = pytest.importorskip("torch")
    from mxnet import nd

    from cnnpipe_batchnorm.scratch import BatchNorm as MXNetBatchNorm
    from cnnpipe_batchnorm.scratch_torch import BatchNorm

    rng = np.random.default_rng(0)
    mxnet_layer = MXNetBatchNorm(shape[1], num_dims=len(shape))
    mxnet_layer.initialize()
    mxnet_layer.hybridize()
    layer = BatchNorm(shape[1], num_dims=len(shape))
    for _ in range(4):
        X = rng.normal(2.0, 3.0, shape).astype(np.float32)
        weights = rng.random(shape).astype(np.float32)
        Ym, gradm = forward_backward(mxnet_layer, nd.array(X), nd.array(weights))
        Xt = torch.tensor(X, requires_grad=True)
        Yt = layer(Xt)
        (Yt * Yt * torch.tensor(weights)).sum().backward()
        np.testing.assert_allclose(Yt.detach().numpy(), Ym, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(Xt.grad.numpy(), gradm, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(layer.gamma.grad.numpy().ravel(), mxnet_layer.gamma.grad().asnumpy().ravel(), rtol=1e-3)
        layer.gamma.grad = None
    np.testing.assert_allclose(layer.moving_mean.numpy(), mxnet_layer.moving_mean.data().asnumpy(), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_var.numpy(), mxnet_layer.moving_var.data().asnumpy(), rtol=1e-5)
    layer.eval()
    X = rng.normal(0.0, 1.0, shape).astype(np.float32)
    np.testing.assert_allclose(layer(torch.tensor(X)).detach().numpy(), mxnet_layer(nd.array(X)).asnumpy(),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.moving_mean.numpy(), mxnet_layer.moving_mean.data().asnumpy(), rtol=1e-5)
