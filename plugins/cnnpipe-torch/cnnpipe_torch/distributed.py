"""PyTorch's ``torch.distributed`` for runs of several processes: gloo on the CPU, NCCL on GPUs.

The process group comes from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``).  Training goes through ``DistributedDataParallel``, which starts every rank from rank 0's
parameters and averages the gradients over the ranks after each backward pass: with each rank's loss
summed over its batch and divided by ``batch_size``, the average is the gradient of the loss summed over
the total batch divided by ``batch_size * size``, the book's step on the total batch.
"""

from __future__ import annotations

from datetime import timedelta

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from cnnpipe.distributed.engine import Engine
from cnnpipe.errors import UsageError

TIMEOUT = timedelta(minutes=10)  # a collective that waits longer than this fails instead of hanging


class ProcessGroupEngine(Engine):
    """This rank's default process group."""

    def __init__(self, backend: str, local_rank: int):
        self.name = f"torch.distributed {backend}"
        self.rank, self.size, self.local_rank = dist.get_rank(), dist.get_world_size(), local_rank
        self.device = torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")

    def sum(self, values):
        total = torch.tensor(list(values), dtype=torch.float64, device=self.device)
        dist.all_reduce(total)
        return [float(v) for v in total.cpu()]

    def close(self) -> None:
        dist.barrier()  # no rank leaves while rank 0 still writes the final parameters
        dist.destroy_process_group()


def join(environment, device: torch.device) -> ProcessGroupEngine:
    """Join the process group torchrun's environment describes; returns once every rank has joined."""
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        dist.init_process_group(backend, init_method="env://", timeout=TIMEOUT)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"cannot join the process group at {environment.address}:{environment.port}: "
                         f"{str(exc).strip().splitlines()[0]}")
    return ProcessGroupEngine(backend, environment.local_rank)


def rank_device(device: str, local_rank: int) -> str:
    """A rank's device: ``gpu`` and ``auto`` (on a machine with GPUs) mean the GPU numbered by its local rank."""
    if device in ("gpu", "auto") and torch.cuda.is_available():
        return f"gpu:{local_rank}"
    return device


def wrap(net: torch.nn.Module, world, device: torch.device) -> torch.nn.Module:
    """``net`` as the rank trains it: itself alone, else in ``DistributedDataParallel`` (which broadcasts rank 0's
    parameters and buffers now, and batch norm's buffers before every forward pass)."""
    if world.size == 1:
        return net
    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
