"""What every cnnpipe pod shares: names Kubernetes accepts, resource limits, and the Docker job's lockdown."""

from __future__ import annotations

import re

from ..docker.request import NOBODY, TMP, TMP_SIZE


# Finished Jobs (and their pods' logs) are kept a week, then deleted by Kubernetes' TTL controller.
FINISHED_TTL = 7 * 24 * 3600


def k8s_name(name: str, default: str, limit: int) -> str:
    """``name`` as a DNS-1123 label of at most ``limit`` characters (``default`` when nothing is left)."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return (cleaned or default)[:limit].rstrip("-")


def k8s_memory(size: str) -> str:
    """A Docker size (``512m``, ``4g``: powers of 1024) as a Kubernetes quantity (``512Mi``, ``4Gi``)."""
    size = str(size).lower()
    unit = {"b": "", "k": "Ki", "m": "Mi", "g": "Gi"}.get(size[-1])
    return size if unit is None else size[:-1] + unit


def resources(memory=None, cpus=None, gpus: int = 0) -> dict:
    """A container's ``resources`` from Docker-style ``memory`` and ``cpus`` and a GPU count (empty: no limits)."""
    limits = {}
    if gpus:
        limits["nvidia.com/gpu"] = int(gpus)
    if memory:
        limits["memory"] = k8s_memory(memory)
    if cpus:
        limits["cpu"] = f"{int(cpus * 1000)}m"
    return {"limits": limits} if limits else {}


def lock_down(pod_spec: dict) -> dict:
    """Give ``pod_spec`` and each of its containers what a Docker job container has; returns ``pod_spec``.

    A non-root uid, a read-only root filesystem with an in-memory ``/tmp``, no privilege escalation, no
    capabilities, the runtime's default seccomp profile, and no service-account token.  (Docker's process limit has no per-pod field:
    it is the kubelet's ``podPidsLimit``.)
    """
    uid, gid = NOBODY
    pod_spec["automountServiceAccountToken"] = False  # training talks to no Kubernetes API
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
