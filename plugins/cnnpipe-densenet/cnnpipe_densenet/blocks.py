"""The book's ``conv_block``, ``DenseBlock`` and ``transition_block`` (d2l 5.12), hybridizable."""

from mxnet.gluon import nn


def conv_block(num_channels):
    """BN, relu, 3x3 convolution (the pre-activation order of ResNet v2)."""
    blk = nn.HybridSequential()
    blk.add(nn.BatchNorm(), nn.Activation("relu"), nn.Conv2D(num_channels, kernel_size=3, padding=1))
    return blk


class DenseBlock(nn.HybridBlock):
    """``num_convs`` conv blocks, each fed every earlier output concatenated on the channels."""

    def __init__(self, num_convs, num_channels, **kwargs):
        super().__init__(**kwargs)
        self.net = nn.HybridSequential()
        for _ in range(num_convs):
            self.net.add(conv_block(num_channels))

    def hybrid_forward(self, F, X):
        for blk in self.net:
            Y = blk(X)
            X = F.concat(X, Y, dim=1)
        return X


def transition_block(num_channels):
    """BN, relu, 1x1 convolution to ``num_channels``, average pool 2/2 halving height and width."""
    blk = nn.HybridSequential()
    blk.add(nn.BatchNorm(), nn.Activation("relu"), nn.Conv2D(num_channels, kernel_size=1),
            nn.AvgPool2D(pool_size=2, strides=2))
    return blk
