"""The wheels of a job image, made on the host: the cnnpipe core and every installed cnnpipe plugin
distribution, plus their dependencies downloaded for the image's own Python and platform."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..errors import JobError, UsageError
from ..plugins import CORE_DIST, GROUP

# The CUDA build of MXNet that the CUDA image installs in place of the CPU one (CUDA 11.7).
CUDA_VERSION = "11.7"
MXNET_CUDA = "mxnet-cu117"
BUILD_FAILED = 4  # the exit status of a failed image build (pip or docker build)


@dataclass(frozen=True)
class Target:
    """The Python and platform of an image: ``python`` like ``3.10``, ``glibc`` like ``2.35``."""

    python: str
    glibc: str
    machine: str = "x86_64"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def plugin_dists() -> list:
    """The core distribution and every distribution with a ``cnnpipe`` entry point (first on sys.path wins)."""
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = canonical(dist.metadata["Name"] or "")
        if name in found:
            continue
        if name == CORE_DIST or any(ep.group == GROUP for ep in dist.entry_points):
            found[name] = dist
    if CORE_DIST not in found:
        raise UsageError("the cnnpipe core is not installed as a distribution; install it with pip first")
    return [found[n] for n in sorted(found, key=lambda n: (n != CORE_DIST, n))]


def plugin_set(dists) -> dict:
    """``{distribution: version}``, as recorded in an image's labels."""
    return {canonical(d.metadata["Name"]): d.version for d in dists}


def local_source(dist):
    """The local folder or wheel file ``dist`` was installed from, or ``None`` (installed from an index).

    A source that is gone is a one-line error naming the distribution: its code cannot go into an image.
    """
    raw = dist.read_text("direct_url.json")
    if not raw:
        return None
    url = json.loads(raw).get("url", "")
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    path = Path(unquote(parsed.path))
    if not path.exists():
        name = canonical(dist.metadata["Name"] or "")
        raise UsageError(f"plugin distribution '{name}' {dist.version} was installed from {path}, which no longer "
                         f"exists; install it again from its source, or uninstall it (pip uninstall {name})")
    return path


def marker_environment(target: Target | None, extra: str) -> dict:
    """The values a requirement's marker is judged by: the image's Linux, Python and machine, not the host's."""
    env = {"extra": extra, "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
           "implementation_name": "cpython", "platform_python_implementation": "CPython"}
    if target is not None:
        env.update(python_version=target.python, python_full_version=f"{target.python}.0",
                   platform_machine=target.machine)
    return env


def parsed(dist, line: str):
    """One requirement of ``dist`` read by ``packaging``; a one-line error naming ``dist`` when pip could not read it."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return Requirement(line)
    except InvalidRequirement:
        raise UsageError(f"{canonical(dist.metadata['Name'])} declares a requirement pip cannot read: '{line}'")


def requirements(dists, variant: str, backend_dist: str | None = None, target: Target | None = None) -> list[str]:
    """What pip must fetch for the image: the dependencies of local distributions, and the others by version.

    Each requirement's marker is judged for the image (``target``; the host's Python when ``None``), with the
    variant (``cpu`` or ``cuda``) as the extra: that is how a backend plugin names the build of its framework
    for each image (``cnnpipe-mxnet[cpu]`` is ``mxnet``, ``[cuda]`` is ``mxnet-cu117``).  With ``backend_dist``,
    only that distribution's extras are: an image holds the framework of one backend.  The CUDA image gets
    ``mxnet-cu117`` in place of any other ``mxnet`` requirement, at the same version.  Markers are judged here
    because ``pip download --platform`` would judge them for the host.
    """
    ours = {canonical(d.metadata["Name"]) for d in dists}
    reqs: list[str] = []
    for dist in dists:
        name = canonical(dist.metadata["Name"])
        if local_source(dist) is None:
            reqs.append(f"{name}=={dist.version}")
            continue
        extras_allowed = backend_dist is None or name == canonical(backend_dist)
        for line in dist.requires or []:
            req = parsed(dist, line)
            if canonical(req.name) in ours or not wanted(req, variant, extras_allowed, target):
                continue
            req.marker = None
            reqs.append(str(req))
    if variant == "cuda":
        reqs = [cuda_requirement(r) for r in reqs]
    return sorted(dict.fromkeys(reqs), key=str.lower)


def wanted(req, variant: str, extras_allowed: bool, target: Target | None) -> bool:
    """Whether the image needs ``req``: its marker holds for the image, with the variant's extra if allowed."""
    if req.marker is None:
        return True
    if req.marker.evaluate(marker_environment(target, "")):
        return True
    return extras_allowed and req.marker.evaluate(marker_environment(target, variant))


def cuda_requirement(req: str) -> str:
    """``mxnet==1.9.1`` becomes ``mxnet-cu117==1.9.1``; other requirements stay."""
    from packaging.requirements import Requirement

    parsed_req = Requirement(req)
    if canonical(parsed_req.name) == "mxnet":
        parsed_req.name = MXNET_CUDA
    return str(parsed_req)


def platform_flags(target: Target) -> list[str]:
    """``pip download`` options that select binary wheels for ``target`` instead of the host."""
    py = target.python.replace(".", "")
    major, minor = (int(x) for x in target.glibc.split(".")[:2])
    flags = ["--only-binary=:all:", "--implementation", "cp", "--python-version", target.python, "--abi", f"cp{py}"]
    platforms = [f"manylinux_{major}_{m}_{target.machine}" for m in range(minor, 16, -1)]
    platforms += [f"manylinux2014_{target.machine}", f"manylinux2010_{target.machine}", f"manylinux1_{target.machine}"]
    for platform in platforms:
        flags += ["--platform", platform]
    return flags


def pip(*args: str, what: str, env: dict | None = None) -> None:
    """Run pip of this interpreter; a failure is a one-line JobError naming ``what`` (exit 4)."""
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.splitlines() if l.strip() and "is ignored" not in l]
        errors = [l for l in lines if l.startswith("ERROR")] or lines[-1:] or ["pip failed"]
        raise JobError(f"{what} failed: {errors[0].strip()}", exit_code=BUILD_FAILED)


def build_local(dists, dest: Path) -> list[Path]:
    """Wheels of the distributions installed from local folders or wheel files, into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    folders = []
    for dist in dists:
        source = local_source(dist)
        if source is None:
            continue
        if source.is_file() and source.suffix == ".whl":
            shutil.copy2(source, dest / source.name)
        else:
            folders.append(str(source))
    if folders:
        args = ["wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), *folders]
        what = "building wheels of the local cnnpipe distributions"
        with tempfile.TemporaryDirectory(prefix="cnnpipe-build-") as tmp:
            env = {"DIST_EXTRA_CONFIG": str(out_of_tree(Path(tmp)))}
            try:
                # Without isolation a build takes seconds, not the tens of seconds of a fresh build
                # environment; it needs the build backend here, so fall back to isolation when that fails.
                pip(*args, "--no-build-isolation", what=what, env=env)
            except JobError:
                pip(*args, what=what, env=env)
    return sorted(dest.glob("*.whl"))


def out_of_tree(tmp: Path) -> Path:
    """A setuptools configuration (for ``DIST_EXTRA_CONFIG``) that builds in ``tmp``, not in the source folders.

    So a build leaves no ``build/`` or ``*.egg-info`` behind, and never packs files that a stale
    ``build/lib`` kept from an earlier version.
    """
    (tmp / "egg-info").mkdir()
    config = tmp / "setup.cfg"
    config.write_text(f"[build]\nbuild_base = {tmp / 'build'}\n[egg_info]\negg_base = {tmp / 'egg-info'}\n")
    return config


def download(reqs: list[str], target: Target, dest: Path) -> None:
    """Wheels of ``reqs`` and their dependencies for ``target`` into ``dest``, with ``requirements.txt``.

    Downloads are kept in the cache under a key of the target and requirements, so that a rebuild
    asks no index and hands Docker byte-identical files (and so a cached dependency layer).
    """
    flags = platform_flags(target)
    key = hashlib.sha256(json.dumps([flags, reqs]).encode()).hexdigest()[:16]
    cached = wheel_cache() / key
    if not (cached / "requirements.txt").is_file():
        tmp = cached.with_name(f".{key}.{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        req_file = tmp / "requirements.in"
        req_file.write_text("\n".join(reqs) + "\n")
        try:
            pip("download", "--quiet", *flags, "--dest", str(tmp), "--requirement", str(req_file),
                what=f"downloading wheels for Python {target.python}")
            # Written last: its presence marks a complete download.
            req_file.rename(tmp / "requirements.txt")
            shutil.rmtree(cached, ignore_errors=True)
            tmp.rename(cached)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(cached, dest)


def wheel_cache() -> Path:
    """``CNNPIPE_CACHE_DIR``, else ``$XDG_CACHE_HOME/cnnpipe``, else ``~/.cache/cnnpipe``; then ``wheels``."""
    root = os.environ.get("CNNPIPE_CACHE_DIR")
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cnnpipe"
    return Path(root) / "wheels"


def wheel_digest(path: Path) -> str:
    """A hash of a wheel's contents, independent of the zip's timestamps."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            digest.update(name.encode() + b"\0" + zf.read(name))
    return digest.hexdigest()
