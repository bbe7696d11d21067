"""Plugins and helpers for the fault tests (``test_faults_*.py``): plugins that misbehave on cue."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
from pathlib import Path

import pytest

# A reporter that, after the checkpoint of epoch FAULT_EPOCH (and before the final parameters), sends
# this process FAULT_ACTION (a signal name) or, with FAULT_ACTION=fill, fills the disk holding FAULT_FILL.
FAULT_REPORTER = '''
import os
import signal

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ReporterSpec

from fault_fill import fill_disk


class Fault:
    def __init__(self, run):
        pass

    @hookimpl
    def cnnpipe_on_epoch_end(self, run, metrics):
        if os.environ.get("FAULT_EPOCH") == str(metrics["epoch"]):
            action = os.environ["FAULT_ACTION"]
            if action == "fill":
                fill_disk(os.environ["FAULT_FILL"])
            else:
                os.kill(os.getpid(), getattr(signal, action))


@hookimpl
def cnnpipe_register_reporters(register):
    register(ReporterSpec("fault", Fault, summary="misbehaves on cue"))
'''


def fill_disk(path) -> None:
    """Write ``path`` until its file system has no byte left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    for size in (1 << 16, 1 << 12, 1 << 9, 1):
        try:
            while True:
                os.write(fd, b"\0" * size)
        except OSError:
            pass
    os.close(fd)


def install_fault_reporter(install_plugin):
    fill = "import os\n\n\n" + inspect.getsource(fill_disk)
    install_plugin("fault-reporter", {"fault_reporter": FAULT_REPORTER, "fault_fill": fill}, {"fault": "fault_reporter"})


def install(site: Path, dist: str, modules: dict, entry_points: dict) -> None:
    """Install a distribution into ``site`` as conftest's ``install_plugin`` does, for module-wide fixtures."""
    site.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (site / f"{name}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[cnnpipe]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))


def run_folder(out: Path) -> Path:
    (folder,) = [p for p in Path(out).iterdir() if p.is_dir() and p.name != "site"]
    return folder


def read_metrics(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes and modification time: to show that nothing was written."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def assert_ends_with_one_error(result, code, *fragments):
    """``result`` exited with ``code``; its last line on stderr is the one error line, holding every fragment
    (the lines before it are a run's progress)."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stderr.count("error") == 1, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("cnnpipe: error: "), result.stderr
    for fragment in fragments:
        assert fragment in line, line
    return line


def assert_one_line(result, code, *fragments):
    """``result`` exited with ``code`` and printed exactly one line on stderr holding every fragment."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def small_disk(tmp_path):
    """``mount(size)``: a tmpfs of ``size`` (like ``"400k"``) at a fresh folder, removed after the test; root only."""
    mounted = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
        mounted.append(folder)
        return folder

    if os.geteuid() != 0:
        pytest.skip("a real full file system needs a tmpfs mount, which needs root")
    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def resize_disk(folder: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)
