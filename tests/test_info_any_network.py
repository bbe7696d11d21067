"""``cnnpipe info`` for a network that is not a plain sequence of layers: one row per top-level layer as it runs,
with parameter counts that add up to the total, in both backends."""

from __future__ import annotations

import re

import pytest

from conftest import cli

RESIDUAL = '''
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec


def build_torch(num_classes=10):
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.LazyConv2d(4, 3, padding=1)
            self.body = nn.Conv2d(4, 4, 3, padding=1)
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LazyLinear(num_classes))
            self.scale = nn.Parameter(__import__("torch").ones(1))

        def forward(self, X):
            Y = self.stem(X)
            return self.head(Y + self.body(Y).relu() * self.scale)

    return Net()


def build_mxnet(num_classes=10):
    from mxnet.gluon import nn

    class Net(nn.HybridBlock):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2D(4, 3, padding=1)
            self.body = nn.Conv2D(4, 3, padding=1)
            self.head = nn.HybridSequential()
            self.head.add(nn.GlobalAvgPool2D(), nn.Dense(num_classes))
            self.scale = self.params.get("scale", shape=(1,), init="ones")

        def hybrid_forward(self, F, X, scale):
            Y = self.stem(X)
            return self.head(Y + F.broadcast_mul(F.relu(self.body(Y)), scale))

    return Net()


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec("residual", {"torch": build_torch, "mxnet": build_mxnet}, summary="a skip connection"))
'''


@pytest.mark.parametrize("backend", ["torch", "mxnet"])
def test_rows_and_parameters_of_a_network_with_its_own_forward(install_plugin, backend):
    install_plugin("cnnpipe-residual", {"cnnpipe_residual": RESIDUAL}, {"residual": "cnnpipe_residual"})
    result = cli("info", "residual", "--backend", backend)
    assert result.returncode == 0, result.stderr
    rows = re.findall(r"^  (.+?)\s+output shape: (.+?)\s+parameters: ([\d,]+)$", result.stdout, re.M)
    names = [name for name, _, _ in rows]
    assert len(rows) == 4, result.stdout  # stem, body, head and the network's own scale
    assert names[-1] == "(own parameters)" and rows[-1][2] == "1"
    assert [shape for _, shape, _ in rows[:3]] == ["(1, 4, 28, 28)", "(1, 4, 28, 28)", "(1, 10)"]
    total = int(re.search(r"^parameters: ([\d,]+)$", result.stdout, re.M).group(1).replace(",", ""))
    assert total == 4 * 9 + 4 + 4 * 4 * 9 + 4 + 4 * 10 + 10 + 1
    assert sum(int(p.replace(",", "")) for _, _, p in rows) == total
