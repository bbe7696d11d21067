"""LeNet-5 as the book builds it (d2l 5.5), in MXNet and in PyTorch.  A framework is imported only when its network is built."""

from cnnpipe.activations import check_activation, torch_activation
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)


def build_lenet(num_classes=10, activation="sigmoid"):
    """conv 6@5x5, max-pool 2/2, conv 16@5x5, max-pool 2/2, dense 120, dense 84, dense ``num_classes``."""
    check_activation(activation)
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(
        nn.Conv2D(channels=6, kernel_size=5, activation=activation),
        nn.MaxPool2D(pool_size=2, strides=2),
        nn.Conv2D(channels=16, kernel_size=5, activation=activation),
        nn.MaxPool2D(pool_size=2, strides=2),
        # Dense flattens its (batch, channel, height, width) input on its own.
        nn.Dense(120, activation=activation),
        nn.Dense(84, activation=activation),
        nn.Dense(num_classes),
    )
    return net


def build_lenet_torch(num_classes=10, activation="sigmoid"):
    """The same network in PyTorch; lazy layers infer their input sizes as Gluon's do."""
    A = torch_activation(activation)
    from torch import nn

    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5), A(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), A(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.LazyLinear(120), A(),
        nn.LazyLinear(84), A(),
        nn.LazyLinear(num_classes),
    )


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="lenet",
        builds={"mxnet": build_lenet, "torch": build_lenet_torch},
        recipes={"fashion-mnist": Recipe(lr=0.9, batch_size=256, epochs=5)},
        arch={"activation": "sigmoid"},
        sample_shape=(1, 1, 28, 28),
        summary="LeNet-5 with sigmoid activations (d2l 5.5)",
    ))
