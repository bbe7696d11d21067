"""A model as a third party wraps it from an outside library: not lazy (it needs its input's channels), with its
own initialisation.  Builds get the input shape, ``own_init`` keeps the build's parameters, the contract kit holds
both, and the model trains on colour pictures with no channel-count argument."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image

from conftest import cli

OUTSIDE = '''
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ModelSpec


def build(num_classes=10, input_shape=(1, 28, 28), width=8, own=True):
    from torch import nn

    channels, height, width_px = input_shape
    net = nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(width * height * width_px, num_classes))
    nn.init.constant_(net[0].bias, 0.25)  # the library's own choice, which neither book initialiser makes
    return net


@hookimpl
def cnnpipe_register_models(register):
    register(ModelSpec("outside", {"torch": build}, arch={"width": 8}, own_init=True,
                       summary="a network from an outside library"))
    register(ModelSpec("outside-book", {"torch": build}, arch={"width": 8},
                       summary="the same network, initialised as the book does"))
'''

KIT = '''
from cnnpipe.testing import ModelContract


class TestOutside(ModelContract):
    model = "outside"
    input_shape = (4, 1, 12, 12)
    lr = 0.05


class TestOutsideBook(TestOutside):
    model = "outside-book"
'''


def test_outside_model_passes_the_kit_and_trains_on_colour(install_plugin, site, tmp_path):
    install_plugin("cnnpipe-outside", {"cnnpipe_outside": OUTSIDE}, {"outside": "cnnpipe_outside"})
    (tmp_path / "test_outside.py").write_text(textwrap.dedent(KIT))
    kit = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_outside.py", "-rA"],
                         capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(site)})
    assert kit.returncode == 0, kit.stdout[-3000:]
    for check in ("builds_for_the_input_channels", "initialisation_is_as_declared"):
        assert len(re.findall(rf"PASSED test_outside.py::TestOutside\w*::test_{check}", kit.stdout)) == 2, kit.stdout

    pictures = tmp_path / "pictures"
    rng = np.random.default_rng(0)
    for k, name in enumerate(("red", "green")):
        (pictures / name).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 80, (10, 10, 3))
            pixels[..., k] += 150
            Image.fromarray(pixels.astype(np.uint8)).save(pictures / name / f"{i}.png")
    result = cli("run", "outside", "imagefolder", "--data-dir", str(pictures), "--epochs", "1", "--batch-size", "2",
                 "--resize", "12", "--reporter", "console", "--out", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    info = cli("info", "outside", "--set", "arch.width=4")
    assert info.returncode == 0, info.stderr
