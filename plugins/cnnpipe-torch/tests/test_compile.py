"""``--compile``: the torch session trains and evaluates through torch.compile (inductor, C++ on the CPU) and
reaches the eager session's numbers within float tolerance."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cnnpipe.testing import TinyRun  # noqa: E402
from torch_tiny import MODEL, data  # noqa: E402


def train(s, epochs):
    losses = []
    for epoch in range(1, epochs + 1):
        s.begin_epoch(epoch, epoch)
        for batch in s.batches(np.random.default_rng(epoch).permutation(32)):
            s.step(batch)
        losses.append(s.end_epoch()[0])
    return losses


def session(compile):
    from cnnpipe_torch.backend import TorchBackend

    run = TinyRun(MODEL, "torch", data(), MODEL.arch, 0.1, batch_size=8)
    run.config.compile = compile
    s = TorchBackend().session(run)
    s.initialize()
    return s


def test_compiled_steps_train_like_eager_ones():
    from torch._dynamo.eval_frame import OptimizedModule
    from torch._dynamo.utils import counters

    eager = session(False)
    eager_losses, eager_acc = train(eager, 3), eager.evaluate()
    assert not isinstance(eager.train_net, OptimizedModule)
    torch._dynamo.reset()
    counters.clear()
    compiled = session(True)
    losses, acc = train(compiled, 3), compiled.evaluate()
    assert isinstance(compiled.train_net, OptimizedModule) and isinstance(compiled.eval_net, OptimizedModule)
    assert counters["stats"]["unique_graphs"] >= 2, "the train and eval steps went through the compiler"
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-3)
    assert abs(acc - eager_acc) <= 1 / 32  # at most one of the 32 test examples changes its argmax
    assert not isinstance(compiled.net, OptimizedModule)  # parameters are saved and exported from the plain net
