"""The PyTorch backend.  PyTorch is imported only when a run needs it, and is not a dependency:
install the build you want (CPU, or CUDA from the package index) beside this distribution."""

from cnnpipe.errors import UsageError
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import BackendSpec

CNNPIPE_PLUGIN_API = "0.2"  # the plugin API this plugin is written for (see CHANGELOG.md)

INSTALL = ("pip install torch (its CUDA build on Linux), or the CPU build: "
           "pip install torch --index-url https://download.pytorch.org/whl/cpu")


def load():
    """The :class:`cnnpipe_torch.backend.TorchBackend`; a one-line error saying what to install without PyTorch."""
    try:
        from .backend import TorchBackend
    except ImportError as exc:
        raise UsageError(f"backend 'torch' needs PyTorch ({exc}); {INSTALL}")
    return TorchBackend()


@hookimpl
def cnnpipe_register_backends(register):
    register(BackendSpec(
        name="torch",
        load=load,
        framework="torch",
        launcher="torchrun",
        summary="PyTorch: the same train_ch5 on CPU or CUDA GPUs",
    ))
