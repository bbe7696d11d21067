"""Compute threads from the CPUs a process may really use: affinity, the cgroup quota, workers; recorded and
overridable.  Small cgroup folders for the parsing; this machine's /sys/fs/cgroup and a real container for the rest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnpipe import threads
from conftest import BASE_IMAGE, cli


def cgroup_v2(root: Path, path: str, limits: dict) -> Path:
    """A cgroup v2 tree under ``root`` with ``cpu.max`` files ({folder: text}) and a /proc/self/cgroup for ``path``."""
    for folder, text in limits.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "cpu.max").write_text(text)
    proc = root / "proc-self-cgroup"
    proc.write_text(f"0::{path}\n")
    return proc


def test_v2_quota_is_read_and_the_lowest_of_the_ancestors_wins(tmp_path):
    proc = cgroup_v2(tmp_path, "/pod/job", {".": "max 100000", "pod": "150000 100000", "pod/job": "max 100000"})
    assert threads.cgroup_cpus(tmp_path, proc) == 1.5
    proc = cgroup_v2(tmp_path, "/pod/job", {"pod/job": "50000 100000"})
    assert threads.cgroup_cpus(tmp_path, proc) == 0.5


def test_v2_without_a_limit_is_none(tmp_path):
    proc = cgroup_v2(tmp_path, "/", {".": "max 100000"})
    assert threads.cgroup_cpus(tmp_path, proc) is None


def test_v1_quota_inside_a_container_is_read_from_the_mount_itself(tmp_path):
    cpu = tmp_path / "cpu,cpuacct"
    cpu.mkdir()
    (cpu / "cpu.cfs_quota_us").write_text("200000\n")
    (cpu / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("5:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n")  # the host's path, absent in here
    assert threads.cgroup_cpus(tmp_path, proc) == 2.0
    (cpu / "cpu.cfs_quota_us").write_text("-1\n")
    assert threads.cgroup_cpus(tmp_path, proc) is None


def test_this_machines_cgroup_files_are_read():
    """The real /sys/fs/cgroup: the quota found is the one the files hold for this process."""
    found = threads.cgroup_cpus()
    lines = Path("/proc/self/cgroup").read_text().splitlines()
    v2 = [line.split(":", 2)[2] for line in lines if line.startswith("0::")]
    expected = None
    if Path("/sys/fs/cgroup/cpu.max").exists() and v2:
        text = (Path("/sys/fs/cgroup") / v2[0].strip("/") / "cpu.max").read_text().split()
        expected = None if text[0] == "max" else int(text[0]) / int(text[1])
    elif Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").exists():
        quota = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        expected = None if quota <= 0 else quota / period
    if expected is not None or found is not None:
        assert found == expected
    assert 1 <= threads.usable_cpus() <= os.cpu_count()


def test_affinity_limits_the_count():
    code = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); from cnnpipe import threads; " \
           "print(threads.usable_cpus(), threads.threads_for(1), threads.threads_for(4))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "1", "1"]


def test_workers_share_the_cpus():
    assert threads.threads_for(2, cpus=8) == 4
    assert threads.threads_for(3, cpus=2) == 1


def test_settle_prefers_the_option_then_the_environment_then_the_cpus():
    env = {}
    record = threads.settle(3, environ=env)
    assert (record["count"], record["from"], env["OMP_NUM_THREADS"]) == (3, "--threads", "3")
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and record["wait_policy"] == "PASSIVE"
    record = threads.settle(None, environ={"OMP_NUM_THREADS": "5", "OMP_WAIT_POLICY": "ACTIVE"})
    assert (record["count"], record["from"], record["wait_policy"]) == (5, "OMP_NUM_THREADS", "ACTIVE")
    env = {}
    record = threads.settle(None, workers=2, environ=env)
    assert record["count"] == max(1, threads.usable_cpus() // 2) and record["from"] == "usable CPUs"


@pytest.mark.docker
def test_a_container_limited_to_one_cpu_counts_one(engine):
    """The real cgroup of a container run with --cpus 1 (nano_cpus), whatever the host's core count."""
    module = Path(threads.__file__)
    out = engine.containers.run(
        BASE_IMAGE, ["python3", "-c", "import threads; print(threads.cgroup_cpus(), threads.usable_cpus())"],
        volumes={str(module): {"bind": "/m/threads.py", "mode": "ro"}}, working_dir="/m", network_mode="none",
        nano_cpus=1_000_000_000, remove=True)
    assert out.decode().split() == ["1.0", "1"]


def test_run_records_and_applies_the_thread_count(tiny_dataset, tmp_path):
    env = {"OMP_NUM_THREADS": "", "OMP_WAIT_POLICY": ""}
    result = cli("run", "lenet", "tiny", "--backend", "torch", "--epochs", "1", "--lr", "0.1", "--batch-size", "64",
                 "--threads", "1", "--out",
                 str(tmp_path / "out"), env=env)
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "out").iterdir()
    record = json.loads((run_dir / "config.json").read_text())
    assert record["config"]["threads"] == 1
    assert (record["threads"]["count"], record["threads"]["from"]) == (1, "--threads")
    assert record["threads"]["wait_policy"] == "PASSIVE"


def test_bad_thread_count_is_one_line(tiny_dataset, tmp_path):
    result = cli("run", "lenet", "tiny", "--threads", "0", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "threads must be a whole number of at least 1" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_compile_is_a_setting_passed_into_containers(tiny_dataset):
    from cnnpipe.docker.request import container_args
    from cnnpipe.errors import UsageError
    from cnnpipe.pipeline import resolve
    from cnnpipe.registry import build_registry

    options = {"compile": True, "threads": 2, "lr": 0.1, "batch_size": 8, "epochs": 1}
    config = resolve(build_registry(), "lenet", "tiny", options=options).config
    assert config.compile is True and config.threads == 2
    args = container_args(config, data_mounted=False)
    assert "--compile" in args and args[args.index("--threads") + 1] == "2"
    with pytest.raises(UsageError, match="compile must be true or false, got 3"):
        resolve(build_registry(), "lenet", "tiny", options=options, sets=["compile=3"])
