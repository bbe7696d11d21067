"""What the schedule CLI tests share: ``cli``, the command run in-process on a store of its own, and the
one-line error check."""

import pytest
from click.testing import CliRunner

from cnnpipe.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """``cli(*args, code=0)``: run ``cnnpipe ARGS`` with a fresh ``CNNPIPE_HOME``, no GPUs and no engine."""
    monkeypatch.setenv("CNNPIPE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CNNPIPE_GPUS", "none")
    monkeypatch.setenv("CNNPIPE_IMAGE", "cnnpipe-job:test")
    # No engine here, so the image above is not looked up (test_schedule_faults.py checks that lookup).
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.chdir(tmp_path)

    def invoke(*args, code=0):
        result = CliRunner().invoke(main, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def one_line_error(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnpipe: error: "), output
    return lines[0]
