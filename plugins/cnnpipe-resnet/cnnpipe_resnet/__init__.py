"""ResNet-18 as the book builds it (d2l 5.11), in MXNet and in PyTorch.  A framework is imported only when
its network is built."""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)


def stages(num_channels, num_residuals) -> list[tuple[int, int]]:
    """``(channels, residual blocks)`` per stage; a ``ValueError`` saying what is wrong otherwise."""
    num_channels, num_residuals = list(num_channels), list(num_residuals)
    if not num_channels or len(num_channels) != len(num_residuals):
        raise ValueError("num_channels and num_residuals need one entry per stage, the same number of each")
    if any(isinstance(n, bool) or not isinstance(n, int) for n in num_channels + num_residuals):
        raise ValueError("num_channels and num_residuals must be whole numbers")
    if min(num_channels) < 1 or min(num_residuals) < 1:
        raise ValueError("every stage needs at least one residual block and one channel")
    return list(zip(num_channels, num_residuals))


def build_resnet(num_classes=10, num_channels=(64, 128, 256, 512), num_residuals=(2, 2, 2, 2)):
    """Conv ``num_channels[0]``@7x7/2 (the book's 64), BN, relu, max-pool 3/2, one ``resnet_block`` per stage, global average pool, dense."""
    plan = stages(num_channels, num_residuals)
    from mxnet.gluon import nn

    from .blocks import resnet_block

    net = nn.HybridSequential()
    net.add(nn.Conv2D(plan[0][0], kernel_size=7, strides=2, padding=3), nn.BatchNorm(), nn.Activation("relu"),
            nn.MaxPool2D(pool_size=3, strides=2, padding=1))
    for i, (channels, residuals) in enumerate(plan):
        net.add(resnet_block(channels, residuals, first_block=(i == 0)))
    net.add(nn.GlobalAvgPool2D(), nn.Dense(num_classes))
    return net


def build_resnet_torch(num_classes=10, num_channels=(64, 128, 256, 512), num_residuals=(2, 2, 2, 2)):
    """The same network in PyTorch."""
    plan = stages(num_channels, num_residuals)
    from torch import nn

    from .blocks_torch import resnet_block

    return nn.Sequential(
        nn.LazyConv2d(plan[0][0], kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        *(resnet_block(channels, residuals, first_block=(i == 0)) for i, (channels, residuals) in enumerate(plan)),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LazyLinear(num_classes),
    )


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="resnet18",
        builds={"mxnet": build_resnet, "torch": build_resnet_torch},
        recipes={"fashion-mnist": Recipe(lr=0.05, batch_size=256, epochs=5, resize=96)},
        arch={"num_channels": [64, 128, 256, 512], "num_residuals": [2, 2, 2, 2]},
        sample_shape=(1, 1, 224, 224),
        summary="ResNet-18: four stages of two residual blocks each (d2l 5.11)",
    ))
