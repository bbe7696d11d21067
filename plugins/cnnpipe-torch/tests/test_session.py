"""The torch backend's session on tiny data: precisions, the optimizer file, checks and errors."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cnnpipe.errors import UsageError  # noqa: E402
from cnnpipe.testing import TinyRun  # noqa: E402
from torch_tiny import MODEL, data  # noqa: E402


def session(precision="fp32", optimizer="sgd", lr=0.1, batch_size=8):
    from cnnpipe_torch.backend import TorchBackend

    run = TinyRun(MODEL, "torch", data(), MODEL.arch, lr, batch_size=batch_size)
    run.config.precision, run.config.optimizer = precision, optimizer
    backend = TorchBackend()
    backend.check(run.config, MODEL, run.data)
    s = backend.session(run)
    s.initialize()
    return s


def train(s, epochs, start=1):
    losses = []
    for epoch in range(start, epochs + 1):
        s.begin_epoch(epoch, epoch)
        for batch in s.batches(np.random.default_rng(epoch).permutation(32)):
            s.step(batch)
        losses.append(s.end_epoch()[0])
    return losses


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_every_precision_trains_on_the_cpu(precision):
    s = session(precision)
    losses = train(s, 6)
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    assert (s.scaler is not None) == (precision == "fp16"), "only fp16 needs a loss scale"
    assert s.predict(data().test_X).dtype == np.float32
    assert 0 <= s.evaluate() <= 1


def test_bf16_runs_the_network_in_bf16():
    s = session("bf16")
    X, _ = next(iter(s.batches(np.arange(32))))
    with s._autocast():
        assert s.net(X).dtype == torch.bfloat16
    assert next(s.net.parameters()).dtype == torch.float32, "the weights stay fp32"


@pytest.mark.parametrize("precision, optimizer", [("fp32", "adam"), ("fp16", "rmsprop")])
def test_saved_optimizer_and_loss_scale_continue_the_same_run(tmp_path, precision, optimizer):
    whole = session(precision, optimizer, lr=0.01)
    train(whole, 4)
    first = session(precision, optimizer, lr=0.01)
    train(first, 2)
    first.save_params(tmp_path / "model.params")
    first.save_optimizer(tmp_path / "optimizer.states")
    resumed = session(precision, optimizer, lr=0.01)
    resumed.load(tmp_path / "model.params", tmp_path / "optimizer.states")
    if precision == "fp16":
        assert resumed.scaler.get_scale() == first.scaler.get_scale()
    train(resumed, 4, start=3)
    for a, b in zip(resumed.net.state_dict().values(), whole.net.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_optimizer_file_of_the_first_torch_backend_still_loads(tmp_path):
    old = session(optimizer="adam", lr=0.01)
    train(old, 1)
    old.save_params(tmp_path / "model.params")
    torch.save(old.optimizer.state_dict(), tmp_path / "optimizer.states")  # before the loss scale was saved
    s = session(optimizer="adam", lr=0.01)
    s.load(tmp_path / "model.params", tmp_path / "optimizer.states")
    assert s.optimizer.state_dict()["state"]


@pytest.mark.parametrize("setting, value, message", [
    ("optimizer", "ftml", "unknown optimizer 'ftml'; the torch backend offers: adadelta, adagrad, adam, nag, rmsprop, sgd"),
    ("init", "he", "unknown init 'he'; choose from: xavier, normal, uniform"),
    ("device", "gpu:2", "--device gpu:2: this machine has 0 GPU(s) usable by PyTorch"),
])
def test_bad_settings_are_usage_errors(setting, value, message):
    from cnnpipe_torch.backend import TorchBackend

    run = TinyRun(MODEL, "torch", data(), MODEL.arch, 0.1)
    setattr(run.config, setting, value)
    if setting == "device" and torch.cuda.device_count() > 2:
        pytest.skip("this machine has three GPUs")
    with pytest.raises(UsageError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        TorchBackend().check(run.config, MODEL, run.data)


def test_channels_last_only_on_cuda():
    s = session("bf16")
    assert s.memory_format is torch.contiguous_format, "the CPU keeps NCHW"


def test_the_settled_thread_count_reaches_torch(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(2)
    try:
        session()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
