"""MXNet's parameter server for runs of several processes: a ``dist_sync`` kvstore (``dist_device_sync`` on GPUs).

Each worker pushes its gradients, the servers sum them, and every worker pulls the sum and updates its own
copy of the parameters with the same optimizer (``update_on_kvstore=False``), so that the optimizer's
state stays on the workers and is checkpointed like a single process's.  The scheduler, the servers and
the workers are the same ``cnnpipe run`` command in the role ``DMLC_ROLE`` names.
"""

from __future__ import annotations

import ctypes
import gc

import mxnet as mx
import numpy as np
from mxnet import nd
from mxnet.base import _LIB, check_call

from cnnpipe.distributed.engine import Engine
from cnnpipe.errors import UsageError

SUM_KEY = 1 << 30  # far above the Trainer's keys (one per parameter, counted from 0)
SUM_SLOTS = 8


class KVStoreEngine(Engine):
    """A worker's ``dist_sync`` kvstore."""

    def __init__(self, kvstore, local_rank: int):
        self.kvstore = kvstore
        self.name = f"MXNet kvstore {kvstore.type}"
        self.rank, self.size, self.local_rank = kvstore.rank, kvstore.num_workers, local_rank
        self._sum_ready = False

    def sum(self, values):
        values = list(values)
        if len(values) > SUM_SLOTS:
            raise ValueError(f"at most {SUM_SLOTS} values are summed at once, got {len(values)}")
        if not self._sum_ready:
            self.kvstore.init(SUM_KEY, nd.zeros(SUM_SLOTS, dtype="float64"))
            self._sum_ready = True
        padded = np.zeros(SUM_SLOTS)
        padded[:len(values)] = values
        out = nd.zeros(SUM_SLOTS, dtype="float64")
        # A fresh array each time: the kvstore writes the sum back into the array pushed last.
        self.kvstore.pushpull(SUM_KEY, nd.array(padded, dtype="float64"), out=out)
        return [float(v) for v in out.asnumpy()[:len(values)]]

    def abandon(self) -> None:
        """Let this failing worker exit without the barrier the others, blocked mid-step, would never reach."""
        if self.kvstore is not None:
            check_call(_LIB.MXKVStoreSetBarrierBeforeExit(self.kvstore.handle, ctypes.c_int(0)))

    def close(self) -> None:
        # Freeing the kvstore waits for every worker; rank 0's then stops the servers and the scheduler.
        kvstore, self.kvstore = self.kvstore, None
        del kvstore
        gc.collect()


def join(environment, context) -> KVStoreEngine:
    """Create this worker's kvstore: it returns once the scheduler has seen every server and worker."""
    kind = "dist_device_sync" if context.device_type == "gpu" else "dist_sync"
    try:
        kvstore = mx.kv.create(kind)
    except mx.base.MXNetError as exc:
        raise UsageError(f"cannot join the parameter server at {environment.address}:{environment.port}: {exc}")
    return KVStoreEngine(kvstore, environment.local_rank)


def trainer_options(world) -> dict:
    """``gluon.Trainer`` keyword arguments for this process's place in the run."""
    if world.size == 1:
        return {}
    return {"kvstore": world.engine.kvstore, "update_on_kvstore": False}


def start(trainer, world) -> None:
    """Put ``trainer``'s parameters on the kvstore before the first step: every worker takes rank 0's, and no worker
    pushes a gradient before all of them have."""
    if world.size == 1:
        return
    # Gluon would broadcast the parameters lazily at the first step, through the keys it then sums the gradients
    # on. Seen here: a worker whose pull of the parameters is served after the first gradients have arrived takes
    # their sum for its weights (about one run in six), and broadcasting eagerly lets MXNet 1.9.1 send a key's
    # initial value after the barrier that should follow it (the server aborts: "init 3 first"). So each step is
    # waited for: rank 0 initialises every key from copies, all wait, all pull rank 0's values, all wait.
    # (The underscored names are Gluon 1.9.1's; cnnpipe-mxnet pins mxnet 1.9.1.)
    kvstore = world.engine.kvstore
    trainer._init_kvstore()
    params = [(trainer._param2idx[p.name], p) for p in trainer._params]
    kvstore.init([i for i, _ in params], [p.data().copy() for _, p in params])
    nd.waitall()
    kvstore._barrier()
    for i, p in params:
        kvstore.pull(i, out=p.data())
    nd.waitall()
    kvstore._barrier()
    trainer._params_to_init = []


def rank_device(device: str, local_rank: int) -> str:
    """A worker's device: ``gpu`` and ``auto`` (on a machine with GPUs) mean the GPU numbered by its local rank."""
    if device in ("gpu", "auto") and mx.context.num_gpus():
        return f"gpu:{local_rank}"
    return device
