"""The book's full recipes with ``--backend torch`` on the real Fashion-MNIST (5 epochs each).

They take minutes on a CPU, so they run only when asked: ``CNNPIPE_BOOK_RECIPES=1 pytest
plugins/cnnpipe-torch/tests/test_book_recipes.py``.  ``benchmarks/reference_accuracy.py --backend torch``
records the same runs with the machine and the time they took (``benchmarks/REFERENCE-torch-cpu.md``).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(not os.environ.get("CNNPIPE_BOOK_RECIPES"), reason="set CNNPIPE_BOOK_RECIPES=1 to train the book's recipes"),
]


@pytest.mark.parametrize("model, at_least", [("lenet", 0.75), ("lenet-bn", 0.85)])
def test_book_recipe_reaches_the_books_accuracy(tmp_path, model, at_least):
    proc = subprocess.run([sys.executable, "-m", "cnnpipe", "run", model, "fashion-mnist", "--backend", "torch",
                           "--reporter", "console", "--out", str(tmp_path)], capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr
    (folder,) = Path(tmp_path).iterdir()
    last = json.loads((folder / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["epoch"] == 5 and last["test_acc"] >= at_least, last
