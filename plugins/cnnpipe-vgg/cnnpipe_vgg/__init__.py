"""VGG as the book builds it (d2l 5.7): VGG-11, narrowed by ``ratio`` for Fashion-MNIST, in MXNet and in
PyTorch.  A framework is imported only when its network is built.
"""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)

VGG11 = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def _whole(value, name, low=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be a whole number of at least {low}, got {value!r}")


def vgg_block(num_convs, num_channels, prefix=None):
    """``num_convs`` 3x3 ReLU convolutions (padding 1) then a 2x2 max-pool of stride 2."""
    from mxnet.gluon import nn

    blk = nn.HybridSequential(prefix=prefix)
    for _ in range(num_convs):
        blk.add(nn.Conv2D(num_channels, kernel_size=3, padding=1, activation="relu"))
    blk.add(nn.MaxPool2D(pool_size=2, strides=2))
    return blk


def blocks(conv_arch, ratio, dropout) -> list[tuple[int, int]]:
    """``(num_convs, num_channels // ratio)`` per block, the arguments checked; a ``ValueError`` saying what is
    wrong otherwise."""
    _whole(ratio, "ratio")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    try:
        pairs = [tuple(pair) for pair in conv_arch]
    except TypeError:
        pairs = []
    if not pairs or any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"conv_arch must be a list of [num_convs, num_channels] pairs, got {conv_arch!r}")
    for num_convs, num_channels in pairs:
        _whole(num_convs, "num_convs in conv_arch")
        _whole(num_channels, "num_channels in conv_arch")
        if num_channels // ratio < 1:
            raise ValueError(f"ratio {ratio} leaves no channels of a {num_channels}-channel block")
    return [(num_convs, num_channels // ratio) for num_convs, num_channels in pairs]


def build_vgg(num_classes=10, conv_arch=VGG11, ratio=4, dropout=0.5):
    """One ``vgg_block`` per ``(num_convs, num_channels)`` of ``conv_arch`` (channels // ``ratio``), then the dense head."""
    plan = blocks(conv_arch, ratio, dropout)
    from mxnet.gluon import nn

    net = nn.HybridSequential()
    for i, (num_convs, num_channels) in enumerate(plan):
        net.add(vgg_block(num_convs, num_channels, prefix=f"vgg_block{i}_"))
    # The dense layers keep their full width at every ratio, as in the book.
    net.add(
        nn.Dense(4096, activation="relu"), nn.Dropout(dropout),
        nn.Dense(4096, activation="relu"), nn.Dropout(dropout),
        nn.Dense(num_classes),
    )
    return net


def vgg_block_torch(num_convs, num_channels):
    """The book's ``vgg_block`` in PyTorch."""
    from torch import nn

    layers = []
    for _ in range(num_convs):
        layers += [nn.LazyConv2d(num_channels, kernel_size=3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.MaxPool2d(kernel_size=2, stride=2))


def build_vgg_torch(num_classes=10, conv_arch=VGG11, ratio=4, dropout=0.5):
    """The same network in PyTorch."""
    plan = blocks(conv_arch, ratio, dropout)
    from torch import nn

    net = nn.Sequential()
    for i, (num_convs, num_channels) in enumerate(plan):
        net.add_module(f"vgg_block{i}", vgg_block_torch(num_convs, num_channels))
    head = [nn.Flatten(),
            nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(dropout),
            nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(dropout),
            nn.LazyLinear(num_classes)]
    for i, layer in enumerate(head, start=len(plan)):
        net.add_module(str(i), layer)
    return net


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="vgg",
        builds={"mxnet": build_vgg, "torch": build_vgg_torch},
        recipes={"fashion-mnist": Recipe(lr=0.05, batch_size=128, epochs=5, resize=224)},
        arch={"conv_arch": VGG11, "ratio": 4, "dropout": 0.5},
        sample_shape=(1, 1, 224, 224),
        summary="VGG-11 from vgg_blocks, channels divided by ratio (4 as the book's small net; 1 is full VGG-11) (d2l 5.7)",
    ))
