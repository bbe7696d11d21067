"""Synchronous training steps by cnnpipe's own code path, in whatever engine environment this process was started
in (none: a single process); saves this rank's parameters after them as OUT_DIR/rankR.params (single.params alone).

    python one_step.py BACKEND BATCH_SIZE OUT_DIR [STEPS]

LeNet on the first 1,000 Fashion-MNIST images; each step trains on the next batch of this rank's shard of
the first epoch's order, as ``cnnpipe run`` does.
"""

import sys
from pathlib import Path

from cnnpipe.distributed import environment
from cnnpipe.runner import rank
from cnnpipe.pipeline import prepare, resolve
from cnnpipe.registry import build_registry
from cnnpipe.run import World
from cnnpipe.training import epoch_order


def main(backend: str, batch_size: int, out: Path, steps: int = 1) -> None:
    registry = build_registry()
    env = environment.detect()
    options = {"backend": backend, "batch_size": batch_size, "epochs": 1, "device": "cpu", "out": str(out / "runs"),
               "limit": 1000, "workers": env.workers if env else 1, "reporters": ["console"]}
    resolved = resolve(registry, "lenet", "fashion-mnist", options=options)
    if env is not None and env.role != "worker":
        rank.serve(resolved.backend, env)
    engines = []

    def join(backend_):
        engine = backend_.join(env, resolved.config)
        engines.append(engine)
        return World(engine.rank, engine.size, engine)

    run, _ = prepare(registry, resolved, join=join if env else None)
    session = run.session  # opened by prepare, its parameters initialised (rank 0's on every rank)
    order = run.world.shard(epoch_order(run.config.seed, 1, len(run.data.train_X)))
    session.begin_epoch(1, 1)
    for _, batch in zip(range(steps), session.batches(order)):
        session.step(batch)
    session.wait()
    session.save_params(out / (f"rank{run.world.rank}.params" if env else "single.params"))
    for engine in engines:
        engine.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), *(int(a) for a in sys.argv[4:5]))
