"""A schedule from the command line: its run options checked like ``cnnpipe run`` and turned into container args."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..errors import UsageError
from . import slots

POLICIES = ("allow", "forbid", "replace")
# Options of ``cnnpipe run`` that make no sense for a scheduled container job.
NOT_SCHEDULABLE = {"resume": "--resume", "debug": "--debug"}


def parse_run_args(args) -> dict:
    """``MODEL DATASET [run options]`` parsed by the ``cnnpipe run`` command itself."""
    from click.core import ParameterSource

    from ..cli.run import run as run_command

    args = list(args)
    if "-h" in args or "--help" in args:
        raise UsageError("run options after -- are those of 'cnnpipe run --help'")
    try:
        ctx = run_command.make_context("run", args, resilient_parsing=False)
    except click.ClickException as exc:
        raise UsageError(f"bad run options after --: {exc.format_message()}")
    params = dict(ctx.params)
    if not params.get("model") or not params.get("dataset"):
        raise UsageError("give MODEL and DATASET after --, for example: -- lenet fashion-mnist --epochs 10")
    for key, flag in NOT_SCHEDULABLE.items():
        if params.get(key):
            raise UsageError(f"{flag} cannot be scheduled")
    runner = params.pop("runner", None)
    if runner == "local" and ctx.get_parameter_source("runner") == ParameterSource.COMMANDLINE:
        raise UsageError("scheduled jobs always run in containers; leave out --runner local")
    if params.pop("gpus", None) is not None:
        raise UsageError("give the GPU count before --: cnnpipe schedule add NAME --gpus N ... -- MODEL DATASET")
    return params


def build(registry, name: str, cron: str, tz: str, args, *, gpus: int, image: str | None, concurrency: str,
          starting_deadline, retries: int, backoff: float, timeout, available_gpus: tuple, now: float) -> dict:
    """A schedule row, every check done before anything is stored."""
    from ..config import read_config_file
    from ..pipeline import resolve

    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise UsageError(f"a schedule name uses letters, digits, '-', '_' or '.', got '{name}'")
    slots.check(cron, tz)
    if concurrency not in POLICIES:
        raise UsageError(f"--concurrency must be one of {', '.join(POLICIES)}, got '{concurrency}'")
    if gpus < 0:
        raise UsageError(f"--gpus must be 0 or more, got {gpus}")
    if gpus > len(available_gpus):
        have = f"{len(available_gpus)} ({', '.join(available_gpus)})" if available_gpus else "none"
        raise UsageError(f"impossible GPU request: the schedule asks for {gpus} GPU(s) but the scheduler has {have}; "
                         "set CNNPIPE_GPUS or install the NVIDIA driver")
    for value, flag in ((starting_deadline, "--starting-deadline"), (timeout, "--timeout")):
        if value is not None and value <= 0:
            raise UsageError(f"{flag} must be a positive number of seconds, got {value}")
    if retries < 0 or backoff < 0:
        raise UsageError("--retries and --backoff must not be negative")
    params = parse_run_args(args)
    model, dataset = params.pop("model"), params.pop("dataset")
    # Container settings given among the run options (as for cnnpipe run --runner docker).
    run_image, run_timeout = params.pop("image", None), params.pop("timeout", None)
    image, timeout = image or run_image, timeout or run_timeout
    memory, cpus = params.pop("memory", None), params.pop("cpus", None)
    config_file, sets = params.pop("config_file"), list(params.pop("sets"))
    if config_file:
        # The container cannot read the host's file, so its settings travel as --set values.
        sets = config_sets(read_config_file(config_file)) + sets
    params["reporters"] = list(params["reporters"]) or None
    out = Path(params.pop("out") or "runs").absolute()
    data_dir = params.pop("data_dir")
    device = params.get("device")
    if gpus and device in (None, "auto"):
        params["device"] = "gpu"
    elif not gpus and device and device.startswith("gpu"):
        raise UsageError(f"--device {device} needs GPUs: add --gpus N to the schedule")
    elif not gpus:
        params["device"] = "cpu"
    options = {k: v for k, v in params.items() if v is not None and k not in NOT_SCHEDULABLE}
    resolve(registry, model, dataset, options=options, sets=sets)  # unknown model/dataset, bad settings
    from ..docker import job as docker_job, runner

    runner.check_limits(memory, cpus, timeout)
    # The folder the dataset plugin reads here is the one mounted at /data.
    data_dir = docker_job.data_folder(registry.get("datasets", dataset), data_dir)
    image = image or os.environ.get("CNNPIPE_IMAGE") or default_image(gpus)
    return {
        "name": name, "cron": cron.strip(), "timezone": tz,
        "spec": {
            "model": model, "dataset": dataset, "args": container_args(model, dataset, options, sets, data_dir),
            "image": image, "gpus": gpus,
            "out_dir": str(out), "data_dir": str(data_dir) if data_dir else None, "memory": memory, "cpus": cpus,
        },
        "concurrency": concurrency, "starting_deadline": starting_deadline, "retries": retries,
        "backoff": backoff, "timeout": timeout, "paused": 0, "last_slot": now, "created": now,
    }


def default_image(gpus: int) -> str:
    """The newest job image built for the installed plugins (CUDA for GPU jobs), asked of the engine."""
    from ..docker import image, runner

    return image.image_for_plugins(runner.client(), "cuda" if gpus else "cpu")


def config_sets(settings: dict) -> list[str]:
    """A config file's settings as ``--set`` items (JSON scalars and lists read as TOML)."""
    items = []
    for key, value in settings.items():
        if key == "arch":
            items += [f"arch.{k}={json.dumps(v)}" for k, v in value.items()]
        else:
            items.append(f"{key}={json.dumps(value)}")
    return items


def container_args(model: str, dataset: str, options: dict, sets: list, data_dir) -> list[str]:
    """Arguments after ``cnnpipe run`` inside the container; run folders go to the /runs mount."""
    args = [model, dataset]
    for key, value in sorted(options.items()):
        flag = "--reporter" if key == "reporters" else "--" + key.replace("_", "-")
        for v in value if isinstance(value, list) else [value]:
            args += [flag, str(v)]
    for item in sets:
        args += ["--set", item]
    args += ["--out", "/runs"]
    if data_dir:
        args += ["--data-dir", "/data"]
    return args
