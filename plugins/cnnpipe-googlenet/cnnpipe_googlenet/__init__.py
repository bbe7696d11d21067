"""GoogLeNet as the book builds it (d2l 5.9), in MXNet and in PyTorch.  A framework is imported only when its
network is built."""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec, Recipe

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)

from .stages import STAGES  # noqa: F401  (importable from the package, as before)

# The narrowest convolutions have 16 channels; a larger ratio would leave some with none.
MAX_RATIO = 16


def check(ratio) -> None:
    """A ``ValueError`` when ``ratio`` is not a whole number from 1 to :data:`MAX_RATIO`."""
    if isinstance(ratio, bool) or not isinstance(ratio, int) or not 1 <= ratio <= MAX_RATIO:
        raise ValueError(f"ratio must be a whole number from 1 to {MAX_RATIO}, got {ratio!r}")


def build_googlenet(num_classes=10, ratio=1):
    """Blocks b1..b5 of Inception blocks, then a dense layer; ``ratio`` divides every channel count (1: the book's)."""
    check(ratio)
    from .inception import googlenet

    return googlenet(num_classes, ratio)


def build_googlenet_torch(num_classes=10, ratio=1):
    """The same network in PyTorch."""
    check(ratio)
    from .inception_torch import googlenet

    return googlenet(num_classes, ratio)


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="googlenet",
        builds={"mxnet": build_googlenet, "torch": build_googlenet_torch},
        recipes={"fashion-mnist": Recipe(lr=0.1, batch_size=128, epochs=5, resize=96)},
        arch={"ratio": 1},
        sample_shape=(1, 1, 96, 96),
        summary="GoogLeNet: five blocks of Inception blocks with four parallel paths (d2l 5.9)",
    ))
