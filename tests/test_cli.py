"""The command line: what it prints, what it refuses, and that listing never imports MXNet."""

import subprocess
import sys

import pytest

from conftest import cli

NO_MXNET = """
import sys
from cnnpipe.cli import main
try:
    main({args!r}, prog_name="cnnpipe")
except SystemExit as exc:
    assert not exc.code, exc.code
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("mxnet", "torch", "matplotlib", "docker"))
print("HEAVY", loaded)
"""


@pytest.mark.parametrize("args", [["--help"], ["list"], ["list", "models"], ["plugins"], ["plugins", "--json"], ["--version"]])
def test_listing_never_imports_mxnet(args):
    result = subprocess.run([sys.executable, "-c", NO_MXNET.format(args=args)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_version():
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("cnnpipe, version ")


def test_list_shows_every_kind():
    out = cli("list").stdout
    for heading in ("backends:", "datasets:", "models:", "reporters:"):
        assert heading in out
    assert "lenet" in out and "fashion-mnist" in out and "mxnet" in out
    lenet = next(line for line in out.splitlines() if line.strip().startswith("lenet "))
    assert "(mxnet, torch)" in lenet


def test_info_prints_the_books_lenet_shapes():
    result = cli("info", "lenet")
    assert result.returncode == 0, result.stderr
    rows = [line.split("output shape:")[1].split("parameters:") for line in result.stdout.splitlines()
            if "output shape:" in line]
    shapes = [shape.strip() for shape, _ in rows]
    assert shapes == ["(1, 6, 24, 24)", "(1, 6, 12, 12)", "(1, 16, 8, 8)", "(1, 16, 4, 4)", "(1, 120)", "(1, 84)", "(1, 10)"]
    assert "\nparameters: 44,426\n" in result.stdout
    assert sum(int(params.replace(",", "")) for _, params in rows) == 44_426  # each layer's, adding up
    assert "recipe for fashion-mnist: sgd, lr 0.9, batch 256, 5 epochs" in result.stdout


def test_info_of_a_dataset_and_a_backend():
    assert "input shape (1, 28, 28), 10 classes" in cli("info", "fashion-mnist").stdout
    assert "builds" in cli("info", "mxnet").stdout and "lenet" in cli("info", "torch").stdout


def test_info_traces_each_backend_to_the_same_parameter_count():
    result = cli("info", "lenet", "--backend", "torch")
    assert result.returncode == 0, result.stderr
    assert "torch layers for a (1, 1, 28, 28) input" in result.stdout
    assert "parameters: 44,426" in result.stdout


def assert_one_line_error(result, *fragments, code=2):
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# These are refused once the dataset is loaded (the backend checks the model against the data).
REAL_DATA = pytest.mark.real_data


@pytest.mark.parametrize("args, fragments", [
    (["run", "lenett", "fashion-mnist"], ["unknown model 'lenett'", "did you mean 'lenet'", "choose from: ", "lenet"]),
    (["run", "lenet", "mnist"], ["unknown dataset 'mnist'", "fashion-mnist"]),
    (["run", "lenet"], ["needs MODEL and DATASET"]),
    (["run", "lenet", "fashion-mnist", "--epochs", "0"], ["epochs must be a whole number of at least 1"]),
    (["run", "lenet", "fashion-mnist", "--lr", "-1"], ["lr must be a positive number"]),
    (["run", "lenet", "fashion-mnist", "--device", "tpu"], ["device must be auto, cpu, gpu or gpu:N"]),
    pytest.param(["run", "lenet", "fashion-mnist", "--device", "gpu:3"], ["--device gpu:3", "GPU(s)"], marks=REAL_DATA),
    pytest.param(["run", "lenet", "fashion-mnist", "--optimizer", "sgdd"], ["unknown optimizer 'sgdd'", "sgd"], marks=REAL_DATA),
    (["run", "lenet", "fashion-mnist", "--backend", "jax"], ["model 'lenet' has no jax build", "mxnet, torch"]),
    pytest.param(["run", "lenet", "fashion-mnist", "--backend", "torch", "--optimizer", "ftml"], ["unknown optimizer 'ftml'", "sgd"], marks=REAL_DATA),
    (["run", "lenet", "fashion-mnist", "--precision", "fp8"], ["precision must be fp32, bf16 or fp16, got 'fp8'"]),
    pytest.param(["run", "lenet", "fashion-mnist", "--precision", "bf16"], ["the mxnet backend trains in fp32 only", "--backend torch"], marks=REAL_DATA),
    pytest.param(["run", "lenet", "fashion-mnist", "--backend", "torch", "--device", "gpu:3"], ["--device gpu:3", "usable by PyTorch"], marks=REAL_DATA),
    pytest.param(["run", "lenet", "fashion-mnist", "--backend", "torch", "--set", "init=\"he\""], ["unknown init 'he'", "xavier"], marks=REAL_DATA),
    pytest.param(["run", "lenet", "fashion-mnist", "--backend", "torch", "--set", "arch.activation=swish"], ["rejected its architecture arguments", "swish"], marks=REAL_DATA),
    pytest.param(["run", "nin", "fashion-mnist", "--backend", "torch", "--resize", "64"], ["model 'nin' cannot take (1, 64, 64) inputs"], marks=REAL_DATA),
    (["info", "lenet", "--backend", "jax"], ["model 'lenet' has no jax build"]),
    (["run", "lenet", "fashion-mnist", "--reporter", "slack"], ["unknown reporter 'slack'", "console"]),
    (["run", "lenet", "fashion-mnist", "--set", "epochs"], ["--set takes key=value"]),
    (["run", "lenet", "fashion-mnist", "--set", "colour=red"], ["unknown setting 'colour'", "batch_size"]),
    (["run", "lenet", "fashion-mnist", "--set", "arch.depth=3"], ["no architecture argument 'depth'", "activation"]),
    pytest.param(["run", "lenet", "fashion-mnist", "--set", "arch.activation=swish"], ["rejected its architecture arguments", "swish"], marks=REAL_DATA),
    pytest.param(["run", "nin", "fashion-mnist", "--resize", "64"], ["model 'nin' cannot take (1, 64, 64) inputs", "kernel size (3) exceeds input"], marks=REAL_DATA),
    (["run", "lenet", "edge-image", "--lr", "0.1", "--batch-size", "1", "--epochs", "1"], ["model 'lenet' is a classifier; dataset 'edge-image' has no class labels"]),
    (["run", "lenet", "fashion-mnist", "--config", "missing.toml"], ["config file not found: missing.toml"]),
    (["run", "lenet", "fashion-mnist", "--data-dir", "nowhere"], ["data folder nowhere lacks the Fashion-MNIST file(s)"]),
    (["run", "--resume", "nowhere"], ["nowhere is not a cnnpipe run folder"]),
    (["info", "resnet-1000"], ["nothing installed is called 'resnet-1000'", "lenet"]),
    (["info", "lenet", "--set", "arch.depth=3"], ["no architecture argument 'depth'"]),
])
def test_bad_input_gets_one_line_and_writes_nothing(tmp_path, args, fragments):
    result = cli(*args, cwd=tmp_path)
    assert_one_line_error(result, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_bad_config_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = [\n")
    assert_one_line_error(cli("run", "lenet", "fashion-mnist", "--config", str(bad), cwd=tmp_path), "is not valid TOML")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("epochs = 2\nlearning_rate = 0.1\n")
    assert_one_line_error(cli("run", "lenet", "fashion-mnist", "--config", str(unknown), cwd=tmp_path),
                          "unknown setting 'learning_rate' in", "lr")
    wrong_type = tmp_path / "wrong.toml"
    wrong_type.write_text('batch-size = "big"\n')
    assert_one_line_error(cli("run", "lenet", "fashion-mnist", "--config", str(wrong_type), cwd=tmp_path),
                          "batch-size must be a whole number")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "unknown.toml", "wrong.toml"]


def test_click_usage_errors_exit_2_without_traceback():
    result = cli("run", "lenet", "fashion-mnist", "--epochs", "many")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Invalid value for '--epochs'" in result.stderr
    assert cli("list", "widgets").returncode == 2


def test_debug_shows_the_traceback(tmp_path):
    result = cli("--debug", "run", "lenett", "fashion-mnist", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr and "UsageError" in result.stderr
    result = cli("run", "lenett", "fashion-mnist", "--debug", cwd=tmp_path)
    assert "Traceback" in result.stderr
