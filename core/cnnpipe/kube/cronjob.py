"""A schedule as the equivalent Kubernetes CronJob (``batch/v1``), its pods locked down as a Docker job is."""

from __future__ import annotations

from ..docker.request import DATA, RUNS
from ..schedule.records import Schedule
from .pods import FINISHED_TTL, k8s_name, lock_down, resources

POLICY = {"allow": "Allow", "forbid": "Forbid", "replace": "Replace"}


def cronjob_name(name: str) -> str:
    """``name`` as a DNS-1123 label short enough for a CronJob (52 characters)."""
    return k8s_name(name, "schedule", 52)


def cronjob(schedule: Schedule) -> dict:
    """The CronJob manifest: image and args, ``nvidia.com/gpu`` limits, concurrency policy, deadlines, retries."""
    request = schedule.request
    name = cronjob_name(schedule.name)
    container = {
        "name": "train",
        "image": request.image,
        "command": ["cnnpipe", request.command],
        "args": list(request.args),
        "volumeMounts": [{"name": "runs", "mountPath": RUNS}],
    }
    volumes = [{"name": "runs", "persistentVolumeClaim": {"claimName": f"{name}-runs"}}]
    if request.data_dir:
        container["volumeMounts"].append({"name": "data", "mountPath": DATA, "readOnly": True})
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data", "readOnly": True}})
    limits = resources(request.memory, request.cpus, request.gpus)
    if limits:
        container["resources"] = limits
    job_spec = {
        "backoffLimit": int(schedule.retries),
        "ttlSecondsAfterFinished": FINISHED_TTL,
        "template": {
            "metadata": {"labels": {"cnnpipe": "job", "cnnpipe.schedule": name}},
            "spec": lock_down({"restartPolicy": "Never", "containers": [container], "volumes": volumes}),
        },
    }
    if schedule.timeout:
        job_spec["activeDeadlineSeconds"] = int(schedule.timeout)
    cron_spec = {
        "schedule": schedule.cron,
        "timeZone": schedule.timezone,
        "concurrencyPolicy": POLICY[schedule.concurrency],
        "suspend": bool(schedule.paused),
        "jobTemplate": {"spec": job_spec},
    }
    if schedule.starting_deadline:
        cron_spec["startingDeadlineSeconds"] = int(schedule.starting_deadline)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "cnnpipe"}},
        "spec": cron_spec,
    }
