"""Activation names a model's ``arch`` may take, with the same meaning in every backend.

They are Gluon's names (what the book's ``activation=`` arguments accept); a PyTorch build turns a name
into its module class with :func:`torch_activation`.  Model plugins share these so that a bad value is
the same one-line error whatever the backend.
"""

from __future__ import annotations

# Gluon's activation names, and the PyTorch module of each.
ACTIVATIONS = {"sigmoid": "Sigmoid", "relu": "ReLU", "tanh": "Tanh", "softrelu": "Softplus", "softsign": "Softsign"}


def check_activation(activation) -> str:
    """``activation`` when it is one of :data:`ACTIVATIONS`; a ``ValueError`` listing them otherwise."""
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from: {', '.join(ACTIVATIONS)}")
    return activation


def torch_activation(activation):
    """The PyTorch module class for a Gluon activation name (PyTorch is imported here, not before)."""
    from torch import nn

    return getattr(nn, ACTIVATIONS[check_activation(activation)])
