"""A schedule as the equivalent Kubernetes CronJob (``batch/v1``), its pods locked down as a Docker job is."""

from __future__ import annotations

import re

from ..docker.request import DATA, NOBODY, RUNS, TMP, TMP_SIZE
from .records import Schedule

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


def lock_down(pod_spec: dict) -> dict:
    """Give ``pod_spec`` and each of its containers what a Docker job container has; returns ``pod_spec``.

    A non-root uid, a read-only root filesystem with an in-memory ``/tmp``, no privilege escalation, no
    capabilities and the runtime's default seccomp profile.  (Docker's process limit has no per-pod field:
    it is the kubelet's ``podPidsLimit``.)
    """
    uid, gid = NOBODY
    pod_spec["securityContext"] = {
        "runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid, "fsGroup": gid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    pod_spec.setdefault("volumes", []).append(
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": k8s_memory(TMP_SIZE)}})
    for container in pod_spec.get("containers", []):
        container["securityContext"] = {
            "runAsNonRoot": True, "runAsUser": uid, "runAsGroup": gid,
            "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "privileged": False,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
        }
        container.setdefault("volumeMounts", []).append({"name": "tmp", "mountPath": TMP})
        container.setdefault("env", []).extend([{"name": "HOME", "value": TMP}, {"name": "PYTHONUNBUFFERED", "value": "1"}])
    return pod_spec


def cronjob(schedule: Schedule) -> dict:
    """The CronJob manifest: image and args, ``nvidia.com/gpu`` limits, concurrency policy, deadlines, retries."""
    request = schedule.request
    name = k8s_name(schedule.name)
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
    limits = {}
    if request.gpus:
        limits["nvidia.com/gpu"] = int(request.gpus)
    if request.memory:
        limits["memory"] = k8s_memory(request.memory)
    if request.cpus:
        limits["cpu"] = f"{int(request.cpus * 1000)}m"
    if limits:
        container["resources"] = {"limits": limits}
    job_spec = {
        "backoffLimit": int(schedule.retries),
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
