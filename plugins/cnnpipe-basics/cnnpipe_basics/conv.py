"""Cross-correlation and pooling from scratch on MXNet NDArrays, as the book writes them (d2l 5.1-5.4)."""

from __future__ import annotations

from mxnet import nd


def corr2d(X, K):
    """Two-dimensional cross-correlation of the 2-D array ``X`` with the kernel ``K`` (d2l 5.1)."""
    h, w = K.shape
    Y = nd.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i: i + h, j: j + w] * K).sum()
    return Y


def conv_output_shape(input_shape, kernel_size, padding=(0, 0), strides=(1, 1)):
    """Output ``(height, width)`` of a convolution (d2l 5.2): floor((n - k + p + s) / s) per axis.

    ``padding`` is per side, as Gluon's ``Conv2D`` takes it, so the book's total padding p is twice it.
    """
    return tuple((n - k + 2 * p + s) // s for n, k, p, s in zip(input_shape, kernel_size, padding, strides))


def corr2d_multi_in(X, K):
    """Cross-correlate each input channel with its kernel and add the results (d2l 5.3)."""
    return nd.add_n(*[corr2d(x, k) for x, k in zip(X, K)])


def corr2d_multi_in_out(X, K):
    """One multi-input cross-correlation per output channel, stacked (d2l 5.3)."""
    return nd.stack(*[corr2d_multi_in(X, k) for k in K])


def corr2d_multi_in_out_1x1(X, K):
    """A 1x1 convolution as a matrix product of the ``(c_o, c_i)`` kernel and the ``(c_i, h*w)`` input (d2l 5.3)."""
    c_i, h, w = X.shape
    c_o = K.shape[0]
    X = X.reshape((c_i, h * w))
    K = K.reshape((c_o, c_i))
    Y = nd.dot(K, X)
    return Y.reshape((c_o, h, w))


def pool2d(X, pool_size, mode="max"):
    """Maximum or average pooling of the 2-D array ``X`` with a ``pool_size`` window, stride 1 (d2l 5.4)."""
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    p_h, p_w = pool_size
    Y = nd.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            window = X[i: i + p_h, j: j + p_w]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y
