"""``cnnpipe doctor``: checks, one per piece a run needs, each with the fix when it fails."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from glob import glob
from importlib import metadata
from pathlib import Path

from .errors import CnnpipeError, one_line

# Debian packages of the native libraries framework wheels link but do not ship (MXNet 1.9.1's
# wheel needs both of the first two: installing one only moves the error to the other).
LIBRARY_PACKAGES = {"libgomp.so.1": "libgomp1 libquadmath0", "libquadmath.so.0": "libgomp1 libquadmath0",
                    "libgfortran.so.5": "libgfortran5"}
ENGINE_FIX = ("apt-get install docker.io and start it (`dockerd &` or `systemctl start docker`); "
              "only --runner docker, cnnpipe image and the scheduler need it")


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, what was found, and the fix when it failed."""

    name: str
    ok: bool
    found: str
    fix: str = ""

    def line(self) -> str:
        fix = f"; fix: {self.fix}" if not self.ok and self.fix else ""
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.found}{fix}"


def python_checks(registry) -> list[Check]:
    """The venv module of the system Python, and this Python against each installed backend's requirement."""
    from packaging.specifiers import SpecifierSet

    version = ".".join(map(str, sys.version_info[:3]))
    checks = [venv_check()]
    for name in registry.names("backends"):
        spec = registry.backend(name)
        needs = requires_python(spec.dist)
        ok = not needs or SpecifierSet(needs).contains(version)
        checks.append(Check(f"python for {name}", ok, f"Python {version}; {spec.dist} needs Python {needs or 'any'}",
                            f"use a Python that matches {needs} for {spec.dist}, or another backend"))
    if not registry.names("backends"):
        checks.append(Check("backends", False, "no backend plugin is installed",
                            "pip install './plugins/cnnpipe-mxnet[cpu]' (Python <= 3.11) or './plugins/cnnpipe-torch[cuda]'"))
    return checks


def requires_python(dist: str) -> str:
    try:
        return metadata.metadata(dist).get("Requires-Python") or ""
    except metadata.PackageNotFoundError:
        return ""


def venv_check(python: str | None = None) -> Check:
    """Whether ``python3 -m venv`` works with the interpreter this one was made from (Debian splits it off)."""
    python = python or getattr(sys, "_base_executable", None) or sys.executable
    done = subprocess.run([python, "-c", "import ensurepip, venv"], capture_output=True, text=True)
    found = f"{python} has venv and ensurepip" if done.returncode == 0 else \
        f"{python} has no ensurepip, so `python3 -m venv` fails"
    return Check("venv", done.returncode == 0, found, "apt-get install python3-venv")


def backend_checks(registry) -> tuple[list[Check], dict]:
    """Each backend loaded (its framework imported with its native libraries); returns the loaded ones too."""
    checks, loaded = [], {}
    for name in registry.names("backends"):
        spec = registry.backend(name)
        try:
            backend = spec.load()
        except Exception as exc:  # a plugin's failure is what this check reports
            checks.append(Check(f"backend {name}", False, failure(exc), load_fix(exc, spec)))
            continue
        loaded[name] = backend
        versions = ", ".join(f"{k} {v}" for k, v in backend.versions().items())
        checks.append(Check(f"backend {name}", True, f"{spec.dist} loads {versions}"))
    return checks, loaded


def failure(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if isinstance(exc, CnnpipeError) else one_line(exc)


def load_fix(exc: BaseException, spec) -> str:
    """What to do about a backend that fails to load: the missing library's package, else the error's own advice."""
    missing = re.search(r"(lib[\w.+-]+\.so[\w.]*): cannot open shared object file", str(exc))
    if missing:
        package = LIBRARY_PACKAGES.get(missing.group(1))
        return f"apt-get install {package}" if package else f"install the system package that provides {missing.group(1)}"
    if isinstance(exc, CnnpipeError):
        return "as the message says"
    return f"reinstall {spec.dist} and its framework; `cnnpipe --debug run ...` shows the traceback"


def nvidia_gpus() -> int:
    """NVIDIA GPUs the kernel driver shows (0 without the driver)."""
    return len(glob("/proc/driver/nvidia/gpus/*")) or len(glob("/dev/nvidia[0-9]*"))


def build_checks(loaded: dict, registry, gpus: int | None = None) -> list[Check]:
    """Each framework's build (CPU or CUDA) against the GPUs and driver of this machine."""
    gpus = nvidia_gpus() if gpus is None else gpus
    checks = []
    for name, backend in loaded.items():
        cuda, usable = backend.build()
        here = f"{gpus} NVIDIA GPU(s) here" if gpus else "no NVIDIA GPU here"
        dist = registry.backend(name).dist
        if not gpus:
            found = f"{'CUDA ' + cuda if cuda else 'CPU'} build, {here}: runs on the CPU"
            checks.append(Check(f"build of {name}", True, found))
        elif not cuda:
            checks.append(Check(f"build of {name}", False, f"CPU build, {here}: runs on the CPU only",
                                f"pip install '{dist}[cuda]' for the CUDA build"))
        elif not usable:
            checks.append(Check(f"build of {name}", False, f"CUDA {cuda} build sees none of the {here}",
                                f"a driver for CUDA {cuda} (nvidia-smi shows the driver's), or a build for the driver's CUDA"))
        else:
            checks.append(Check(f"build of {name}", True, f"CUDA {cuda} build uses {usable} of the {here}"))
    return checks


def dataset_checks(registry, data_dir=None, names=()) -> list[Check]:
    """Where each dataset's files are (``names``, else every installed one); one that would download them fails."""
    from .specs import NO_FILES

    checks = []
    given = data_dir or os.environ.get("CNNPIPE_DATA_DIR")
    for name in names or registry.names("datasets"):
        spec = registry.dataset(name)
        if spec.locate is None:
            continue
        try:
            folder = spec.locate(data_dir)
        except CnnpipeError as exc:
            if not given and not names:  # a dataset of the user's own folder (imagefolder): nothing to check
                checks.append(Check(f"dataset {name}", True, f"not checked: {failure(exc)}"))
            else:
                checks.append(Check(f"dataset {name}", False, failure(exc), "point --data-dir at a folder with its files"))
            continue
        if folder is NO_FILES:
            continue
        ok = folder is not None
        found = f"files in {folder}" if ok else "no local copy: the first run downloads it (network needed)"
        checks.append(Check(f"dataset {name}", ok, found, spec.install or "--data-dir/CNNPIPE_DATA_DIR: a folder with its files"))
    return checks


def writable_check(name: str, folder: Path) -> Check:
    """``folder``, or the nearest folder above it that exists, can be written by this user."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    ok = existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)
    found = f"{folder} is writable" if ok and existing == folder else \
        f"{folder} can be created in {existing}" if ok else f"{existing} is not a folder this user can write"
    return Check(name, ok, found, f"make {folder} writable, or set {'--out' if name == 'run folder' else 'its variable'}")


def folder_checks(out: Path) -> list[Check]:
    """The cache, the run folder and cnnpipe's state folder."""
    from .schedule.store import home

    cache = os.environ.get("CNNPIPE_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cnnpipe"
    checks = [writable_check("cache", Path(cache)), writable_check("run folder", Path(out))]
    return checks + [writable_check("state folder", home())]


def docker_checks(gpus: int | None = None) -> list[Check]:
    """The Docker engine, and the base images cnnpipe image build starts from."""
    from .docker.engine import DEFAULT_HOST
    from .docker.image import BASES, MAKE_BASE

    try:
        import docker

        client = docker.from_env(timeout=10)
        version = client.version().get("Version", "?")
    except Exception as exc:  # no SDK, no socket, no permission: all say the same to the user
        where = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        return [Check("docker engine", False, f"none reachable at {where} ({one_line(exc)})", ENGINE_FIX)]
    checks = [Check("docker engine", True, f"Docker {version}")]
    gpus = nvidia_gpus() if gpus is None else gpus
    for variant in ("cpu", "cuda") if gpus else ("cpu",):
        try:
            client.images.get(BASES[variant])
            checks.append(Check(f"base image {variant}", True, BASES[variant]))
        except Exception as exc:
            checks.append(Check(f"base image {variant}", False, f"{BASES[variant]} is missing ({one_line(exc)})",
                                MAKE_BASE[variant]))
    return checks


def store_check() -> Check:
    """The scheduler's SQLite store opens and passes SQLite's own check (or its folder can hold a new one)."""
    from .schedule.store import Store, default_path

    path = default_path()
    if not path.exists():
        made = writable_check("scheduler store", path.parent)
        return Check("scheduler store", made.ok, f"{path} not made yet; {made.found}", made.fix)
    try:
        Store(path).close()
    except CnnpipeError as exc:
        message = str(exc)
        found, _, fix = message.partition("; ")
        return Check("scheduler store", False, found, fix or "as the message says")
    return Check("scheduler store", True, f"{path} opens and passes SQLite's check")


def run_checks(registry, *, out: Path, data_dir=None, datasets=()) -> list[Check]:
    """Every check, in the order a user would fix things."""
    checks = python_checks(registry)
    loaded_checks, loaded = backend_checks(registry)
    checks += loaded_checks + build_checks(loaded, registry) + dataset_checks(registry, data_dir, datasets)
    return checks + folder_checks(out) + docker_checks() + [store_check()]
