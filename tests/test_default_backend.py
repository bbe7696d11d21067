"""Without MXNet the built-in models default to the backend that is installed (Python 3.12+ has no MXNet)."""

import subprocess
import sys

import pytest

from cnnpipe.pipeline import default_backend, resolve
from cnnpipe.registry import build_registry

# Runs the real CLI in a process where ``import mxnet`` finds nothing, as on a machine without it.
WITHOUT_MXNET = "import sys; sys.modules['mxnet'] = None; from cnnpipe.cli import main; main(sys.argv[1:])"


def test_the_first_backend_stays_the_default_when_its_framework_is_installed():
    registry = build_registry()
    assert registry.backend("mxnet").installed()
    assert resolve(registry, "lenet", "fashion-mnist").config.backend == "mxnet"


def test_without_mxnet_the_default_is_the_installed_backend(monkeypatch):
    monkeypatch.setitem(sys.modules, "mxnet", None)
    registry = build_registry()
    assert not registry.backend("mxnet").installed()
    assert default_backend(registry, registry.model("lenet")) == "torch"
    assert resolve(registry, "lenet", "fashion-mnist").config.backend == "torch"
    # Named, it is kept (loading it then says what to install), not silently swapped.
    assert resolve(registry, "lenet", "fashion-mnist", options={"backend": "mxnet"}).config.backend == "mxnet"


def test_without_any_framework_the_first_backend_is_kept_to_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mxnet", None)
    monkeypatch.setitem(sys.modules, "torch", None)
    registry = build_registry()
    assert default_backend(registry, registry.model("lenet")) == "mxnet"


def test_without_the_mxnet_plugin_the_default_is_torch():
    registry = build_registry(disable=("mxnet",))
    assert resolve(registry, "lenet", "fashion-mnist").config.backend == "torch"


@pytest.mark.real_data
def test_a_run_without_mxnet_trains_on_torch_and_says_so_first(real_data, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_MXNET, "run", "lenet", "fashion-mnist", "--data-dir", str(real_data),
         "--limit", "512", "--epochs", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    first = done.stderr.splitlines()[0]  # the console reporter writes to stderr
    assert first.startswith("training lenet on fashion-mnist (torch) -> "), done.stderr
