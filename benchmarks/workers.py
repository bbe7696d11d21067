"""One measurement per process: ``python workers.py KIND [ARGS]`` prints one JSON object.

Each variant runs in a fresh process so that its runtime settings (OpenMP threads, MXNet engine) are
read at import time exactly as a user's process would read them.
"""

from __future__ import annotations

import json
import os
import sys
import time

RECIPE = {"lr": 0.9, "batch_size": 256}  # the book's LeNet recipe on Fashion-MNIST (one epoch here)


def load_fashion_mnist(limit=None):
    from cnnpipe.registry import build_registry

    data = build_registry().dataset("fashion-mnist").load()
    if limit:
        data.train_X, data.train_y = data.train_X[:limit], data.train_y[:limit]
        data.test_X, data.test_y = data.test_X[:limit], data.test_y[:limit]
    import numpy as np

    data.train_X, data.train_y, data.test_X, data.test_y = (
        np.array(a) for a in (data.train_X, data.train_y, data.test_X, data.test_y))
    return data


def epoch_cnnpipe(limit, out, reporters=None, backend="mxnet", compile=False):
    """cnnpipe's own path: ``prepare`` then ``execute`` with the default (or named) reporters, one epoch."""
    from cnnpipe.pipeline import prepare, resolve
    from cnnpipe.registry import build_registry
    from cnnpipe.driver import execute

    options = {"epochs": 1, "limit": limit, "out": out, "device": "cpu", "reporters": reporters, "backend": backend,
               "compile": compile or None}
    if backend == "torch":
        import torch._dynamo  # noqa: F401  (as in epoch_torch: imports are not timed)
    registry = build_registry()
    run, reporters = prepare(registry, resolve(registry, "lenet", "fashion-mnist", options=options))
    import contextlib
    import io

    import numpy as np

    d = run.data  # in memory, as the other variants get it: no load from disk is timed
    d.train_X, d.train_y, d.test_X, d.test_y = (np.array(a) for a in (d.train_X, d.train_y, d.test_X, d.test_y))

    if compile:  # compiling is its own figure, not the epoch's: every batch shape of the epoch compiles first
        started = time.perf_counter()
        run.session.initialize()
        shapes = {len(b[0]): b for b in run.session.batches(np.arange(len(d.train_X)))}
        for batch in shapes.values():
            run.session.step(batch)
        run.session.evaluate()
        compile_seconds = time.perf_counter() - started
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        summary = execute(run, reporters)
    wall = time.perf_counter() - start
    return {"seconds": wall, "test_acc": summary["test_acc"], "train_loss": summary["train_loss"],
            "train_acc": summary["train_acc"],
            "threads": os.environ.get("OMP_NUM_THREADS"), "engine": os.environ.get("MXNET_ENGINE_TYPE"),
            **({"compile_seconds": compile_seconds} if compile else {}), **run.backend.versions()}


def epoch_gluon(limit, out, per_batch_copy=False):
    """The best bare hand-written loop: hybridized, data converted once, no per-batch sync.

    With ``per_batch_copy`` each batch is gathered in numpy, copied and converted, as cnnpipe did before.
    """
    data = load_fashion_mnist(limit)
    X_np, y_np = data.train_X, data.train_y
    import mxnet as mx
    import numpy as np
    from mxnet import autograd, gluon, init, nd
    from mxnet.gluon import nn

    start = time.perf_counter()  # after the imports: cnnpipe's figure does not count them either

    ctx = mx.cpu()
    mx.random.seed(0)
    net = nn.HybridSequential()
    net.add(nn.Conv2D(6, kernel_size=5, activation="sigmoid"), nn.MaxPool2D(pool_size=2, strides=2),
            nn.Conv2D(16, kernel_size=5, activation="sigmoid"), nn.MaxPool2D(pool_size=2, strides=2),
            nn.Dense(120, activation="sigmoid"), nn.Dense(84, activation="sigmoid"), nn.Dense(10))
    net.initialize(init.Xavier(), ctx=ctx)
    net.hybridize(static_alloc=True, static_shape=True)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": RECIPE["lr"]})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    if not per_batch_copy:
        X = nd.array(X_np, ctx=ctx, dtype="uint8").astype("float32") / 255
        y = nd.array(y_np, ctx=ctx, dtype="float32")
    Xt = nd.array(data.test_X, ctx=ctx, dtype="uint8").astype("float32") / 255
    yt = nd.array(data.test_y, ctx=ctx, dtype="float32")
    n, bs = len(X_np), RECIPE["batch_size"]
    mx.random.seed(100_003 * 0 + 1)  # cnnpipe's per-epoch seed; Gluon initialises at the first batch
    order_np = np.random.default_rng([0, 1]).permutation(n)
    order = nd.array(order_np, ctx=ctx, dtype="int64")
    loss_sum, train_correct = nd.zeros(1, ctx=ctx), nd.zeros(1, ctx=ctx)
    for s in range(0, n, bs):  # the book's train_ch5: loss and accuracy summed as it trains
        if per_batch_copy:
            idx = order_np[s:s + bs]
            Xb = nd.array(X_np[idx], ctx=ctx, dtype="uint8").astype("float32") / 255
            yb = nd.array(y_np[idx], ctx=ctx, dtype="float32")
        else:
            idx = order[s:s + bs]
            Xb, yb = nd.take(X, idx), nd.take(y, idx)
        with autograd.record():
            y_hat = net(Xb)
            l = loss(y_hat, yb)
        l.backward()
        trainer.step(bs)  # as the book's train_ch5 and cnnpipe's trainer
        loss_sum += l.sum()
        train_correct += (y_hat.argmax(axis=1) == yb).sum()
    train_loss = float(loss_sum.asscalar()) / n
    train_acc = float(train_correct.asscalar()) / n
    correct = nd.zeros(1, ctx=ctx)
    for s in range(0, Xt.shape[0], bs):
        correct += (net(Xt[s:s + bs]).argmax(axis=1) == yt[s:s + bs]).sum()
    test_acc = float(correct.asscalar()) / Xt.shape[0]
    return {"seconds": time.perf_counter() - start, "test_acc": test_acc, "train_loss": train_loss,
            "train_acc": train_acc, "threads": os.environ.get("OMP_NUM_THREADS"), "engine": os.environ.get("MXNET_ENGINE_TYPE"),
            "mxnet": mx.__version__}


def epoch_torch(limit, out, threads=None):
    """The same network, initialisation, recipe and data in PyTorch on the CPU."""
    data = load_fashion_mnist(limit)
    X_np, y_np = data.train_X, data.train_y
    import numpy as np
    import torch
    import torch._dynamo  # noqa: F401  (an optimizer's first construction imports it: 2 to 5 s, not timed)
    from torch import nn

    start = time.perf_counter()

    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.Sigmoid(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(256, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))
    for m in net:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)  # MXNet's Xavier(): uniform, average fan, magnitude 3
            nn.init.zeros_(m.bias)
    opt = torch.optim.SGD(net.parameters(), lr=RECIPE["lr"])
    loss = nn.CrossEntropyLoss()
    X = torch.from_numpy(np.ascontiguousarray(X_np)).float() / 255
    y = torch.from_numpy(y_np.astype(np.int64))
    Xt = torch.from_numpy(np.ascontiguousarray(data.test_X)).float() / 255
    yt = torch.from_numpy(data.test_y.astype(np.int64))
    n, bs = len(X), RECIPE["batch_size"]
    order = torch.from_numpy(np.random.default_rng([0, 1]).permutation(n))
    loss_sum, train_correct = torch.zeros(()), torch.zeros((), dtype=torch.int64)
    net.train()
    for s in range(0, n, bs):
        idx = order[s:s + bs]
        opt.zero_grad()
        y_hat = net(X[idx])
        l = loss(y_hat, y[idx])
        l.backward()
        opt.step()
        loss_sum += l.detach() * len(idx)
        train_correct += (y_hat.detach().argmax(1) == y[idx]).sum()
    net.eval()
    with torch.no_grad():
        correct = sum(int((net(Xt[s:s + bs]).argmax(1) == yt[s:s + bs]).sum()) for s in range(0, len(Xt), bs))
    return {"seconds": time.perf_counter() - start, "test_acc": correct / len(Xt),
            "train_loss": float(loss_sum) / n, "train_acc": int(train_correct) / n,
            "threads": torch.get_num_threads(), "torch": torch.__version__}


def input_shape(model, size_cap):
    """``(batch, C, H, W)`` of a model's recipe: its batch size and image size, the size capped at ``size_cap``
    (raised to the smallest the network accepts)."""
    recipe = model.recipes.get("fashion-mnist")
    bs = recipe.batch_size if recipe else 64
    size = (recipe.resize if recipe and recipe.resize else None) or model.sample_shape[-1]
    if size_cap and size > size_cap:
        from cnnpipe.registry import build_registry

        from reference_accuracy import smallest_size

        size = smallest_size(build_registry(), model, size_cap, size, model.sample_shape[1])
    return (bs, model.sample_shape[1], size, size)


def throughput(model_name, steps, size_cap=0, backend="mxnet"):
    """Training and inference images per second of one model at its recipe's batch size and (capped) input size."""
    from cnnpipe.registry import build_registry

    model = build_registry().model(model_name)
    shape = input_shape(model, size_cap)
    if backend == "torch":
        return throughput_torch(model, shape, steps)
    import mxnet as mx
    from mxnet import autograd, gluon, init, nd

    from cnnpipe_mxnet.backend import HYBRIDIZE

    recipe = model.recipes.get("fashion-mnist")
    bs = shape[0]
    net = model.builds["mxnet"](num_classes=10, **model.arch)
    net.initialize(init.Xavier())
    net.hybridize(**HYBRIDIZE)  # as cnnpipe's MXNet backend does
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": recipe.lr if recipe else 0.1})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    X, y = nd.random.uniform(shape=shape), nd.array([i % 10 for i in range(bs)])

    def train_step():
        with autograd.record():
            l = loss(net(X), y)
        l.backward()
        trainer.step(bs)
        return l

    def timed(fn):
        fn().wait_to_read()  # builds the graph and primitives
        start = time.perf_counter()
        for _ in range(steps):
            out = fn()
        out.wait_to_read()
        return steps * bs / (time.perf_counter() - start)

    return {"train_ips": timed(train_step), "infer_ips": timed(lambda: net(X)), "shape": list(shape),
            "mxnet": mx.__version__}


def throughput_torch(model, shape, steps):
    """The same for the model's PyTorch build, through the torch backend's initialisation and optimizer."""
    import torch

    from cnnpipe_torch.layers import gluon_batch_norm, initialize
    from cnnpipe_torch.optimizers import optimizer

    recipe = model.recipes.get("fashion-mnist")
    torch.manual_seed(0)
    net = model.builds["torch"](num_classes=10, **model.arch)
    X, y = torch.rand(shape), torch.tensor([i % 10 for i in range(shape[0])])
    with torch.no_grad():
        net.eval()(X[:1])  # lazy layers take their shapes
    net.train()
    initialize(net, "xavier")
    gluon_batch_norm(net)
    opt = optimizer("sgd", net.parameters(), recipe.lr if recipe else 0.1)
    loss = torch.nn.CrossEntropyLoss(reduction="sum")

    def train_step():
        net.train()
        opt.zero_grad(set_to_none=True)
        l = loss(net(X), y) / shape[0]
        l.backward()
        opt.step()
        return l

    def infer():
        with torch.no_grad():
            return net.eval()(X)

    def timed(fn):
        fn()  # first-call allocations
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        return steps * shape[0] / (time.perf_counter() - start)

    train_ips = timed(train_step)
    return {"train_ips": train_ips, "infer_ips": timed(infer), "shape": list(shape), "torch": torch.__version__}


def dataset_load():
    """Seconds for one Fashion-MNIST load in this process (first or cached depends on the cache folder)."""
    import numpy  # noqa: F401  (a run has numpy, and MXNet, loaded before its data: not counted)
    from cnnpipe.registry import build_registry

    spec = build_registry().dataset("fashion-mnist")
    start = time.perf_counter()  # includes importing the dataset plugin's loader module
    data = spec.load()
    int(data.train_X[-1].sum()) + int(data.test_X[-1].sum())  # touch the data, not just the map
    return {"seconds": time.perf_counter() - start, "train": len(data.train_X), "test": len(data.test_X)}


def first_batch(spawned_at, out):
    """Seconds from process spawn to the end of the first training batch of ``cnnpipe run``."""
    from cnnpipe import run as run_mod
    from cnnpipe.cli import main

    def progress(self, *args, **kwargs):
        print(json.dumps({"seconds": time.time() - spawned_at}), flush=True)
        os._exit(0)

    run_mod.Run.progress = progress  # the first progress event follows the first batch (see args below)
    main(["run", "lenet", "fashion-mnist", "--epochs", "1", "--limit", "2560", "--device", "cpu",
          "--out", out, "--reporter", "console"])
    raise SystemExit("no progress event was seen")


def main(argv):
    kind, args = argv[0], argv[1:]
    if kind == "epoch":
        variant, limit, out = args[0], int(args[1]) or None, args[2]
        if variant.startswith("torch"):
            result = epoch_torch(limit, out, 1 if variant.endswith("one-thread") else None)
        elif variant.startswith("gluon"):
            result = epoch_gluon(limit, out, per_batch_copy=variant.endswith("per-batch-copy"))
        elif variant == "cnnpipe":
            result = epoch_cnnpipe(limit, out)
        elif variant == "cnnpipe-no-plot":  # the default reporters but the matplotlib one
            result = epoch_cnnpipe(limit, out, ["console"])
        elif variant == "cnnpipe-torch-compile":  # with --compile; the compilation is timed on its own
            result = epoch_cnnpipe(limit, out, ["console"], backend="torch", compile=True)
        elif variant.startswith("cnnpipe-torch"):  # the same, with the torch backend (threads: the environment's)
            result = epoch_cnnpipe(limit, out, ["console"], backend="torch")
        else:
            raise SystemExit(f"unknown variant {variant}")
    elif kind == "throughput":
        result = throughput(args[0], int(args[1]), int(args[2]), args[3])
    elif kind == "load":
        result = dataset_load()
    elif kind == "first-batch":
        first_batch(float(args[0]), args[1])
        return
    else:
        raise SystemExit(f"unknown measurement {kind}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
