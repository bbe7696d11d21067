"""The Fashion-MNIST dataset plugin.  Loading code is imported only when the data is needed."""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import DatasetSpec

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)

CLASS_NAMES = ["t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot"]


def load(data_dir=None):
    """Fashion-MNIST as :class:`cnnpipe.specs.Data` (see :func:`cnnpipe_fashion_mnist.loader.load`)."""
    from .loader import load as load_arrays
    from cnnpipe.specs import Data

    train_X, train_y, test_X, test_y = load_arrays(data_dir)
    return Data(train_X, train_y, test_X, test_y, list(CLASS_NAMES), name="fashion-mnist")


def locate(data_dir=None):
    """The folder :func:`load` reads the four files from, or ``None`` when it would download them."""
    from .loader import FASHION_MNIST, SYSTEM_DIR, cache_dir, find_source

    return find_source(data_dir, cache_dir(), SYSTEM_DIR, FASHION_MNIST)


@hookimpl
def cnnpipe_register_datasets(register):
    register(DatasetSpec(
        name="fashion-mnist",
        load=load,
        locate=locate,
        summary="Zalando's 70,000 28x28 grey images of clothing in 10 classes (d2l 3.5)",
        input_shape=(1, 28, 28),
        num_classes=10,
        install="apt-get install dataset-fashion-mnist (Debian, Ubuntu), or --data-dir DIR with the four .gz files",
    ))
