"""``rundir.py`` owns the run folder: the one reader of ``config.json``, the files' names written once."""

import ast
import json
from pathlib import Path

import pytest

from cnnpipe import rundir, runs
from cnnpipe.config import RunConfig
from cnnpipe.errors import UsageError
from cnnpipe.rundir import RunDir, Unreadable

CORE = Path(rundir.__file__).parent
NAMES = {getattr(rundir, n) for n in ("CONFIG", "METRICS", "PARAMS", "OPTIMIZER", "STATE", "SUMMARY", "LOG",
                                       "CHECKPOINTS", "CONTAINER")}


def folder(tmp_path, record) -> RunDir:
    (tmp_path / rundir.CONFIG).write_text(record if isinstance(record, str) else json.dumps(record))
    return RunDir(tmp_path)


def test_no_core_module_but_rundir_spells_a_run_folder_file():
    """File names are constants of rundir.py; anyone else naming one as a literal would go stale unseen."""
    found = []
    for path in sorted(CORE.rglob("*.py")):
        if path.name == "rundir.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    any(node.value == n or node.value.endswith("/" + n) for n in NAMES):
                found.append(f"{path.relative_to(CORE)}:{node.lineno} {node.value!r}")
    assert found == []


def test_no_core_module_but_rundir_parses_the_saved_config():
    readers = [p.relative_to(CORE) for p in CORE.rglob("*.py") if "RunConfig.from_saved" in p.read_text()
               and p.name != "rundir.py"]
    assert readers == []


def test_saved_config_reads_and_checks_every_value(tmp_path):
    config = RunConfig(model="lenet", dataset="fashion-mnist", lr=0.9, batch_size=256, epochs=2)
    assert folder(tmp_path, {"config": config.to_dict()}).saved_config() == config


@pytest.mark.parametrize("record, short", [
    ("{ not json", "config.json unreadable (JSONDecodeError)"),
    ([1, 2], "config.json holds no 'config' table"),
    ({"config": {"model": "lenet"}}, "config.json incomplete ("),
    ({"config": {"model": 3, "dataset": "fashion-mnist", "lr": 0.1, "batch_size": 2, "epochs": 1}},
     "config.json incomplete (its model is 3)"),
    ({"config": {"model": "lenet", "dataset": "fashion-mnist", "lr": "fast", "batch_size": 2, "epochs": 1}},
     "config.json incomplete (lr must be"),
])
def test_a_damaged_config_is_one_error_with_a_short_reason(tmp_path, record, short):
    with pytest.raises(Unreadable) as caught:
        folder(tmp_path, record).saved_config()
    assert isinstance(caught.value, UsageError) and str(tmp_path / rundir.CONFIG) in str(caught.value)
    assert caught.value.short.startswith(short)


def test_a_missing_config_says_so(tmp_path):
    with pytest.raises(Unreadable) as caught:
        RunDir(tmp_path).read_config()
    assert caught.value.short == "config.json missing"


def test_runs_lists_a_config_with_a_bad_value_as_incomplete(tmp_path):
    """The listing now goes through the same checks as --resume and evaluate."""
    saved = {"model": "lenet", "dataset": "fashion-mnist", "lr": "fast", "batch_size": 2, "epochs": 1}
    folder(tmp_path, {"config": saved, "versions": {"cnnpipe": "0.3"}})
    record = runs.read(tmp_path)
    assert any(p.startswith("config.json incomplete (lr must be") for p in record.problems), record.problems
    assert record.config["lr"] == "fast" and record.version == "0.3"


def test_succeeded_reads_the_summary(tmp_path):
    run_dir = RunDir(tmp_path)
    assert not run_dir.succeeded()
    run_dir.write_summary({"status": "succeeded"})
    assert run_dir.succeeded()
    (tmp_path / rundir.SUMMARY).write_text("[]")
    assert not run_dir.succeeded()
