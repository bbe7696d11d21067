"""DenseNet as the book builds it (d2l 5.12).  MXNet is imported only when the network is built."""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe


def build_densenet(num_classes=10, growth_rate=32, num_convs_in_dense_blocks=(4, 4, 4, 4), num_channels=64):
    """Conv 64@7x7/2, BN, relu, max-pool 3/2, dense blocks with transitions halving the channels
    between them, BN, relu, global average pool, dense."""
    from mxnet.gluon import nn

    from .blocks import DenseBlock, transition_block

    blocks = list(num_convs_in_dense_blocks)
    if not blocks or min(blocks) < 1 or growth_rate < 1 or num_channels < 1:
        raise ValueError("growth_rate, num_channels and every block's number of convolutions must be at least 1")
    net = nn.HybridSequential()
    net.add(nn.Conv2D(num_channels, kernel_size=7, strides=2, padding=3), nn.BatchNorm(), nn.Activation("relu"),
            nn.MaxPool2D(pool_size=3, strides=2, padding=1))
    for i, num_convs in enumerate(blocks):
        net.add(DenseBlock(num_convs, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(blocks) - 1:
            num_channels //= 2
            net.add(transition_block(num_channels))
    net.add(nn.BatchNorm(), nn.Activation("relu"), nn.GlobalAvgPool2D(), nn.Dense(num_classes))
    return net


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="densenet",
        builds={"mxnet": build_densenet},
        recipes={"fashion-mnist": Recipe(lr=0.1, batch_size=256, epochs=5, resize=96)},
        arch={"growth_rate": 32, "num_convs_in_dense_blocks": [4, 4, 4, 4], "num_channels": 64},
        sample_shape=(1, 1, 96, 96),
        summary="DenseNet: four dense blocks of four convolutions, growth rate 32 (d2l 5.12)",
    ))
