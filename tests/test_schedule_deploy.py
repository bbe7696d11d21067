"""The systemd unit in deploy/ runs the scheduler the way docs/scheduling.md says."""

import configparser
import shutil
import subprocess
from pathlib import Path

from cnnpipe.testing import unavailable

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "cnnpipe-scheduler.service"


def test_the_unit_runs_the_scheduler_after_docker():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(UNIT)
    assert unit["Service"]["ExecStart"].split()[1:3] == ["scheduler", "--interval"]
    assert "docker.service" in unit["Unit"]["Requires"] and "docker.service" in unit["Unit"]["After"]
    assert unit["Service"]["Restart"] == "on-failure"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_accepts_the_unit():
    if shutil.which("systemd-analyze") is None:
        unavailable("systemd-analyze is not installed (apt-get install systemd)")
    done = subprocess.run(["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, timeout=60)
    # Only the executable may be missing on a machine where cnnpipe is not installed under /opt.
    problems = [line for line in done.stderr.splitlines() if line.strip() and "is not executable" not in line]
    assert problems == []
