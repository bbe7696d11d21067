"""What the README promises of job containers, on the real engine: logs stream live, and the job runs
under an init process with a limit on its processes."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cnnpipe.testing import started

pytestmark = [pytest.mark.docker, pytest.mark.real_data]

PIDS_LIMIT = 4096  # what cnnpipe.docker.runner gives every job container


def containers_for(engine, out: Path) -> list:
    return engine.containers.list(all=True, filters={"label": f"cnnpipe.out={out.resolve()}"})


@contextlib.contextmanager
def removing(engine, out: Path):
    """Remove the job containers of ``out`` when the block ends (a failed check would leave them running)."""
    try:
        yield
    finally:
        for container in containers_for(engine, out):
            container.remove(force=True)


def lines_of(stream) -> queue.Queue:
    """The lines of ``stream`` as they arrive, read by a thread (``None`` at the end)."""
    lines: queue.Queue = queue.Queue()

    def read():
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_a_job_streams_its_log_while_it_runs_under_an_init_with_a_pids_limit(engine, job_image, tmp_path):
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "cnnpipe", "run", "lenet", "fashion-mnist", "--limit", "3000", "--epochs", "6",
           "--runner", "docker", "--image", job_image, "--reporter", "console", "--out", str(out)]
    with started(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc, removing(engine, out):
        lines, seen = lines_of(proc.stderr), []
        deadline = time.monotonic() + 300
        while not any(line.startswith("epoch 1,") for line in seen):
            line = lines.get(timeout=max(1, deadline - time.monotonic()))
            assert line is not None, "".join(seen)
            seen.append(line)
        # Epoch 1's line is here while the container still has five epochs to go.
        [container] = containers_for(engine, out)
        container.reload()
        assert container.status == "running", "the log arrived only after the container had stopped"
        host = container.attrs["HostConfig"]
        assert host["Init"] is True and host["PidsLimit"] == PIDS_LIMIT
        processes = container.top()["Processes"]
        command = container.top()["Titles"].index("CMD")
        assert "docker-init" in processes[0][command], processes  # PID 1 forwards signals and reaps
        assert any("cnnpipe run lenet" in p[command] for p in processes[1:]), processes
        # cgroup v2 or v1: the limit the kernel enforces inside the container
        code, limit = container.exec_run(["sh", "-c", "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max"])
        assert code == 0 and limit.decode().split() == [str(PIDS_LIMIT)]
        while (line := lines.get(timeout=300)) is not None:
            seen.append(line)
        assert proc.wait(timeout=60) == 0, "".join(seen)
    assert any(line.startswith("epoch 6,") for line in seen)
    assert containers_for(engine, out) == []
