"""Unit tests of job image making that need no Docker engine: plugin set, requirements, wheel selection."""

from __future__ import annotations

import json
import zipfile

import pytest

from cnnpipe.docker import image, source, wheels
from cnnpipe.errors import JobError, UsageError


class FakeDist:
    def __init__(self, name, version, requires=(), url=None):
        self.metadata = {"Name": name}
        self.version = version
        self.requires = list(requires)
        self.url = url

    def read_text(self, name):
        if name == "direct_url.json" and self.url:
            return json.dumps({"url": self.url, "dir_info": {}})
        return None


@pytest.fixture
def dists(tmp_path):
    core = tmp_path / "core"
    plugin = tmp_path / "plugin"
    core.mkdir()
    plugin.mkdir()
    return [
        FakeDist("cnnpipe", "0.1.0", ["numpy<1.24", "mxnet==1.9.1", "click>=8.1", 'pytest>=7; extra == "test"'],
                 url=core.as_uri()),
        FakeDist("cnnpipe_local_plugin", "0.2.0", ["cnnpipe", "scipy>=1.9"], url=plugin.as_uri()),
        FakeDist("cnnpipe-from-pypi", "1.4.2", ["cnnpipe", "requests"]),
    ]


def test_requirements_cpu(dists):
    assert wheels.requirements(dists, "cpu") == [
        "click>=8.1", "cnnpipe-from-pypi==1.4.2", "mxnet==1.9.1", "numpy<1.24", "scipy>=1.9"]


def test_cuda_image_gets_mxnet_cu117_at_the_same_version(dists):
    reqs = wheels.requirements(dists, "cuda")
    assert "mxnet-cu117==1.9.1" in reqs
    assert not any(r.startswith("mxnet==") for r in reqs)


def test_wheels_for_python_310_not_the_host(dists):
    flags = wheels.platform_flags(wheels.Target("3.10", "2.35", "x86_64"))
    assert flags[:7] == ["--only-binary=:all:", "--implementation", "cp", "--python-version", "3.10",
                         "--abi", "cp310"]
    platforms = [flags[i + 1] for i, f in enumerate(flags) if f == "--platform"]
    assert platforms[0] == "manylinux_2_35_x86_64" and "manylinux_2_36_x86_64" not in platforms
    assert "manylinux_2_17_x86_64" in platforms and "manylinux2014_x86_64" in platforms


def test_local_source(tmp_path, dists):
    assert wheels.local_source(dists[0]) == tmp_path / "core"
    assert wheels.local_source(dists[2]) is None
    gone = FakeDist("cnnpipe-x", "1", url=(tmp_path / "removed").as_uri())
    with pytest.raises(UsageError, match=r"^plugin distribution 'cnnpipe-x' 1 was installed from .*/removed, which "
                                         r"no longer exists; .*pip uninstall cnnpipe-x\)$"):
        wheels.local_source(gone)
    assert wheels.local_source(FakeDist("x", "1", url="https://example.org/x.whl")) is None


def test_plugin_set_has_the_core_and_installed_plugins():
    found = wheels.plugin_set(wheels.plugin_dists())
    assert {"cnnpipe", "cnnpipe-lenet", "cnnpipe-fashion-mnist"} <= set(found)


def test_wheel_digest_ignores_zip_timestamps(tmp_path):
    paths = []
    for n, stamp in enumerate([(2020, 1, 1, 0, 0, 0), (2024, 6, 1, 12, 0, 0)]):
        path = tmp_path / f"w{n}.whl"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(zipfile.ZipInfo("pkg/__init__.py", stamp), "x = 1\n")
        paths.append(path)
    assert wheels.wheel_digest(paths[0]) == wheels.wheel_digest(paths[1])
    with zipfile.ZipFile(paths[1], "w") as zf:
        zf.writestr("pkg/__init__.py", "x = 2\n")
    assert wheels.wheel_digest(paths[0]) != wheels.wheel_digest(paths[1])


def test_pip_failure_is_one_line():
    with pytest.raises(JobError, match="^downloading things failed: ERROR") as info:
        wheels.pip("download", "--no-index", "--dest", "/nonexistent", "no-such-package-xyz", what="downloading things")
    assert "\n" not in str(info.value) and info.value.exit_code == wheels.BUILD_FAILED


def test_fingerprint_changes_with_any_input(tmp_path):
    target = wheels.Target("3.11", "2.36")
    base = image.fingerprint("cpu", "sha256:1", target, ["a"], [])
    assert base == image.fingerprint("cpu", "sha256:1", target, ["a"], [])
    assert base != image.fingerprint("cuda", "sha256:1", target, ["a"], [])
    assert base != image.fingerprint("cpu", "sha256:2", target, ["a"], [])
    assert base != image.fingerprint("cpu", "sha256:1", wheels.Target("3.10", "2.35"), ["a"], [])
    assert base != image.fingerprint("cpu", "sha256:1", target, ["a", "b"], [])


@pytest.mark.parametrize("name, expected", [
    ("cnnpipe-job:cpu-1", ("cnnpipe-job", "cpu-1")),
    ("myjob", ("myjob", "latest")),
    ("localhost:5000/job", ("localhost:5000/job", "latest")),
    ("localhost:5000/job:v2", ("localhost:5000/job", "v2")),
])
def test_split_tag(name, expected):
    assert image.split_tag(name) == expected


def test_cuda_base_is_nvidia_cuda_with_cudnn_for_mxnet_cu117():
    from pathlib import Path

    text = (Path(__file__).parents[1] / "deploy" / "cuda-base.Dockerfile").read_text()
    assert "FROM nvidia/cuda:11.7.1-cudnn8-runtime-ubuntu22.04" in text
    assert wheels.MXNET_CUDA == "mxnet-cu117" and wheels.CUDA_VERSION == "11.7"
    assert image.BASES["cuda"] == "cnnpipe-base:cuda11.7"


class FakeImage:
    def __init__(self, tag, plugins, created, code="other", backend=None):
        self.tags = [tag]
        self.id = self.short_id = "sha256:" + tag
        self.labels = {"cnnpipe.image": "job", "cnnpipe.plugins": json.dumps(plugins, sort_keys=True),
                       "cnnpipe.source": code}
        if backend:
            self.labels["cnnpipe.backend"] = backend
        self.attrs = {"Created": created}


class FakeClient:
    def __init__(self, images):
        self.images = self
        self._images = images

    def list(self, filters=None):
        return self._images


def test_run_picks_the_newest_image_of_the_installed_code():
    installed = wheels.plugin_set(wheels.plugin_dists())
    code = source.fingerprint(wheels.plugin_dists())
    client = FakeClient([FakeImage("old", installed, "2024-01-01", code), FakeImage("other", {"cnnpipe": "0"}, "2025-01-01"),
                         FakeImage("new", installed, "2024-06-01", code), FakeImage("stale", installed, "2025-02-01")])
    assert image.image_for_plugins(client, "cpu") == "new"


def test_an_image_of_the_same_versions_but_other_code_is_not_taken():
    installed = wheels.plugin_set(wheels.plugin_dists())
    client = FakeClient([FakeImage("stale", installed, "2025-02-01", code="before-an-edit")])
    with pytest.raises(UsageError, match=r"^no cpu job image for backend 'mxnet' holds the code installed here \(stale has the "
                                         r"same versions but other code\); build it with: cnnpipe image build$"):
        image.image_for_plugins(client, "cpu")


def test_run_without_an_image_names_the_build_command():
    with pytest.raises(UsageError, match=r"no cuda job image for backend 'mxnet' holds the code installed here; build it with: cnnpipe image build --cuda$"):
        image.image_for_plugins(FakeClient([FakeImage("x", {"cnnpipe": "0"}, "2025")]), "cuda")


def test_the_code_fingerprint_follows_an_edit_without_a_version_bump(tmp_path, monkeypatch):
    package = tmp_path / "cnnpipe_fp_probe"
    package.mkdir()
    (package / "__init__.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    dist = FakeDist("cnnpipe-fp-probe", "1.0", url=tmp_path.as_uri())
    dist.read_text = lambda name, real=dist.read_text: "cnnpipe_fp_probe\n" if name == "top_level.txt" else real(name)
    dist.entry_points = []
    before = source.fingerprint([dist])
    assert source.fingerprint([dist]) == before
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.pyc").write_bytes(b"compiled")  # not code that differs
    assert source.fingerprint([dist]) == before
    (package / "__init__.py").write_text("X = 2\n")
    assert source.fingerprint([dist]) != before


def test_each_backend_has_its_own_images():
    installed = wheels.plugin_set(wheels.plugin_dists())
    # An image without a backend label was made before backends had images of their own: it holds MXNet.
    code = source.fingerprint(wheels.plugin_dists())
    client = FakeClient([FakeImage("mxnet-old", installed, "2024-01-01", code),
                         FakeImage("torch", installed, "2024-02-01", code, "torch")])
    assert image.image_for_plugins(client, "cpu") == "mxnet-old"
    assert image.image_for_plugins(client, "cpu", "torch") == "torch"
    with pytest.raises(UsageError, match=r"build it with: cnnpipe image build --cuda --backend torch$"):
        image.image_for_plugins(FakeClient([FakeImage("x", installed, "2025")]), "cuda", "torch")


def test_an_image_holds_the_framework_of_one_backend(tmp_path):
    def dist(name, requires):
        folder = tmp_path / name
        folder.mkdir()
        return FakeDist(name, "0.2.0", requires, url=folder.as_uri())

    dists = [dist("cnnpipe", ["numpy>=1.23"]),
             dist("cnnpipe-mxnet", ["numpy<1.24", 'mxnet==1.9.1; extra == "cpu"', 'mxnet-cu117==1.9.1; extra == "cuda"']),
             dist("cnnpipe-torch", ["numpy", 'torch==2.13.0+cpu; extra == "cpu"', 'torch==2.14.1; extra == "cuda"'])]
    assert wheels.requirements(dists, "cpu", "cnnpipe-mxnet") == ["mxnet==1.9.1", "numpy", "numpy<1.24", "numpy>=1.23"]
    assert "torch==2.14.1" in wheels.requirements(dists, "cuda", "cnnpipe-torch")
    assert not [r for r in wheels.requirements(dists, "cuda", "cnnpipe-torch") if "mxnet" in r]
    assert image.base_for("cuda", "torch") == image.base_for("cpu", "torch") == "cnnpipe-base:py"
    assert image.base_for("cuda", "mxnet") == "cnnpipe-base:cuda11.7"


def test_requirements_are_read_with_packaging_and_markers_judged_for_the_image(tmp_path):
    """Markers are the image's (its Python, Linux, its machine, the variant as extra), never the host's; a marker
    joining extras with ``or`` keeps its requirement; of two platform-marked pins only the image's is kept."""
    def dist(name, requires):
        folder = tmp_path / name
        folder.mkdir()
        return FakeDist(name, "0.2.0", requires, url=folder.as_uri())

    dists = [dist("cnnpipe", ["numpy>=1.23", 'tomli>=1; python_version < "3.11"', "Click >= 8.1",
                              'pywin32; sys_platform == "win32"']),
             dist("cnnpipe-mxnet", ['mxnet==1.9.1; extra=="all" or extra=="cpu"', "numpy<1.24",
                                    'mxnet-cu117==1.9.1; extra == "cuda"']),
             dist("cnnpipe-torch", ['torch==2.13.0+cpu; platform_machine == "x86_64" and extra == "cpu"',
                                    'torch==2.13.0; platform_machine == "aarch64" and extra == "cpu"',
                                    "Pillow[extra-a] >=9"])]
    x86 = wheels.Target("3.10", "2.35", "x86_64")
    assert wheels.requirements(dists, "cpu", "cnnpipe-mxnet", x86) == [
        "Click>=8.1", "mxnet==1.9.1", "numpy<1.24", "numpy>=1.23", "Pillow[extra-a]>=9", "tomli>=1"]
    assert "mxnet-cu117==1.9.1" in wheels.requirements(dists, "cuda", "cnnpipe-mxnet", x86)
    arm = wheels.Target("3.11", "2.36", "aarch64")
    torch = [r for r in wheels.requirements(dists, "cpu", "cnnpipe-torch", arm) if r.startswith("torch")]
    assert torch == ["torch==2.13.0"]
    assert not [r for r in wheels.requirements(dists, "cpu", "cnnpipe-torch", arm) if "tomli" in r or "pywin32" in r]
    with pytest.raises(UsageError, match="cnnpipe-torch declares a requirement pip cannot read: 'torch=='"):
        wheels.requirements([FakeDist("cnnpipe-torch", "1", ["torch=="], url=dists[2].url)], "cpu", None, x86)
