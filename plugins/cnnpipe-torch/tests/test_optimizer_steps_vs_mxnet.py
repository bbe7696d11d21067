"""Momentum, weight decay and Nesterov: the torch backend's steps against MXNet's own optimizers (as the MXNet
backend creates them), on the same gradients.  Skipped where MXNet is not installed."""

from types import SimpleNamespace

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")
torch = pytest.importorskip("torch")

from cnnpipe_mxnet.backend import optimizer_args  # noqa: E402
from cnnpipe_torch.optimizers import OPTIMIZERS, optimizer  # noqa: E402

CASES = [("sgd", 0.9, 0.0, False), ("sgd", 0.9, 1e-2, False), ("sgd", 0.0, 1e-2, False), ("sgd", 0.9, 1e-2, True),
         ("nag", 0.8, 1e-3, False)] + [(name, 0.0, 1e-2, False) for name in sorted(set(OPTIMIZERS) - {"sgd", "nag"})]


@pytest.mark.parametrize("name, momentum, weight_decay, nesterov", CASES)
def test_steps_equal_mxnets(name, momentum, weight_decay, nesterov):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=6).astype(np.float32)
    grads = [rng.normal(size=6).astype(np.float32) for _ in range(5)]
    cfg = SimpleNamespace(optimizer=name, lr=0.05, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
    mx_name, mx_params = optimizer_args(cfg)
    mx_opt = mx.optimizer.create(mx_name, **mx_params)
    w = mx.nd.array(w0)
    state = mx_opt.create_state(0, w)
    for g in grads:
        mx_opt.update(0, w, mx.nd.array(g), state)
    p = torch.nn.Parameter(torch.tensor(w0))
    opt = optimizer(name, [p], cfg.lr, momentum, weight_decay, nesterov)
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(p.detach().numpy(), w.asnumpy(), rtol=1e-5, atol=1e-6)
    # The settings matter: without them the same gradients lead elsewhere.
    plain = torch.nn.Parameter(torch.tensor(w0))
    opt = optimizer(name, [plain], cfg.lr)
    for g in grads:
        plain.grad = torch.tensor(g)
        opt.step()
    assert np.abs(plain.detach().numpy() - w.asnumpy()).max() > 1e-4
