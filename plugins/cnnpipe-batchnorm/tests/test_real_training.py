"""The scratch layer trained through cnnpipe's hybridizing trainer on the real Fashion-MNIST."""

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.mark.real_data
def test_scratch_model_trains_hybridized_and_keeps_moving_statistics(cnnpipe_cli):
    from mxnet import nd

    result = cnnpipe_cli("run", "lenet-bn-scratch", "fashion-mnist", "--limit", "1024", "--epochs", "1",
                         "--device", "cpu", "--reporter", "metrics")
    assert result.exit_code == 0, result.output
    (run_dir,) = Path("runs").iterdir()
    (metrics,) = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert metrics["test_acc"] > 0.3  # chance is 0.1
    params = nd.load(str(run_dir / "model.params"))
    moving = {k: v.asnumpy() for k, v in params.items() if "moving" in k}
    assert len(moving) == 8, sorted(params)
    # They start at zero; four training batches through the hybridized graph must have moved them.
    assert all(np.abs(v).max() > 0 for v in moving.values())
    assert all((v >= 0).all() for k, v in moving.items() if k.endswith("moving_var"))
