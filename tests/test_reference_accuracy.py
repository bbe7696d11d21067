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
    # 28x28 shrinks to nothing after DenseNet's third transition; 32 is the first size that fits.
    assert bench.smallest_size(cnnpipe_registry, cnnpipe_registry.model("densenet"), 28, 96, 1) == 32


def row(model, epochs, **ran):
    return {"model": model, "ran": {"epochs": epochs, "backend": "mxnet", "device": "cpu", **ran}}


def test_a_new_run_replaces_only_the_rows_it_measures_again(bench):
    old = {"command": "a", "rows": [row("lenet", 2), row("lenet-bn", 2)]}
    older = {"command": "b", "rows": [row("vgg", 2, limit=2000)]}
    new = {"command": "c", "rows": [row("lenet", 2, device="gpu"), row("vgg", 2, limit=10000)]}
    merged = bench.merge([older, old], new)
    assert [r["command"] for r in merged] == ["b", "a", "c"]
    assert [r["model"] for r in merged[1]["rows"]] == ["lenet-bn"]  # lenet measured again, on another device
    assert merged[1]["replaced"] == ["lenet"] and "replaced" not in merged[0]
    assert merged[0]["rows"] == older["rows"]  # another limit is another measurement
    assert bench.merge(merged, {"command": "d", "rows": [row("lenet-bn", 2)]})[1]["command"] == "c"  # a run left empty goes


def test_records_written_before_runs_were_merged_are_read(bench, tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps([{"command": "a", "rows": [{"model": "lenet", "ran": {"epochs": 2, "trainer": "mxnet"}}]}]))
    [run] = bench.read_runs(path)
    assert bench.row_key(run["rows"][0]) == bench.row_key(row("lenet", 2))
    assert bench.read_runs(tmp_path / "none.json") == []


@pytest.mark.real_data
def test_reduced_run_records_what_it_ran_and_merges_into_the_record(bench, tmp_path):
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    args = ["--models", "lenet-bn", "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "runs"),
            "--markdown", str(md), "--json", str(js)]
    assert bench.main([*args, "--limit", "256", "--note", "first"]) == 0
    report = json.loads(js.read_text())["runs"][0]
    (row,) = report["rows"]
    assert row["book_test_acc"] == 0.881 and report["note"] == "first"
    assert row["ran"]["epochs"] == 1 and row["recipe"]["epochs"] == 5
    assert (row["ran"]["train_examples"], row["ran"]["test_examples"], row["ran"]["lr"]) == (256, 256, 1.0)
    assert 0 <= row["test_acc"] <= 1 and row["images_per_sec"] > 0
    assert [m["epoch"] for m in row["history"]] == [1] and row["history"][0]["test_acc"] == row["test_acc"]
    assert Path(row["run_dir"], "metrics.jsonl").exists()
    assert report["machine"]["mxnet"] == "1.9.1" and "cpu_flags" in report["machine"]
    assert bench.main([*args, "--limit", "128", "--note", "second"]) == 0
    assert bench.main([*args, "--limit", "256", "--note", "third"]) == 0
    runs = json.loads(js.read_text())["runs"]
    assert [(r["note"], r["rows"][0]["ran"]["limit"]) for r in runs] == [("second", 128), ("third", 256)]
    page = md.read_text()
    assert page == bench.markdown(runs)
    assert "## Run 1: second" in page and "## Run 2: third" in page and page.count("| lenet-bn | mxnet | 0 |") == 2


def test_the_page_can_be_rewritten_from_the_record_alone(bench, tmp_path):
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    js.write_text((Path(bench.__file__).parent / "REFERENCE.json").read_text())
    assert bench.main(["--render", "--markdown", str(md), "--json", str(js)]) == 0
    assert md.read_text() == (Path(bench.__file__).parent / "REFERENCE.md").read_text()


def test_several_seeds_give_a_row_each_and_a_bad_seed_is_one_line(bench, tmp_path, capsys):
    md, js = tmp_path / "r.md", tmp_path / "r.json"
    assert bench.main(["--models", "lenet", "--seed", "0,x", "--markdown", str(md), "--json", str(js)]) == 2
    assert "--seed takes whole numbers" in capsys.readouterr().err and not js.exists()


def test_a_record_of_one_report_alone_is_read_as_one_run(bench, tmp_path):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"command": "c", "rows": [], "machine": {}, "plugins": {}, "started": "s", "finished": "f"}))
    assert [r["command"] for r in bench.read_runs(old)] == ["c"]
