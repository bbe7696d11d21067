"""The book's from-scratch batch normalization (d2l 5.10) as a HybridBlock.

The book's layer is an imperative ``nn.Block`` that replaces its moving statistics in Python after
each call.  A hybridized graph cannot do that, and a Python ``if autograd.is_training()`` would be
frozen when the graph is traced.  So the one step that depends on the mode runs in a small custom
operator, ``d2l_moving_stats``, whose auxiliary states are the moving mean and variance (the way
MXNet's own BatchNorm keeps them): in training it updates them with the book's formula and passes
the batch statistics through (gradient included); in prediction it returns the moving statistics.
Everything else is the book's arithmetic in ``F`` operators, so autograd differentiates it as in
the book.  Importing this module imports MXNet; the plugin imports it only inside build functions.
"""

from __future__ import annotations

import mxnet as mx
from mxnet import init
from mxnet.gluon import nn

OP_NAME = "d2l_moving_stats"


class MovingStats(mx.operator.CustomOp):
    """Training: ``moving = momentum * moving + (1 - momentum) * batch`` and output the batch
    statistics; prediction: output the moving statistics."""

    def __init__(self, momentum):
        super().__init__()
        self.momentum = momentum
        self.training = False

    def forward(self, is_train, req, in_data, out_data, aux):
        mean, var = in_data
        moving_mean, moving_var = aux
        self.training = is_train
        if is_train:
            m = self.momentum
            moving_mean[:] = m * moving_mean + (1.0 - m) * mean
            moving_var[:] = m * moving_var + (1.0 - m) * var
            self.assign(out_data[0], req[0], mean)
            self.assign(out_data[1], req[1], var)
        else:
            self.assign(out_data[0], req[0], moving_mean)
            self.assign(out_data[1], req[1], moving_var)

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        for i in range(2):
            # In prediction the output does not depend on the batch statistics.
            self.assign(in_grad[i], req[i], out_grad[i] if self.training else out_grad[i] * 0)


@mx.operator.register(OP_NAME)
class MovingStatsProp(mx.operator.CustomOpProp):
    def __init__(self, momentum="0.9"):
        super().__init__(need_top_grad=True)
        self.momentum = float(momentum)

    def list_arguments(self):
        return ["mean", "var"]

    def list_outputs(self):
        return ["mean_used", "var_used"]

    def list_auxiliary_states(self):
        return ["moving_mean", "moving_var"]

    def infer_shape(self, in_shape):
        return in_shape, in_shape[:2], in_shape[:2]

    def infer_type(self, in_type):
        return in_type, in_type[:2], in_type[:2]

    def declare_backward_dependency(self, out_grad, in_data, out_data):
        return out_grad

    def create_operator(self, ctx, shapes, dtypes):
        return MovingStats(self.momentum)


def batch_norm(F, X, gamma, beta, moving_mean, moving_var, eps, momentum, num_dims):
    """The book's ``batch_norm``: batch statistics in training (updating the moving ones), moving
    statistics in prediction.  ``num_dims`` is 2 (fully connected) or 4 (convolutional)."""
    assert num_dims in (2, 4)
    axes = (0,) if num_dims == 2 else (0, 2, 3)
    mean = X.mean(axis=axes, keepdims=True)
    var = F.broadcast_sub(X, mean).square().mean(axis=axes, keepdims=True)
    mean, var = F.Custom(mean, var, moving_mean, moving_var, op_type=OP_NAME, momentum=momentum)
    X_hat = F.broadcast_div(F.broadcast_sub(X, mean), F.sqrt(var + eps))
    return F.broadcast_add(F.broadcast_mul(gamma, X_hat), beta)


class BatchNorm(nn.HybridBlock):
    """The book's ``BatchNorm(num_features, num_dims)``: learnt scale ``gamma`` and shift ``beta``,
    moving mean and variance (zeros at start, as in the book), eps 1e-5, momentum 0.9."""

    def __init__(self, num_features, num_dims, eps=1e-5, momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        if num_dims not in (2, 4):
            raise ValueError(f"num_dims must be 2 (fully connected) or 4 (convolutional), got {num_dims}")
        shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
        self.num_dims, self.eps, self.momentum = num_dims, eps, momentum
        with self.name_scope():
            self.gamma = self.params.get("gamma", shape=shape, init=init.One())
            self.beta = self.params.get("beta", shape=shape, init=init.Zero())
            # Not learnt: saved with the parameters but never touched by the optimizer.
            self.moving_mean = self.params.get("moving_mean", shape=shape, init=init.Zero(),
                                               grad_req="null", differentiable=False)
            self.moving_var = self.params.get("moving_var", shape=shape, init=init.Zero(),
                                              grad_req="null", differentiable=False)

    def hybrid_forward(self, F, X, gamma, beta, moving_mean, moving_var):
        return batch_norm(F, X, gamma, beta, moving_mean, moving_var, self.eps, self.momentum, self.num_dims)
