"""AlexNet as the book builds it for Fashion-MNIST (d2l 5.6), in MXNet and in PyTorch.  A framework is imported
only when its network is built."""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)


def check(hidden, dropout) -> None:
    """A ``ValueError`` saying what is wrong with the architecture arguments, if anything."""
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise ValueError(f"hidden must be a whole number of at least 1, got {hidden!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")


def build_alexnet(num_classes=10, hidden=4096, dropout=0.5):
    """Five convolutions with three max-pools, then two ``hidden``-wide dense layers with dropout."""
    check(hidden, dropout)
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(
        # A large 11x11 window with stride 4 shrinks the 224x224 input quickly.
        nn.Conv2D(96, kernel_size=11, strides=4, activation="relu"),
        nn.MaxPool2D(pool_size=3, strides=2),
        nn.Conv2D(256, kernel_size=5, padding=2, activation="relu"),
        nn.MaxPool2D(pool_size=3, strides=2),
        nn.Conv2D(384, kernel_size=3, padding=1, activation="relu"),
        nn.Conv2D(384, kernel_size=3, padding=1, activation="relu"),
        nn.Conv2D(256, kernel_size=3, padding=1, activation="relu"),
        nn.MaxPool2D(pool_size=3, strides=2),
        # Dropout keeps the very wide dense layers from overfitting.
        nn.Dense(hidden, activation="relu"), nn.Dropout(dropout),
        nn.Dense(hidden, activation="relu"), nn.Dropout(dropout),
        nn.Dense(num_classes),
    )
    return net


def build_alexnet_torch(num_classes=10, hidden=4096, dropout=0.5):
    """The same network in PyTorch."""
    check(hidden, dropout)
    from torch import nn

    return nn.Sequential(
        nn.LazyConv2d(96, kernel_size=11, stride=4), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.LazyLinear(hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.LazyLinear(hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.LazyLinear(num_classes),
    )


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="alexnet",
        builds={"mxnet": build_alexnet, "torch": build_alexnet_torch},
        recipes={"fashion-mnist": Recipe(lr=0.01, batch_size=128, epochs=5, resize=224)},
        arch={"hidden": 4096, "dropout": 0.5},
        sample_shape=(1, 1, 224, 224),
        summary="AlexNet: five ReLU convolutions, dropout between 4096-wide dense layers (d2l 5.6)",
    ))
