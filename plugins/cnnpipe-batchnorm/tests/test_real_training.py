"""Both batch-norm models trained through cnnpipe's hybridizing trainer on the real Fashion-MNIST."""

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.mark.real_data
@pytest.mark.parametrize("model, stat, initial_var", [("lenet-bn-scratch", "moving", 0.0), ("lenet-bn", "running", 1.0)])
def test_training_updates_the_moving_statistics(cnnpipe_cli, model, stat, initial_var):
    from mxnet import nd

    result = cnnpipe_cli("run", model, "fashion-mnist", "--limit", "1024", "--epochs", "1",
                         "--device", "cpu", "--reporter", "console")
    assert result.exit_code == 0, result.output
    (run_dir,) = Path("runs").iterdir()
    (metrics,) = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert 0 <= metrics["test_acc"] <= 1
    params = nd.load(str(run_dir / "model.params"))
    means = [v.asnumpy() for k, v in params.items() if k.endswith(f"{stat}_mean")]
    variances = [v.asnumpy() for k, v in params.items() if k.endswith(f"{stat}_var")]
    assert len(means) == len(variances) == 4, sorted(params)
    # Four full training batches through the hybridized graph must have moved them from where they
    # start (MXNet 1.9.1 leaves Gluon's frozen when hybridized with static_shape).
    assert all(np.abs(m).max() > 0.01 for m in means)
    assert all(np.abs(v - initial_var).max() > 0.01 and (v >= 0).all() for v in variances)


@pytest.mark.real_data
@pytest.mark.parametrize("model, stat, initial_var", [("lenet-bn-scratch", "moving", 0.0), ("lenet-bn", "running", 1.0)])
def test_torch_training_updates_the_moving_statistics(cnnpipe_cli, model, stat, initial_var):
    torch = pytest.importorskip("torch")
    result = cnnpipe_cli("run", model, "fashion-mnist", "--backend", "torch", "--limit", "1024", "--epochs", "1",
                         "--device", "cpu", "--reporter", "console")
    assert result.exit_code == 0, result.output
    (run_dir,) = Path("runs").iterdir()
    params = torch.load(run_dir / "model.params", weights_only=True)
    means = [v.numpy() for k, v in params.items() if k.endswith(f"{stat}_mean")]
    variances = [v.numpy() for k, v in params.items() if k.endswith(f"{stat}_var")]
    assert len(means) == len(variances) == 4, sorted(params)
    assert all(np.abs(m).max() > 0.01 for m in means)
    assert all(np.abs(v - initial_var).max() > 0.01 and (v >= 0).all() for v in variances)
