"""The book's Inception block and GoogLeNet (d2l 5.9).  Imports MXNet: load it only to build a network."""

from mxnet.gluon import nn

from .stages import STAGES


class Inception(nn.HybridBlock):
    """Four parallel paths concatenated on the channel axis; ``c1``..``c4`` are their output channels."""

    def __init__(self, c1, c2, c3, c4, **kwargs):
        super().__init__(**kwargs)
        # Path 1: a 1x1 convolution.
        self.p1_1 = nn.Conv2D(c1, kernel_size=1, activation="relu")
        # Path 2: a 1x1 convolution narrows the channels before a 3x3 one.
        self.p2_1 = nn.Conv2D(c2[0], kernel_size=1, activation="relu")
        self.p2_2 = nn.Conv2D(c2[1], kernel_size=3, padding=1, activation="relu")
        # Path 3: a 1x1 convolution narrows the channels before a 5x5 one.
        self.p3_1 = nn.Conv2D(c3[0], kernel_size=1, activation="relu")
        self.p3_2 = nn.Conv2D(c3[1], kernel_size=5, padding=2, activation="relu")
        # Path 4: a 3x3 max-pool, then a 1x1 convolution.
        self.p4_1 = nn.MaxPool2D(pool_size=3, strides=1, padding=1)
        self.p4_2 = nn.Conv2D(c4, kernel_size=1, activation="relu")

    def hybrid_forward(self, F, x):
        p1 = self.p1_1(x)
        p2 = self.p2_2(self.p2_1(x))
        p3 = self.p3_2(self.p3_1(x))
        p4 = self.p4_2(self.p4_1(x))
        return F.concat(p1, p2, p3, p4, dim=1)


def googlenet(num_classes=10, ratio=1):
    """Blocks b1..b5 as in the book, then a dense layer; every channel count is divided by ``ratio``."""

    def c(n):
        return n // ratio

    def inception(c1, c2, c3, c4):
        return Inception(c(c1), (c(c2[0]), c(c2[1])), (c(c3[0]), c(c3[1])), c(c4))

    b1 = nn.HybridSequential(prefix="b1_")
    b1.add(nn.Conv2D(c(64), kernel_size=7, strides=2, padding=3, activation="relu"),
           nn.MaxPool2D(pool_size=3, strides=2, padding=1))
    b2 = nn.HybridSequential(prefix="b2_")
    b2.add(nn.Conv2D(c(64), kernel_size=1, activation="relu"),
           nn.Conv2D(c(192), kernel_size=3, padding=1, activation="relu"),
           nn.MaxPool2D(pool_size=3, strides=2, padding=1))
    b3 = nn.HybridSequential(prefix="b3_")
    b3.add(*(inception(*args) for args in STAGES["b3"]), nn.MaxPool2D(pool_size=3, strides=2, padding=1))
    b4 = nn.HybridSequential(prefix="b4_")
    b4.add(*(inception(*args) for args in STAGES["b4"]), nn.MaxPool2D(pool_size=3, strides=2, padding=1))
    b5 = nn.HybridSequential(prefix="b5_")
    b5.add(*(inception(*args) for args in STAGES["b5"]), nn.GlobalAvgPool2D())
    net = nn.HybridSequential()
    net.add(b1, b2, b3, b4, b5, nn.Dense(num_classes))
    return net
