"""Unit tests of ``cnnpipe run --runner docker`` that need no Docker engine: arguments, mounts, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnnpipe.cli import main
from cnnpipe.docker import job
from cnnpipe.errors import UsageError
from cnnpipe.registry import build_registry
from cnnpipe.specs import DatasetSpec


def test_container_args_repeat_the_run_with_the_out_folder_mounted():
    options = {"epochs": 1, "batch_size": 64, "limit": 200, "out": "/host/runs", "data_dir": "/host/data",
               "reporters": ["default", "whereami"], "lr": None}
    args = job.container_args("lenet", "fashion-mnist", options, sets=["arch.x=1"], config_file="c.toml", debug=True)
    assert args == ["lenet", "fashion-mnist", "--epochs", "1", "--batch-size", "64", "--limit", "200",
                    "--reporter", "default", "--reporter", "whereami", "--set", "arch.x=1",
                    "--config", "/job/config.toml", "--debug", "--out", "/runs"]


def fake_dataset(locate=None):
    return DatasetSpec(name="toy", load=lambda data_dir=None: None, locate=locate)


def test_data_folder_is_what_the_plugin_would_read(tmp_path):
    assert job.data_folder(fake_dataset(lambda d: tmp_path), None) == tmp_path
    assert job.data_folder(fake_dataset(), str(tmp_path)) == tmp_path
    assert job.data_folder(fake_dataset(), None) is None


def test_data_folder_missing_is_one_line():
    with pytest.raises(UsageError, match="no files on this host to mount.*--data-dir"):
        job.data_folder(fake_dataset(lambda d: None), None)


def test_fashion_mnist_locates_the_given_folder_or_the_system_copy(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNPIPE_DATA_DIR", raising=False)
    spec = build_registry().get("datasets", "fashion-mnist")
    with pytest.raises(UsageError, match="lacks the Fashion-MNIST file"):
        spec.locate(str(tmp_path))
    monkeypatch.setenv("CNNPIPE_CACHE_DIR", str(tmp_path / "cache"))
    system = Path("/usr/share/datasets/fashion-mnist")
    if system.is_dir():
        assert spec.locate(None) == system


def test_make_job_checks_names_before_anything_starts(tmp_path):
    reg = build_registry()
    with pytest.raises(UsageError, match="unknown model 'lenett'"):
        job.make_job(reg, "lenett", "fashion-mnist", {"out": str(tmp_path)}, image="x")
    with pytest.raises(UsageError, match="--gpus"):
        job.make_job(reg, "lenet", "fashion-mnist", {"out": str(tmp_path)}, image="x", gpus="0")
    with pytest.raises(UsageError, match="config file not found"):
        job.make_job(reg, "lenet", "fashion-mnist", {}, config_file=str(tmp_path / "none.toml"), image="x")
    assert list(tmp_path.iterdir()) == []


def test_make_job(tmp_path):
    spec = job.make_job(build_registry(), "lenet", "fashion-mnist", {"out": str(tmp_path / "r"), "epochs": 1,
                        "data_dir": "/usr/share/datasets/fashion-mnist"}, image="img", memory="2g",
                        disable=("plot",))
    assert spec.image == "img" and spec.memory == "2g"
    assert spec.out_dir == tmp_path / "r"
    assert spec.args == ["lenet", "fashion-mnist", "--epochs", "1", "--out", "/runs"]
    assert spec.env == {"CNNPIPE_DISABLE_PLUGINS": "plot"}


def cli(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


def test_docker_options_need_the_docker_runner():
    result = cli("run", "lenet", "fashion-mnist", "--memory", "1g", "--timeout", "5")
    assert result.exit_code == 2
    assert result.stderr == "cnnpipe: error: --memory, --timeout only apply with --runner docker\n"


def test_resume_is_local_only():
    result = cli("run", "--runner", "docker", "--resume", "runs/x")
    assert result.exit_code == 2 and "--resume runs locally only" in result.stderr


def test_engine_unreachable_is_one_line():
    result = cli("run", "lenet", "fashion-mnist", "--runner", "docker",
                 env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.exit_code == 2
    assert result.stderr.startswith("cnnpipe: error: cannot reach a Docker engine at unix:///nonexistent/docker.sock")
    assert "DOCKER_HOST" in result.stderr and result.stderr.count("\n") == 1


def test_image_build_engine_unreachable():
    result = cli("image", "build", env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert result.exit_code == 2 and "DOCKER_HOST" in result.stderr


def test_help_and_listing_do_not_import_docker():
    code = ("import sys; from cnnpipe.cli import main\n"
            "for args in (['--help'], ['image', '--help'], ['run', '--help']):\n"
            "    try: main(args)\n"
            "    except SystemExit: pass\n"
            "assert 'docker' not in sys.modules and 'mxnet' not in sys.modules, 'heavy import'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
