"""The GPU paths of torch.distributed, checked for their arguments (no GPU here): NCCL on CUDA devices, gloo on the
CPU, each rank's device, DistributedDataParallel's device ids."""

import pytest
import torch

from cnnpipe.distributed.environment import Environment
from cnnpipe.run import World
from cnnpipe_torch import distributed

RANK = Environment("torchrun", "worker", 2, rank=1, local_rank=1, address="127.0.0.1", port=29500)


@pytest.mark.parametrize("device, backend", [(torch.device("cuda", 1), "nccl"), (torch.device("cpu"), "gloo")])
def test_the_process_group_backend_follows_the_device(monkeypatch, device, backend):
    calls = []
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda *a, **k: calls.append((a, k)))
    monkeypatch.setattr(distributed.dist, "get_rank", lambda: 1)
    monkeypatch.setattr(distributed.dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(distributed.torch.cuda, "set_device", lambda d: calls.append(("set_device", d)))
    engine = distributed.join(RANK, device)
    group = [c for c in calls if c[0] != "set_device"]
    assert group == [((backend,), {"init_method": "env://", "timeout": distributed.TIMEOUT})]
    assert (("set_device", device) in calls) == (backend == "nccl")
    assert (engine.rank, engine.size, engine.device.type) == (1, 2, device.type)


def test_each_rank_takes_the_gpu_of_its_local_rank(monkeypatch):
    monkeypatch.setattr(distributed.torch.cuda, "is_available", lambda: True)
    assert [distributed.rank_device(d, 1) for d in ("gpu", "auto", "gpu:0", "cpu")] == ["gpu:1", "gpu:1", "gpu:0", "cpu"]


def test_ddp_gets_the_device_id_on_gpus_only(monkeypatch):
    made = []
    monkeypatch.setattr(distributed, "DistributedDataParallel", lambda net, device_ids: made.append(device_ids) or net)
    net = torch.nn.Linear(2, 2)
    assert distributed.wrap(net, World(), torch.device("cpu")) is net and made == []
    world = World(0, 2, engine=object())
    distributed.wrap(net, world, torch.device("cuda", 1))
    distributed.wrap(net, world, torch.device("cpu"))
    assert made == [[1], None]
