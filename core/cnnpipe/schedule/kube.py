"""A schedule as the equivalent Kubernetes CronJob (``batch/v1``)."""

from __future__ import annotations

import re

POLICY = {"allow": "Allow", "forbid": "Forbid", "replace": "Replace"}


def k8s_name(name: str) -> str:
    """``name`` as a DNS-1123 label short enough for a CronJob (52 characters)."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return (cleaned or "schedule")[:52].rstrip("-")


def k8s_memory(size: str) -> str:
    """A Docker size (``512m``, ``4g``: powers of 1024) as a Kubernetes quantity (``512Mi``, ``4Gi``)."""
    size = str(size).lower()
    unit = {"b": "", "k": "Ki", "m": "Mi", "g": "Gi"}.get(size[-1])
    return size if unit is None else size[:-1] + unit


def cronjob(schedule: dict) -> dict:
    """The CronJob manifest: image and args, ``nvidia.com/gpu`` limits, concurrency policy, deadlines, retries."""
    spec = schedule["spec"]
    name = k8s_name(schedule["name"])
    container = {
        "name": "train",
        "image": spec["image"],
        "command": ["cnnpipe", spec.get("command", "run")],
        "args": list(spec["args"]),
        "volumeMounts": [{"name": "runs", "mountPath": "/runs"}],
    }
    volumes = [{"name": "runs", "persistentVolumeClaim": {"claimName": f"{name}-runs"}}]
    if spec.get("data_dir"):
        container["volumeMounts"].append({"name": "data", "mountPath": "/data", "readOnly": True})
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data", "readOnly": True}})
    limits = {}
    if spec.get("gpus"):
        limits["nvidia.com/gpu"] = int(spec["gpus"])
    if spec.get("memory"):
        limits["memory"] = k8s_memory(spec["memory"])
    if spec.get("cpus"):
        limits["cpu"] = f"{int(spec['cpus'] * 1000)}m"
    if limits:
        container["resources"] = {"limits": limits}
    job_spec = {
        "backoffLimit": int(schedule["retries"]),
        "template": {
            "metadata": {"labels": {"cnnpipe": "job", "cnnpipe.schedule": name}},
            "spec": {"restartPolicy": "Never", "containers": [container], "volumes": volumes},
        },
    }
    if schedule.get("timeout"):
        job_spec["activeDeadlineSeconds"] = int(schedule["timeout"])
    cron_spec = {
        "schedule": schedule["cron"],
        "timeZone": schedule["timezone"],
        "concurrencyPolicy": POLICY[schedule["concurrency"]],
        "suspend": bool(schedule["paused"]),
        "jobTemplate": {"spec": job_spec},
    }
    if schedule.get("starting_deadline"):
        cron_spec["startingDeadlineSeconds"] = int(schedule["starting_deadline"])
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "cnnpipe"}},
        "spec": cron_spec,
    }
