"""ResNet-18 as the book builds it (d2l 5.11).  MXNet is imported only when the network is built."""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe


def build_resnet(num_classes=10, num_channels=(64, 128, 256, 512), num_residuals=(2, 2, 2, 2)):
    """Conv ``num_channels[0]``@7x7/2 (the book's 64), BN, relu, max-pool 3/2, one ``resnet_block`` per stage, global average pool, dense."""
    from mxnet.gluon import nn

    from .blocks import resnet_block

    num_channels, num_residuals = list(num_channels), list(num_residuals)
    if not num_channels or len(num_channels) != len(num_residuals):
        raise ValueError("num_channels and num_residuals need one entry per stage, the same number of each")
    if min(num_channels) < 1 or min(num_residuals) < 1:
        raise ValueError("every stage needs at least one residual block and one channel")
    net = nn.HybridSequential()
    net.add(nn.Conv2D(num_channels[0], kernel_size=7, strides=2, padding=3), nn.BatchNorm(), nn.Activation("relu"),
            nn.MaxPool2D(pool_size=3, strides=2, padding=1))
    for i, (channels, residuals) in enumerate(zip(num_channels, num_residuals)):
        net.add(resnet_block(channels, residuals, first_block=(i == 0)))
    net.add(nn.GlobalAvgPool2D(), nn.Dense(num_classes))
    return net


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="resnet18",
        builds={"mxnet": build_resnet},
        recipes={"fashion-mnist": Recipe(lr=0.05, batch_size=256, epochs=5, resize=96)},
        arch={"num_channels": [64, 128, 256, 512], "num_residuals": [2, 2, 2, 2]},
        sample_shape=(1, 1, 224, 224),
        summary="ResNet-18: four stages of two residual blocks each (d2l 5.11)",
    ))
