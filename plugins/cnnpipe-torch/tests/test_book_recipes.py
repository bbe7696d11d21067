"""The book's full recipes with ``--backend torch`` on the real Fashion-MNIST (5 epochs each).

They take minutes on a CPU, so they run only when asked: ``CNNPIPE_BOOK_RECIPES=1 pytest
plugins/cnnpipe-torch/tests/test_book_recipes.py``.  ``benchmarks/reference_accuracy.py --backend torch``
records the same runs with the machine and the time they took (the torch rows of ``benchmarks/REFERENCE.md``).

LeNet reaches the book's 0.75 at the default seed. LeNet-BN's test accuracy after 5 epochs spreads over
seeds by about 0.03 in both backends (torch 0.836-0.859, MXNet 0.839-0.873 over seeds 0-4 here), and
seed 0 is torch's lowest: the test holds the median of five seeds to 0.85, the claim the record supports.
"""

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.real_data, pytest.mark.opt_in("CNNPIPE_BOOK_RECIPES")]


def final_test_acc(model: str, seed: int, out: Path) -> float:
    proc = subprocess.run([sys.executable, "-m", "cnnpipe", "run", model, "fashion-mnist", "--backend", "torch",
                           "--seed", str(seed), "--reporter", "console", "--out", str(out)],
                          capture_output=True, text=True, timeout=3600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    (folder,) = Path(out).iterdir()
    last = json.loads((folder / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["epoch"] == 5
    return last["test_acc"]


def test_lenet_reaches_the_books_accuracy_at_the_default_seed(tmp_path):
    assert final_test_acc("lenet", 0, tmp_path) >= 0.75


def test_lenet_bn_reaches_it_at_the_median_of_five_seeds(tmp_path):
    accs = [final_test_acc("lenet-bn", seed, tmp_path / str(seed)) for seed in range(5)]
    assert statistics.median(accs) >= 0.85, accs
