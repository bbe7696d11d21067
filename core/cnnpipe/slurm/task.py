"""One Slurm task of a run of several workers: its place in the engine's environment, from ``SLURM_*``.

``srun`` starts every task of the job step with the same command; this module gives each the variables
the engine's own launcher would have set (torchrun's ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``, or MXNet's
``DMLC_*`` roles: task 0 the scheduler, the next ``servers`` tasks the servers, the rest workers), then
replaces itself with the command.  The rendezvous is on the first node of the job, at a port derived
from the job id, so every task computes the same one without talking to the others.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from ..distributed import PS_LITE, TORCHRUN
from ..errors import UsageError

PORT_BASE, PORT_SPAN = 20000, 20000


def first_node(env) -> str:
    """The address of the job's first node (where rank 0, or ps-lite's scheduler, listens)."""
    nodes = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
    if not nodes:
        raise UsageError("SLURM_JOB_NODELIST is not set; run this inside a Slurm job step (srun)")
    hosts = subprocess.run(["scontrol", "show", "hostnames", nodes], capture_output=True, text=True, check=True)
    return socket.gethostbyname(hosts.stdout.split()[0])


def _number(env, name: str) -> int:
    try:
        return int(env[name])
    except (KeyError, ValueError):
        raise UsageError(f"{name} is not a number in this environment; run this inside a Slurm job step (srun)")


def torchrun_env(env, servers: int, address: str) -> dict[str, str]:
    """What torchrun gives each rank: the rank is the task's, the world every task of the step."""
    return {"RANK": str(_number(env, "SLURM_PROCID")), "WORLD_SIZE": str(_number(env, "SLURM_NTASKS")),
            "LOCAL_RANK": str(_number(env, "SLURM_LOCALID")), "MASTER_ADDR": address,
            "MASTER_PORT": str(port(env))}


def ps_lite_env(env, servers: int, address: str) -> dict[str, str]:
    """MXNet's roles: task 0 the scheduler, tasks 1..servers the servers, the others workers."""
    task, tasks = _number(env, "SLURM_PROCID"), _number(env, "SLURM_NTASKS")
    workers = tasks - 1 - servers
    if workers < 1:
        raise UsageError(f"{tasks} Slurm tasks leave no worker beside the scheduler and {servers} server(s)")
    role = "scheduler" if task == 0 else "server" if task <= servers else "worker"
    return {"DMLC_ROLE": role, "DMLC_PS_ROOT_URI": address, "DMLC_PS_ROOT_PORT": str(port(env)),
            "DMLC_NUM_SERVER": str(servers), "DMLC_NUM_WORKER": str(workers),
            "DMLC_NODE_HOST": socket.gethostbyname(socket.gethostname()) if address != "127.0.0.1" else address,
            "LOCAL_RANK": str(_number(env, "SLURM_LOCALID"))}


ROLES = {TORCHRUN: torchrun_env, PS_LITE: ps_lite_env}


def port(env) -> int:
    """The rendezvous port of this job: the same in every task, different for jobs running side by side."""
    return PORT_BASE + _number(env, "SLURM_JOB_ID") % PORT_SPAN


def task_env(env, launcher: str, servers: int = 0) -> dict[str, str]:
    """The variables of this task's place in a run launched by ``launcher``."""
    if launcher not in ROLES:
        raise UsageError(f"unknown launcher '{launcher}'; known: {', '.join(ROLES)}")
    address = first_node(env)
    added = ROLES[launcher](env, servers, address)
    if address.startswith("127."):
        added["GLOO_SOCKET_IFNAME"] = "lo"  # a one-node cluster: gloo finds no route from the host's name
    return added


def main(argv=None) -> None:
    """``python -m cnnpipe.slurm.task LAUNCHER SERVERS COMMAND...``: run COMMAND as this task's process."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3:
        sys.exit("usage: python -m cnnpipe.slurm.task LAUNCHER SERVERS COMMAND...")
    launcher, servers, command = args[0], int(args[1]), args[2:]
    try:
        added = task_env(os.environ, launcher, servers)
    except UsageError as exc:
        sys.exit(f"cnnpipe: error: {exc}")
    os.execvpe(command[0], command, {**os.environ, **added})


if __name__ == "__main__":
    main()
