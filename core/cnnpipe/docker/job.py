"""``cnnpipe run --runner docker``: the same ``cnnpipe run`` inside the job image, with live logs."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from ..errors import UsageError
from . import runner


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


def make_job(resolved, *, image=None, gpus=None, memory=None, cpus=None, timeout=None, debug=False, disable=(),
             client=None) -> runner.ContainerJob:
    """Describe the container of a run resolved on the host (names and settings already checked)."""
    from ..plugins import disabled_names

    runner.device_requests(gpus)
    runner.check_limits(memory, cpus, timeout)
    config = resolved.config
    data_dir = data_folder(resolved.dataset, config.data_dir)
    if image is None:
        from .image import image_for_plugins

        image = image_for_plugins(client, "cuda" if gpus else "cpu", config.backend)
    env = {}
    off = disabled_names(disable)
    if off:
        env["CNNPIPE_DISABLE_PLUGINS"] = ",".join(sorted(off))
    return runner.ContainerJob(
        image=image,
        args=runner.container_args(config, data_mounted=data_dir is not None, debug=debug),
        out_dir=Path(config.out).resolve(),
        data_dir=data_dir, gpus=gpus, memory=memory, cpus=cpus, timeout=timeout, env=env,
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
