"""The after-training commands (info, evaluate, export, runs) on odd inputs: one line each, never Python's raw
exception or a traceback (issue 24, item 7)."""

import json
import os

import pytest

from conftest import cli
from trained import copy_run, lenet_run

pytestmark = pytest.mark.real_data


def one_line(result, code):
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnpipe: error: "), result.stderr
    assert "Traceback" not in lines[0] and "Error: [Errno" not in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_info_with_an_impossible_size_is_the_usage_error_run_gives(backend):
    line = one_line(cli("info", "lenet", "--resize", "100000", "--backend", backend), 2)
    assert line.startswith("cnnpipe: error: model 'lenet' cannot take (1, 100000, 100000) inputs"), line


def test_runs_show_and_compare_a_config_whose_arch_is_not_a_table(tmp_path, tmp_path_factory):
    folder = copy_run(lenet_run("mxnet", tmp_path_factory), tmp_path)
    saved = json.loads((folder / "config.json").read_text())
    saved["config"]["arch"] = ["relu"]
    (folder / "config.json").write_text(json.dumps(saved))
    other = copy_run(lenet_run("torch", tmp_path_factory), tmp_path)
    for args in (["runs", "show", str(folder)], ["runs", "compare", str(folder), str(other)],
                 ["runs", "list", "--out", str(tmp_path)]):
        result = cli(*args)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (args, result.stderr)
    assert "'arch' is not a table" in cli("runs", "show", str(folder)).stdout + cli("runs", "show", str(folder)).stderr


def test_a_run_whose_recorded_backend_did_not_make_it_is_one_line_with_the_reason(tmp_path, tmp_path_factory):
    folder = copy_run(lenet_run("torch", tmp_path_factory), tmp_path)
    saved = json.loads((folder / "config.json").read_text())
    saved["config"]["backend"] = "mxnet"
    (folder / "config.json").write_text(json.dumps(saved))
    line = one_line(cli("evaluate", str(folder)), 2)
    assert "cannot load" in line and "(mxnet): MXNetError: " in line, line


@pytest.mark.skipif(os.getuid() == 0, reason="root writes into read-only folders")
def test_export_into_a_read_only_folder_names_it(tmp_path, tmp_path_factory):
    _export_read_only(tmp_path, tmp_path_factory)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to mount")
def test_export_into_a_read_only_mount_names_it(tmp_path, tmp_path_factory):
    _export_read_only(tmp_path, tmp_path_factory, mount=True)


def _export_read_only(tmp_path, tmp_path_factory, mount=False):
    import subprocess

    folder = copy_run(lenet_run("mxnet", tmp_path_factory), tmp_path)
    target = tmp_path / "ro"
    target.mkdir()
    if mount:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(target)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    else:
        target.chmod(0o555)
    try:
        line = one_line(cli("export", str(folder), "--format", "mxnet", "--out", str(target)), 2)
        assert f"cannot write into {target}: Read-only file system" in line or \
            f"cannot write into {target}: Permission denied" in line, line
    finally:
        if mount:
            subprocess.run(["umount", str(target)])
        target.chmod(0o755)


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_onnx_export_without_onnx_says_how_to_install_it(backend, tmp_path, tmp_path_factory):
    import subprocess
    import sys

    folder = copy_run(lenet_run(backend, tmp_path_factory), tmp_path)
    # As if onnx were not installed: its import fails, as it would.
    code = ("import sys; sys.modules['onnx'] = None; from cnnpipe.cli import main; "
            f"main(['export', {str(folder)!r}, '--format', 'onnx'])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    line = one_line(result, 2)
    assert "needs the onnx package" in line and "pip install" in line, line
    assert not (folder / "export").exists() or not list((folder / "export").iterdir())
