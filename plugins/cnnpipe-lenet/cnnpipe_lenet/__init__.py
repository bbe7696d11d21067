"""LeNet-5 as the book builds it (d2l 5.5).  MXNet is imported only when the network is built."""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe


def build_lenet(num_classes=10, activation="sigmoid"):
    """conv 6@5x5, max-pool 2/2, conv 16@5x5, max-pool 2/2, dense 120, dense 84, dense ``num_classes``."""
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


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="lenet",
        build=build_lenet,
        recipes={"fashion-mnist": Recipe(lr=0.9, batch_size=256, num_epochs=5)},
        arch={"activation": "sigmoid"},
        sample_shape=(1, 1, 28, 28),
        summary="LeNet-5 with sigmoid activations (d2l 5.5)",
    ))
