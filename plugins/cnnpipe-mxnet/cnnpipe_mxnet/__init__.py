"""The MXNet backend: the book's own framework (MXNet 1.9.1, Gluon).  MXNet is imported only when a run needs it."""

from cnnpipe.errors import UsageError
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import BackendSpec

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)

INSTALL = "pip install 'cnnpipe-mxnet[cpu]' (mxnet 1.9.1 for the CPU) or 'cnnpipe-mxnet[cuda]' (mxnet-cu117); Python 3.11 at most"


def load():
    """The :class:`cnnpipe_mxnet.backend.MXNetBackend`; a one-line error saying what to install without MXNet."""
    try:
        from .backend import MXNetBackend
    except ImportError as exc:
        raise UsageError(f"backend 'mxnet' needs MXNet ({exc}); {INSTALL}")
    return MXNetBackend()


@hookimpl
def cnnpipe_register_backends(register):
    register(BackendSpec(
        name="mxnet",
        load=load,
        framework="mxnet",
        launcher="ps-lite",
        summary="MXNet/Gluon, the book's framework: hybridized train_ch5 (default)",
    ))
