"""The GPU paths of MXNet's parameter server, checked for their arguments (no GPU here): the kvstore kind, each
worker's device, the Trainer's options."""

import mxnet as mx
import pytest

from cnnpipe.distributed.environment import Environment
from cnnpipe.run import World
from cnnpipe_mxnet import distributed

WORKER = Environment("ps-lite", "worker", 2, 1, local_rank=1, address="127.0.0.1", port=9091)


class FakeKVStore:
    type, rank, num_workers = "dist_device_sync", 1, 2


@pytest.mark.parametrize("context, kind", [(mx.gpu(1), "dist_device_sync"), (mx.cpu(), "dist_sync")])
def test_the_kvstore_kind_follows_the_device(monkeypatch, context, kind):
    created = []
    monkeypatch.setattr(mx.kv, "create", lambda name: created.append(name) or FakeKVStore())
    engine = distributed.join(WORKER, context)
    assert created == [kind]
    assert (engine.rank, engine.size, engine.local_rank) == (1, 2, 1)


def test_each_worker_takes_the_gpu_of_its_local_rank(monkeypatch):
    monkeypatch.setattr(mx.context, "num_gpus", lambda: 4)
    assert [distributed.rank_device(d, 3) for d in ("gpu", "auto", "gpu:0", "cpu")] == ["gpu:3", "gpu:3", "gpu:0", "cpu"]
    monkeypatch.setattr(mx.context, "num_gpus", lambda: 0)
    assert distributed.rank_device("auto", 3) == "auto"


def test_the_trainer_updates_on_the_workers():
    engine = distributed.KVStoreEngine(FakeKVStore(), 0)
    assert distributed.trainer_options(World(1, 2, engine)) == {"kvstore": engine.kvstore, "update_on_kvstore": False}
    assert distributed.trainer_options(World()) == {}
