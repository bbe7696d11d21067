"""``cnnpipe doctor``: each check passing on the real thing and failing with its own line and fix.

The fresh Debian machines (tests/test_fresh_machine.py) check the same lines with real packages removed.
"""

import re
import sys

import pytest

from cnnpipe import doctor
from cnnpipe.pipeline import load_backend
from cnnpipe.registry import build_registry
from cnnpipe.schedule.store import Store

from conftest import cli

BROKEN_BACKEND = '''
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import BackendSpec

def load():
    raise OSError("libgomp.so.1: cannot open shared object file: No such file or directory")

@hookimpl
def cnnpipe_register_backends(register):
    register(BackendSpec("gomp", load))
'''


@pytest.fixture
def broken_backend(install_plugin):
    info = install_plugin("gomp-backend", {"gomp_backend": BROKEN_BACKEND}, {"gomp": "gomp_backend"})
    metadata = info / "METADATA"
    metadata.write_text(metadata.read_text() + "Requires-Python: <3.0\n")
    return build_registry()


def by_name(checks, name):
    (check,) = [c for c in checks if c.name == name]
    return check


def test_a_python_with_venv_passes():
    check = doctor.venv_check(sys.executable)
    assert check.ok and "has venv and ensurepip" in check.line()


def test_a_python_without_ensurepip_names_python3_venv(tmp_path):
    # Debian's python3 without python3-venv: `import ensurepip` fails.
    fake = tmp_path / "python3"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} -c \"import sys; sys.modules['ensurepip'] = None; exec(sys.argv[1])\" \"$2\"\n")
    fake.chmod(0o755)
    check = doctor.venv_check(str(fake))
    assert not check.ok
    assert check.line().endswith("`python3 -m venv` fails; fix: apt-get install python3-venv")


def test_python_against_each_backend(broken_backend):
    checks = doctor.python_checks(broken_backend)
    assert by_name(checks, "python for mxnet").ok
    bad = by_name(checks, "python for gomp")
    assert not bad.ok and "gomp-backend needs Python <3.0" in bad.line() and "fix: use a Python that matches" in bad.line()


def test_each_backend_loads_with_its_native_libraries(broken_backend):
    checks, loaded = doctor.backend_checks(broken_backend)
    assert by_name(checks, "backend mxnet").ok and "mxnet 1.9.1" in by_name(checks, "backend mxnet").found
    assert set(loaded) == {"mxnet", "torch"}
    line = by_name(checks, "backend gomp").line()
    assert line.startswith("FAIL  backend gomp: OSError: libgomp.so.1: cannot open shared object file")
    assert line.endswith("fix: apt-get install libgomp1 libquadmath0")


def test_a_backend_failing_to_load_at_run_time_points_to_doctor(broken_backend):
    with pytest.raises(Exception, match=r"backend 'gomp' \(gomp-backend\) failed to load: OSError: libgomp.so.1.*"
                                         r"run 'cnnpipe doctor'"):
        load_backend(broken_backend.backend("gomp"))


class Built:
    def __init__(self, cuda, usable):
        self.cuda, self.usable = cuda, usable

    def build(self):
        return self.cuda, self.usable


@pytest.mark.parametrize("build, gpus, ok, words", [
    (("", 0), 0, True, "CPU build, no NVIDIA GPU here: runs on the CPU"),
    (("12.8", 0), 0, True, "CUDA 12.8 build, no NVIDIA GPU here: runs on the CPU"),
    (("12.8", 2), 2, True, "CUDA 12.8 build uses 2 of the 2 NVIDIA GPU(s) here"),
    (("", 0), 1, False, "fix: pip install 'cnnpipe-torch[cuda]' for the CUDA build"),
    (("12.8", 0), 1, False, "CUDA 12.8 build sees none of the 1 NVIDIA GPU(s) here; fix: a driver for CUDA 12.8"),
])
def test_the_framework_build_against_the_gpus_here(build, gpus, ok, words):
    (check,) = doctor.build_checks({"torch": Built(*build)}, build_registry(), gpus=gpus)
    assert check.ok is ok and words in check.line()


def test_the_real_builds_run_on_the_cpu_without_a_gpu():
    # PyTorch from the package index is a CUDA build; this machine's own wheel folder holds the CPU build.
    registry = build_registry()
    _, loaded = doctor.backend_checks(registry)
    lines = [c.line() for c in doctor.build_checks(loaded, registry)]
    assert lines[0] == "ok    build of mxnet: CPU build, no NVIDIA GPU here: runs on the CPU"
    assert re.fullmatch(r"ok    build of torch: (CPU|CUDA [0-9.]+) build, no NVIDIA GPU here: runs on the CPU", lines[1])


@pytest.mark.real_data
def test_the_dataset_files_are_found(real_data):
    check = by_name(doctor.dataset_checks(build_registry(), real_data), "dataset fashion-mnist")
    assert check.ok and str(real_data) in check.found


def test_a_dataset_that_would_download_names_its_package(tmp_path, monkeypatch):
    from cnnpipe_fashion_mnist import loader

    monkeypatch.setenv("CNNPIPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CNNPIPE_DATA_DIR", raising=False)
    monkeypatch.setattr(loader, "SYSTEM_DIR", tmp_path / "none")
    check = by_name(doctor.dataset_checks(build_registry()), "dataset fashion-mnist")
    assert not check.ok and "the first run downloads it" in check.found
    assert "fix: apt-get install dataset-fashion-mnist" in check.line()
    empty = by_name(doctor.dataset_checks(build_registry(), tmp_path), "dataset fashion-mnist")
    assert not empty.ok and "lacks the Fashion-MNIST file(s)" in empty.found


def test_a_dataset_of_the_users_own_folder_is_not_checked_without_a_folder(monkeypatch):
    monkeypatch.delenv("CNNPIPE_DATA_DIR", raising=False)
    registry = build_registry()
    check = by_name(doctor.dataset_checks(registry), "dataset imagefolder")
    assert check.ok and check.found.startswith("not checked: dataset 'imagefolder' needs --data-dir")
    (named,) = doctor.dataset_checks(registry, names=("imagefolder",))
    assert not named.ok and named.fix == "point --data-dir at a folder with its files"


def test_folders_writable_or_not(tmp_path):
    assert doctor.writable_check("run folder", tmp_path / "runs").ok
    blocker = tmp_path / "file"
    blocker.write_text("")
    bad = doctor.writable_check("run folder", blocker / "runs")
    assert not bad.ok and bad.line().endswith(f"fix: make {blocker / 'runs'} writable, or set --out")


def test_no_engine_is_named_with_its_fix(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/doctor.sock")
    (check,) = doctor.docker_checks()
    assert not check.ok and "none reachable at unix:///nonexistent/doctor.sock" in check.found
    assert "fix: apt-get install docker.io and start it" in check.line()


@pytest.mark.docker
def test_the_engine_and_base_image_pass_and_a_missing_base_fails(monkeypatch):
    from cnnpipe.docker import image

    assert all(c.ok for c in doctor.docker_checks(gpus=0))
    monkeypatch.setitem(image.BASES, "cpu", "cnnpipe-doctor-no-such-base:py")
    engine, base = doctor.docker_checks(gpus=0)
    assert engine.ok and not base.ok and "cnnpipe-doctor-no-such-base:py is missing" in base.found
    assert base.fix == image.MAKE_BASE["cpu"]


def test_the_scheduler_store(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPIPE_HOME", str(tmp_path))
    assert doctor.store_check().ok  # not made yet, can be
    Store(tmp_path / "scheduler.sqlite").close()
    assert "passes SQLite's check" in doctor.store_check().found
    (tmp_path / "scheduler.sqlite").write_bytes(b"not a database" * 100)
    bad = doctor.store_check()
    assert not bad.ok and "is damaged (it is not an SQLite database)" in bad.found and "restore it from a backup" in bad.fix


@pytest.mark.docker
@pytest.mark.real_data
def test_cli_exits_0_when_all_pass_and_1_naming_the_failure(real_data, tmp_path):
    env = {"CNNPIPE_HOME": str(tmp_path / "home"), "CNNPIPE_DATA_DIR": str(real_data)}
    done = cli("doctor", "--out", str(tmp_path / "runs"), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("all ") and "FAIL" not in done.stdout
    bad = cli("doctor", "fashion-mnist", "--out", str(tmp_path / "runs"), "--data-dir", str(tmp_path), env=env)
    assert bad.returncode == 1
    assert re.fullmatch(r"1 of \d+ checks failed: dataset fashion-mnist", bad.stdout.splitlines()[-1]), bad.stdout
    assert [line for line in bad.stdout.splitlines() if line.startswith("FAIL")][0].startswith(
        "FAIL  dataset fashion-mnist: data folder")
