"""A run records where its data came from and the files' hashes; a resume finds the data on this host (a container's
``/data`` included) and ``--data-dir`` may point elsewhere, checked by those hashes (issue 24, item 1)."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from conftest import cli

pytestmark = pytest.mark.real_data
FILES = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
         "train-labels-idx1-ubyte.gz"]
QUICK = ["--limit", "300", "--batch-size", "100", "--set", "arch.activation=relu", "--lr", "0.5"]


def saved(folder):
    return json.loads((folder / "config.json").read_text())


def test_a_run_records_its_data_and_resumes_from_it_where_the_saved_folder_is_a_containers(tmp_path):
    result = cli("run", "lenet", "fashion-mnist", *QUICK, "--epochs", "1", "--out", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    [folder] = (tmp_path / "runs").iterdir()
    source = saved(folder)["data_source"]
    assert sorted(source["files"]) == FILES
    for name, digest in source["files"].items():
        assert hashlib.sha256((Path(source["folder"]) / name).read_bytes()).hexdigest() == digest

    # As a container's run folder records it: /data, which this host lacks.
    record = saved(folder)
    record["config"]["data_dir"] = "/data"
    (folder / "config.json").write_text(json.dumps(record))
    tampered, good = tmp_path / "tampered", tmp_path / "good"
    shutil.copytree(source["folder"], good)
    shutil.copytree(source["folder"], tampered)
    labels = tampered / "t10k-labels-idx1-ubyte.gz"
    changed = bytearray(labels.read_bytes())
    changed[100] ^= 0xFF
    labels.write_bytes(bytes(changed))

    result = cli("run", "--resume", str(folder), "--epochs", "2", "--data-dir", str(tampered))
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"cnnpipe: error: {labels} is not the file this run trained on: its sha256 differs from "
                             f"that of {source['folder']}/t10k-labels-idx1-ubyte.gz when the run started\n")
    result = cli("run", "--resume", str(folder), "--epochs", "2", "--data-dir", str(tmp_path / "nothing"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr

    result = cli("run", "--resume", str(folder), "--epochs", "2")  # the recorded host folder
    assert result.returncode == 0, result.stderr
    assert saved(folder)["config"]["data_dir"] == source["folder"]
    result = cli("run", "--resume", str(folder), "--epochs", "3", "--data-dir", str(good))  # the same data elsewhere
    assert result.returncode == 0, result.stderr
    assert json.loads((folder / "summary.json").read_text())["epochs"] == 3
    assert saved(folder)["data_source"] == source  # where the data came from first, and what it was
