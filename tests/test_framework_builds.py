"""Which build of each framework an install gets, as pip resolves it (``pip install --dry-run --report``).

The README's main job must not pull PyTorch (its default Linux build is the multi-GB CUDA one); a GPU
user's extras must give the CUDA builds, without a second distribution of the same module (``mxnet``
beside ``mxnet-cu117``); the ``cpu`` extras the CPU builds.  Needs the package index (and this
machine's local torch wheels, which pip's configuration names).
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())


def resolve(*requirements) -> dict[str, str]:
    """``{distribution: version}`` of everything pip would install for ``requirements`` into an empty environment."""
    proc = subprocess.run(
        # Without build isolation the local projects' metadata takes seconds, not a fresh setuptools each.
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-",
         "--disable-pip-version-check", "--no-build-isolation", *requirements],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    return {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in report["install"]}


def test_readme_main_job_installs_mxnet_and_no_torch():
    found = resolve("./", *PLUGINS, "mxnet==1.9.1")
    assert found["mxnet"] == "1.9.1"
    assert "torch" not in found and not [name for name in found if name.startswith("nvidia-")]
    assert {"cnnpipe", "cnnpipe-mxnet", "cnnpipe-torch", "cnnpipe-lenet"} <= set(found)


def test_gpu_extras_give_each_frameworks_cuda_build():
    found = resolve("./", "./plugins/cnnpipe-mxnet[cuda]", "./plugins/cnnpipe-torch[cuda]")
    assert found["mxnet-cu117"] == "1.9.1"
    assert "mxnet" not in found, "two distributions would both install the mxnet module"
    assert "+" not in found["torch"], f"torch {found['torch']} is not the index's CUDA build"
    # The CUDA build's libraries come as wheels.
    assert {"nvidia-cudnn-cu13", "nvidia-cublas"} & set(found), sorted(found)


def test_cpu_extras_give_each_frameworks_cpu_build():
    found = resolve("./", "./plugins/cnnpipe-mxnet[cpu]", "./plugins/cnnpipe-torch[cpu]")
    assert found["mxnet"] == "1.9.1" and found["torch"].endswith("+cpu")
    assert not [name for name in found if name.startswith("nvidia-") or name.startswith("mxnet-cu")], sorted(found)
