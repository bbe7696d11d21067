"""The ``imagefolder`` dataset: your own pictures, one folder per class.  Pillow is imported only to load."""

from pathlib import Path

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import DatasetSpec, Recipe

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)

# The dataset's options (--set data.NAME=VALUE); load() receives them as keyword arguments.
OPTIONS = {
    "size": 0,            # resize every picture to size x size on decoding (Pillow's bilinear); 0 keeps the size
    "test_fraction": 0.2,  # share of each class held out when the folder has no train/ and test/
    "split_seed": 0,      # seed of that split and of the order of the examples
}


def locate(data_dir=None):
    """The folder ``load`` reads: ``--data-dir`` (or ``CNNPIPE_DATA_DIR``); there is no default folder."""
    from .layout import data_folder

    return data_folder(data_dir)


def load(data_dir=None, **options):
    """The pictures under ``data_dir`` as :class:`cnnpipe.specs.Data` (see :mod:`cnnpipe_imagefolder.layout`)."""
    from .cache import load as load_cached
    from .layout import data_folder

    return load_cached(Path(data_folder(data_dir)), {**OPTIONS, **options})


def read(path, shape, size=0, **_):
    """One picture as ``cnnpipe predict`` needs it: decoded as ``load`` decodes (channels, ``data.size`` resize)."""
    from .decode import read_one

    return read_one(path, shape, size)


@hookimpl
def cnnpipe_register_datasets(register):
    register(DatasetSpec(
        "imagefolder", load,
        locate=locate,
        options=OPTIONS,
        read=read,
        defaults=Recipe(lr=0.05, batch_size=32, epochs=10),
        summary="your pictures (PNG, JPEG; grey or colour), a folder per class: DIR/CLASS/*, or DIR/train/CLASS/* "
                "and DIR/test/CLASS/*; --data-dir DIR",
    ))
