"""The contract of a backend's engine for runs of several processes (``Backend.join`` returns one).

The core shards each epoch's order by rank (:meth:`cnnpipe.run.World.shard`) and sums the epoch's
totals through :meth:`Engine.sum`; the backend's session keeps every rank's parameters equal (MXNet:
``gluon.Trainer`` on a ``dist_sync`` kvstore; PyTorch: ``DistributedDataParallel``) and divides the
summed gradient by the total batch, ``batch_size * size``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence


class Engine(ABC):
    """This process's connection to the other ranks of its run."""

    name: str = ""  # what the engine is, for config.json ("MXNet kvstore dist_sync", "torch.distributed gloo")
    rank: int = 0
    size: int = 1
    local_rank: int = 0  # which of this machine's devices this rank uses

    @abstractmethod
    def sum(self, values: Sequence[float]) -> list[float]:
        """``values`` summed element by element over every rank; each rank calls it at the same point."""

    @abstractmethod
    def close(self) -> None:
        """Leave the run once this rank is done (waiting for the others where the engine needs it)."""

    def abandon(self) -> None:
        """Prepare to leave at once after a failure, without waiting for ranks that will never arrive."""
