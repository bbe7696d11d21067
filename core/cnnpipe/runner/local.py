"""``cnnpipe run --workers N``: every process of the run on this machine, on 127.0.0.1.

The launching process checks the run as a single one would, creates (or reopens) the run folder and holds
its lock; then it starts the engine's processes, each running ``cnnpipe run --resume RUN_DIR`` in its
role, writes run.log from their output, and stops them all when one fails.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
import uuid

from ..driver import failure_summary
from ..errors import JobError, UsageError
from ..rundir import LOG
from ..distributed import PS_LITE, TORCHRUN
from ..distributed.environment import LOCALHOST, check_port, free_port
from .launch import Launch, plan
from .output import Output

ENGINES = {PS_LITE: ("mxnet", "MXNet (pip install mxnet==1.9.1)"),
           TORCHRUN: ("torch.distributed.run", "PyTorch's torchrun (pip install torch)")}


def check_launcher(launcher: str) -> None:
    """A one-line error when the engine that starts the processes is not installed."""
    module, what = ENGINES[launcher]
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        found = False
    if not found:
        raise UsageError(f"--workers needs {what}, which is not installed here")


def launch_run(registry, resolved, *, port=None, debug=False, disable=(), terminal=None) -> int:
    """Run ``resolved`` (``config.workers`` > 1) on this machine; the exit status is 0 when every process succeeded."""
    from ..pipeline import prepare

    config, spec = resolved.config, resolved.backend
    check_launcher(spec.launcher)
    if port is None:
        port = free_port()
    check_port(port, LOCALHOST, "--port")
    run, _ = prepare(registry, resolved, session=False)  # each rank opens its own session
    run_dir = run.run_dir
    command = [sys.executable, "-m", "cnnpipe", *(arg for name in disable for arg in ("--disable-plugin", name)),
               "run", "--resume", str(run_dir.path.resolve()), *(["--debug"] if debug else [])]
    log_dir = tempfile.mkdtemp(prefix="cnnpipe-torchrun-")
    output = Output(run_dir.file(LOG), terminal)
    try:
        servers = f" and {config.servers} server(s)" if spec.launcher == PS_LITE else ""
        output.note(f"{config.workers} workers{servers} ({spec.launcher}) on {LOCALHOST}:{port}; batch "
                    f"{config.batch_size} per worker, {config.batch_size * config.workers} in all; run folder {run_dir}")
        processes = plan(spec.launcher, command, config.workers, config.servers, port, log_dir)
        result = Launch(processes, output, uuid.uuid4().hex).run()
        if result.code == 0:
            return 0
        _, history = run_dir.last_checkpoint()
        status = "interrupted" if result.interrupted else "failed"
        run_dir.write_summary(failure_summary(config, history, run_dir, status, result.failure))
        resume = f"cnnpipe run --resume {run_dir}"
        if result.interrupted:
            output.note(f"interrupted; continue with: {resume}", "ERROR")
            return 130
        output.note(f"{result.failure}; stopped the run's other processes", "ERROR", show=False)
        raise JobError(f"{result.failure}; the run's other processes were stopped; "
                       f"{len(history)} epoch(s) are checkpointed, continue with: {resume}")
    finally:
        output.close()
        shutil.rmtree(log_dir, ignore_errors=True)
        run_dir.unlock()
