"""``cnnpipe manifest``: a run of several workers as Kubernetes manifests (see docs/distributed.md)."""

from __future__ import annotations

import json
import os

import click

from ..errors import UsageError
from .app import load_registry, main
from .options import run_options, settings_of
from .output import emit


@main.command()
@run_options
@click.option("--gpus-per-worker", type=int, default=0, show_default=True,
              help="GPUs for each worker (PyTorch runs one rank per GPU, that many to a pod).")
@click.option("--trainjob", is_flag=True,
              help="PyTorch: a Kubeflow Trainer TrainJob (v2.3, runtime torch-distributed) instead of an Indexed Job "
                   "running torchrun.")
@click.option("--name", help="Name of the Jobs, Service and NetworkPolicy; claims NAME-runs and NAME-data hold the run "
                             "folders and the dataset (default: MODEL-DATASET).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: standard output).")
@click.option("--slurm", is_flag=True, help="Instead: the Slurm batch script of the run (one process, or --workers N "
                                            "tasks), for sbatch; its run folder is made now.")
@click.pass_context
def manifest(ctx, model, dataset, config_file, sets, resume, debug, runner, port, gpus_per_worker, trainjob, name,
             output, slurm, **params):
    """Print the Kubernetes manifests (a JSON List for kubectl apply -f) that train MODEL on DATASET with --workers N."""
    if slurm:
        return slurm_script(ctx, model, dataset, config_file, sets, resume, port, output, debug, params)
    from ..kube.distributed import manifests
    from ..docker.limits import check as check_limits
    from ..docker.request import RUNS, container_args
    from ..pipeline import resolve

    for given, flag in ((resume, "--resume"), (port, "--port"), (params.get("gpus"), "--gpus")):
        if given:
            raise UsageError(f"{flag} does not apply to cnnpipe manifest" +
                             ("; give --gpus-per-worker" if flag == "--gpus" else ""))
    if gpus_per_worker < 0:
        raise UsageError(f"--gpus-per-worker must be 0 or more, got {gpus_per_worker}")
    options = settings_of(params)
    device = options.get("device")
    if device and device.startswith("gpu") and not gpus_per_worker:
        raise UsageError(f"--device {device} needs GPUs: add --gpus-per-worker G")
    options["device"] = device or ("gpu" if gpus_per_worker else "cpu")
    options["out"] = RUNS
    resolved = resolve(load_registry(ctx), model, dataset, options=options, sets=sets, config_file=config_file)
    config = resolved.config
    if config.workers < 2:
        raise UsageError("cnnpipe manifest is for runs of several workers; give --workers N (N of at least 2)")
    check_limits(params.get("memory"), params.get("cpus"), params.get("timeout"))
    image = params.get("image") or os.environ.get("CNNPIPE_IMAGE")
    if not image:
        raise UsageError("give --image (or CNNPIPE_IMAGE): an image with cnnpipe that the cluster can pull")
    listing = manifests(config, resolved.backend.launcher, container_args(config, data_mounted=True, debug=debug),
                        name=name or f"{config.model}-{config.dataset}", image=image, gpus=gpus_per_worker,
                        memory=params.get("memory"), cpus=params.get("cpus"), timeout=params.get("timeout"),
                        operator=trainjob)
    emit(json.dumps(listing, indent=2) + "\n", output)


def slurm_script(ctx, model, dataset, config_file, sets, resume, port, output, debug, params) -> None:
    """``cnnpipe manifest --slurm``: the batch script ``--runner slurm`` would submit, for sbatch by hand."""
    from ..pipeline import resolve_start
    from ..slurm import submit
    from .slurm import check_options, resources

    check_options("slurm", params)
    if port is not None:
        raise UsageError("--port does not apply to a Slurm job; it picks its own port")
    asked = resources(params, cluster=False)
    options = settings_of(params)
    reg = load_registry(ctx)
    resolved = resolve_start(reg, model, dataset, resume, options=options, sets=sets, config_file=config_file)
    folder = submit.ready_folder(reg, resolved)
    job = submit.run_job(resolved, folder, asked, disable=ctx.find_root().obj["disable"],
                         debug=debug)
    emit(submit.render(job), output)
    click.echo(f"cnnpipe: run folder {folder} made for the job; submit the script with sbatch", err=True)
