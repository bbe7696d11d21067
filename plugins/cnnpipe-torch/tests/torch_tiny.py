"""A tiny learnable network and data set for the torch session's tests (test_session.py, test_compile.py)."""

import numpy as np

from cnnpipe.specs import Data, ModelSpec


def build(num_classes=10, width=8):
    from torch import nn

    return nn.Sequential(nn.LazyConv2d(width, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(),
                         nn.LazyLinear(num_classes))


MODEL = ModelSpec("tiny-cnn", {"torch": build}, arch={"width": 8}, sample_shape=(1, 1, 8, 8), dist="tests")


def data(n=32):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, n)
    X = (rng.random((n, 1, 8, 8)) * 50).astype(np.uint8)
    X[np.arange(n), 0, y % 8, y // 8 * 4] = 255  # learnable: where the bright pixel is
    return Data(X, y, X, y, [str(i) for i in range(10)], name="tiny")
