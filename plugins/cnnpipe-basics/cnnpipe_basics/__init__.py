"""The basics of convolution (d2l 5.1-5.4): from-scratch functions in :mod:`cnnpipe_basics.conv`,
and the book's kernel-learning example as a dataset and a regression model trained with the
squared loss by cnnpipe's own trainer.

MXNet is imported only when data is loaded or a network built.
"""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import REGRESSION, DatasetSpec, ModelSpec, Recipe

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)


def load_edge_image(data_dir=None):
    """The 6x8 edge image and its edge map (see :func:`cnnpipe_basics.edge.load`)."""
    from .edge import load

    return load(data_dir)


def build_edge_kernel(num_classes=0, kernel_size=(1, 2)):
    """A bias-free 1x2 convolution with one output channel (see :func:`cnnpipe_basics.edge.build_edge_kernel`)."""
    from .edge import build_edge_kernel as build

    return build(num_classes, kernel_size)


def build_edge_kernel_torch(num_classes=0, kernel_size=(1, 2)):
    """The same layer in PyTorch (see :func:`cnnpipe_basics.edge.build_edge_kernel_torch`)."""
    from .edge import build_edge_kernel_torch as build

    return build(num_classes, kernel_size)


@hookimpl
def cnnpipe_register_datasets(register):
    register(DatasetSpec(
        name="edge-image",
        load=load_edge_image,
        summary="one 6x8 image with a vertical dark band; target: its edges, corr2d with [[1, -1]] (d2l 5.1.3)",
        input_shape=(1, 6, 8),
        num_classes=0,
    ))


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec(
        name="edge-kernel",
        builds={"mxnet": build_edge_kernel, "torch": build_edge_kernel_torch},
        # The book: 10 steps of w -= 3e-2 * grad on the one example, from Gluon's default initialiser.
        recipes={"edge-image": Recipe(lr=3e-2, batch_size=1, epochs=10, init="uniform")},
        arch={"kernel_size": [1, 2]},
        sample_shape=(1, 1, 6, 8),
        task=REGRESSION,
        summary="a 1x2 convolution kernel learnt from an image and its edges, squared loss (d2l 5.1.4)",
    ))
