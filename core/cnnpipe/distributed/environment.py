"""What an engine's environment says about this process, free ports, and the checks of a run of several workers."""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass, replace

from ..errors import UsageError
from . import PS_LITE, TORCHRUN

ROLES = ("worker", "server", "scheduler")
LOCALHOST = "127.0.0.1"
# Set by cnnpipe's own launcher in every process it starts: the launcher holds the run folder and writes
# run.log from the processes' output.  Its value names the launch, so that its processes can be found.
LAUNCH_VAR = "CNNPIPE_LAUNCH"
TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Environment:
    """This process's place in a run of several processes, as the engine's launcher described it."""

    launcher: str  # PS_LITE or TORCHRUN
    role: str  # worker, server or scheduler (the last two only with ps-lite)
    workers: int
    servers: int = 0
    rank: int | None = None  # torchrun gives it; ps-lite's scheduler assigns it when the worker joins
    local_rank: int = 0  # which of this machine's GPUs a worker takes
    address: str = LOCALHOST  # the scheduler's (ps-lite) or rank 0's (torchrun)
    port: int = 0
    launched: bool = False  # started by cnnpipe's own launcher

    @property
    def variables(self) -> str:
        """The variables this environment was read from, for messages."""
        return "DMLC_* variables" if self.launcher == PS_LITE else "torchrun's RANK/WORLD_SIZE/MASTER_ADDR"


def _int(env, name: str, low: int, default: int | None = None) -> int:
    text = env.get(name)
    if text is None:
        if default is None:
            raise UsageError(f"{name} is not set; a process of a distributed run needs it")
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise UsageError(f"{name} must be a whole number of at least {low}, got '{text}'")
    return value


def detect(environ=None) -> Environment | None:
    """The engine environment this process was started in, or ``None`` when it runs alone."""
    env = os.environ if environ is None else environ
    launched = bool(env.get(LAUNCH_VAR))
    if "DMLC_ROLE" in env:
        role = env["DMLC_ROLE"]
        if role not in ROLES:
            raise UsageError(f"DMLC_ROLE must be one of {', '.join(ROLES)}, got '{role}'")
        if not env.get("DMLC_PS_ROOT_URI"):
            raise UsageError("DMLC_PS_ROOT_URI is not set; a process of a distributed run needs it")
        return Environment(PS_LITE, role, _int(env, "DMLC_NUM_WORKER", 1), _int(env, "DMLC_NUM_SERVER", 1),
                           local_rank=_int(env, "LOCAL_RANK", 0, default=0), address=env["DMLC_PS_ROOT_URI"],
                           port=_int(env, "DMLC_PS_ROOT_PORT", 1), launched=launched)
    if all(env.get(name) for name in TORCHRUN_VARS):
        size = _int(env, "WORLD_SIZE", 1)
        rank = _int(env, "RANK", 0)
        if rank >= size:
            raise UsageError(f"RANK {rank} is not below WORLD_SIZE {size}")
        return Environment(TORCHRUN, "worker", size, rank=rank, local_rank=_int(env, "LOCAL_RANK", 0, default=0),
                           address=env["MASTER_ADDR"], port=_int(env, "MASTER_PORT", 1), launched=launched)
    return None


LR_RULE = ("each step applies lr to the loss summed over every worker's batch and divided by the total batch "
           "(batch_size x workers): one process's step on the total batch; lr is not scaled with the workers")


def check(config, backend) -> None:
    """One-line errors for ``--workers``/``--servers`` that ``backend`` (a ``BackendSpec``) cannot honour; a
    parameter-server run gets its default of one server."""
    if config.workers > 1 and not backend.launcher:
        raise UsageError(f"backend '{backend.name}' trains in one process only; leave out --workers")
    if config.servers is not None:
        if backend.launcher != PS_LITE:
            raise UsageError(f"--servers is for MXNet's parameter server; backend '{backend.name}' has none")
        if config.workers < 2:
            raise UsageError("--servers needs --workers N (N of at least 2)")
    elif config.workers > 1 and backend.launcher == PS_LITE:
        config.servers = 1


def record(config, backend) -> dict:
    """What ``config.json`` says about a run of several workers: counts, total batch and the learning-rate rule."""
    return {
        "launcher": backend.launcher,
        "workers": config.workers,
        "servers": config.servers,
        "batch_size_per_worker": config.batch_size,
        "total_batch_size": config.batch_size * config.workers,
        "lr_rule": LR_RULE,
    }


def adopt(env: Environment, config, backend):
    """``config`` as a process of ``env`` runs it: its worker and server counts are the engine's."""
    if backend.launcher != env.launcher:
        uses = f"trains with {backend.launcher}" if backend.launcher else "trains in one process only"
        raise UsageError(f"this process was started with {env.variables} ({env.launcher}), but backend "
                         f"'{backend.name}' {uses}")
    if config.workers not in (1, env.workers):
        raise UsageError(f"--workers {config.workers} disagrees with the {env.workers} worker(s) of the {env.variables}")
    servers = env.servers if env.launcher == PS_LITE else None
    if config.servers not in (None, servers):
        raise UsageError(f"--servers {config.servers} disagrees with the {servers} server(s) of the DMLC_* variables")
    return replace(config, workers=env.workers, servers=servers)


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port nobody listens on at ``host`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def check_port(port: int, host: str = LOCALHOST, what: str = "port") -> None:
    """A one-line error when ``port`` at ``host`` is taken (other failures are left to the engine to report)."""
    if not 0 < port < 65536:
        raise UsageError(f"{what} must be between 1 and 65535, got {port}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"{what} {port} on {host} is in use; choose another, or leave it out for a free one")
            if exc.errno == errno.EACCES:
                raise UsageError(f"cannot use {what} {port} on {host}: {exc.strerror}")
            # Anything else (an address of another machine, a name that does not resolve here) is the engine's to report.
