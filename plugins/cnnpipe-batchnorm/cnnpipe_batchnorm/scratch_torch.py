"""The book's from-scratch batch normalization (d2l 5.10) as a PyTorch module.

The same arithmetic as :mod:`cnnpipe_batchnorm.scratch`: batch statistics in training, updating the
moving ones by ``moving = momentum * moving + (1 - momentum) * batch`` with the biased batch
variance; moving statistics in prediction (``module.eval()``).  Importing this module imports
PyTorch: the plugin imports it only inside build functions.
"""

from __future__ import annotations

import torch
from torch import nn


def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum, training):
    """The book's ``batch_norm``; updates ``moving_mean`` and ``moving_var`` in place when ``training``."""
    if not training:
        X_hat = (X - moving_mean) / torch.sqrt(moving_var + eps)
    else:
        axes = (0,) if X.dim() == 2 else (0, 2, 3)
        mean = X.mean(dim=axes, keepdim=True)
        var = ((X - mean) ** 2).mean(dim=axes, keepdim=True)
        X_hat = (X - mean) / torch.sqrt(var + eps)
        with torch.no_grad():
            moving_mean.mul_(momentum).add_(mean, alpha=1.0 - momentum)
            moving_var.mul_(momentum).add_(var, alpha=1.0 - momentum)
    return gamma * X_hat + beta


class BatchNorm(nn.Module):
    """The book's ``BatchNorm(num_features, num_dims)``: learnt ``gamma`` and ``beta``, moving mean and
    variance as buffers (saved with the parameters, never optimised) starting at zero, eps 1e-5, momentum 0.9."""

    def __init__(self, num_features, num_dims, eps=1e-5, momentum=0.9):
        super().__init__()
        if num_dims not in (2, 4):
            raise ValueError(f"num_dims must be 2 (fully connected) or 4 (convolutional), got {num_dims}")
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.eps, self.momentum = eps, momentum
        self.gamma = nn.Parameter(torch.ones(shape))
        self.beta = nn.Parameter(torch.zeros(shape))
        self.register_buffer("moving_mean", torch.zeros(shape))
        self.register_buffer("moving_var", torch.zeros(shape))

    def forward(self, X):
        # Under autocast the statistics are kept in float32, as PyTorch's own batch norm keeps them.
        return batch_norm(X.float(), self.gamma, self.beta, self.moving_mean, self.moving_var,
                          self.eps, self.momentum, self.training)
