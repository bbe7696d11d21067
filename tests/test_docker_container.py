"""Unit tests of job containers that need no Docker engine: the create arguments, limits, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnpipe.docker import container, engine, limits, request as requests
from cnnpipe.docker.request import ContainerRequest, create_kwargs
from cnnpipe.errors import EngineError, JobError, UsageError


def job(**kw):
    base = dict(image="cnnpipe-job:cpu-x", args=["lenet", "fashion-mnist", "--out", "/runs"],
                out_dir=Path("/host/runs"), data_dir=Path("/host/data"))
    return ContainerRequest(**{**base, **kw})


def mounts(kwargs) -> dict:
    return {m["Source"]: (m["Target"], m["ReadOnly"]) for m in kwargs["mounts"]}


def test_spec_is_locked_down():
    spec = create_kwargs(job(), (1000, 1000), Path("/host/runs"))
    assert spec["network_mode"] == "none"
    assert spec["read_only"] is True
    assert "/tmp" in spec["tmpfs"]
    assert spec["cap_drop"] == ["ALL"]
    assert spec["security_opt"] == ["no-new-privileges"]
    assert spec["user"] == "1000:1000"
    assert spec["command"] == ["cnnpipe", "run", "lenet", "fashion-mnist", "--out", "/runs"]
    assert spec["labels"]["cnnpipe"] == "job"
    assert "device_requests" not in spec and "mem_limit" not in spec


def test_spec_mounts_data_read_only_and_runs_read_write():
    spec = create_kwargs(job(), (1000, 1000), Path("/host/runs"))
    assert mounts(spec) == {"/host/runs": ("/runs", False), "/host/data": ("/data", True)}
    assert {m["Type"] for m in spec["mounts"]} == {"bind"}  # never a volume the engine would create
    assert "CNNPIPE_DATA_DIR" not in spec["environment"]  # the data folder is an argument: --data-dir /data


def test_spec_without_data_dir_mounts_only_runs():
    spec = create_kwargs(job(data_dir=None), (1000, 1000), Path("/x"))
    assert list(mounts(spec)) == ["/x"]
    assert "CNNPIPE_DATA_DIR" not in spec["environment"]


def test_spec_limits_and_labels():
    spec = create_kwargs(job(memory="4g", cpus=1.5, gpus="all", labels={"sched": "nightly"}),
                                 (1000, 1000), Path("/r"))
    assert spec["mem_limit"] == "4g" and spec["memswap_limit"] == "4g"
    assert spec["nano_cpus"] == 1_500_000_000
    assert spec["device_requests"] == [{"count": -1, "capabilities": [["gpu"]]}]
    assert spec["labels"] == {"sched": "nightly", "cnnpipe": "job"}


@pytest.mark.parametrize("gpus, expected", [
    ("all", [{"count": -1, "capabilities": [["gpu"]]}]),
    ("2", [{"count": 2, "capabilities": [["gpu"]]}]),
    ("0,1", [{"device_ids": ["0", "1"], "capabilities": [["gpu"]]}]),
    ("0,", [{"device_ids": ["0"], "capabilities": [["gpu"]]}]),
    ("GPU-3a4b,GPU-5c", [{"device_ids": ["GPU-3a4b", "GPU-5c"], "capabilities": [["gpu"]]}]),
    (None, []),
])
def test_gpus(gpus, expected):
    assert limits.device_requests(gpus) == expected


@pytest.mark.parametrize("gpus", ["0", "", "a b", "1;2"])
def test_bad_gpus(gpus):
    with pytest.raises(UsageError, match="--gpus"):
        limits.device_requests(gpus)


@pytest.mark.parametrize("kw, match", [
    (dict(memory="lots"), "--memory"),
    (dict(cpus=0), "--cpus"),
    (dict(timeout=-1), "--timeout"),
])
def test_bad_limits(kw, match):
    with pytest.raises(UsageError, match=match):
        create_kwargs(job(**kw), (1000, 1000), Path("/r"))


def test_root_runs_as_unprivileged_user():
    assert requests.job_user(0, 0) == requests.NOBODY
    assert requests.job_user(1000, 100) == (1000, 100)
    assert requests.NOBODY[0] != 0


def api_error(explanation, status_code=500):
    import docker

    response = type("Response", (), {"status_code": status_code, "reason": "", "url": ""})()
    return docker.errors.APIError("500 Server Error", response=response, explanation=explanation)


def test_gpu_start_error_names_the_toolkit():
    exc = api_error('could not select device driver "" with capabilities: [[gpu]]')
    error = container.refusal(exc, job(gpus="all"))
    assert isinstance(error, EngineError)
    message = str(error)
    assert "NVIDIA" in message and "nvidia-container-toolkit" in message and "\n" not in message


def test_other_start_errors_are_one_line():
    error = container.refusal(api_error("boom\nsecond line"), job())
    assert isinstance(error, EngineError) and str(error) == "cannot start the job container: boom"


def test_engine_unreachable(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(EngineError, match="DOCKER_HOST") as info:
        engine.client()
    assert "unix:///nonexistent/docker.sock" in str(info.value)


class FakeContainer:
    def __init__(self, fail_start=None):
        self.fail_start = fail_start
        self.removed = False
        self.labels = {}

    def start(self):
        if self.fail_start:
            raise self.fail_start

    def remove(self, force=False):
        self.removed = force


class FakeClient:
    def __init__(self, container):
        self.container = container
        self.images = self
        self.containers = self
        self.created = None

    def get(self, name):
        return type("Image", (), {"labels": {"cnnpipe.image": "job"}})()

    def create(self, **spec):
        self.created = spec
        self.container.labels = spec["labels"]  # as a real container reports them
        return self.container


def test_start_failure_removes_the_created_container(tmp_path):
    made = FakeContainer(api_error('could not select device driver "" with capabilities: [[gpu]]'))
    client = FakeClient(made)
    with pytest.raises(EngineError, match="NVIDIA runtime"):
        container.start(client, job(out_dir=tmp_path, data_dir=tmp_path, gpus="all"))
    assert made.removed is True
    assert list(tmp_path.iterdir()) == []  # no staging folder left either
    assert client.created["device_requests"] == [{"count": -1, "capabilities": [["gpu"]]}]


def test_start_interrupted_removes_the_container_and_reraises(tmp_path):
    made = FakeContainer(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        container.start(FakeClient(made), job(out_dir=tmp_path, data_dir=tmp_path))
    assert made.removed is True


class Waiting:
    def __init__(self, code=0, oom=False, raises=None):
        self.code, self.oom, self.raises = code, oom, raises
        self.killed = False
        self.labels = {}
        self.attrs = {}

    def wait(self, timeout=None):
        if self.raises:
            raise self.raises
        return {"StatusCode": self.code}

    def reload(self):
        self.attrs = {"State": {"OOMKilled": self.oom}, "HostConfig": {"Memory": 64 * 2**20}}

    def stop(self, timeout=None):
        self.stopped = timeout


def test_wait_returns_the_exit_code():
    assert container.wait(Waiting(3)) == 3
    assert container.wait(Waiting(130)) == 130  # the run inside was interrupted (docker stop)


def test_a_container_killed_from_outside_is_one_message():
    with pytest.raises(JobError, match=r"killed \(exit 137: SIGKILL from outside cnnpipe, such as docker kill\)") as info:
        container.wait(Waiting(137, oom=False))
    assert info.value.exit_code == 137


def test_wait_oom_says_raise_memory():
    with pytest.raises(JobError, match=r"memory limit of 64 MiB \(exit 137, OOMKilled\); raise --memory") as info:
        container.wait(Waiting(137, oom=True))
    assert info.value.exit_code == 137


def test_wait_timeout_stops_the_container():
    import requests

    waiting = Waiting(raises=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(JobError, match="longer than --timeout 5 s") as info:
        container.wait(waiting, timeout=5)
    assert waiting.stopped == container.GRACE and info.value.exit_code == 124  # SIGTERM first: the run records it


def test_the_host_cache_is_mounted_read_only_for_the_job():
    spec = create_kwargs(job(cache_dir=Path("/host/cache")), (1000, 1000), Path("/host/runs"))
    assert mounts(spec)["/host/cache"] == (requests.CACHE, True)
    assert spec["environment"]["CNNPIPE_CACHE_DIR"] == requests.CACHE
    assert "CNNPIPE_CACHE_DIR" not in create_kwargs(job(), (1000, 1000), Path("/host/runs"))["environment"]


def test_the_shared_cache_is_cnnpipes_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPIPE_CACHE_DIR", str(tmp_path / "absent"))
    assert requests.shared_cache() is None
    monkeypatch.setenv("CNNPIPE_CACHE_DIR", str(tmp_path))
    assert requests.shared_cache() == tmp_path.resolve()
