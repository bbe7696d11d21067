"""The README's main commands, taken from README.md and run verbatim as root in minimal Debian 12 and 13 root
filesystems (mmdebstrap: python3 and ca-certificates only, no venv module, no pip), with the host's network and
CA store and a shared pip download cache; then ``cnnpipe doctor`` there, with pieces removed in turn.

Opt-in (``CNNPIPE_FRESH_MACHINES=1``; ``.ci/run`` runs them as a step of their own, timed apart from the test
command): each takes a few minutes and downloads from Debian and PyPI (Debian 13: PyTorch's CUDA build, 2.6 GB).
"""

import importlib.util
import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("fresh_machine", ROOT / "benchmarks" / "fresh_machine.py")
fresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fresh)

pytestmark = [pytest.mark.docker, pytest.mark.fresh, pytest.mark.opt_in("CNNPIPE_FRESH_MACHINES")]
DOCTOR = "echo '=== doctor {step} ==='; .venv/bin/cnnpipe doctor; echo \"=== exit $? ===\""
# Each step removes one piece, then asks doctor (and, for the native library, a run) what is wrong.
REMOVALS = (
    "apt-get purge -y -qq python3-venv python3.11-venv >/dev/null",
    "apt-get purge -y -qq libgomp1 >/dev/null; .venv/bin/cnnpipe run lenet fashion-mnist --limit 64 --epochs 1; true",
    "apt-get purge -y -qq dataset-fashion-mnist >/dev/null",
)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    if not shutil.which("mmdebstrap"):
        from cnnpipe.testing import unavailable

        unavailable("mmdebstrap is not installed (apt-get install mmdebstrap; .ci/docker-setup.sh does)")
    return fresh.checkout_tar(tmp_path_factory.mktemp("fresh"))


@pytest.fixture(scope="module")
def pip_cache():
    """A pip download cache shared by the runs: it changes their speed, not what they do."""
    root = Path(os.environ.get("CNNPIPE_CACHE_DIR") or Path.home() / ".cache" / "cnnpipe")
    folder = root / "fresh-machine-pip"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def doctor_reports(output: str) -> dict[str, tuple[list[str], int]]:
    """``{step: (FAIL lines, exit code)}`` of each doctor run in ``output``."""
    found = re.findall(r"^=== doctor (\S+) ===\n(.*?)^=== exit (\d+) ===", output, re.M | re.S)
    return {step: ([l for l in body.splitlines() if l.startswith("FAIL")], int(code)) for step, body, code in found}


def run_readme_command(suite, checkout, pip_cache, after=""):
    command = fresh.readme_commands()[(suite, "main")]  # from README.md, never a copy
    image = fresh.build_rootfs(suite)
    code, output = fresh.run_inside(image, f"{command} || exit 97; {after}", checkout, pip_cache=pip_cache)
    assert code == 0, output[-6000:]  # 97: the README's command failed
    return output


def test_debian12_runs_the_readme_command_and_doctor_names_each_missing_piece(checkout, pip_cache):
    steps = [DOCTOR.format(step="all")]
    steps += [f"{removal}; {DOCTOR.format(step=i)}" for i, removal in enumerate(REMOVALS)]
    output = run_readme_command("bookworm", checkout, pip_cache, after="; ".join(steps))
    assert re.search(r"^training lenet on fashion-mnist \(mxnet\) -> ", output, re.M)
    assert fresh.final_accuracy(output) >= 0.75, output[-3000:]
    reports = doctor_reports(output)
    fails, code = reports["all"]
    assert code == 1 and len(fails) == 1 and fails[0].startswith("FAIL  docker engine: none reachable"), fails
    assert "fix: apt-get install docker.io and start it" in fails[0]
    expected = ("FAIL  venv: ", "FAIL  backend mxnet: ", "FAIL  dataset fashion-mnist: ")
    fixes = ("fix: apt-get install python3-venv", "fix: apt-get install libgomp1 libquadmath0",
             "fix: apt-get install dataset-fashion-mnist")
    for i, (start, fix) in enumerate(zip(expected, fixes)):
        fails, code = reports[str(i)]
        new = [line for line in fails if line.startswith(start)]
        assert code == 1 and len(new) == 1 and fix in new[0], fails
    assert "libgomp.so.1: cannot open shared object file" in output
    assert re.search(r"backend 'mxnet' \(cnnpipe-mxnet\) failed to load: OSError: libgomp.so.1.*run 'cnnpipe doctor'",
                     output)


def test_debian13_runs_the_readme_command_on_pytorch(checkout, pip_cache):
    output = run_readme_command("trixie", checkout, pip_cache, after=DOCTOR.format(step="all"))
    assert re.search(r"^training lenet on fashion-mnist \(torch\) -> ", output, re.M), output[-3000:]
    assert fresh.final_accuracy(output) >= 0.75, output[-3000:]
    fails, code = doctor_reports(output)["all"]
    assert code == 1 and [line.split(":")[0] for line in fails] == ["FAIL  docker engine"], fails
    assert re.search(r"^ok    backend torch: cnnpipe-torch loads torch ", output, re.M)
    assert re.search(r"^ok    build of torch: CUDA [0-9.]+ build, no NVIDIA GPU here: runs on the CPU$", output, re.M)
