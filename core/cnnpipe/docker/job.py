"""``cnnpipe run --runner docker``: the same ``cnnpipe run`` inside the job image, with live logs."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from ..errors import UsageError
from . import runner

# Run options that name host paths: the container gets them as mounts instead.
HOST_PATHS = {"out", "data_dir"}


def container_args(model, dataset, options: dict, sets=(), config_file=None, debug=False) -> list[str]:
    """The arguments of ``cnnpipe run`` inside the container, for the host's ``options``."""
    args = [model, dataset]
    for key, value in options.items():
        if value is None or key in HOST_PATHS:
            continue
        if key == "reporters":
            for name in value:
                args += ["--reporter", name]
        else:
            args += [f"--{key.replace('_', '-')}", str(value)]
    for item in sets:
        args += ["--set", item]
    if config_file:
        args += ["--config", "/job/config.toml"]
    if debug:
        args.append("--debug")
    return args + ["--out", runner.RUNS]


def data_folder(dataset_spec, data_dir) -> Path | None:
    """The host folder to mount at ``/data``: what the dataset plugin would read (see ``DatasetSpec.locate``)."""
    if dataset_spec.locate is not None:
        folder = dataset_spec.locate(data_dir)
        if folder is None:
            raise UsageError(
                f"dataset '{dataset_spec.name}' has no files on this host to mount, and job containers have "
                f"no network; run it once locally to download it, or pass --data-dir FOLDER"
            )
        return Path(folder).resolve()
    return Path(data_dir).resolve() if data_dir else None


def make_job(reg, model, dataset, options: dict, sets=(), config_file=None, *, image=None, gpus=None,
             memory=None, cpus=None, timeout=None, debug=False, disable=(), client=None) -> runner.ContainerJob:
    """Check the run on the host (names, settings) and describe its container."""
    from ..pipeline import resolve
    from ..plugins import disabled_names

    options = {k: v for k, v in options.items() if v is not None}
    if model is None or dataset is None:
        raise UsageError("cnnpipe run --runner docker needs MODEL and DATASET")
    resolve(reg, model, dataset, options=options, sets=sets, config_file=config_file)
    runner.device_requests(gpus)
    runner.check_limits(memory, cpus, timeout)
    if config_file is not None and not Path(config_file).is_file():
        raise UsageError(f"config file not found: {config_file}")
    data_dir = data_folder(reg.get("datasets", dataset), options.get("data_dir"))
    if image is None:
        from .image import image_for_plugins

        image = image_for_plugins(client, "cuda" if gpus else "cpu")
    env = {}
    off = disabled_names(disable)
    if off:
        env["CNNPIPE_DISABLE_PLUGINS"] = ",".join(sorted(off))
    return runner.ContainerJob(
        image=image,
        args=container_args(model, dataset, options, sets, config_file, debug),
        out_dir=Path(options.get("out") or "runs").resolve(),
        data_dir=data_dir, gpus=gpus, memory=memory, cpus=cpus, timeout=timeout,
        env=env, config_file=Path(config_file).resolve() if config_file else None,
    )


def execute(client, job: runner.ContainerJob, echo=None) -> int:
    """Run ``job`` with its output streamed live; the container is removed however this ends."""
    echo = echo or (lambda msg: print(msg, file=sys.stderr))
    before = set(os.listdir(job.out_dir)) if job.out_dir.is_dir() else set()
    container = runner.start(client, job)
    logs = threading.Thread(target=runner.stream_logs, args=(container,), daemon=True)
    try:
        logs.start()
        code = runner.wait(container, job.timeout)
        logs.join(timeout=10)
    finally:
        runner.remove(container)
    new = sorted(set(os.listdir(job.out_dir)) - before) if job.out_dir.is_dir() else []
    for name in new:
        if not name.startswith("."):
            echo(f"run folder on the host: {job.out_dir / name}")
    return code
