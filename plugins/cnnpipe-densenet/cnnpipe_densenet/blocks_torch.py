"""The book's ``conv_block``, ``DenseBlock`` and ``transition_block`` (d2l 5.12) in PyTorch; imports PyTorch."""

import torch
from torch import nn


def conv_block(num_channels):
    """BN, relu, 3x3 convolution (the pre-activation order of ResNet v2)."""
    return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(num_channels, kernel_size=3, padding=1))


class DenseBlock(nn.Module):
    """``num_convs`` conv blocks, each fed every earlier output concatenated on the channels."""

    def __init__(self, num_convs, num_channels):
        super().__init__()
        self.net = nn.Sequential(*(conv_block(num_channels) for _ in range(num_convs)))

    def forward(self, X):
        for blk in self.net:
            X = torch.cat((X, blk(X)), dim=1)
        return X


def transition_block(num_channels):
    """BN, relu, 1x1 convolution to ``num_channels``, average pool 2/2 halving height and width."""
    return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(num_channels, kernel_size=1),
                         nn.AvgPool2d(kernel_size=2, stride=2))
