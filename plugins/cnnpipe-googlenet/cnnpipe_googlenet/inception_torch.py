"""The book's Inception block and GoogLeNet (d2l 5.9) in PyTorch.  Imports PyTorch: load it only to build a network."""

from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F

from .stages import STAGES


class Inception(nn.Module):
    """Four parallel paths concatenated on the channel axis; ``c1``..``c4`` are their output channels."""

    def __init__(self, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.LazyConv2d(c1, kernel_size=1)
        self.p2_1 = nn.LazyConv2d(c2[0], kernel_size=1)
        self.p2_2 = nn.LazyConv2d(c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.LazyConv2d(c3[0], kernel_size=1)
        self.p3_2 = nn.LazyConv2d(c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.LazyConv2d(c4, kernel_size=1)

    def forward(self, x):
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)


def googlenet(num_classes=10, ratio=1):
    """Blocks b1..b5 as in the book, then a dense layer; every channel count is divided by ``ratio``."""

    def c(n):
        return n // ratio

    def inception(c1, c2, c3, c4):
        return Inception(c(c1), (c(c2[0]), c(c2[1])), (c(c3[0]), c(c3[1])), c(c4))

    def pool():
        return nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    b1 = nn.Sequential(nn.LazyConv2d(c(64), kernel_size=7, stride=2, padding=3), nn.ReLU(), pool())
    b2 = nn.Sequential(nn.LazyConv2d(c(64), kernel_size=1), nn.ReLU(),
                       nn.LazyConv2d(c(192), kernel_size=3, padding=1), nn.ReLU(), pool())
    b3 = nn.Sequential(*(inception(*args) for args in STAGES["b3"]), pool())
    b4 = nn.Sequential(*(inception(*args) for args in STAGES["b4"]), pool())
    # Global pooling keeps b5's output 4-D, as Gluon's GlobalAvgPool2D does; the flatten is its own layer.
    b5 = nn.Sequential(*(inception(*args) for args in STAGES["b5"]), nn.AdaptiveAvgPool2d(1))
    return nn.Sequential(OrderedDict(b1=b1, b2=b2, b3=b3, b4=b4, b5=b5, flatten=nn.Flatten(),
                                     dense=nn.LazyLinear(num_classes)))
