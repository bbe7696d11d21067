"""``cnnpipe run`` as one process of a distributed run: a worker (one rank), or MXNet's server or scheduler.

Whoever started the process (cnnpipe's launcher, ``mxnet/tools/launch.py``, torchrun, a Kubernetes Job)
described its place in the engine's environment variables; see :func:`.environment.detect`.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import replace

from ..distributed import PS_LITE, environment
from ..distributed.environment import Environment
from ..driver import LOG_FORMAT
from ..errors import UsageError
from ..run import World
from ..rundir import LOG

# A rank's log lines on its standard stream; cnnpipe's launcher reads them back into run.log (see .output).
RECORD_FORMAT = "[rank {rank}] %(levelname)s %(message)s"


def run_as(registry, resolved, env: Environment) -> None:
    """Take this process's part in the run ``resolved`` describes (new, or resumed from its folder)."""
    config = environment.adopt(env, resolved.config, resolved.backend)
    resolved = replace(resolved, config=config)
    if env.role != "worker":
        serve(resolved.backend, env)
        return
    from ..pipeline import prepare
    from ..driver import execute

    engines = []

    def join(backend) -> World:
        engine = backend.join(env, config)
        engines.append(engine)
        if env.launched:  # first thing: the launcher now knows which rank this process is
            print(RECORD_FORMAT.format(rank=engine.rank) % {"levelname": "INFO", "message":
                  f"joined as rank {engine.rank} of {engine.size} ({engine.name})"}, flush=True)
        return World(engine.rank, engine.size, engine)

    try:
        run, reporters = prepare(registry, resolved, join=join, held=env.launched)
        execute(run, reporters if run.world.leader else (), log_handler(run.world, env, run.run_dir))
    except BaseException:
        for engine in engines:
            engine.abandon()
        raise
    for engine in engines:
        engine.close()


def log_handler(world: World, env: Environment, run_dir) -> logging.Handler:
    """Where a rank's log goes: to cnnpipe's launcher on standard output, which writes run.log; else rank 0
    writes run.log itself and the other ranks log to standard error."""
    if world.leader and not env.launched:
        handler = logging.FileHandler(run_dir.file(LOG))
        handler.setFormatter(logging.Formatter(LOG_FORMAT.replace("%(message)s", "rank 0: %(message)s")))
        return handler
    handler = logging.StreamHandler(sys.stdout if env.launched else sys.stderr)
    handler.setFormatter(logging.Formatter(RECORD_FORMAT.format(rank=world.rank)))
    return handler


def serve(backend, env: Environment) -> None:
    """Run a parameter server or the scheduler until the workers are done."""
    if env.launcher != PS_LITE:
        raise UsageError(f"role '{env.role}' belongs to MXNet's parameter server, not to {env.launcher}")
    if env.role == "scheduler":
        environment.check_port(env.port, env.address, "DMLC_PS_ROOT_PORT")
    # Importing mxnet in a process whose DMLC_ROLE is server or scheduler runs that role, and exits the
    # process when the workers are done.
    backend.load()
    raise UsageError(f"backend '{backend.name}' did not run the {env.role} role of DMLC_ROLE")
