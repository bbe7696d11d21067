"""DenseNet as the book builds it (d2l 5.12), in MXNet and in PyTorch.  A framework is imported only when its
network is built."""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)


def plan(growth_rate, num_convs_in_dense_blocks, num_channels) -> list[tuple[int, int | None]]:
    """``(convolutions, channels after the transition or None for the last block)`` per dense block;
    a ``ValueError`` saying what is wrong otherwise."""
    blocks = list(num_convs_in_dense_blocks)
    numbers = [growth_rate, num_channels, *blocks]
    if any(isinstance(n, bool) or not isinstance(n, int) for n in numbers):
        raise ValueError("growth_rate, num_channels and every block's number of convolutions must be whole numbers")
    if not blocks or min(numbers) < 1:
        raise ValueError("growth_rate, num_channels and every block's number of convolutions must be at least 1")
    out = []
    for i, num_convs in enumerate(blocks):
        num_channels += num_convs * growth_rate
        if i != len(blocks) - 1:
            num_channels //= 2  # the transition halves the channels
            out.append((num_convs, num_channels))
        else:
            out.append((num_convs, None))
    return out


def build_densenet(num_classes=10, growth_rate=32, num_convs_in_dense_blocks=(4, 4, 4, 4), num_channels=64):
    """Conv 64@7x7/2, BN, relu, max-pool 3/2, dense blocks with transitions halving the channels
    between them, BN, relu, global average pool, dense."""
    blocks = plan(growth_rate, num_convs_in_dense_blocks, num_channels)
    from mxnet.gluon import nn

    from .blocks import DenseBlock, transition_block

    net = nn.HybridSequential()
    net.add(nn.Conv2D(num_channels, kernel_size=7, strides=2, padding=3), nn.BatchNorm(), nn.Activation("relu"),
            nn.MaxPool2D(pool_size=3, strides=2, padding=1))
    for num_convs, transition in blocks:
        net.add(DenseBlock(num_convs, growth_rate))
        if transition is not None:
            net.add(transition_block(transition))
    net.add(nn.BatchNorm(), nn.Activation("relu"), nn.GlobalAvgPool2D(), nn.Dense(num_classes))
    return net


def build_densenet_torch(num_classes=10, growth_rate=32, num_convs_in_dense_blocks=(4, 4, 4, 4), num_channels=64):
    """The same network in PyTorch."""
    blocks = plan(growth_rate, num_convs_in_dense_blocks, num_channels)
    from torch import nn

    from .blocks_torch import DenseBlock, transition_block

    layers = [nn.LazyConv2d(num_channels, kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(), nn.ReLU(),
              nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
    for num_convs, transition in blocks:
        layers.append(DenseBlock(num_convs, growth_rate))
        if transition is not None:
            layers.append(transition_block(transition))
    layers += [nn.LazyBatchNorm2d(), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LazyLinear(num_classes)]
    return nn.Sequential(*layers)


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="densenet",
        builds={"mxnet": build_densenet, "torch": build_densenet_torch},
        recipes={"fashion-mnist": Recipe(lr=0.1, batch_size=256, epochs=5, resize=96)},
        arch={"growth_rate": 32, "num_convs_in_dense_blocks": [4, 4, 4, 4], "num_channels": 64},
        sample_shape=(1, 1, 96, 96),
        summary="DenseNet: four dense blocks of four convolutions, growth rate 32 (d2l 5.12)",
    ))
