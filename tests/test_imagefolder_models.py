"""Every built-in classifier trains on 3-channel pictures from a folder, in both backends (tiny: 12 pictures, 1 epoch)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from cnnpipe.registry import build_registry

# The smallest input and widths each network takes (the book's sizes cost minutes on a CPU).
SMALL = {
    "alexnet": ["--resize", "96", "--set", "arch.hidden=32"],
    "nin": ["--resize", "96"],
    "vgg": ["--set", "arch.ratio=16"],
    "googlenet": ["--set", "arch.ratio=8"],
    "densenet": ["--set", "arch.growth_rate=4", "--set", "arch.num_channels=8"],
    "resnet18": ["--set", "arch.num_channels=[8, 8, 8, 8]", "--set", "arch.num_residuals=[1, 1, 1, 1]"],
}
CLASSIFIERS = sorted(name for name in build_registry(warn=lambda m: None).names("models")
                     if build_registry(warn=lambda m: None).model(name).task == "classification")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Five 40x36 JPEG and PNG pictures in each of three colours."""
    root = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    for k, name in enumerate(("cyan", "magenta", "yellow")):
        (root / name).mkdir()
        for i in range(5):
            pixels = rng.integers(0, 80, (36, 40, 3))
            pixels[..., k] += 150
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
@pytest.mark.parametrize("model", CLASSIFIERS)
def test_trains_on_colour_pictures(model, backend, folder, tmp_path, cnnpipe_cli):
    # In this process: a child per network would spend most of its time importing the framework.
    result = cnnpipe_cli("run", model, "imagefolder", "--data-dir", str(folder), "--backend", backend, "--epochs", "1",
                 "--batch-size", "4", "--lr", "0.01", "--set", "data.size=32", *SMALL.get(model, []),
                 "--reporter", "console", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    (run,) = tmp_path.iterdir()
    record = json.loads((run / "config.json").read_text())
    assert record["config"]["data"] == {"size": 32, "test_fraction": 0.2, "split_seed": 0}
    assert record["classes"] == ["cyan", "magenta", "yellow"]
    assert json.loads((run / "summary.json").read_text())["status"] == "succeeded"


def test_unknown_option_and_bad_picture_are_one_line(folder, tmp_path, cnnpipe_cli):
    result = cnnpipe_cli("run", "lenet", "imagefolder", "--data-dir", str(folder), "--set", "data.sise=32",
                         "--out", str(tmp_path / "runs"))
    assert result.exit_code == 2
    assert "dataset 'imagefolder' has no option 'sise'; valid: size, split_seed, test_fraction" in result.output
    result = cnnpipe_cli("run", "lenet", "imagefolder", "--data-dir", str(folder), "--out", str(tmp_path / "runs"),
                         "--epochs", "1", "--set", "data.size=-3")
    assert result.exit_code == 2 and "data.size must be a whole number of pixels" in result.output
    assert not (tmp_path / "runs").exists()


def test_options_come_from_a_config_file(folder, tmp_path, cnnpipe_cli):
    (tmp_path / "run.toml").write_text("epochs = 1\nbatch_size = 4\n[data]\nsize = 16\ntest_fraction = 0.4\n")
    result = cnnpipe_cli("run", "lenet", "imagefolder", "--data-dir", str(folder), "--config", str(tmp_path / "run.toml"),
                         "--backend", "torch", "--reporter", "console", "--out", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "config.json").read_text())["config"]["data"] == {"size": 16, "test_fraction": 0.4, "split_seed": 0}


def test_info_lists_the_dataset_options(cnnpipe_cli):
    result = cnnpipe_cli("info", "imagefolder")
    assert result.exit_code == 0
    assert "options (--set data.NAME=VALUE): size=0, test_fraction=0.2, split_seed=0" in result.output
