"""The book's ``Residual`` block and ``resnet_block`` (d2l 5.11) in PyTorch; imports PyTorch."""

from torch import nn
from torch.nn import functional as F


class Residual(nn.Module):
    """Two 3x3 convolutions with batch norm; a 1x1 convolution matches the shortcut when asked."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
        self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        self.bn1 = nn.LazyBatchNorm2d()
        self.bn2 = nn.LazyBatchNorm2d()

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)
        return F.relu(Y + X)


def resnet_block(num_channels, num_residuals, first_block=False):
    """``num_residuals`` residual blocks; all but the first stage halve height and width at the start."""
    return nn.Sequential(*(
        Residual(num_channels, use_1x1conv=True, strides=2) if i == 0 and not first_block else Residual(num_channels)
        for i in range(num_residuals)
    ))
