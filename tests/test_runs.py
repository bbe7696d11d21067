"""``cnnpipe runs list|show|compare`` over real run folders, cnnpipe 0.1's, damaged ones and one in progress."""

import json
import shutil

import pytest

from conftest import cli
from trained import copy_run, lenet_run, summary

pytestmark = pytest.mark.real_data


def as_written_by_0_1(folder):
    """Turn a run folder of today's MXNet backend into what cnnpipe 0.1 wrote: a ``trainer`` and no ``backend``
    in config.json, ``trainer.states`` in checkpoints, no backend in summary.json, no lock file."""
    saved = json.loads((folder / "config.json").read_text())
    config = saved["config"]
    assert config.pop("backend") == "mxnet"
    config["trainer"] = "mxnet"
    saved["versions"] = {k: v for k, v in saved["versions"].items() if k not in ("mxnet", "cnnpipe-mxnet", "cnnpipe-torch")}
    saved["versions"]["cnnpipe"] = "0.1.0"
    (folder / "config.json").write_text(json.dumps(saved, indent=2))
    for checkpoint in (folder / "checkpoints").iterdir():
        (checkpoint / "optimizer.states").rename(checkpoint / "trainer.states")
    done = summary(folder)
    del done["backend"]
    (folder / "summary.json").write_text(json.dumps(done))
    (folder / ".lock").unlink(missing_ok=True)
    return folder


@pytest.fixture
def runs_folder(tmp_path, tmp_path_factory):
    """A folder of run folders in every state ``runs list`` must cope with."""
    out = tmp_path / "runs"
    out.mkdir()
    mxnet, torch = lenet_run("mxnet", tmp_path_factory), lenet_run("torch", tmp_path_factory)
    copy_run(mxnet, out)
    copy_run(torch, out)
    old = out / "old-0.1"
    shutil.copytree(mxnet, old)
    as_written_by_0_1(old)
    stopped = out / "stopped"
    shutil.copytree(torch, stopped)
    (stopped / "summary.json").unlink()
    (stopped / "model.params").unlink()
    (out / "bad-config").mkdir()
    (out / "bad-config" / "config.json").write_text("{ not json")
    (out / "only-metrics").mkdir()
    (out / "only-metrics" / "metrics.jsonl").write_text('{"epoch": 1, "test_acc": 0.5}\n')
    garbled = out / "garbled-summary"
    shutil.copytree(mxnet, garbled)
    (garbled / "summary.json").write_bytes(b"\x00\xff")
    (out / "sweep-lenet" / "nested").mkdir(parents=True)
    shutil.copytree(torch, out / "sweep-lenet" / "nested" / "run")
    (out / "not-a-run").mkdir()
    (out / "a-file.txt").write_text("hello")
    return out


def rows(stdout):
    return {line.split()[0]: line for line in stdout.splitlines()[1:]}


def test_list_shows_every_folder_with_its_status(runs_folder):
    from cnnpipe.rundir import RunDir

    running = runs_folder / "running"
    shutil.copytree(next(runs_folder.glob("lenet-*")), running)
    (running / "summary.json").unlink()
    holder = RunDir(running)
    holder.lock()
    try:
        result = cli("runs", "list", "--out", str(runs_folder))
    finally:
        holder.unlock()
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert result.stdout.split()[:10] == ["FOLDER", "MODEL", "BACKEND", "DATASET", "EPOCHS", "BEST", "LAST",
                                          "STATUS", "STARTED", "DURATION"]
    assert len(table) == 9, result.stdout
    mxnet_row = next(line for name, line in table.items() if name.startswith("lenet") and " mxnet " in line)
    assert "2/2" in mxnet_row and "succeeded" in mxnet_row and "fashion-mnist" in mxnet_row
    assert " mxnet " in table["old-0.1"] and "succeeded" in table["old-0.1"]
    assert "stopped" in table["stopped"] and "2/2" in table["stopped"]
    assert "running" in table["running"]
    assert "damaged (config.json unreadable" in table["bad-config"]
    assert "damaged (config.json missing)" in table["only-metrics"] and "0.5000" in table["only-metrics"]
    assert "summary.json unreadable" in table["garbled-summary"]
    assert "succeeded" in table["sweep-lenet/nested/run"]
    assert "not-a-run" not in result.stdout and "a-file" not in result.stdout


def test_list_as_json(runs_folder):
    result = cli("runs", "list", "--out", str(runs_folder), "--json")
    assert result.returncode == 0, result.stderr
    found = {r["path"].split("/runs/", 1)[1]: r for r in json.loads(result.stdout)}
    assert found["old-0.1"]["cnnpipe"] == "0.1.0" and found["old-0.1"]["backend"] == "mxnet"
    assert found["old-0.1"]["last_test_acc"] == summary(runs_folder / "old-0.1")["test_acc"]
    assert found["bad-config"]["status"] == "damaged"


def test_show_a_run_of_cnnpipe_0_1(runs_folder):
    result = cli("runs", "show", str(runs_folder / "old-0.1"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "status       succeeded" in out and "cnnpipe      0.1.0" in out
    assert "backend            mxnet" in out and "arch.activation    relu" in out
    assert "checkpoints: 1, 2" in out
    assert out.count("\n") > 20


def test_show_a_damaged_run_says_what_is_wrong(runs_folder):
    result = cli("runs", "show", str(runs_folder / "bad-config"))
    assert result.returncode == 0, result.stderr
    assert "status       damaged; config.json unreadable" in result.stdout


def test_compare_shows_what_differs_and_plots_the_curves(runs_folder, tmp_path):
    mxnet, torch = sorted(runs_folder.glob("lenet-*"))
    plot = tmp_path / "compare.png"
    result = cli("runs", "compare", str(mxnet), str(torch), str(runs_folder / "old-0.1"), "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    header, *lines = result.stdout.splitlines()[:4]
    assert header.split()[:2] == ["RUN", "backend"] and "BEST" in header and "LAST" in header
    assert [line.split()[1] for line in lines] == ["mxnet", "torch", "mxnet"]
    assert "lr" not in header.split()  # the same in every run
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_arguments_are_one_line(runs_folder, tmp_path):
    cases = [
        (["runs", "list", "--out", str(tmp_path / "nowhere")], "does not exist"),
        (["runs", "list", "--out", str(runs_folder / "a-file.txt")], "is not a folder"),
        (["runs", "show", str(runs_folder / "not-a-run")], "is not a cnnpipe run folder"),
        (["runs", "compare", str(runs_folder / "old-0.1")], "give at least two run folders"),
        (["runs", "compare", str(runs_folder / "old-0.1"), str(tmp_path / "nowhere")], "does not exist"),
        (["runs", "compare", str(runs_folder / "old-0.1"), str(runs_folder / "stopped"), "--plot",
          str(runs_folder / "a-file.txt" / "x.png")], "cannot write"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr and result.stderr.count("\n") == 1, (args, result.stderr)


def test_no_runs_folder_yet(tmp_path):
    result = cli("runs", "list", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("no run folders under ./runs")
    assert cli("runs", "list", "--json", cwd=tmp_path).stdout.strip() == "[]"
