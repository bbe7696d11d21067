"""Bad settings and bad command lines: one line naming what is wrong, exit 2, nothing written (issue 10, items 3 and 9)."""

import json
import os
import subprocess
import sys

import pytest

from conftest import cli
from fault_plugins import assert_one_line, run_folder

RUN = ["run", "lenet", "fashion-mnist", "--limit", "100", "--epochs", "1"]


@pytest.mark.parametrize("args, fragments", [
    (["--lr", "nan"], ["lr must be a positive number, got nan"]),
    (["--lr", "inf"], ["lr must be a positive number, got inf"]),
    (["--lr", "-inf"], ["lr must be a positive number"]),
    (["--set", "lr=nan"], ["lr must be a positive number, got nan", "--set"]),
    (["--set", "lr=inf"], ["lr must be a positive number, got inf", "--set"]),
    (["--set", "lr=\"0.1\""], ["lr must be a positive number, got '0.1'"]),
    (["--set", "reporters=5"], ["reporters must be a list of reporter names, got 5", "--set"]),
    (["--set", "reporters=[1, 2]"], ["reporters must be a list of reporter names"]),
    (["--set", "optimizer=5"], ["optimizer must be a name, got 5"]),
    (["--set", "init=[1]"], ["init must be a name, got [1]"]),
    (["--set", "backend=5"], ["backend must be a name, got 5"]),
    (["--set", "device=5"], ["device must be auto, cpu, gpu or gpu:N, got 5"]),
    (["--set", "arch=5"], ["arch must be a table of architecture arguments, got 5"]),
    (["--set", "out=5"], ["out must be a folder path, got 5"]),
    (["--set", "data_dir=5"], ["data-dir must be a folder path, got 5"]),
    (["--set", "trainer=5"], ["unknown setting 'trainer' in --set"]),
    (["--set", "epochs=2.5"], ["epochs must be a whole number of at least 1, got 2.5"]),
    (["--set", "epochs=true"], ["epochs must be a whole number of at least 1, got True"]),
    (["--set", "batch_size=0"], ["batch-size must be a whole number of at least 1, got 0"]),
    (["--set", "limit=-3"], ["limit must be a whole number of at least 1"]),
    (["--set", "resize={a = 1}"], ["resize must be a whole number"]),
    (["--set", "seed=-1"], ["seed must be a whole number from 0 to 4294967295, got -1"]),
    (["--seed", "100000000000000000000"], ["seed must be a whole number from 0 to 4294967295"]),
    (["--out", "runs\udcff\udcfe"], ["out must be UTF-8 text"]),
    (["--out", "a" * 300], ["out holds a name of 300 bytes; file names have at most 255"]),
    (["--out", "runs/" + "é" * 130], ["out holds a name of 260 bytes"]),
    (["--data-dir", "data\udcff"], ["data-dir must be UTF-8 text"]),
])
def test_wrong_setting_names_it_and_writes_nothing(tmp_path, args, fragments):
    result = cli(*RUN, *args, cwd=tmp_path)
    assert_one_line(result, 2, *fragments)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text, fragments", [
    ("lr = nan\n", ["lr must be a positive number, got nan"]),
    ("lr = inf\n", ["lr must be a positive number, got inf"]),
    ("[lr]\nvalue = 0.1\n", ["lr must be a positive number, got {'value': 0.1}"]),
    ("reporters = {console = true}\n", ["reporters must be a list of reporter names"]),
    ("optimizer = 5\n", ["optimizer must be a name, got 5"]),
    ("arch = 5\n", ["arch must be a table of architecture arguments, got 5"]),
    ("out = 5\n", ["out must be a folder path, got 5"]),
    ("data-dir = [\"a\"]\n", ["data-dir must be a folder path"]),
    ("seed = 1e3\n", ["seed must be a whole number"]),
    ("trainer = 5\n", ["unknown setting 'trainer' in"]),
    ("[arch]\nactivation = {name = \"relu\"}\n", ["model 'lenet' rejected its architecture arguments"]),
    (b"lr = 0.1\n# caf\xe9\n", ["is not UTF-8 text"]),
    (b"\xff\xfe\x00l\x00r", ["is not UTF-8 text"]),
])
def test_wrong_config_file_names_the_setting_and_the_file(tmp_path, text, fragments):
    config = tmp_path / "run.toml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    result = cli(*RUN, "--config", str(config), cwd=tmp_path)
    line = assert_one_line(result, 2, *fragments)
    if "architecture arguments" not in line:
        assert str(config) in line
    assert [p.name for p in tmp_path.iterdir()] == ["run.toml"]


def test_a_config_file_that_never_ends_is_refused(tmp_path):
    result = cli(*RUN, "--config", "/dev/zero", cwd=tmp_path)
    assert_one_line(result, 2, "config file /dev/zero is larger than 1024 KiB")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, fragments", [
    (["run", "lenet", "fashion-mnist", "--epochs", "abc"], ["Invalid value for '--epochs': 'abc' is not a valid integer",
                                                           "cnnpipe run --help"]),
    (["trian", "lenet"], ["No such command 'trian'", "cnnpipe --help"]),
    (["run", "lenet", "fashion-mnist", "extra"], ["unexpected extra argument (extra)"]),
    (["list", "gpus"], ["'gpus' is not one of", "models"]),
    (["list", "models", "extra"], ["unexpected extra argument"]),
    (["run", "lenet", "fashion-mnist", "--no-such-option"], ["No such option '--no-such-option'"]),
    (["run", "lenet", "fashion-mnist", "--lr"], ["Option '--lr' requires an argument"]),
    (["run", "lenet", "fashion-mnist", "--runner", "ssh"], ["'ssh' is not one of 'local', 'docker'"]),
    (["info"], ["Missing argument 'NAME'"]),
    (["info", "lenet", "--resize", "0"], ["resize must be a whole number of at least 1, got 0"]),
    (["info", "lenet", "--set", "activation=relu6"], ["model 'lenet' rejected its architecture arguments", "relu6"]),
    (["info", "lenet", "--set", "arch.activation=5"], ["model 'lenet' rejected its architecture arguments"]),
])
def test_usage_errors_are_one_line(tmp_path, args, fragments):
    assert_one_line(cli(*args, cwd=tmp_path), 2, *fragments)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", [{"env": {"CNNPIPE_DEBUG": "1"}}, {"args": ["--debug"]}])
def test_debug_shows_the_traceback_and_keeps_the_exit_code(tmp_path, how):
    for args, code in ((["run", "lenett", "fashion-mnist"], 2), (["run", "lenet", "fashion-mnist", "--lr", "nan"], 2),
                       (["list", "gpus"], 2)):
        result = cli(*how.get("args", []), *args, env=how.get("env"), cwd=tmp_path)
        assert result.returncode == code, result.stderr
        if args[0] == "run":
            assert "Traceback (most recent call last)" in result.stderr and "UsageError" in result.stderr


def test_a_closed_stderr_does_not_fail_the_run(install_plugin, tiny_dataset, tmp_path):
    # A plugin broken at import: cnnpipe warns about it on stderr, which is closed.
    install_plugin("cnnpipe-broken", {"broken_plugin": "raise ImportError('gone')"}, {"broken": "broken_plugin"})
    command = [sys.executable, "-m", "cnnpipe", "run", "lenet", tiny_dataset, "--lr", "0.9", "--batch-size", "100",
               "--epochs", "2", "--out", str(tmp_path / "runs")]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=None, text=True, env=os.environ,
                            preexec_fn=lambda: os.close(2))
    assert result.returncode == 0
    assert result.stdout == ""  # warnings did not land on stdout
    folder = run_folder(tmp_path / "runs")
    assert json.loads((folder / "summary.json").read_text())["status"] == "succeeded"
    json.loads((folder / "config.json").read_text())  # no library wrote into a file that took descriptor 2
    assert "cnnpipe: warning" not in (folder / "run.log").read_text()


def test_a_closed_stderr_still_gives_the_exit_code_of_an_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cnnpipe", "run", "lenett", "fashion-mnist"], cwd=tmp_path,
                            stdout=subprocess.PIPE, text=True, preexec_fn=lambda: os.close(2))
    assert result.returncode == 2 and result.stdout == ""
    assert list(tmp_path.iterdir()) == []
