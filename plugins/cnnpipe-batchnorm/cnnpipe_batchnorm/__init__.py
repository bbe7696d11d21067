"""LeNet with batch normalization (d2l 5.10): the book's from-scratch layer and Gluon's.

MXNet is imported only when a network is built.
"""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe

RECIPE = Recipe(lr=1.0, batch_size=256, epochs=5)


def _lenet_bn(num_classes, activation, norm):
    """The book's LeNet with ``norm(num_features, num_dims)`` after each layer but the last."""
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(
        nn.Conv2D(6, kernel_size=5), norm(6, 4), nn.Activation(activation),
        nn.MaxPool2D(pool_size=2, strides=2),
        nn.Conv2D(16, kernel_size=5), norm(16, 4), nn.Activation(activation),
        nn.MaxPool2D(pool_size=2, strides=2),
        nn.Dense(120), norm(120, 2), nn.Activation(activation),
        nn.Dense(84), norm(84, 2), nn.Activation(activation),
        nn.Dense(num_classes),
    )
    return net


def build_lenet_bn_scratch(num_classes=10, activation="sigmoid"):
    """LeNet with the book's from-scratch ``BatchNorm`` layer (eps 1e-5, momentum 0.9)."""
    from .scratch import BatchNorm

    return _lenet_bn(num_classes, activation, lambda features, dims: BatchNorm(features, num_dims=dims))


def build_lenet_bn(num_classes=10, activation="sigmoid"):
    """LeNet with Gluon's ``nn.BatchNorm`` (the book's concise implementation)."""
    from mxnet.gluon import nn

    return _lenet_bn(num_classes, activation, lambda features, dims: nn.BatchNorm())


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="lenet-bn-scratch",
        builds={"mxnet": build_lenet_bn_scratch},
        recipes={"fashion-mnist": RECIPE},
        arch={"activation": "sigmoid"},
        sample_shape=(1, 1, 28, 28),
        summary="LeNet with the book's from-scratch batch normalization layer (d2l 5.10)",
    ))
    register(ModelSpec(
        name="lenet-bn",
        builds={"mxnet": build_lenet_bn},
        recipes={"fashion-mnist": RECIPE},
        arch={"activation": "sigmoid"},
        sample_shape=(1, 1, 28, 28),
        summary="LeNet with Gluon's BatchNorm layer (d2l 5.10, concise)",
    ))
