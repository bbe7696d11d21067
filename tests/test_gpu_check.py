"""``benchmarks/gpu_check.sh`` end to end on this CPU, in an environment made like the GPU machine's: numpy 2,
PyTorch and cnnpipe's few dependencies, no MXNet, no Docker SDK, no croniter; cnnpipe installed from
the source tree with ``pip install --no-deps``.  Small: three networks, a slice of the data, one epoch."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnpipe.testing import unavailable

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("/usr/share/datasets/fashion-mnist")
# What the GPU machine has (see shared/ENVIRONMENT.md): torch's CPU build stands in for its CUDA one.
HOST_PACKAGES = ["numpy>=2", "torch==2.13.0", "pluggy", "click", "tqdm", "matplotlib", "setuptools"]

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def gpu_host(tmp_path_factory):
    """The interpreter of a venv with :data:`HOST_PACKAGES` and nothing else."""
    if not (DATA / "train-images-idx3-ubyte.gz").is_file():
        unavailable(f"Fashion-MNIST not installed in {DATA}")
    venv = tmp_path_factory.mktemp("gpu-host") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *HOST_PACKAGES],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return python


def test_gpu_check_installs_without_mxnet_and_trains_every_network_it_is_given(gpu_host, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", str(DATA), str(out), "--device", "cpu", "--limit", "256",
         "--resize-cap", "32", "--epochs", "1", "--models", "lenet,lenet-bn,densenet"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHON": str(gpu_host)}, timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert [r["model"] for r in report["rows"]] == ["lenet", "lenet-bn", "densenet"]
    for row in report["rows"]:
        assert "error" not in row, row
        assert len(row["epochs"]) == 1 and 0 <= row["test_acc"] <= 1 and row["images_per_sec"] > 0
        assert row["ran"]["device"] == "cpu" and row["ran"]["limit"] == 256
        assert len(row["epoch_seconds"]) == 1 and row["epoch_seconds"][0] > 0 and row["peak_rss_mib"] > 50
        assert row["gpu_memory_mib"] is None and row["ran"]["compile"] is False  # no nvidia-smi on this CPU
    densenet = report["rows"][2]
    assert densenet["ran"]["resize"] == 32 and densenet["ran"]["precision"] == "bf16"  # 32: the smallest it takes
    assert report["rows"][0]["ran"]["precision"] == "fp32"
    assert report["machine"]["gpu"] is None and report["machine"]["numpy"].startswith("2.")
    assert "| densenet | bf16 |" in (out / "gpu_check.log").read_text()
    # The environment cnnpipe ran in: no MXNet to be found, numpy 2, and the core from the source tree.
    venv_python = out / "venv" / "bin" / "python"
    show = subprocess.run([str(venv_python), "-m", "pip", "show", "mxnet"], capture_output=True, text=True)
    assert show.returncode != 0 and "not found" in show.stderr.lower()
    where = subprocess.run([str(venv_python), "-c", "import cnnpipe, numpy; print(cnnpipe.__file__, numpy.__version__)"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert where[0].startswith(str(out / "venv")) and where[1].startswith("2.")


def test_gpu_check_passes_compile_and_one_precision_to_every_run():
    """``--compile --precision bf16`` reach each network's ``cnnpipe run`` (the compiled steps themselves are
    checked in plugins/cnnpipe-torch/tests/test_compile.py; a whole gpu_check run with them took 8 minutes of
    this loaded CPU, too long for the suite).  No GPU has run them yet."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_check
    finally:
        sys.path.pop(0)
    from cnnpipe.registry import build_registry

    args = gpu_check.parse_args(["DATA", "OUT", "--compile", "--precision", "bf16"])
    registry = build_registry()
    for name in ("lenet", "densenet"):
        options = gpu_check.run_options(registry, name, args)
        assert "--compile" in options and options[options.index("--precision") + 1] == "bf16"
    assert "--compile" not in gpu_check.run_options(registry, "lenet", gpu_check.parse_args(["DATA", "OUT"]))


def test_gpu_check_refuses_a_folder_without_the_data(tmp_path):
    proc = subprocess.run(["bash", "benchmarks/gpu_check.sh", str(tmp_path), str(tmp_path / "out")], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().startswith(f"gpu_check: {tmp_path} lacks Fashion-MNIST's")
    assert not (tmp_path / "out").exists()


def test_a_plugin_is_not_broken_by_what_only_the_core_needs():
    """On the GPU machine the core is installed with --no-deps (no Docker SDK, no croniter): the plugins still load."""
    from cnnpipe.requirements import Installed, unmet

    installed = Installed()
    missing = {"docker", "croniter"}
    installed.dists = {k: v for k, v in installed.dists.items() if k not in missing}
    assert unmet("cnnpipe-lenet", installed) is None
