"""The from-scratch functions of d2l 5.1-5.4 against the book's printed examples and Gluon's layers."""

import numpy as np
import pytest


@pytest.fixture
def nd():
    from mxnet import nd

    return nd


def test_corr2d_book_example(nd):
    from cnnpipe_basics.conv import corr2d

    X = nd.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = nd.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(corr2d(X, K).asnumpy(), [[19, 25], [37, 43]])


def test_corr2d_detects_edges(nd):
    from cnnpipe_basics.conv import corr2d
    from cnnpipe_basics.edge import edge_image

    X, Y = edge_image()
    expected = np.zeros((6, 7))
    expected[:, 1], expected[:, 5] = 1, -1
    np.testing.assert_array_equal(Y.asnumpy(), expected)
    # The transposed image shows no vertical edges to a horizontal kernel.
    assert (corr2d(X.T, nd.array([[1, -1]])).asnumpy() == 0).all()


@pytest.mark.parametrize("n, k, padding, strides, expected", [
    ((8, 8), (3, 3), (1, 1), (1, 1), (8, 8)),
    ((8, 8), (5, 3), (2, 1), (1, 1), (8, 8)),
    ((8, 8), (3, 3), (1, 1), (2, 2), (4, 4)),
    ((8, 8), (3, 5), (0, 1), (3, 4), (2, 2)),
    ((7, 9), (2, 4), (3, 0), (2, 3), (6, 2)),
])
def test_conv_output_shape_matches_the_book_and_gluon(nd, n, k, padding, strides, expected):
    from mxnet.gluon import nn

    from cnnpipe_basics.conv import conv_output_shape

    assert conv_output_shape(n, k, padding, strides) == expected
    conv2d = nn.Conv2D(1, kernel_size=k, padding=padding, strides=strides)
    conv2d.initialize()
    assert conv2d(nd.zeros((1, 1) + n)).shape[2:] == expected


def book_multi_in(nd):
    X = nd.array([[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
    K = nd.array([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])
    return X, K


def test_corr2d_multi_in_book_example(nd):
    from cnnpipe_basics.conv import corr2d_multi_in

    X, K = book_multi_in(nd)
    np.testing.assert_array_equal(corr2d_multi_in(X, K).asnumpy(), [[56, 72], [104, 120]])


def test_corr2d_multi_in_out_book_example(nd):
    from cnnpipe_basics.conv import corr2d_multi_in_out

    X, K = book_multi_in(nd)
    K = nd.stack(K, K + 1, K + 2)
    assert K.shape == (3, 2, 2, 2)
    np.testing.assert_array_equal(corr2d_multi_in_out(X, K).asnumpy(), [
        [[56, 72], [104, 120]], [[76, 100], [148, 172]], [[96, 128], [192, 224]],
    ])


def test_1x1_convolution_is_a_matrix_product(nd):
    from cnnpipe_basics.conv import corr2d_multi_in_out, corr2d_multi_in_out_1x1

    X = nd.random.uniform(shape=(3, 3, 3))
    K = nd.random.uniform(shape=(2, 3, 1, 1))
    Y1 = corr2d_multi_in_out_1x1(X, K)
    Y2 = corr2d_multi_in_out(X, K)
    assert Y1.shape == (2, 3, 3)
    np.testing.assert_allclose(Y1.asnumpy(), Y2.asnumpy(), rtol=1e-6)


def test_multi_channel_correlation_matches_gluon_conv2d(nd):
    from mxnet.gluon import nn

    from cnnpipe_basics.conv import corr2d_multi_in_out

    X = nd.random.uniform(shape=(3, 5, 6))
    conv2d = nn.Conv2D(4, kernel_size=(2, 3), use_bias=False, in_channels=3)
    conv2d.initialize()
    expected = conv2d(X.expand_dims(0))[0]
    np.testing.assert_allclose(corr2d_multi_in_out(X, conv2d.weight.data()).asnumpy(), expected.asnumpy(),
                               rtol=1e-5, atol=1e-5)


def test_pool2d_book_examples(nd):
    from cnnpipe_basics.conv import pool2d

    X = nd.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    np.testing.assert_array_equal(pool2d(X, (2, 2)).asnumpy(), [[4, 5], [7, 8]])
    np.testing.assert_array_equal(pool2d(X, (2, 2), "avg").asnumpy(), [[2, 3], [5, 6]])


def test_pool2d_matches_gluon(nd):
    from mxnet.gluon import nn

    from cnnpipe_basics.conv import pool2d

    X = nd.random.uniform(shape=(5, 6))
    for mode, layer in (("max", nn.MaxPool2D((2, 3), strides=1)), ("avg", nn.AvgPool2D((2, 3), strides=1))):
        expected = layer(X.reshape((1, 1, 5, 6)))[0, 0]
        np.testing.assert_allclose(pool2d(X, (2, 3), mode).asnumpy(), expected.asnumpy(), rtol=1e-6)


def test_pool2d_rejects_unknown_mode(nd):
    from cnnpipe_basics.conv import pool2d

    with pytest.raises(ValueError, match="mode"):
        pool2d(nd.zeros((3, 3)), (2, 2), "min")
