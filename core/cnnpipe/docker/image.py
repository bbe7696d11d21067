"""Build job images from the installed cnnpipe distributions, and find the one for a run.

An image is labelled with its plugin set (``cnnpipe.plugins``), a fingerprint of the installed code it
holds (``cnnpipe.source``, see :mod:`.source`) and one of everything that went into it
(``cnnpipe.fingerprint``); building the same thing again reuses the image, and a run takes the image
whose ``cnnpipe.source`` is the code installed here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from ..errors import EngineError, JobError, UsageError
from . import source, wheels
from .engine import first_line

REPO = "cnnpipe-job"
BASES = {"cpu": "cnnpipe-base:py", "cuda": f"cnnpipe-base:cuda{wheels.CUDA_VERSION}"}
# Backends whose CUDA build brings its CUDA libraries as wheels: their CUDA image needs no CUDA base.
SELF_CONTAINED_CUDA = ("torch",)
DEFAULT_BACKEND = "mxnet"
MAKE_BASE = {
    "cpu": "docker build -t cnnpipe-base:py -f deploy/cpu-base.Dockerfile deploy "
           "(or, with no registry, mmdebstrap as in .ci/docker-setup.sh)",
    "cuda": f"docker build -t {BASES['cuda']} -f deploy/cuda-base.Dockerfile deploy",
}
PROBE = "import platform, sys; print('%d.%d' % sys.version_info[:2], platform.libc_ver()[1], platform.machine())"


def target_of(client, base: str, variant: str) -> wheels.Target:
    """The Python version, glibc and machine of ``base``, asked of a throwaway container."""
    import docker

    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        raise UsageError(f"base image '{base}' is not in the Docker engine; make it with: {MAKE_BASE[variant]}")
    try:
        out = client.containers.run(base, ["python3", "-c", PROBE], network_mode="none", remove=True,
                                     cap_drop=["ALL"], security_opt=["no-new-privileges"])
        python, glibc, machine = out.decode().split()
    except (docker.errors.DockerException, ValueError) as exc:
        raise UsageError(f"base image '{base}' has no working python3 ({first_line(exc)}); "
                         f"use a base with python3, python3-venv, libgomp1 and libquadmath0")
    return wheels.Target(python, glibc, machine)


def base_for(variant: str, backend: str) -> str:
    """The default base image of a ``variant`` image for ``backend``."""
    return BASES["cpu"] if backend in SELF_CONTAINED_CUDA else BASES[variant]


def labels_for(dists, variant: str, base: str, target: wheels.Target, fingerprint: str, code: str,
               backend: str = DEFAULT_BACKEND) -> dict:
    return {
        "cnnpipe.image": "job",
        "cnnpipe.variant": variant,
        "cnnpipe.backend": backend,
        "cnnpipe.base": base,
        "cnnpipe.python": target.python,
        "cnnpipe.plugins": json.dumps(wheels.plugin_set(dists), sort_keys=True),
        "cnnpipe.fingerprint": fingerprint,
        "cnnpipe.source": code,
    }


def fingerprint(variant, base_id, target, reqs, local_wheels, code: str = "") -> str:
    """A hash of everything an image is made of: base, target, requirements, installed code, local wheel contents."""
    digest = hashlib.sha256(json.dumps([variant, base_id, list(vars(target).values()), reqs, code]).encode())
    for path in local_wheels:
        digest.update(wheels.wheel_digest(path).encode())
    return digest.hexdigest()


def backend_dist(backend: str) -> str:
    """The distribution that registers ``backend`` (its extras name the framework's builds)."""
    from ..registry import build_registry

    return build_registry().backend(backend).dist


def build(client, variant: str = "cpu", base: str | None = None, tag: str | None = None, echo=print,
          backend: str = DEFAULT_BACKEND):
    """Build (or reuse) the job image for the installed plugins with ``backend``'s framework; returns ``(tag, reused)``."""
    provider = backend_dist(backend)
    base = base or base_for(variant, backend)
    dists = wheels.plugin_dists()
    wheels.requirements(dists, variant, provider)  # first: it names a distribution whose source is gone
    code = source.fingerprint(dists)
    target = target_of(client, base, variant if backend not in SELF_CONTAINED_CUDA else "cpu")
    reqs = wheels.requirements(dists, variant, provider, target)  # markers judged for the image's Python
    base_id = client.images.get(base).id
    with tempfile.TemporaryDirectory(prefix="cnnpipe-image-") as tmp:
        ctx = Path(tmp)
        echo(f"building wheels of {', '.join(wheels.plugin_set(dists))} ...")
        local = wheels.build_local(dists, ctx / "local")
        fp = fingerprint(f"{backend}-{variant}", base_id, target, reqs, local, code)
        name = tag or f"{REPO}:{backend}-{variant}-{fp[:12]}"
        existing = client.images.list(filters={"label": f"cnnpipe.fingerprint={fp}"})
        if existing:
            existing[0].tag(*split_tag(name))
            return name, True
        echo(f"downloading dependencies for Python {target.python} ({target.machine}, glibc {target.glibc}) ...")
        wheels.download(reqs, target, ctx / "deps")
        shutil.copy(resources.files(__package__) / "job.Dockerfile", ctx / "Dockerfile")
        echo(f"building {name} from {base} (network none) ...")
        run_build(client, ctx, name, base, labels_for(dists, variant, base, target, fp, code, backend), echo)
    return name, False


def split_tag(name: str) -> tuple[str, str]:
    repo, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:
        return name, "latest"
    return repo, tag


def run_build(client, ctx: Path, name: str, base: str, labels: dict, echo) -> None:
    """``docker build --network none`` of ``ctx``, echoing the build's steps; one-line error on failure."""
    import docker

    last = []
    try:
        for chunk in client.api.build(path=str(ctx), tag=name, buildargs={"BASE": base}, labels=labels,
                                      network_mode="none", rm=True, forcerm=True, decode=True):
            if "error" in chunk:
                raise JobError(f"building image {name} failed: {chunk['error'].strip().splitlines()[-1]}"
                                 f"{' (' + last[-1] + ')' if last else ''}", exit_code=wheels.BUILD_FAILED)
            line = chunk.get("stream", "").rstrip()
            if line:
                last.append(line.strip())
                if line.startswith("Step "):
                    echo(line)
    except docker.errors.DockerException as exc:
        raise JobError(f"building image {name} failed: {first_line(exc)}", exit_code=wheels.BUILD_FAILED)


def job_images(client, variant: str | None = None) -> list:
    """cnnpipe job images, newest first."""
    label = ["cnnpipe.image=job"] + ([f"cnnpipe.variant={variant}"] if variant else [])
    images = client.images.list(filters={"label": label})
    return sorted(images, key=lambda im: im.attrs.get("Created", ""), reverse=True)


def require(client, name: str):
    """The image ``name``, which must be in the engine (no registry is asked) and be a cnnpipe job image."""
    import docker

    try:
        found = client.images.get(name)
    except docker.errors.ImageNotFound:
        raise UsageError(f"image '{name}' is not in the Docker engine; build it with: cnnpipe image build"
                         f"{' --cuda' if 'cuda' in name else ''}")
    except docker.errors.APIError as exc:
        raise EngineError(f"cannot look up image '{name}': {first_line(exc)}")
    if (found.labels or {}).get("cnnpipe.image") != "job":
        raise UsageError(f"image '{name}' is not a cnnpipe job image (it lacks the label cnnpipe.image=job, so it "
                         f"may not hold cnnpipe); build one with: cnnpipe image build")
    return found


def image_for_plugins(client, variant: str, backend: str = DEFAULT_BACKEND) -> str:
    """The newest job image with ``backend``'s framework built from the code installed here
    (:func:`.source.fingerprint`).

    None matching is a UsageError naming the build command (and an image with the same plugin
    versions but other code, if there is one: a plugin changed without a version bump).
    """
    dists = wheels.plugin_dists()
    code = source.fingerprint(dists)
    # Images made before backends had images of their own hold MXNet.
    images = [im for im in job_images(client, variant)
              if (im.labels or {}).get("cnnpipe.backend", DEFAULT_BACKEND) == backend]
    for image in images:
        if image.labels.get("cnnpipe.source") == code:
            return image.tags[0] if image.tags else image.id
    wanted = json.dumps(wheels.plugin_set(dists), sort_keys=True)
    stale = [im for im in images if im.labels.get("cnnpipe.plugins") == wanted]
    flag = (" --cuda" if variant == "cuda" else "") + (f" --backend {backend}" if backend != DEFAULT_BACKEND else "")
    hint = (f" ({stale[0].tags[0] if stale[0].tags else stale[0].short_id} has the same versions but other code)"
            if stale else "")
    raise UsageError(f"no {variant} job image for backend '{backend}' holds the code installed here{hint}; "
                     f"build it with: cnnpipe image build{flag}")
