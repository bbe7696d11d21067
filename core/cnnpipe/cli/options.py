"""The options of ``cnnpipe run``, in one place: the ``run`` command takes them, and ``schedule add`` parses
the run arguments after ``--`` with the same definitions."""

from __future__ import annotations

import click

from ..config import PRECISIONS

# Options that are run settings (RunConfig fields, by the parameter's name).
SETTINGS = (
    click.option("--backend", help="Training backend: mxnet, torch, ... (default: the model's first)."),
    click.option("--epochs", type=int, help="Number of epochs (num_epochs)."),
    click.option("--batch-size", type=int, help="Examples per batch."),
    click.option("--lr", type=float, help="Learning rate."),
    click.option("--optimizer", help="Optimizer name (sgd, adam, ...)."),
    click.option("--resize", type=int, help="Resize images to RESIZE x RESIZE, batch by batch on the device."),
    click.option("--device", help="auto (GPU when present, else CPU), cpu, gpu or gpu:N."),
    click.option("--precision", help=f"{PRECISIONS[0]} (default), or {' or '.join(PRECISIONS[1:])} mixed precision "
                                     "(autocast; torch backend)."),
    click.option("--seed", type=int, help="Random seed (default 0)."),
    click.option("--reporter", "reporters", multiple=True,
                 help="Reporter to use (repeatable; 'default' stands for the default set)."),
    click.option("--out", help="Folder that holds run folders (default ./runs)."),
    click.option("--limit", type=int, help="Use only the first N examples of each split, for quick runs."),
    click.option("--data-dir", help="Folder with the dataset's files (also CNNPIPE_DATA_DIR)."),
    click.option("--workers", type=int, help="Training processes, each on its own shard; --batch-size is per worker."),
    click.option("--servers", type=int, help="MXNet's parameter servers for --workers (default 1)."),
    click.option("--threads", type=int, help="Compute threads per process (default: the CPUs this process may use, "
                                             "over --workers)."),
    click.option("--compile", "compile", is_flag=True, default=None,
                 help="Compile the train and eval steps (torch.compile; MXNet's networks are always hybridized)."),
)
# Options about where and how the run executes, not what it computes.
EXECUTION = (
    click.option("--config", "config_file", help="TOML file with the same settings."),
    click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                 help="Override a setting; arch.NAME=VALUE sets an architecture argument."),
    click.option("--resume", metavar="RUN_DIR", help="Continue a run from its last complete epoch."),
    click.option("--debug", is_flag=True, help="Show tracebacks for errors."),
    click.option("--port", type=int, help="With --workers: the scheduler's (MXNet) or rendezvous (PyTorch) port on "
                                          "127.0.0.1 (default: a free one)."),
    click.option("--runner", type=click.Choice(["local", "docker", "slurm"]), default="local", show_default=True,
                 help="Run here, in a container of the job image (see cnnpipe image build), or as a Slurm job."),
    click.option("--gpus", help="docker: GPUs for the container: all, a count N, or device ids ID,ID; "
                                "slurm: GPUs per node, a count N."),
    click.option("--image", help="docker: job image (default: the one built for the installed plugins)."),
    click.option("--memory", help="docker: memory limit, like 4g; slurm: memory per node."),
    click.option("--cpus", type=float, help="docker: CPU limit, like 2 or 0.5; slurm: CPUs per task."),
    click.option("--timeout", type=float, help="docker: stop the job after this many seconds; slurm: the time limit "
                                               "(the job checkpoints and requeues itself shortly before it)."),
    click.option("--partition", help="slurm: the partition to submit to (default: the cluster's)."),
)
SETTING_NAMES = ("backend", "epochs", "batch_size", "lr", "optimizer", "resize", "device", "precision", "seed",
                 "reporters", "out", "limit", "data_dir", "workers", "servers", "threads", "compile")
CONTAINER_NAMES = ("gpus", "image", "memory", "cpus", "timeout")
SLURM_NAMES = ("gpus", "memory", "cpus", "timeout", "partition")


def run_options(command):
    """Decorate ``command`` with every option of ``cnnpipe run`` (MODEL and DATASET are arguments)."""
    for option in reversed(SETTINGS + EXECUTION):
        command = option(command)
    command = click.argument("dataset", required=False)(command)
    return click.argument("model", required=False)(command)


def settings_of(params: dict) -> dict:
    """The run settings among parsed ``params``, with ``--reporter`` as a list (``None`` when not given)."""
    settings = {k: params.get(k) for k in SETTING_NAMES}
    settings["reporters"] = list(settings["reporters"] or ()) or None
    return settings


def parse_run_args(args) -> click.Context:
    """``MODEL DATASET [run options]`` parsed with the options of ``cnnpipe run``; a click error when they are wrong."""
    @click.command("run")
    @run_options
    def command(**_):
        """The arguments of cnnpipe run."""

    return command.make_context("run", list(args), resilient_parsing=False)
