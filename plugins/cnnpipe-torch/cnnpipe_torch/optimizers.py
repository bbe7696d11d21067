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

    #: MXNet adds ``wd * weight`` to the gradient before most rules; the others apply ``wd`` in ``update``.
    wd_in_gradient = True

    def __init__(self, params, lr, weight_decay=0.0, **defaults):
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay, **defaults})

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
                    # MXNet's wd: weight_decay * weight joins the gradient before the rule (L2, not decoupled).
                    wd = group["weight_decay"] if self.wd_in_gradient else 0.0
                    grad = p.grad.add(p, alpha=wd) if wd else p.grad
                    self.update(p, grad, state, group)

    def init_state(self, state: dict, p: torch.Tensor) -> None:
        """Fill a parameter's state before its first update."""

    def update(self, p, grad, state, group) -> None:
        raise NotImplementedError


class Adam(_PerParameter):
    """MXNet's Adam: ``w -= lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + epsilon)``."""

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=0.0):
        super().__init__(params, lr, weight_decay, beta1=beta1, beta2=beta2, epsilon=epsilon)

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

    def __init__(self, params, lr, gamma1=0.9, epsilon=1e-8, weight_decay=0.0):
        super().__init__(params, lr, weight_decay, gamma1=gamma1, epsilon=epsilon)

    def init_state(self, state, p):
        state["n"] = torch.zeros_like(p)

    def update(self, p, grad, state, group):
        n = state["n"].mul_(group["gamma1"]).addcmul_(grad, grad, value=1 - group["gamma1"])
        p.addcdiv_(grad, (n + group["epsilon"]).sqrt_(), value=-group["lr"])


class AdaGrad(_PerParameter):
    """MXNet's AdaGrad: ``h += g^2``, ``w -= lr * (g / sqrt(h + eps) + wd * w)``."""

    wd_in_gradient = False

    def __init__(self, params, lr, eps=1e-7, weight_decay=0.0):
        super().__init__(params, lr, weight_decay, eps=eps)

    def init_state(self, state, p):
        state["history"] = torch.zeros_like(p)

    def update(self, p, grad, state, group):
        h = state["history"].addcmul_(grad, grad)
        decay = p * group["weight_decay"]
        p.addcdiv_(grad, (h + group["eps"]).sqrt_(), value=-group["lr"]).add_(decay, alpha=-group["lr"])


class AdaDelta(_PerParameter):
    """MXNet's AdaDelta (no learning rate): ``a = rho * a + (1 - rho) * g^2``,
    ``d = sqrt(b + eps) / sqrt(a + eps) * g``, ``b = rho * b + (1 - rho) * d^2``, ``w -= d + wd * w``."""

    wd_in_gradient = False

    def __init__(self, params, lr=1.0, rho=0.9, epsilon=1e-5, weight_decay=0.0):
        super().__init__(params, 1.0, weight_decay, rho=rho, epsilon=epsilon)

    def init_state(self, state, p):
        state["acc_g"], state["acc_delta"] = torch.zeros_like(p), torch.zeros_like(p)

    def update(self, p, grad, state, group):
        rho, eps = group["rho"], group["epsilon"]
        state["acc_g"].mul_(rho).addcmul_(grad, grad, value=1 - rho)
        delta = (state["acc_delta"] + eps).sqrt_().div_((state["acc_g"] + eps).sqrt_()).mul_(grad)
        state["acc_delta"].mul_(rho).addcmul_(delta, delta, value=1 - rho)
        p.sub_(delta + group["weight_decay"] * p)


class NAG(_PerParameter):
    """MXNet 1.9.1's NAG with momentum, state ``mom`` as MXNet keeps it (``-lr`` times PyTorch's buffer):
    ``w_new = w + m * (m * mom - lr * (g + wd * w)) - lr * (g + wd * w)``, then
    ``mom = m * mom - lr * (g + wd * w_new)``: its kernel updates the weight in place before the state, so
    the state's decay term sees the new weight.  Without weight decay this is PyTorch's Nesterov SGD."""

    wd_in_gradient = False

    def __init__(self, params, lr, momentum=0.9, weight_decay=0.0):
        super().__init__(params, lr, weight_decay, momentum=momentum)

    def init_state(self, state, p):
        state["mom"] = torch.zeros_like(p)

    def update(self, p, grad, state, group):
        lr, m, wd, mom = group["lr"], group["momentum"], group["weight_decay"], state["mom"]
        step = grad + wd * p
        p.add_(m * (m * mom - lr * step) - lr * step)
        mom.mul_(m).sub_(lr * (grad + wd * p))


OPTIMIZERS: dict[str, Callable] = {
    # MXNet's SGD momentum keeps -lr times PyTorch's buffer: the same steps while lr is constant.
    "sgd": lambda params, lr, momentum=0.0, weight_decay=0.0, nesterov=False: torch.optim.SGD(
        params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov),
    # MXNet's NAG with momentum 0 (its default) is plain SGD.
    "nag": lambda params, lr, momentum=0.0, weight_decay=0.0, nesterov=False: (
        NAG(params, lr, momentum, weight_decay) if momentum else torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)),
    "adam": Adam,
    "rmsprop": RMSProp,
    "adagrad": AdaGrad,
    # MXNet 1.9.1's AdaDelta takes no learning rate (it is always 1), epsilon 1e-5 inside both roots.
    "adadelta": AdaDelta,
}


def optimizer(name: str, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
              nesterov: bool = False) -> torch.optim.Optimizer:
    """The optimizer MXNet calls ``name`` (case-insensitive) over ``params``; ``momentum`` and ``nesterov`` for
    ``sgd`` and ``nag`` only (the core refuses them for others), ``weight_decay`` as MXNet's ``wd``."""
    name = name.lower()
    if name == "sgd" and nesterov:
        name = "nag"  # as the MXNet backend does: Nesterov's SGD is MXNet's NAG
    extra = {"momentum": momentum, "nesterov": nesterov} if name in ("sgd", "nag") else {}
    return OPTIMIZERS[name](params, lr, weight_decay=weight_decay, **extra)
