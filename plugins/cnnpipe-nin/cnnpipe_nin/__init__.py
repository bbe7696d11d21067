"""Network in Network as the book builds it (d2l 5.8), in MXNet and in PyTorch.  A framework is imported only
when its network is built."""

from collections import OrderedDict

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)


def nin_block(num_channels, kernel_size, strides, padding, prefix=None):
    """One convolution followed by two 1x1 convolutions, all with ReLU (the book's ``nin_block``)."""
    from mxnet.gluon import nn

    blk = nn.HybridSequential(prefix=prefix)
    blk.add(
        nn.Conv2D(num_channels, kernel_size, strides, padding, activation="relu"),
        nn.Conv2D(num_channels, kernel_size=1, activation="relu"),
        nn.Conv2D(num_channels, kernel_size=1, activation="relu"),
    )
    return blk


def check(dropout) -> None:
    """A ``ValueError`` when ``dropout`` is not a probability below 1."""
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")


def build_nin(num_classes=10, dropout=0.5):
    """Three NiN blocks with max-pools, dropout, a last NiN block of ``num_classes`` channels, global average pooling."""
    check(dropout)
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    net.add(
        nin_block(96, kernel_size=11, strides=4, padding=0, prefix="nin_block0_"),
        nn.MaxPool2D(pool_size=3, strides=2),
        nin_block(256, kernel_size=5, strides=1, padding=2, prefix="nin_block1_"),
        nn.MaxPool2D(pool_size=3, strides=2),
        nin_block(384, kernel_size=3, strides=1, padding=1, prefix="nin_block2_"),
        nn.MaxPool2D(pool_size=3, strides=2),
        nn.Dropout(dropout),
        # One channel per class; global average pooling replaces the dense layers.
        nin_block(num_classes, kernel_size=3, strides=1, padding=1, prefix="nin_block3_"),
        nn.GlobalAvgPool2D(),
        nn.Flatten(),
    )
    return net


def nin_block_torch(num_channels, kernel_size, strides, padding):
    """The book's ``nin_block`` in PyTorch."""
    from torch import nn

    return nn.Sequential(
        nn.LazyConv2d(num_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.LazyConv2d(num_channels, kernel_size=1), nn.ReLU(),
        nn.LazyConv2d(num_channels, kernel_size=1), nn.ReLU(),
    )


def build_nin_torch(num_classes=10, dropout=0.5):
    """The same network in PyTorch."""
    check(dropout)
    from torch import nn

    layers = [
        ("nin_block0", nin_block_torch(96, kernel_size=11, strides=4, padding=0)),
        ("1", nn.MaxPool2d(kernel_size=3, stride=2)),
        ("nin_block1", nin_block_torch(256, kernel_size=5, strides=1, padding=2)),
        ("3", nn.MaxPool2d(kernel_size=3, stride=2)),
        ("nin_block2", nin_block_torch(384, kernel_size=3, strides=1, padding=1)),
        ("5", nn.MaxPool2d(kernel_size=3, stride=2)),
        ("6", nn.Dropout(dropout)),
        ("nin_block3", nin_block_torch(num_classes, kernel_size=3, strides=1, padding=1)),
        ("8", nn.AdaptiveAvgPool2d(1)),
        ("9", nn.Flatten()),
    ]
    return nn.Sequential(OrderedDict(layers))


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="nin",
        builds={"mxnet": build_nin, "torch": build_nin_torch},
        recipes={"fashion-mnist": Recipe(lr=0.1, batch_size=128, epochs=5, resize=224)},
        arch={"dropout": 0.5},
        sample_shape=(1, 1, 224, 224),
        summary="Network in Network: conv + 1x1 conv blocks, global average pooling, no dense layer (d2l 5.8)",
    ))
