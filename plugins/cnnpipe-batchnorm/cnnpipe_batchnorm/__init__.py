"""LeNet with batch normalization (d2l 5.10): the book's from-scratch layer and the framework's.

MXNet or PyTorch is imported only when a network is built.
"""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe
from cnnpipe.activations import check_activation, torch_activation

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)

RECIPE = Recipe(lr=1.0, batch_size=256, epochs=5)


def _lenet_bn(num_classes, activation, norm):
    """The book's LeNet with ``norm(num_features, num_dims)`` after each layer but the last."""
    check_activation(activation)
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


def _lenet_bn_torch(num_classes, activation, norm):
    """The same network in PyTorch, with an explicit flatten before the first dense layer."""
    A = torch_activation(activation)
    from torch import nn

    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5), norm(6, 4), A(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), norm(16, 4), A(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.LazyLinear(120), norm(120, 2), A(),
        nn.LazyLinear(84), norm(84, 2), A(),
        nn.LazyLinear(num_classes),
    )


def build_lenet_bn_scratch(num_classes=10, activation="sigmoid"):
    """LeNet with the book's from-scratch ``BatchNorm`` layer (eps 1e-5, momentum 0.9)."""
    check_activation(activation)
    from .scratch import BatchNorm

    return _lenet_bn(num_classes, activation, lambda features, dims: BatchNorm(features, num_dims=dims))


def build_lenet_bn_scratch_torch(num_classes=10, activation="sigmoid"):
    """The same, with the book's layer written as a PyTorch module."""
    check_activation(activation)
    from .scratch_torch import BatchNorm

    return _lenet_bn_torch(num_classes, activation, lambda features, dims: BatchNorm(features, num_dims=dims))


def build_lenet_bn(num_classes=10, activation="sigmoid"):
    """LeNet with Gluon's ``nn.BatchNorm`` (the book's concise implementation)."""
    check_activation(activation)
    from mxnet.gluon import nn

    return _lenet_bn(num_classes, activation, lambda features, dims: nn.BatchNorm())


def build_lenet_bn_torch(num_classes=10, activation="sigmoid"):
    """LeNet with PyTorch's batch norm, which the torch backend gives Gluon's semantics."""
    from torch import nn

    norms = {4: nn.LazyBatchNorm2d, 2: nn.LazyBatchNorm1d}
    return _lenet_bn_torch(num_classes, activation, lambda features, dims: norms[dims]())


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="lenet-bn-scratch",
        builds={"mxnet": build_lenet_bn_scratch, "torch": build_lenet_bn_scratch_torch},
        recipes={"fashion-mnist": RECIPE},
        arch={"activation": "sigmoid"},
        sample_shape=(1, 1, 28, 28),
        summary="LeNet with the book's from-scratch batch normalization layer (d2l 5.10)",
    ))
    register(ModelSpec(
        name="lenet-bn",
        builds={"mxnet": build_lenet_bn, "torch": build_lenet_bn_torch},
        recipes={"fashion-mnist": RECIPE},
        arch={"activation": "sigmoid"},
        sample_shape=(1, 1, 28, 28),
        summary="LeNet with the framework's BatchNorm layer (d2l 5.10, concise)",
    ))
