"""``cnnpipe run --runner docker`` stopped and misused as a careless or hostile user would, against a real engine.

However the client stops (SIGTERM, SIGHUP, Ctrl-C once or twice, SIGKILL followed by the next command),
no container and no staging folder survives, and the run folder lands in ``--out``.  Every test's
containers carry ``cnnpipe.out=<its own folder>``; a test removes those, and only those, when it ends.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from plugin_source import plugin_source

pytestmark = [pytest.mark.docker, pytest.mark.real_data]

BASE = os.environ.get("CNNPIPE_BASE_IMAGE", "cnnpipe-base:py")
CNNPIPE = [str(Path(sys.executable).parent / "cnnpipe")]
QUICK = ["--limit", "200", "--epochs", "1"]
# Long enough to be stopped in the middle: a few seconds per epoch.
LONG = ["--limit", "3000", "--epochs", "20"]


def unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the Docker tests must run; see .ci/docker-setup.sh)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def engine():
    try:
        import docker

        client = docker.from_env()
        client.ping()
        client.images.get(BASE)
    except Exception as exc:
        unavailable(f"no Docker engine or no base image {BASE}: {exc}")
    if not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file():
        unavailable("Debian's dataset-fashion-mnist is not installed")
    return client


@pytest.fixture(scope="module")
def image(engine):
    done = subprocess.run([*CNNPIPE, "image", "build", "--base", BASE, "-q"], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def out(tmp_path, engine):
    """The run folders' parent of one test; whatever containers of it remain are removed at the end."""
    folder = tmp_path / "runs"
    yield folder
    for container in leftovers(engine, folder):
        container.remove(force=True)


def leftovers(engine, out_dir: Path) -> list:
    return engine.containers.list(all=True, filters={"label": f"cnnpipe.out={Path(out_dir).resolve()}"})


def default_signals():
    # The test process may run with SIGINT (or SIGHUP) ignored, as a background job does; children inherit that.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def start_client(out: Path, tmp_path: Path, *args) -> subprocess.Popen:
    log = open(tmp_path / "client.log", "w")
    return subprocess.Popen([*CNNPIPE, "run", "lenet", "fashion-mnist", *args, "--runner", "docker", "--out", str(out)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=default_signals)


def wait_until_training(engine, out: Path, timeout: float = 120):
    """The client's container, once the run inside has made its run folder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for container in leftovers(engine, out):
            try:
                if b"training lenet" in container.logs():
                    return container
            except Exception:
                pass
        time.sleep(0.2)
    pytest.fail("the job container never started training")


def check_handed_back(engine, out: Path) -> Path:
    """No container, no staging folder; one run folder in ``out``, owned by us."""
    assert leftovers(engine, out) == []
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.startswith(".cnnpipe-job-")], names
    [run_dir] = [out / n for n in names]
    assert (run_dir / "config.json").is_file()
    assert run_dir.stat().st_uid == os.getuid()
    return run_dir


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_remove_the_container_and_hand_the_run_back(engine, image, out, tmp_path, signum):
    client = start_client(out, tmp_path, *LONG)
    try:
        wait_until_training(engine, out)
        client.send_signal(signum)
        assert client.wait(60) == 128 + signum, (tmp_path / "client.log").read_text()
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    assert f"stopped by {signal.Signals(signum).name}" in (tmp_path / "client.log").read_text()
    run_dir = check_handed_back(engine, out)
    check_stopped_with_a_record(engine, image, run_dir)


def check_stopped_with_a_record(engine, image, run_dir: Path, exit_code: int = 130) -> dict:
    """The run inside was stopped with a grace period: it recorded "interrupted" and left no temporary file, and
    the container was inspected before it was removed."""
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted", summary
    assert not [p for p in run_dir.rglob("*") if ".tmp" in p.name or (p.name.startswith(".") and p.name != ".lock")], list(run_dir.rglob("*"))
    ran = json.loads((run_dir / "container.json").read_text())
    assert ran["image_id"] == engine.images.get(image).id
    assert ran["exit_code"] == exit_code and ran["oom_killed"] is False, ran
    assert ran["started"] and ran["finished"] and ran["started"] < ran["finished"], ran
    listed = subprocess.run([*CNNPIPE, "runs", "list", "--out", str(run_dir.parent)], capture_output=True, text=True)
    assert "interrupted" in listed.stdout, listed.stdout
    return ran


def test_docker_kill_is_named_and_recorded(engine, image, out, tmp_path):
    client = start_client(out, tmp_path, *LONG)
    try:
        wait_until_training(engine, out).kill()
        assert client.wait(60) == 137, (tmp_path / "client.log").read_text()
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    log = (tmp_path / "client.log").read_text()
    assert "cnnpipe: error: the job container was killed (exit 137: SIGKILL from outside cnnpipe" in log, log
    ran = json.loads((check_handed_back(engine, out) / "container.json").read_text())
    assert ran["exit_code"] == 137 and ran["oom_killed"] is False and ran["finished"], ran


def test_ctrl_c_twice_still_hands_the_run_back(engine, image, out, tmp_path):
    client = start_client(out, tmp_path, *LONG)
    try:
        wait_until_training(engine, out)
        client.send_signal(signal.SIGINT)
        time.sleep(0.05)
        client.send_signal(signal.SIGINT)
        assert client.wait(60) == 130, (tmp_path / "client.log").read_text()
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    check_handed_back(engine, out)


@pytest.mark.parametrize("next_command", [["gc"], ["image", "list"]])
def test_after_sigkill_the_next_command_clears_up(engine, image, out, tmp_path, next_command):
    client = start_client(out, tmp_path, *LONG)
    try:
        container = wait_until_training(engine, out)
    finally:
        client.kill()  # SIGKILL: the client can do nothing
        client.wait()
    assert leftovers(engine, out), "the container went away with its client"
    done = subprocess.run([*CNNPIPE, *next_command], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"removed job container {container.short_id}, whose client (pid {client.pid}) is gone" in done.stderr
    check_handed_back(engine, out)


def test_gc_hands_back_a_staging_folder_whose_container_was_removed_by_hand(engine, image, out, tmp_path):
    if os.getuid() != 0:
        pytest.skip("run folders are staged only for root")
    client = start_client(out, tmp_path, *LONG)
    try:
        container = wait_until_training(engine, out)
        os.kill(client.pid, signal.SIGKILL)
        client.wait()
        container.remove(force=True)  # docker rm -f: the labels that said where the run goes are gone
    finally:
        if client.poll() is None:
            client.kill()
    [staged] = list(out.iterdir())
    os.utime(staged, (time.time() - 3600,) * 2)  # gc leaves alone staging folders a start may be making now
    done = subprocess.run([*CNNPIPE, "gc", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"handed back {staged.name}" in done.stderr
    check_handed_back(engine, out)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnpipe: error: "), stderr
    return lines[0]


@pytest.mark.parametrize("option, value, message", [
    ("--memory", "0", "--memory must be at least 6m"),
    ("--memory", "1k", "--memory must be at least 6m"),
    ("--cpus", "nan", "--cpus must be positive, got nan"),
    ("--cpus", "inf", "--cpus must be positive, got inf"),
    ("--cpus", "0", "--cpus must be positive"),
    ("--timeout", "nan", "--timeout must be a positive number of seconds, got nan"),
    ("--timeout", "inf", "--timeout must be a positive number of seconds, got inf"),
    # Numbers that pass "positive and finite" but that the engine or the clock cannot honour.
    ("--cpus", "1e-12", "--cpus must be between 0.01 and"),
    ("--cpus", "0.001", "--cpus must be between 0.01 and"),
    ("--cpus", "1e300", "--cpus must be between 0.01 and"),
    ("--timeout", "1e10", "--timeout must be at most 31622400 seconds (366 days)"),
    ("--memory", "99999999999999999999g", "--memory must be at most"),
])
def test_limits_are_checked_before_anything_is_made(engine, image, out, option, value, message):
    done = subprocess.run([*CNNPIPE, "run", "lenet", "fashion-mnist", *QUICK, "--runner", "docker", option, value,
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert message in one_line(done.stderr)
    assert not out.exists() and leftovers(engine, out) == []


def test_an_image_that_is_no_job_image_is_refused_before_it_starts(engine, out):
    done = subprocess.run([*CNNPIPE, "run", "lenet", "fashion-mnist", *QUICK, "--runner", "docker", "--image", BASE,
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"image '{BASE}' is not a cnnpipe job image" in one_line(done.stderr)
    assert leftovers(engine, out) == [] and not [p for p in out.glob(".cnnpipe-job-*")]


def test_the_containers_own_error_is_shown(engine, out):
    """An image that claims to be a job image but holds no cnnpipe: the reason reaches the user."""
    tag = f"cnnpipe-test-nocnnpipe:{uuid.uuid4().hex[:8]}"
    dockerfile = io.BytesIO(f"FROM {BASE}\nLABEL cnnpipe.image=job\n".encode())
    engine.images.build(fileobj=dockerfile, tag=tag, network_mode="none", rm=True)
    try:
        done = subprocess.run([*CNNPIPE, "run", "lenet", "fashion-mnist", *QUICK, "--runner", "docker", "--image", tag,
                               "--out", str(out)], capture_output=True, text=True, timeout=120)
    finally:
        for container in leftovers(engine, out):
            container.remove(force=True)
        engine.images.remove(tag, force=True)
    assert done.returncode == 127, done.stderr
    assert "exec cnnpipe failed" in done.stderr
    assert leftovers(engine, out) == []


def test_a_private_config_file_of_root_is_read_on_the_host(engine, image, out, tmp_path):
    config = tmp_path / "private.toml"
    config.write_text("batch_size = 64\n")
    config.chmod(0o600)
    done = subprocess.run([*CNNPIPE, "run", "lenet", "fashion-mnist", *QUICK, "--runner", "docker", "--config",
                           str(config), "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    run_dir = check_handed_back(engine, out)
    assert json.loads((run_dir / "config.json").read_text())["config"]["batch_size"] == 64


def test_a_run_chooses_the_image_of_the_installed_code_not_of_the_versions(engine, image, tmp_path):
    """A plugin edited without a version bump: the image built before the edit is not taken."""
    import shutil

    src = plugin_source(tmp_path, "cnnpipe-fpcheck", "from cnnpipe.hookspecs import hookimpl\nVERSION = 1\n",
                        dependencies=())
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target",
                    str(site), str(src)], check=True, capture_output=True)
    shutil.rmtree(src / "build", ignore_errors=True)  # left by pip's install itself, not by cnnpipe
    for info in src.glob("*.egg-info"):
        shutil.rmtree(info)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    built = subprocess.run([*CNNPIPE, "image", "build", "--base", BASE, "-q"], env=env, capture_output=True, text=True,
                           timeout=900)
    assert built.returncode == 0, built.stderr
    tag = built.stdout.strip()
    try:
        assert sorted(p.name for p in src.iterdir()) == ["cnnpipe_fpcheck", "pyproject.toml"]  # no build/, no egg-info
        ok = subprocess.run([*CNNPIPE, "run", "lenet", "fashion-mnist", *QUICK, "--runner", "docker", "--out",
                             str(tmp_path / "runs")], env=env, capture_output=True, text=True, timeout=300)
        assert ok.returncode == 0, ok.stderr
        [run_dir] = (tmp_path / "runs").iterdir()
        assert json.loads((run_dir / "container.json").read_text())["image_id"] == engine.images.get(tag).id
        installed = site / "cnnpipe_fpcheck" / "__init__.py"
        installed.write_text(installed.read_text().replace("VERSION = 1", "VERSION = 2"))  # no version bump
        stale = subprocess.run([*CNNPIPE, "run", "lenet", "fashion-mnist", *QUICK, "--runner", "docker", "--out",
                                str(tmp_path / "runs2")], env=env, capture_output=True, text=True, timeout=300)
        assert stale.returncode == 2
        assert "no cpu job image for backend 'mxnet' holds the code installed here" in one_line(stale.stderr)
        assert "build it with: cnnpipe image build" in stale.stderr
        shutil.rmtree(src)
        gone = subprocess.run([*CNNPIPE, "image", "build", "--base", BASE], env=env, capture_output=True, text=True,
                              timeout=300)
        assert gone.returncode == 2
        assert (f"plugin distribution 'cnnpipe-fpcheck' 0.0.1 was installed from {src}, which no longer exists"
                in one_line(gone.stderr))
    finally:
        engine.images.remove(tag, force=True)  # it holds the throwaway plugin: ours alone


def test_a_stopped_container_run_resumes_here_to_the_numbers_of_an_uninterrupted_run(engine, image, out, tmp_path):
    """Stopped in the middle (SIGTERM to the client), the container's run folder records the host's data folder and
    resumes on the host with no option; its epochs are those of a run never stopped (issue 24, item 1)."""
    settings = ["--limit", "3000", "--epochs", "6"]
    client = start_client(out, tmp_path, *settings)
    try:
        container = wait_until_training(engine, out)
        deadline = time.monotonic() + 120
        while b"epoch 1," not in container.logs() and time.monotonic() < deadline:
            time.sleep(0.1)
        client.send_signal(signal.SIGTERM)
        assert client.wait(120) == 128 + signal.SIGTERM, (tmp_path / "client.log").read_text()
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    run_dir = check_handed_back(engine, out)
    record = json.loads((run_dir / "config.json").read_text())
    assert record["config"]["data_dir"] == "/data"
    host = Path(record["data_source"]["folder"])  # the folder mounted at /data: the system copy, or the cache's
    assert host.is_dir() and host != Path("/data") and sorted(record["data_source"]["files"]) == sorted(
        p.name for p in host.iterdir() if not p.name.startswith("."))
    stopped_at = len((run_dir / "metrics.jsonl").read_text().splitlines())
    assert 1 <= stopped_at < 6, "the run was not stopped in the middle"

    resumed = subprocess.run([*CNNPIPE, "run", "--resume", str(run_dir)], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    here = subprocess.run([*CNNPIPE, "run", "lenet", "fashion-mnist", *settings, "--out", str(tmp_path / "here")],
                          capture_output=True, text=True, timeout=600)
    assert here.returncode == 0, here.stderr
    [uninterrupted] = (tmp_path / "here").iterdir()

    def numbers(folder):
        return [{k: m[k] for k in ("epoch", "train_loss", "train_acc", "test_acc")}
                for m in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines())]

    assert numbers(run_dir) == numbers(uninterrupted)
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "succeeded"
