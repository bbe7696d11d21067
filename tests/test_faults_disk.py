"""A full disk, for real: run folders on a small tmpfs (issue 10, items 5 and 1).  Needs root to mount."""

import json

from conftest import cli
from fault_plugins import (assert_ends_with_one_error, fill_disk, install_fault_reporter, read_metrics, resize_disk, run_folder,
                           small_disk)  # noqa: F401  (small_disk is a fixture)

TRAIN = ["--lr", "0.9", "--batch-size", "100", "--reporter", "console"]


def test_full_disk_while_mxnet_writes_a_checkpoint_is_one_line_and_resumable(tiny_dataset, small_disk):
    disk = small_disk("420k")  # config, metrics and two checkpoints of LeNet (175 KiB each) fit; a third does not
    result = cli("run", "lenet", tiny_dataset, *TRAIN, "--epochs", "4", "--out", str(disk))
    folder = run_folder(disk)
    line = assert_ends_with_one_error(result, 1, "no space left on device while writing ")
    assert line.endswith("/model.params") and "/checkpoints/epoch-" in line
    assert not list(folder.rglob("*.tmp"))
    complete = sorted(p.parent.name for p in folder.glob("checkpoints/*/state.json"))
    assert complete and len(read_metrics(folder)) == len(complete)
    resize_disk(disk, "4m")
    resumed = cli("run", "--resume", str(folder))
    assert resumed.returncode == 0, resumed.stderr
    assert [m["epoch"] for m in read_metrics(folder)] == [1, 2, 3, 4]
    assert json.loads((folder / "summary.json").read_text())["status"] == "succeeded"


def test_full_disk_before_the_final_parameters_then_resume_finishes(install_plugin, tiny_dataset, small_disk, tmp_path):
    install_fault_reporter(install_plugin)
    disk = small_disk("2m")
    filler = disk / "filler"
    result = cli("run", "lenet", tiny_dataset, *TRAIN, "--epochs", "2", "--reporter", "fault", "--out", str(disk / "runs"),
                 env={"FAULT_EPOCH": "2", "FAULT_ACTION": "fill", "FAULT_FILL": str(filler)})
    folder = run_folder(disk / "runs")
    assert_ends_with_one_error(result, 1, f"no space left on device while writing {folder / 'model.params'}")
    assert not (folder / "model.params").exists() and not list(folder.rglob("*.tmp"))
    filler.unlink()
    resumed = cli("run", "--resume", str(folder), env={"FAULT_EPOCH": ""})
    assert resumed.returncode == 0, resumed.stderr
    assert (folder / "model.params").read_bytes() == (folder / "checkpoints" / "epoch-002" / "model.params").read_bytes()
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "succeeded" and summary["epochs"] == 2


def test_full_disk_when_the_run_folder_is_created_leaves_no_folder(tiny_dataset, small_disk):
    disk = small_disk("64k")
    fill_disk(disk / "filler")
    result = cli("run", "lenet", tiny_dataset, *TRAIN, "--epochs", "1", "--out", str(disk / "runs"))
    assert_ends_with_one_error(result, 1, "no space left on device while writing ", "config.json")
    assert list((disk / "runs").iterdir()) == []


def test_a_file_mxnet_cut_short_silently_on_a_full_disk_is_not_kept(small_disk):
    # MXNet's writer ignores the error of its last flush: with one page free, a 5 KB file ends at 4 KiB
    # and save_parameters returns as if all was well.
    import os

    import pytest

    mx = pytest.importorskip("mxnet")
    from mxnet.gluon import nn

    from cnnpipe.files import DiskFull, atomic_path

    disk = small_disk("64k")
    fill_disk(disk / "filler")
    os.truncate(disk / "filler", (disk / "filler").stat().st_size - 4096)
    net = nn.Dense(300)
    net.initialize()
    net(mx.nd.zeros((1, 3)))
    with pytest.raises(DiskFull, match=f"no space left on device while writing {disk / 'model.params'}"):
        with atomic_path(disk / "model.params", durable=True) as tmp:
            net.save_parameters(str(tmp))
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_a_torch_write_on_a_full_disk_says_so(tiny_dataset, small_disk):
    # PyTorch's own message for a full disk is "unexpected pos 576 vs 534".
    disk = small_disk("300k")
    result = cli("run", "lenet", tiny_dataset, *TRAIN, "--backend", "torch", "--epochs", "4", "--out", str(disk))
    line = assert_ends_with_one_error(result, 1, "no space left on device while writing ")
    assert "/checkpoints/epoch-" in line
    assert not list(run_folder(disk).rglob("*.tmp"))
