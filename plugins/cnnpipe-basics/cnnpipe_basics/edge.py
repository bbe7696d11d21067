"""The book's kernel-learning example (d2l 5.1.4): an image with a dark band and its edge map."""

from __future__ import annotations

import numpy as np

from cnnpipe.specs import Data


def edge_image():
    """``(X, Y)``: the 6x8 image of ones with columns 2 to 5 zero, and its correlation with [[1, -1]]."""
    from mxnet import nd

    from .conv import corr2d

    X = nd.ones((6, 8))
    X[:, 2:6] = 0
    Y = corr2d(X, nd.array([[1, -1]]))
    return X, Y


def load(data_dir=None):
    """The one example as :class:`Data` with image targets (no classes); the test split is the same example.

    Made with numpy, so that any backend can use it: correlating with [[1, -1]] is ``X[:, j] - X[:, j + 1]``.
    """
    X = np.ones((6, 8), dtype=np.float32)
    X[:, 2:6] = 0
    Y = X[:, :-1] - X[:, 1:]
    X, Y = X.reshape(1, 1, 6, 8), Y.reshape(1, 1, 6, 7)
    return Data(X, Y, X.copy(), Y.copy(), class_names=[], name="edge-image")


def build_edge_kernel(num_classes=0, kernel_size=(1, 2)):
    """One output channel, a ``kernel_size`` kernel and no bias: the layer the book trains to find edges."""
    from mxnet.gluon import nn

    kernel_size = tuple(kernel_size)
    if len(kernel_size) != 2 or min(kernel_size) < 1:
        raise ValueError(f"kernel_size must be two positive numbers, got {list(kernel_size)}")
    net = nn.HybridSequential()
    net.add(nn.Conv2D(1, kernel_size=kernel_size, use_bias=False))
    return net


def build_edge_kernel_torch(num_classes=0, kernel_size=(1, 2)):
    """The same bias-free ``kernel_size`` convolution with one output channel, in PyTorch."""
    from torch import nn

    kernel_size = tuple(kernel_size)
    if len(kernel_size) != 2 or min(kernel_size) < 1:
        raise ValueError(f"kernel_size must be two positive numbers, got {list(kernel_size)}")
    return nn.Sequential(nn.LazyConv2d(1, kernel_size=kernel_size, bias=False))
