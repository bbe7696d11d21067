"""End to end against a real Docker engine: build the job image (with a throwaway third-party plugin
installed on the host), run LeNet on Fashion-MNIST in a container, and check each error path.

Without a reachable engine or the ``cnnpipe-base:py`` base image these tests skip, except under CI
(``CI=true``), where that is a failure.  ``.ci/docker-setup.sh`` provides both.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnpipe.testing import started, unavailable
from plugin_source import plugin_source

pytestmark = [pytest.mark.docker, pytest.mark.real_data]

BASE = os.environ.get("CNNPIPE_BASE_IMAGE", "cnnpipe-base:py")
CNNPIPE = [str(Path(sys.executable).parent / "cnnpipe")]
QUICK = ["--limit", "200", "--epochs", "1"]

PLUGIN = '''
"""A throwaway third-party reporter: records where it ran."""
import json, os, sys
from cnnpipe.files import write_json
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ReporterSpec


class WhereAmI:
    def __init__(self, run):
        pass

    @hookimpl
    def cnnpipe_on_run_end(self, run, summary):
        write_json(run.run_dir.file("whereami.json"), {
            "prefix": sys.prefix,
            "uid": os.getuid(),
            "python": "%d.%d" % sys.version_info[:2],
            "data_dir": run.config.data_dir,
        })


@hookimpl
def cnnpipe_register_reporters(register):
    register(ReporterSpec("whereami", WhereAmI, summary="writes whereami.json"))
'''


@pytest.fixture(scope="session")
def engine():
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as exc:
        unavailable(f"no Docker engine reachable: {exc}")
    try:
        client.images.get(BASE)
    except docker.errors.ImageNotFound:
        unavailable(f"base image {BASE} is missing; make it with .ci/docker-setup.sh")
    if not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file():
        unavailable("Debian's dataset-fashion-mnist is not installed")
    return client


@pytest.fixture(scope="session")
def env(tmp_path_factory):
    """An environment in which a throwaway plugin distribution is installed (on PYTHONPATH)."""
    root = tmp_path_factory.mktemp("plugin")
    src = plugin_source(root, "cnnpipe-whereami", PLUGIN)
    site = root / "site"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(src)]
    if subprocess.run([*install, "--no-build-isolation"], capture_output=True).returncode != 0:
        subprocess.run(install, check=True, capture_output=True)  # no setuptools here: build in isolation
    paths = [str(site)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "CNNPIPE_DATA_DIR": ""}


def cli(*args, env, timeout=600):
    return subprocess.run([*CNNPIPE, *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def image(engine, env):
    started = time.monotonic()
    proc = cli("image", "build", "--cpu", "--base", BASE, env=env)
    assert proc.returncode == 0, proc.stderr
    print(f"\nimage build: {time.monotonic() - started:.1f} s ({proc.stderr.strip().splitlines()[-1]})")
    return proc.stdout.strip()


def leftovers(engine, out_dir: Path) -> list:
    """Job containers, in any state, whose run folders go to ``out_dir`` (unique to each test)."""
    return engine.containers.list(all=True, filters={"label": f"cnnpipe.out={Path(out_dir).resolve()}"})


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_image_records_its_plugins_and_is_reused(engine, env, image):
    labels = engine.images.get(image).labels
    plugins = json.loads(labels["cnnpipe.plugins"])
    assert {"cnnpipe", "cnnpipe-lenet", "cnnpipe-fashion-mnist", "cnnpipe-whereami"} <= set(plugins)
    assert labels["cnnpipe.variant"] == "cpu" and labels["cnnpipe.base"] == BASE
    again = cli("image", "build", "--cpu", "--base", BASE, env=env)
    assert again.returncode == 0 and again.stdout.strip() == image
    assert "reused" in again.stderr


def test_run_in_container_matches_a_local_run(engine, env, image, tmp_path):
    short = ["--limit", "600", "--epochs", "2", "--batch-size", "64"]  # some twenty steps to compare
    began = time.monotonic()
    proc = cli("run", "lenet", "fashion-mnist", *short, "--runner", "docker", "--out", str(tmp_path / "docker"),
               "--reporter", "default", "--reporter", "whereami", env=env)
    print(f"\ndocker run: {time.monotonic() - began:.1f} s")
    assert proc.returncode == 0, proc.stderr
    assert "epoch 1" in proc.stderr  # logs streamed from the container
    [run_dir] = list((tmp_path / "docker").iterdir())
    assert f"run folder on the host: {run_dir}" in proc.stderr
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert (run_dir / "model.params").stat().st_size > 10_000
    assert json.loads((run_dir / "config.json").read_text())["config"]["limit"] == 600
    where = json.loads((run_dir / "whereami.json").read_text())
    assert where["prefix"] == "/opt/cnnpipe" and where["uid"] != 0 and where["data_dir"] == "/data"
    for path in [run_dir, *run_dir.rglob("*")]:
        assert path.stat().st_uid == os.getuid(), path
    assert [p.name for p in (tmp_path / "docker").iterdir()] == [run_dir.name]  # no staging folder left
    assert leftovers(engine, tmp_path / "docker") == []

    local = cli("run", "lenet", "fashion-mnist", *short, "--out", str(tmp_path / "local"),
                "--reporter", "default", "--reporter", "whereami", env=env)
    assert local.returncode == 0, local.stderr
    [local_dir] = list((tmp_path / "local").iterdir())
    assert tree(run_dir) == tree(local_dir) | {"container.json"}
    ran = json.loads((run_dir / "container.json").read_text())
    assert (ran["image"], ran["image_id"], ran["exit_code"]) == (image, engine.images.get(image).id, 0)
    assert json.loads((local_dir / "whereami.json").read_text())["prefix"] == sys.prefix
    # The same seed and data give the same numbers in the container as here.
    local_metrics = [json.loads(line) for line in (local_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(local_metrics) == len(metrics)
    for inside, here in zip(metrics, local_metrics):
        for key in ("train_loss", "train_acc", "test_acc"):
            assert inside[key] == pytest.approx(here[key], rel=1e-5, abs=1e-6), (inside["epoch"], key)
    container_config = json.loads((run_dir / "config.json").read_text())
    local_config = json.loads((local_dir / "config.json").read_text())
    for key in ("seed", "lr", "batch_size", "epochs", "limit", "backend", "optimizer", "init", "arch"):
        assert container_config["config"][key] == local_config["config"][key], key


def test_workers_run_inside_one_container(engine, env, image, tmp_path):
    """``--runner docker --workers 2``: the parameter server's processes start on the container's own loopback."""
    proc = cli("run", "lenet", "fashion-mnist", "--limit", "2000", "--epochs", "1", "--workers", "2",
               "--runner", "docker", "--out", str(tmp_path), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "2 workers and 1 server(s)" in proc.stderr
    [run_dir] = list(tmp_path.iterdir())
    recorded = json.loads((run_dir / "config.json").read_text())
    assert (recorded["config"]["workers"], recorded["distributed"]["total_batch_size"]) == (2, 512)
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "succeeded"
    assert "rank 1: joined as rank 1 of 2" in (run_dir / "run.log").read_text()  # the second worker logged here
    assert leftovers(engine, tmp_path) == []


def test_missing_base_image(engine, env):
    proc = cli("image", "build", "--base", "cnnpipe-base:no-such-base", env=env)
    assert proc.returncode == 2
    assert proc.stderr.startswith("cnnpipe: error: base image 'cnnpipe-base:no-such-base' is not in the Docker "
                                  "engine; make it with: docker build"), proc.stderr


def test_gpu_request_without_nvidia_runtime(engine, env, image, tmp_path):
    proc = cli("run", "lenet", "fashion-mnist", *QUICK, "--runner", "docker", "--gpus", "all",
               "--image", image, "--out", str(tmp_path), env=env)
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and "NVIDIA Container Toolkit" in proc.stderr, proc.stderr
    assert leftovers(engine, tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_missing_image(engine, env, tmp_path):
    proc = cli("run", "lenet", "fashion-mnist", "--runner", "docker", "--image", "cnnpipe-job:no-such-image",
               "--out", str(tmp_path), env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("cnnpipe: error: image 'cnnpipe-job:no-such-image' is not in the Docker "
                                   "engine; build it with: cnnpipe image build")


def test_killed_for_memory(engine, env, image, tmp_path):
    proc = cli("run", "lenet", "fashion-mnist", *QUICK, "--runner", "docker", "--memory", "64m",
               "--out", str(tmp_path), env=env)
    assert proc.returncode == 137, proc.stderr
    assert "OOMKilled" in proc.stderr and "raise --memory" in proc.stderr
    assert leftovers(engine, tmp_path) == []
    # Named in the run folder too (when the run got as far as making one), not only in the client's message.
    for record in tmp_path.glob("*/container.json"):
        ran = json.loads(record.read_text())
        assert ran["oom_killed"] is True and ran["exit_code"] == 137 and "memory limit of 64 MiB" in ran["reason"]


def test_timeout_stops_and_removes_the_container(engine, env, image, tmp_path):
    proc = cli("run", "lenet", "fashion-mnist", *QUICK, "--runner", "docker", "--timeout", "1",
               "--out", str(tmp_path), env=env)
    assert proc.returncode == 124, proc.stderr
    assert "--timeout 1 s" in proc.stderr
    assert leftovers(engine, tmp_path) == []


def test_ctrl_c_removes_the_container(engine, env, image, tmp_path):
    # Long enough that the interrupt lands while the container runs.
    cmd = [*CNNPIPE, "run", "lenet", "fashion-mnist", "--limit", "2000", "--epochs", "100", "--runner", "docker",
           "--out", str(tmp_path)]
    try:
        with started(cmd, env=env, stderr=subprocess.PIPE, text=True) as proc:
            deadline = time.monotonic() + 60
            while not leftovers(engine, tmp_path) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert leftovers(engine, tmp_path), "the job container never appeared"
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert leftovers(engine, tmp_path) == []
    finally:
        for container in leftovers(engine, tmp_path):  # what a failed check left running
            container.remove(force=True)


PROBE = '''
import json, os, socket
def writable(path):
    try:
        with open(os.path.join(path, "probe"), "w") as f:
            f.write("x")
        return True
    except OSError:
        return False
caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith(("CapEff", "NoNewPrivs"))]
print(json.dumps({"uid": os.getuid(), "data": writable("/data"), "root": writable("/"), "tmp": writable("/tmp"),
                  "runs": writable("/runs"), "caps": caps, "net": sorted(os.listdir("/sys/class/net"))}))
'''


def test_the_container_is_locked_down(engine, image, tmp_path):
    """The create arguments the request gives, checked from inside a real container."""
    from cnnpipe.docker import container as containers
    from cnnpipe.docker.request import NOBODY, ContainerRequest, create_kwargs, job_user

    data = tmp_path / "data"
    data.mkdir()
    request = ContainerRequest(image=image, args=[], out_dir=tmp_path / "runs", data_dir=data)
    made = containers.start(engine, request)  # a first container, to check start() with a real engine
    containers.remove(made)
    (tmp_path / "runs").mkdir(exist_ok=True)
    runs = tmp_path / "runs"
    if os.getuid() == 0:
        os.chown(runs, *NOBODY)
    kwargs = create_kwargs(request, job_user(), runs)
    kwargs["command"] = ["python3", "-c", PROBE]
    made = engine.containers.create(**kwargs)
    try:
        made.start()
        assert containers.wait(made, timeout=60) == 0
        seen = json.loads(made.logs(stdout=True, stderr=False).decode())
    finally:
        containers.remove(made)
    assert seen["uid"] != 0
    assert seen["data"] is False and seen["root"] is False
    assert seen["tmp"] is True and seen["runs"] is True
    assert seen["caps"] == ["0000000000000000", "1"]  # no effective capabilities, no new privileges
    assert seen["net"] == ["lo"]
    assert not list(data.iterdir())


@pytest.fixture(scope="session")
def torch_image(engine, env):
    proc = cli("image", "build", "--cpu", "--backend", "torch", "--base", BASE, env=env, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_torch_backend_runs_in_its_own_image(engine, env, torch_image, tmp_path):
    labels = engine.images.get(torch_image).labels
    assert labels["cnnpipe.backend"] == "torch" and labels["cnnpipe.variant"] == "cpu"
    out = tmp_path / "docker"
    proc = cli("run", "lenet-bn", "fashion-mnist", *QUICK, "--backend", "torch", "--precision", "bf16",
               "--runner", "docker", "--out", str(out), env=env)  # the image is found by its backend label
    assert proc.returncode == 0, proc.stderr
    [run_dir] = list(out.iterdir())
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config"]["backend"] == "torch" and config["config"]["precision"] == "bf16"
    assert config["versions"]["torch"].endswith("+cpu") and "mxnet" not in config["versions"]
    assert [json.loads(line)["epoch"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()] == [1]
    import torch

    params = torch.load(run_dir / "model.params", weights_only=True)
    assert any(key.endswith("running_var") for key in params)
    for path in [run_dir, *run_dir.rglob("*")]:
        assert path.stat().st_uid == os.getuid(), path
    assert leftovers(engine, out) == []
    # The image holds PyTorch's CPU build and no MXNet: the default backend is refused with one line.
    proc = cli("run", "lenet", "fashion-mnist", *QUICK, "--runner", "docker", "--image", torch_image,
               "--out", str(tmp_path / "mxnet"), env=env)
    assert proc.returncode == 2, proc.stderr
    assert "backend 'mxnet' needs MXNet" in proc.stderr


@pytest.mark.opt_in("CNNPIPE_CUDA_IMAGE_TEST")  # builds the multi-GB CUDA image of the torch backend
def test_torch_cuda_image_imports_torch_and_trains_on_the_cpu(engine, env, tmp_path):
    started = time.monotonic()
    proc = cli("image", "build", "--cuda", "--backend", "torch", "--base", BASE, env=env, timeout=3600)
    assert proc.returncode == 0, proc.stderr
    name = proc.stdout.strip()
    size = engine.images.get(name).attrs["Size"]
    print(f"\n{name}: {size / 1e9:.1f} GB, built or reused in {time.monotonic() - started:.0f} s")
    check = engine.containers.run(name, ["python", "-c", "import torch; print(torch.__version__, torch.version.cuda)"],
                                  network_mode="none", remove=True).decode().split()
    assert check[1] not in ("None", ""), f"torch {check[0]} in the CUDA image is a CPU build"
    out = tmp_path / "runs"
    proc = cli("run", "lenet", "fashion-mnist", *QUICK, "--backend", "torch", "--device", "cpu", "--runner", "docker",
               "--image", name, "--out", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    [run_dir] = list(out.iterdir())
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "succeeded"
