"""What makes a PyTorch network behave as its Gluon twin: initialisers, batch norm, resizing, counting.

Imports torch: the plugin loads it only when a run or ``cnnpipe info`` needs the torch backend.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

INITIALIZERS = ("xavier", "normal", "uniform")
NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def initialize(net: nn.Module, kind: str) -> None:
    """Gluon's initialisers: weights by ``kind``, biases and shifts 0, normalisation scales 1."""
    with torch.no_grad():
        for module in net.modules():
            norm = isinstance(module, NORMS)
            for leaf, p in module.named_parameters(recurse=False):
                if leaf in ("bias", "beta"):
                    p.zero_()
                elif norm or leaf == "gamma":
                    p.fill_(1.0)
                elif kind == "xavier":
                    fan_in, fan_out = _fans(p)
                    bound = math.sqrt(3.0 / ((fan_in + fan_out) / 2.0))
                    p.uniform_(-bound, bound)
                elif kind == "normal":
                    p.normal_(0.0, 0.01)
                else:
                    p.uniform_(-0.07, 0.07)


def _fans(p: torch.Tensor) -> tuple[int, int]:
    if p.dim() < 2:
        return p.numel(), p.numel()
    receptive = math.prod(p.shape[2:]) if p.dim() > 2 else 1
    return p.shape[1] * receptive, p.shape[0] * receptive


def num_params(net: nn.Module) -> int:
    """Parameters plus floating-point buffers (running or moving statistics), counted as Gluon counts them."""
    buffers = sum(b.numel() for b in net.buffers() if b.is_floating_point())
    return sum(p.numel() for p in net.parameters()) + buffers


def gluon_batch_norm(net: nn.Module) -> None:
    """Make every batch-norm layer of ``net`` update its running variance with the *biased* batch variance,
    as Gluon's ``BatchNorm`` does (PyTorch's uses the unbiased one).

    Momentum and epsilon already agree: PyTorch's ``momentum=0.1`` weights the new batch as Gluon's
    ``momentum=0.9`` does, and both default to ``eps=1e-5``.  PyTorch's update runs inside its fused
    kernel; this recovers the batch variance it used from the old and new running values and redoes the
    update, on ``C`` numbers per layer.
    """
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not getattr(module, "_cnnpipe_gluon", False):
            module.register_forward_pre_hook(_keep_running_var)
            module.register_forward_hook(_biased_running_var)
            module._cnnpipe_gluon = True


def _updates(module) -> bool:
    return module.training and module.track_running_stats and module.momentum is not None


def _keep_running_var(module, inputs):
    if _updates(module) and module.running_var is not None:
        module._cnnpipe_previous_var = module.running_var.detach().clone()


def _biased_running_var(module, inputs, output):
    previous = getattr(module, "_cnnpipe_previous_var", None)
    if previous is None or not _updates(module):
        return
    module._cnnpipe_previous_var = None
    X = inputs[0]
    n = X.numel() // X.shape[1]
    keep = 1.0 - module.momentum
    with torch.no_grad():
        # new = keep * old + momentum * unbiased; unbiased * (n - 1) / n is the biased batch variance.
        moved = module.running_var - keep * previous
        # A new tensor, not an in-place update: the backward pass may still read the one it saved.
        module.running_var = keep * previous + moved * ((n - 1) / n)


def to_float(X: torch.Tensor) -> torch.Tensor:
    """``uint8`` images scaled to [0, 1], anything else as float32."""
    return X.float().div_(255) if X.dtype == torch.uint8 else X.float()


def augmented(X: torch.Tensor, seed: int, batch: int, crop: int, flip: bool) -> torch.Tensor:
    """``X`` cropped and flipped as :mod:`cnnpipe.augment` draws for batch ``batch`` of the epoch seeded ``seed``."""
    from cnnpipe.augment import indices

    idx = torch.from_numpy(indices(seed, batch, tuple(X.shape), crop, flip)).to(X.device)
    padded = F.pad(X, (crop,) * 4) if crop else X
    return padded.reshape(-1)[idx]


def resized(X: torch.Tensor, resize: int | None) -> torch.Tensor:
    """Bilinear resize on the device, corners aligned as MXNet's ``BilinearResize2D`` does."""
    if resize and tuple(X.shape[2:]) != (resize, resize):
        return F.interpolate(X, size=(resize, resize), mode="bilinear", align_corners=True)
    return X
