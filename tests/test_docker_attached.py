"""Unit tests of ``cnnpipe run --runner docker`` (docker/attached.py) that need no engine: arguments, mounts, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cnnpipe.cli import main
from cnnpipe.docker import attached
from cnnpipe.docker.request import container_args
from cnnpipe.errors import UsageError
from cnnpipe.registry import build_registry
from cnnpipe.specs import DatasetSpec


def resolved(model="lenet", dataset="fashion-mnist", options=None, sets=(), config_file=None):
    from cnnpipe.pipeline import resolve

    return resolve(build_registry(), model, dataset, options=options or {}, sets=sets, config_file=config_file)


def test_container_args_give_every_resolved_setting_and_the_mounts(tmp_path):
    config_file = tmp_path / "c.toml"
    config_file.write_text("seed = 4\n[arch]\nactivation = \"relu\"\n")
    run = resolved(options={"epochs": 1, "batch_size": 64, "limit": 200, "out": "/host/runs",
                            "reporters": ["default", "plot"]}, sets=["lr=0.5"], config_file=str(config_file))
    args = container_args(run.config, data_mounted=True, debug=True)
    assert args == ["lenet", "fashion-mnist", "--backend", "mxnet", "--epochs", "1", "--batch-size", "64",
                    "--lr", "0.5", "--optimizer", "sgd", "--seed", "4", "--device", "auto", "--precision", "fp32",
                    "--set", 'init="xavier"',
                    "--limit", "200", "--reporter", "default", "--reporter", "plot",
                    "--set", 'arch.activation="relu"', "--data-dir", "/data", "--debug", "--out", "/runs"]


def test_container_args_parse_back_to_the_same_configuration():
    from cnnpipe.cli.options import parse_run_args, settings_of
    from cnnpipe.pipeline import resolve

    run = resolved("resnet18", options={"epochs": 2, "resize": 64}, sets=["arch.num_channels=[8, 16, 32, 64]"])
    params = parse_run_args(container_args(run.config, data_mounted=False)).params
    again = resolve(build_registry(), params["model"], params["dataset"], options=settings_of(params),
                    sets=params["sets"])
    assert {**again.config.to_dict(), "out": None} == {**run.config.to_dict(), "out": None}


def fake_dataset(locate=None):
    return DatasetSpec(name="toy", load=lambda data_dir=None: None, locate=locate)


def test_data_folder_is_what_the_plugin_would_read(tmp_path):
    assert attached.data_folder(fake_dataset(lambda d: tmp_path), None) == tmp_path
    assert attached.data_folder(fake_dataset(), str(tmp_path)) == tmp_path
    assert attached.data_folder(fake_dataset(), None) is None


def test_data_folder_missing_is_one_line():
    with pytest.raises(UsageError, match="no files on this host to mount.*--data-dir"):
        attached.data_folder(fake_dataset(lambda d: None), None)


@pytest.mark.real_data  # the dataset's folder must exist on the host
def test_fashion_mnist_locates_the_given_folder_or_the_system_copy(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNPIPE_DATA_DIR", raising=False)
    spec = build_registry().dataset("fashion-mnist")
    with pytest.raises(UsageError, match="lacks the Fashion-MNIST file"):
        spec.locate(str(tmp_path))
    monkeypatch.setenv("CNNPIPE_CACHE_DIR", str(tmp_path / "cache"))
    system = Path("/usr/share/datasets/fashion-mnist")
    if system.is_dir():
        assert spec.locate(None) == system


def test_make_request_checks_before_anything_starts(tmp_path):
    with pytest.raises(UsageError, match="--gpus"):
        attached.make_request(resolved(options={"out": str(tmp_path)}), image="x", gpus="0")
    with pytest.raises(UsageError, match="--memory"):
        attached.make_request(resolved(options={"out": str(tmp_path)}), image="x", memory="lots")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.real_data  # the dataset's folder must exist on the host
def test_make_request(tmp_path):
    run = resolved(options={"out": str(tmp_path / "r"), "epochs": 1, "data_dir": "/usr/share/datasets/fashion-mnist"})
    spec = attached.make_request(run, image="img", memory="2g", disable=("plot",))
    assert spec.image == "img" and spec.memory == "2g"
    assert spec.out_dir == tmp_path / "r"
    assert spec.args[:2] == ["lenet", "fashion-mnist"] and spec.args[-4:] == ["--data-dir", "/data", "--out", "/runs"]
    assert spec.data_dir == Path("/usr/share/datasets/fashion-mnist")
    assert spec.env == {"CNNPIPE_DISABLE_PLUGINS": "plot"}


def cli(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


def test_docker_options_need_the_docker_runner():
    result = cli("run", "lenet", "fashion-mnist", "--memory", "1g", "--timeout", "5")
    assert result.exit_code == 2
    assert result.stderr == "cnnpipe: error: --memory, --timeout only apply with --runner docker or --runner slurm\n"


def test_resume_is_local_only():
    result = cli("run", "--runner", "docker", "--resume", "runs/x")
    assert result.exit_code == 2 and "--resume runs locally only" in result.stderr


def test_engine_unreachable_is_one_line():
    result = cli("run", "lenet", "fashion-mnist", "--runner", "docker",
                 env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert result.exit_code == 3
    assert result.stderr.startswith("cnnpipe: error: cannot reach a Docker engine at unix:///nonexistent/docker.sock")
    assert "DOCKER_HOST" in result.stderr and result.stderr.count("\n") == 1


def test_image_build_engine_unreachable():
    result = cli("image", "build", env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert result.exit_code == 3 and "DOCKER_HOST" in result.stderr


def test_help_and_listing_do_not_import_docker():
    code = ("import sys; from cnnpipe.cli import main\n"
            "for args in (['--help'], ['image', '--help'], ['run', '--help']):\n"
            "    try: main(args)\n"
            "    except SystemExit: pass\n"
            "assert 'docker' not in sys.modules and 'mxnet' not in sys.modules, 'heavy import'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
