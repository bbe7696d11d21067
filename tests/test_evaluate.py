"""``cnnpipe evaluate`` on real runs of LeNet (both backends): it reproduces the recorded test accuracy."""

import json

import pytest

from conftest import cli
from trained import BACKENDS, copy_run, lenet_run, metrics, summary

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module", params=BACKENDS)
def trained(request, tmp_path_factory):
    return lenet_run(request.param, tmp_path_factory)


def test_reproduces_the_recorded_test_accuracy_exactly(trained, tmp_path):
    folder = copy_run(trained, tmp_path)
    result = cli("evaluate", str(folder))
    assert result.returncode == 0, result.stderr
    recorded = summary(folder)["test_acc"]
    saved = json.loads((folder / "evaluation.json").read_text())
    assert saved["accuracy"] == recorded  # exactly: the same session code path as training
    assert f"accuracy {recorded:.4f} (recorded during training: {recorded:.4f})" in result.stdout
    confusion = saved["confusion"]
    assert saved["examples"] == 2000 and sum(map(sum, confusion)) == 2000
    assert sum(confusion[i][i] for i in range(10)) / 2000 == recorded
    assert saved["classes"][0] == "t-shirt" and set(saved["per_class"]) == set(saved["classes"])
    for i, name in enumerate(saved["classes"]):
        assert saved["per_class"][name] == pytest.approx(confusion[i][i] / sum(confusion[i]))
    assert 0 < saved["loss"] < 2.3  # below chance's log(10)
    assert (folder / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ankle boot" in result.stdout


def test_a_checkpoint_reproduces_its_epoch(trained, tmp_path):
    folder = copy_run(trained, tmp_path)
    result = cli("evaluate", str(folder), "--checkpoint", "1", "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["accuracy"] == metrics(folder)[0]["test_acc"] == printed["recorded_test_acc"]
    assert printed["checkpoint"] == 1
    assert json.loads((folder / "evaluation-epoch-001.json").read_text()) == printed
    assert (folder / "confusion-epoch-001.png").is_file()


def test_the_train_split(trained, tmp_path):
    folder = copy_run(trained, tmp_path)
    result = cli("evaluate", str(folder), "--split", "train", "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["split"] == "train" and printed["examples"] == 2000 and printed["recorded_test_acc"] is None
    assert 0.4 < printed["accuracy"] <= 1
    assert (folder / "evaluation-train.json").is_file() and (folder / "confusion-train.png").is_file()


def test_a_run_of_cnnpipe_0_1(tmp_path, tmp_path_factory):
    from test_runs import as_written_by_0_1

    folder = as_written_by_0_1(copy_run(lenet_run("mxnet", tmp_path_factory), tmp_path))
    result = cli("evaluate", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accuracy"] == summary(folder)["test_acc"]


def test_bad_requests_are_one_line_and_write_nothing(trained, tmp_path):
    folder = copy_run(trained, tmp_path)
    (tmp_path / "empty").mkdir()
    cases = [
        ([str(tmp_path / "empty")], "is not a cnnpipe run folder (no config.json)"),
        ([str(tmp_path / "missing")], "is not a cnnpipe run folder"),
        ([str(folder), "--checkpoint", "7"], "has no complete checkpoint 7; it has: 1, 2"),
        ([str(folder), "--dataset", "fashion"], "unknown dataset 'fashion' (did you mean 'fashion-mnist'?)"),
        ([str(folder), "--split", "valid"], "Invalid value for '--split'"),
        ([str(folder), "--device", "tpu"], "device must be auto, cpu, gpu or gpu:N"),
    ]
    for args, message in cases:
        result = cli("evaluate", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not list(folder.glob("evaluation*")) and not list(folder.glob("confusion*"))


def test_damaged_parameters_and_configuration(trained, tmp_path):
    folder = copy_run(trained, tmp_path)
    (folder / "model.params").write_bytes(b"not parameters")
    result = cli("evaluate", str(folder))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"cannot load {folder / 'model.params'} into lenet" in result.stderr
    (folder / "config.json").write_text("{")
    result = cli("evaluate", str(folder))
    assert result.returncode == 2 and "cannot read" in result.stderr and "config.json" in result.stderr
    assert result.stderr.count("\n") == 1


def test_an_interrupted_run_uses_its_last_checkpoint(trained, tmp_path):
    folder = copy_run(trained, tmp_path)
    (folder / "model.params").unlink()
    result = cli("evaluate", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["checkpoint"] == 2 and printed["accuracy"] == metrics(folder)[1]["test_acc"]


def test_another_dataset_of_the_same_shape(trained, tmp_path, tiny_dataset):
    folder = copy_run(trained, tmp_path)
    result = cli("evaluate", str(folder), "--dataset", tiny_dataset, "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["dataset"] == "tiny" and printed["examples"] == 200 and printed["recorded_test_acc"] is None
    assert (folder / "evaluation-tiny.json").is_file()
