"""Plugins that misbehave: at import, with their data, as observers; datasets made in code (issue 10, items 2, 6, 7, 11)."""

import json

import pytest

from conftest import cli
from fault_plugins import assert_ends_with_one_error, assert_one_line, read_metrics, run_folder

TINY_RUN = ["--lr", "0.9", "--batch-size", "100", "--epochs", "2"]


@pytest.fixture
def work(tmp_path):
    """An empty folder to run in (``tmp_path`` holds the installed test plugins)."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder

# --- 2: a plugin that ends the process ---------------------------------------------------------

EXITS = {
    "sys.exit() at import": "import sys\nsys.exit()\n",
    "SystemExit(3) at import": "raise SystemExit(3)\n",
    "a BaseException at import": "class Quit(BaseException):\n    pass\nraise Quit('stop')\n",
    "sys.exit() when registering": (
        "import sys\nfrom cnnpipe.hookspecs import hookimpl\n\n"
        "@hookimpl\ndef cnnpipe_register_models(register):\n    sys.exit('no models today')\n"),
}


@pytest.mark.parametrize("source", EXITS)
def test_a_plugin_that_exits_is_skipped_by_every_command(install_plugin, tiny_dataset, tmp_path, source):
    install_plugin("cnnpipe-quitter", {"quitter_plugin": EXITS[source]}, {"quitter": "quitter_plugin"})
    for args in (["list"], ["plugins"], ["run", "lenet", tiny_dataset, *TINY_RUN, "--out", str(tmp_path / "runs")]):
        result = cli(*args)
        assert result.returncode == 0, (args, result.stderr)
        warnings = [line for line in result.stderr.splitlines() if "quitter" in line]
        assert len(warnings) == 1 and "plugin 'quitter' from cnnpipe-quitter is broken" in warnings[0], result.stderr
    assert "lenet" in cli("list", "models").stdout
    rows = json.loads(cli("plugins", "--json").stdout)
    assert next(r for r in rows if r["name"] == "quitter")["status"] == "broken"
    assert json.loads((run_folder(tmp_path / "runs") / "summary.json").read_text())["status"] == "succeeded"


def test_ctrl_c_while_plugins_load_still_interrupts(install_plugin):
    install_plugin("cnnpipe-ctrlc", {"ctrlc_plugin": "raise KeyboardInterrupt\n"}, {"ctrlc": "ctrlc_plugin"})
    assert_one_line(cli("list"), 130, "cnnpipe: interrupted")


SPECS = {
    "a name that is a path": 'DatasetSpec("../up", load)',
    "load that is not a function": 'DatasetSpec("nothing", "load")',
    "defaults that are not a Recipe": 'DatasetSpec("nothing", load, defaults={"lr": 0.1})',
}


@pytest.mark.parametrize("spec", SPECS)
def test_a_spec_no_run_could_use_breaks_only_its_plugin(install_plugin, spec):
    source = ("from cnnpipe.hookspecs import hookimpl\nfrom cnnpipe.specs import DatasetSpec\n\n"
              "def load(data_dir=None):\n    pass\n\n"
              f"@hookimpl\ndef cnnpipe_register_datasets(register):\n    register({SPECS[spec]})\n")
    install_plugin("cnnpipe-odd", {"odd_plugin": source}, {"odd": "odd_plugin"})
    result = cli("list", "datasets")
    assert result.returncode == 0 and "fashion-mnist" in result.stdout
    assert "plugin 'odd' from cnnpipe-odd is broken" in result.stderr


# --- 6: bad data from a dataset plugin ----------------------------------------------------------

BAD_DATA = '''
import os

import numpy as np

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import Data, DatasetSpec


def make(n, seed, shape=(1, 28, 28)):
    rng = np.random.default_rng(seed)
    return (rng.random((n,) + shape) * 255).astype(np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def load(data_dir=None):
    case = os.environ.get("BAD_DATA", "")
    X, y = make(200, 0)
    tX, ty = make(50, 1)
    names = [str(k) for k in range(10)]
    if case == "a label too big":
        y[7] = 10
    elif case == "a negative label":
        y = y.astype(np.int64)
        y[3] = -1
    elif case == "fewer labels than images":
        y = y[:-1]
    elif case == "fractional labels":
        y = y.astype(np.float32) + 0.5
    elif case == "labels of two columns":
        y = np.stack([y, y], axis=1)
    elif case == "None":
        return None
    elif case == "flat images":
        X = X.reshape(len(X), -1)
    elif case == "an empty training split":
        X, y = X[:0], y[:0]
    elif case == "an empty test split":
        tX, ty = tX[:0], ty[:0]
    elif case == "images as lists":
        X = X.tolist()
    elif case == "labels missing":
        y = None
    elif case == "NaN in float images":
        X = X.astype(np.float32)
        X[5, 0, 3, 3] = np.nan
    elif case == "int64 images":
        X = X.astype(np.int64)
    elif case == "test images of another size":
        tX = make(50, 1, (1, 32, 32))[0]
    elif case == "class names that are not strings":
        names = list(range(10))
    elif case == "load raises":
        raise RuntimeError("the disk is on fire")
    elif case == "load exits":
        raise SystemExit("bye")
    elif case == "float64 images":
        X, tX = X / 255.0, tX / 255.0
    return Data(X, y, tX, ty, names, name="bad")


def load_targets(data_dir=None):
    case = os.environ.get("BAD_DATA", "")
    X = np.ones((4, 1, 6, 8), dtype=np.float32)
    Y = X[..., :-1] - X[..., 1:]
    if case == "NaN targets":
        Y = Y.copy()
        Y[0, 0, 0, 0] = np.nan
    elif case == "text targets":
        Y = np.array(["a"] * 4)
    elif case == "fewer targets than images":
        Y = Y[:3]
    return Data(X, Y, X.copy(), Y.copy(), [], name="bad-edge")


@hookimpl
def cnnpipe_register_datasets(register):
    register(DatasetSpec("bad", load, summary="misbehaves on cue", input_shape=(1, 28, 28), num_classes=10))
    register(DatasetSpec("bad-edge", load_targets, summary="image targets that misbehave on cue"))
'''

CLASSIFICATION_CASES = {
    "a label too big": "has label 10 in train_y; with 10 class names labels run from 0 to 9",
    "a negative label": "has label -1 in train_y",
    "fewer labels than images": "has 200 train images but 199 train targets",
    "fractional labels": "has train_y of dtype float32 with values that are not whole numbers",
    "labels of two columns": "has train_y of shape (200, 2); class labels must be one integer per example",
    "None": "returned NoneType from load(), not cnnpipe.specs.Data",
    "flat images": "has train_X of shape (200, 784); images must be (N, C, H, W)",
    "an empty training split": "has an empty train split",
    "an empty test split": "has an empty test split",
    "images as lists": "has train_X of type list; expected a numpy array",
    "labels missing": "has train_y of type NoneType; expected a numpy array",
    "NaN in float images": "has train_X with NaN or infinite values",
    "int64 images": "has train_X of dtype int64; images must be uint8 (0-255) or float32",
    "test images of another size": "has train images of shape (1, 28, 28) but test images of shape (1, 32, 32)",
    "class names that are not strings": "has class_names [0, 1, 2",
    "load raises": "failed to load: RuntimeError: the disk is on fire",
    "load exits": "failed to load: SystemExit: bye",
}


@pytest.fixture
def bad_data(install_plugin):
    install_plugin("bad-data", {"bad_data": BAD_DATA}, {"bad": "bad_data"})


@pytest.mark.parametrize("case", CLASSIFICATION_CASES)
def test_bad_data_is_one_line_naming_the_dataset_and_nothing_is_written(bad_data, work, case):
    result = cli("run", "lenet", "bad", *TINY_RUN, env={"BAD_DATA": case}, cwd=work)
    assert_one_line(result, 1, "dataset 'bad' (bad-data) ", CLASSIFICATION_CASES[case])
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("case, fragment", [
    ("NaN targets", "has train_y with NaN or infinite values"),
    ("text targets", "has train_y of dtype <U1; regression targets must be numbers"),
    ("fewer targets than images", "has 4 train images but 3 train targets"),
])
def test_bad_regression_targets_are_one_line(bad_data, work, case, fragment):
    result = cli("run", "edge-kernel", "bad-edge", "--lr", "0.03", "--batch-size", "1", "--epochs", "1",
                 env={"BAD_DATA": case}, cwd=work)
    assert_one_line(result, 1, "dataset 'bad-edge' (bad-data) ", fragment)
    assert list(work.iterdir()) == []


def test_float64_images_are_converted_and_train(bad_data, tmp_path):
    result = cli("run", "lenet", "bad", *TINY_RUN, "--out", str(tmp_path), env={"BAD_DATA": "float64 images"})
    assert result.returncode == 0, result.stderr
    assert len(read_metrics(run_folder(tmp_path))) == 2


# --- 7: observers and reporters that raise --------------------------------------------------------

OBSERVER = '''
import sys
from cnnpipe.hookspecs import hookimpl


@hookimpl
def cnnpipe_on_epoch_end(run, metrics):
    {action}
'''


@pytest.mark.parametrize("action", ["raise RuntimeError('observer bug')", "sys.exit('observer quits')"])
def test_an_observer_the_user_did_not_choose_is_warned_about_once_and_detached(install_plugin, tiny_dataset, tmp_path,
                                                                               action):
    install_plugin("cnnpipe-spy", {"spy_plugin": OBSERVER.format(action=action)}, {"spy": "spy_plugin"})
    result = cli("run", "lenet", tiny_dataset, *TINY_RUN, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "spy" in line]
    assert len(warnings) == 1, result.stderr
    assert "plugin 'spy' (cnnpipe-spy) raised in cnnpipe_on_epoch_end and stops observing this run" in warnings[0]
    folder = run_folder(tmp_path)
    assert len(read_metrics(folder)) == 2
    assert json.loads((folder / "summary.json").read_text())["status"] == "succeeded"


REPORTER = '''
import os
import sys

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ReporterSpec


class Starter:
    def __init__(self, run):
        pass

    @hookimpl
    def cnnpipe_on_run_start(self, run):
        raise RuntimeError("cannot start")

    @hookimpl
    def cnnpipe_on_run_failed(self, run, error):
        with open(run.run_dir / "failed.txt", "w") as f:
            f.write(str(error))


class Unmarked:
    def __init__(self, run):
        pass

    def cnnpipe_on_epoch_end(self, run, metrics):
        pass


class Misspelt:
    def __init__(self, run):
        pass

    @hookimpl
    def cnnpipe_on_epoch_ended(self, run, metrics):
        pass


class PathUser:
    def __init__(self, run):
        pass

    @hookimpl
    def cnnpipe_on_run_end(self, run, summary):
        with open(os.path.join(run.run_dir, "notes.txt"), "w") as f:
            f.write(os.fspath(run.run_dir))


def broken_factory(run):
    raise ValueError("no token")


def exiting_factory(run):
    sys.exit("no token")


@hookimpl
def cnnpipe_register_reporters(register):
    register(ReporterSpec("starter", Starter))
    register(ReporterSpec("unmarked", Unmarked))
    register(ReporterSpec("misspelt", Misspelt))
    register(ReporterSpec("paths", PathUser))
    register(ReporterSpec("broken", broken_factory))
    register(ReporterSpec("exiting", exiting_factory))
'''


@pytest.fixture
def reporters(install_plugin):
    install_plugin("odd-reporters", {"odd_reporters": REPORTER}, {"odd": "odd_reporters"})


def test_a_chosen_reporter_failing_at_run_start_fails_the_run_through_the_failed_path(reporters, tiny_dataset, tmp_path):
    result = cli("run", "lenet", tiny_dataset, *TINY_RUN, "--reporter", "starter", "--out", str(tmp_path))
    assert_one_line(result, 1, "reporter 'starter' (odd-reporters) failed in cnnpipe_on_run_start: RuntimeError: cannot start")
    folder = run_folder(tmp_path)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "failed" and "cannot start" in summary["error"]
    assert "cannot start" in (folder / "failed.txt").read_text()


def test_a_reporter_method_without_hookimpl_is_warned_about(reporters, tiny_dataset, tmp_path):
    result = cli("run", "lenet", tiny_dataset, *TINY_RUN, "--reporter", "unmarked", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ("cnnpipe: warning: reporter 'unmarked' (odd-reporters) has a cnnpipe_on_epoch_end "
                                     "method without @hookimpl; cnnpipe never calls it")


@pytest.mark.parametrize("name, fragment", [
    ("misspelt", "reporter 'misspelt' (odd-reporters) cannot observe runs: PluginValidationError: unknown hook 'cnnpipe_on_epoch_ended'"),
    ("broken", "reporter 'broken' (odd-reporters) failed to start: ValueError: no token"),
    ("exiting", "reporter 'exiting' (odd-reporters) failed to start: SystemExit: no token"),
])
def test_a_reporter_that_cannot_start_leaves_no_run_folder(reporters, tiny_dataset, work, name, fragment):
    result = cli("run", "lenet", tiny_dataset, *TINY_RUN, "--reporter", name, cwd=work)
    assert_one_line(result, 1, fragment)
    assert list(work.iterdir()) == []


def test_the_run_folder_is_a_path_for_plugin_code(reporters, tiny_dataset, tmp_path):
    result = cli("run", "lenet", tiny_dataset, *TINY_RUN, "--reporter", "paths", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    folder = run_folder(tmp_path)
    assert (folder / "notes.txt").read_text() == str(folder)


def test_a_model_build_that_raises_names_the_model_and_the_backend(install_plugin, tiny_dataset, work):
    source = ("from cnnpipe.hookspecs import hookimpl\nfrom cnnpipe.specs import ModelSpec\n\n"
              "def build(num_classes=10):\n    raise RuntimeError('no GPU kernels')\n\n"
              "@hookimpl\ndef cnnpipe_register_models(register):\n    register(ModelSpec('fragile', {'mxnet': build}))\n")
    install_plugin("cnnpipe-fragile", {"fragile_plugin": source}, {"fragile": "fragile_plugin"})
    result = cli("run", "fragile", tiny_dataset, *TINY_RUN, cwd=work)
    assert_one_line(result, 1, "backend 'mxnet' (cnnpipe-mxnet) failed to check model 'fragile' (cnnpipe-fragile): "
                               "RuntimeError: no GPU kernels")
    assert list(work.iterdir()) == []


# --- 11: datasets made in code, with defaults ---------------------------------------------------

GENERATED = '''
import numpy as np

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import NO_FILES, Data, DatasetSpec, ModelSpec, Recipe


def load(data_dir=None):
    rng = np.random.default_rng(0)
    X = (rng.random((100, 1, 28, 28)) * 255).astype(np.uint8)
    y = rng.integers(0, 10, 100)
    return Data(X, y, X[:20].copy(), y[:20].copy(), [str(k) for k in range(10)], name="generated")


@hookimpl
def cnnpipe_register_datasets(register):
    register(DatasetSpec("generated", load, locate=lambda data_dir=None: NO_FILES, input_shape=(1, 28, 28),
                         num_classes=10, defaults=Recipe(lr=0.5, batch_size=50, epochs=1),
                         summary="random images made in code"))
    register(DatasetSpec("bad-defaults", load, defaults=Recipe(lr=float("nan"), batch_size=50)))


def build(num_classes=10):
    from mxnet.gluon import nn
    return nn.Dense(num_classes)


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec("bad-recipe", {"mxnet": build},
                       recipes={"generated": Recipe(lr=0.1, batch_size=0)}))
'''


@pytest.fixture
def generated(install_plugin):
    install_plugin("generated-data", {"generated_data": GENERATED}, {"generated": "generated_data"})


def test_a_dataset_made_in_code_runs_in_a_container_without_a_mount(generated):
    from cnnpipe.docker.attached import make_request
    from cnnpipe.docker.request import container_args
    from cnnpipe.pipeline import resolve
    from cnnpipe.registry import build_registry

    resolved = resolve(build_registry(), "lenet", "generated", options={"out": "/tmp/runs"})
    request = make_request(resolved, image="cnnpipe-job:test")
    assert request.data_dir is None
    assert "--data-dir" not in request.args
    assert request.args == container_args(resolved.config, data_mounted=False)


def test_dataset_defaults_are_used_and_said_to_be_used_when_the_model_has_no_recipe(generated, tmp_path):
    result = cli("run", "lenet", "generated", "--out", str(tmp_path / "a"))
    assert result.returncode == 0, result.stderr
    assert ("cnnpipe: model 'lenet' has no recipe for dataset 'generated'; using the dataset's defaults: "
            "sgd, lr 0.5, batch 50, 1 epochs, xavier init") in result.stderr.splitlines()
    saved = json.loads((run_folder(tmp_path / "a") / "config.json").read_text())["config"]
    assert (saved["lr"], saved["batch_size"], saved["epochs"]) == (0.5, 50, 1)
    result = cli("run", "lenet", "generated", "--epochs", "2", "--out", str(tmp_path / "b"))
    assert result.returncode == 0, result.stderr
    saved = json.loads((run_folder(tmp_path / "b") / "config.json").read_text())["config"]
    assert (saved["lr"], saved["epochs"]) == (0.5, 2)
    # Issue 24, item 7: the notice names only the defaults in effect, not those the options replaced.
    notice = [line for line in result.stderr.splitlines() if "has no recipe" in line]
    assert notice == ["cnnpipe: model 'lenet' has no recipe for dataset 'generated'; using the dataset's defaults "
                      "for lr 0.5, batch-size 50, optimizer sgd, init xavier"], result.stderr
    result = cli("run", "lenet", "generated", "--epochs", "1", "--lr", "0.1", "--batch-size", "10", "--optimizer", "sgd",
                 "--set", "init=xavier", "--out", str(tmp_path / "c"))
    assert result.returncode == 0 and "has no recipe" not in result.stderr, result.stderr
    assert "defaults for models without a recipe for it: sgd, lr 0.5, batch 50, 1 epochs" in cli("info", "generated").stdout


@pytest.mark.parametrize("args, fragment", [
    (["lenet", "bad-defaults"], "lr must be a positive number, got nan (in the defaults of dataset 'bad-defaults' (generated-data))"),
    (["bad-recipe", "generated"], "batch-size must be a whole number of at least 1, got 0 "
                                  "(in the recipe of model 'bad-recipe' for 'generated' (generated-data))"),
])
def test_bad_defaults_or_recipes_name_their_plugin(generated, work, args, fragment):
    assert_one_line(cli("run", *args, cwd=work), 1, fragment)
    assert list(work.iterdir()) == []


def test_a_plugin_that_prints_does_not_spoil_the_output(install_plugin):
    source = ('print("hello from the plugin")\nfrom cnnpipe.hookspecs import hookimpl\n\n'
              '@hookimpl\ndef cnnpipe_register_models(register):\n    print("registering")\n')
    install_plugin("cnnpipe-chatty", {"chatty_plugin": source}, {"chatty": "chatty_plugin"})
    result = cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    assert next(r for r in json.loads(result.stdout) if r["name"] == "chatty")["status"] == "ok"
    assert "hello from the plugin" in result.stderr and "registering" in result.stderr


# --- issue 24, item 10: a plugin written for an older plugin API ------------------------------------

OLD_PLUGINS = {
    # 0.1 registered trainers, not backends.
    "trainer": ("from cnnpipe.hookspecs import hookimpl\n\n"
                "@hookimpl\ndef cnnpipe_register_trainers(register):\n    pass\n",
                "cnnpipe_register_trainers"),
    # 0.1's ModelSpec took one build function, and Recipe num_epochs.
    "model": ("from cnnpipe.hookspecs import hookimpl\nfrom cnnpipe.specs import ModelSpec\n\n"
              "@hookimpl\ndef cnnpipe_register_models(register):\n"
              "    register(ModelSpec('old', build=lambda **kw: None))\n",
              "ModelSpec(builds="),
    "recipe": ("from cnnpipe.specs import Recipe\nRECIPE = Recipe(lr=1, batch_size=1, num_epochs=1)\n", "Recipe(epochs="),
    "trainer spec": ("from cnnpipe.specs import TrainerSpec\n", "TrainerSpec"),
    # Declared, and the declaration is what the message goes by.
    "declared": ("CNNPIPE_PLUGIN_API = '0.1'\nfrom cnnpipe.hookspecs import hookimpl\n\n"
                 "@hookimpl\ndef cnnpipe_register_datasets(register):\n    register(object())\n", "targets plugin API 0.1"),
}


@pytest.mark.parametrize("case", OLD_PLUGINS)
def test_a_plugin_for_the_previous_api_is_told_what_changed(install_plugin, case):
    source, change = OLD_PLUGINS[case]
    install_plugin("cnnpipe-old", {"old_plugin": source}, {"old": "old_plugin"})
    result = cli("plugins", "--json")
    [row] = [r for r in json.loads(result.stdout) if r["name"] == "old"]
    assert row["status"] == "broken"
    assert "plugin API 0.1" in row["error"] and "this cnnpipe has 0.2" in row["error"], row["error"]
    assert change in row["error"] and "CHANGELOG.md" in row["error"], row["error"]
    [warning] = [line for line in result.stderr.splitlines() if "'old'" in line]
    assert change in warning


def test_a_plugin_declares_the_api_it_targets_and_a_newer_one_is_refused_by_name(install_plugin):
    install_plugin("cnnpipe-future", {"future_plugin": "CNNPIPE_PLUGIN_API = '0.9'\n"}, {"future": "future_plugin"})
    rows = {r["name"]: r for r in json.loads(cli("plugins", "--json").stdout)}
    assert rows["future"]["status"] == "broken"
    assert rows["future"]["error"] == ("targets plugin API 0.9, newer than this cnnpipe's 0.2; "
                                       "upgrade cnnpipe (see CHANGELOG.md)")
    assert rows["lenet"]["api"] == rows["reporters"]["api"] == "0.2" and rows["lenet"]["status"] == "ok"
