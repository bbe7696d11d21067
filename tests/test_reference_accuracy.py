"""The reference-accuracy benchmark script: model choice, reductions, what each row records."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "reference_accuracy.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("reference_accuracy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_unknown_model_is_one_line_and_writes_nothing(bench, tmp_path, capsys):
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    code = bench.main(["--models", "lenet,no-such-net", "--markdown", str(md), "--json", str(js)])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown model 'no-such-net'" in err
    assert not md.exists() and not js.exists()


def test_resize_cap_rises_to_what_the_network_accepts(bench, cnnpipe_registry):
    pytest.importorskip("cnnpipe_densenet")
    # 28x28 shrinks to nothing after DenseNet's third transition; 32 is the first size that fits.
    assert bench.smallest_size(cnnpipe_registry, cnnpipe_registry.model("densenet"), 28, 96, 1) == 32


@pytest.mark.real_data
def test_reduced_run_records_what_it_ran(bench, tmp_path):
    pytest.importorskip("cnnpipe_batchnorm")
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    code = bench.main(["--models", "lenet-bn", "--epochs", "1", "--limit", "256", "--device", "cpu",
                       "--out", str(tmp_path / "runs"), "--markdown", str(md), "--json", str(js)])
    assert code == 0
    report = json.loads(js.read_text())
    (row,) = report["rows"]
    assert row["book_test_acc"] == 0.881
    assert row["ran"]["epochs"] == 1 and row["recipe"]["epochs"] == 5
    assert (row["ran"]["train_examples"], row["ran"]["test_examples"], row["ran"]["lr"]) == (256, 256, 1.0)
    assert 0 <= row["test_acc"] <= 1 and row["images_per_sec"] > 0
    assert Path(row["run_dir"], "metrics.jsonl").exists()
    assert report["machine"]["mxnet"] == "1.9.1"
    assert "| lenet-bn | mxnet | " in md.read_text() and "--limit 256" in md.read_text()
