"""Training in several processes with the engines built for it (see docs/distributed.md).

- :mod:`.environment`: what an engine's environment says about this process (``DMLC_*`` for MXNet's
  parameter server, torchrun's ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``), free ports, the run's checks.
- :mod:`.engine`: the contract a backend's engine fills (``Backend.join`` returns one).

The processes themselves are started and watched by :mod:`cnnpipe.runner`; the same run as Kubernetes
manifests is :mod:`cnnpipe.kube.distributed`.
"""

PS_LITE = "ps-lite"  # MXNet's parameter server: a scheduler, servers and workers (DMLC_* variables)
TORCHRUN = "torchrun"  # torch.distributed.run: one process per rank, c10d rendezvous
LAUNCHERS = (PS_LITE, TORCHRUN)
