"""MXNet's optimizers, by MXNet's names, with MXNet 1.9.1's defaults and update rules.

Where PyTorch's own optimizer computes the same update (SGD, AdaDelta) it is used; where the two
differ in a detail (where epsilon enters: inside the square root in MXNet's RMSProp and AdaGrad,
before the bias correction in its Adam), a small optimizer here follows
MXNet.  ``tests/test_optimizers.py`` holds every rule against MXNet's on the same gradients.
"""

from __future__ import annotations

from typing import Callable

import torch


class _PerParameter(torch.optim.Optimizer):
    """An optimizer whose update is one rule applied to each parameter with a gradient."""

    def __init__(self, params, lr, **defaults):
        super().__init__(params, {"lr": lr, **defaults})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    state = self.state[p]
                    if not state:
                        state["step"] = 0
                        self.init_state(state, p)
                    state["step"] += 1
                    self.update(p, p.grad, state, group)

    def init_state(self, state: dict, p: torch.Tensor) -> None:
        """Fill a parameter's state before its first update."""

    def update(self, p, grad, state, group) -> None:
        raise NotImplementedError


class Adam(_PerParameter):
    """MXNet's Adam: ``w -= lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + epsilon)``."""

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, epsilon=1e-8):
        super().__init__(params, lr, beta1=beta1, beta2=beta2, epsilon=epsilon)

    def init_state(self, state, p):
        state["mean"], state["var"] = torch.zeros_like(p), torch.zeros_like(p)

    def update(self, p, grad, state, group):
        b1, b2, t = group["beta1"], group["beta2"], state["step"]
        state["mean"].mul_(b1).add_(grad, alpha=1 - b1)
        state["var"].mul_(b2).addcmul_(grad, grad, value=1 - b2)
        lr = group["lr"] * (1 - b2 ** t) ** 0.5 / (1 - b1 ** t)
        p.addcdiv_(state["mean"], state["var"].sqrt().add_(group["epsilon"]), value=-lr)


class RMSProp(_PerParameter):
    """MXNet's (non-centred) RMSProp: ``n = gamma1 * n + (1 - gamma1) * g^2``, ``w -= lr * g / sqrt(n + epsilon)``."""

    def __init__(self, params, lr, gamma1=0.9, epsilon=1e-8):
        super().__init__(params, lr, gamma1=gamma1, epsilon=epsilon)

    def init_state(self, state, p):
        state["n"] = torch.zeros_like(p)

    def update(self, p, grad, state, group):
        n = state["n"].mul_(group["gamma1"]).addcmul_(grad, grad, value=1 - group["gamma1"])
        p.addcdiv_(grad, (n + group["epsilon"]).sqrt_(), value=-group["lr"])


class AdaGrad(_PerParameter):
    """MXNet's AdaGrad: ``h += g^2``, ``w -= lr * g / sqrt(h + eps)``."""

    def __init__(self, params, lr, eps=1e-7):
        super().__init__(params, lr, eps=eps)

    def init_state(self, state, p):
        state["history"] = torch.zeros_like(p)

    def update(self, p, grad, state, group):
        h = state["history"].addcmul_(grad, grad)
        p.addcdiv_(grad, (h + group["eps"]).sqrt_(), value=-group["lr"])


OPTIMIZERS: dict[str, Callable] = {
    "sgd": lambda params, lr: torch.optim.SGD(params, lr=lr),
    # MXNet's NAG has momentum 0 by default, which makes it plain SGD.
    "nag": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "adam": Adam,
    "rmsprop": RMSProp,
    "adagrad": AdaGrad,
    # MXNet 1.9.1's AdaDelta takes no learning rate (it is always 1), epsilon 1e-5 inside both roots:
    # PyTorch's Adadelta with lr=1 is the same rule.
    "adadelta": lambda params, lr: torch.optim.Adadelta(params, lr=1.0, rho=0.9, eps=1e-5),
}


def optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """The optimizer MXNet calls ``name`` (case-insensitive) over ``params``."""
    return OPTIMIZERS[name.lower()](params, lr)
