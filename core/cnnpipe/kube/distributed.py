"""A run of several workers as Kubernetes manifests (``cnnpipe manifest``, ``schedule export --kubernetes``).

- MXNet's parameter server: an Indexed Job behind a headless Service; completion index 0 is the
  scheduler, then the servers, then the workers (with GPUs, the workers form a second Indexed Job, so that
  the scheduler and the servers hold none).
- PyTorch: an Indexed Job whose pods run torchrun (no operator needed), or a Kubeflow Trainer TrainJob on
  the ``torch-distributed`` runtime (``trainer.kubeflow.org/v1alpha1``, Kubeflow Trainer v2.3).

Every pod gets the Docker job's lockdown (non-root, no privilege escalation, no capabilities, read-only
root with a memory-backed /tmp) and a NetworkPolicy lets the run's pods reach only one another and DNS.
The run folders live on the claim ``NAME-runs`` (ReadWriteMany across nodes: rank 0 writes, every rank
reads a checkpoint on resume), the dataset on ``NAME-data`` (read-only).
"""

from __future__ import annotations

from ..distributed import PS_LITE
from ..docker.request import DATA, RUNS, TMP
from ..errors import UsageError
from .pods import FINISHED_TTL, k8s_name, lock_down, resources

TRAINER_API = "trainer.kubeflow.org/v1alpha1"  # Kubeflow Trainer v2.3.0
TRAINER_RUNTIME = "torch-distributed"
SCHEDULER_PORT = 9091
MASTER_PORT = 29500
NAME_MAX = 40  # room for "-workers" and a pod's "-<index>" within a 63-character host name
# Pod i's role in MXNet's Indexed Job: 0 the scheduler, then the servers, then the workers.
ROLES = ('i="$JOB_COMPLETION_INDEX"; if [ "$i" -eq 0 ]; then DMLC_ROLE=scheduler; elif [ "$i" -le {servers} ]; then '
         'DMLC_ROLE=server; else DMLC_ROLE=worker; fi; export DMLC_ROLE; exec cnnpipe run "$@"')
WORKER = 'DMLC_ROLE=worker; export DMLC_ROLE; exec cnnpipe run "$@"'  # the workers' own Job, with GPUs
INDEX = "metadata.annotations['batch.kubernetes.io/job-completion-index']"


def run_name(name: str) -> str:
    """``name`` as a DNS-1123 label short enough for a run's Jobs and their pods."""
    return k8s_name(name, "run", NAME_MAX)


def volumes(name: str) -> tuple[list[dict], list[dict]]:
    """``(volumes, mounts)``: run folders at /runs, the dataset read-only at /data (``lock_down`` adds /tmp)."""
    return ([{"name": "runs", "persistentVolumeClaim": {"claimName": f"{name}-runs"}},
             {"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data", "readOnly": True}}],
            [{"name": "runs", "mountPath": RUNS}, {"name": "data", "mountPath": DATA, "readOnly": True}])


def labels(name: str) -> dict:
    return {"app.kubernetes.io/managed-by": "cnnpipe", "cnnpipe.run": name}


def service(name: str) -> dict:
    """The headless Service that gives each pod of the run a DNS name (``JOB-INDEX.NAME``)."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels(name)},
            "spec": {"clusterIP": "None", "selector": {"cnnpipe.run": name}, "publishNotReadyAddresses": True,
                     "ports": [{"name": "scheduler", "port": SCHEDULER_PORT}, {"name": "master", "port": MASTER_PORT}]}}


def network_policy(name: str) -> dict:
    """The run's pods reach one another and the cluster's DNS, nothing else (the Docker job has no network)."""
    peers = [{"podSelector": {"matchLabels": {"cnnpipe.run": name}}}]
    dns = {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
           "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "labels": labels(name)},
            "spec": {"podSelector": {"matchLabels": {"cnnpipe.run": name}}, "policyTypes": ["Ingress", "Egress"],
                     "ingress": [{"from": peers}], "egress": [{"to": peers}, dns]}}


def container(image: str, command: list[str], args: list[str], env: list[dict], limits: dict, mounts) -> dict:
    spec = {"name": "cnnpipe", "image": image, "command": command, "args": args, "workingDir": TMP,
            "env": list(env), "volumeMounts": list(mounts)}
    if limits:
        spec["resources"] = limits
    return spec


def indexed_job(service_name: str, pods: int, main: dict, vols: list, timeout=None) -> dict:
    """An Indexed Job's ``spec``: ``pods`` pods at once, each named ``JOB-INDEX`` under ``service_name``; one failure
    fails the Job, and Kubernetes then stops its other pods."""
    spec = {"completionMode": "Indexed", "completions": pods, "parallelism": pods, "backoffLimit": 0,
            "ttlSecondsAfterFinished": FINISHED_TTL,
            "template": {"metadata": {"labels": {"cnnpipe": "job", **labels(service_name)}},
                         "spec": lock_down({"subdomain": service_name, "restartPolicy": "Never", "containers": [main],
                                            "volumes": list(vols), "automountServiceAccountToken": False,
                                            "enableServiceLinks": False})}}
    if timeout:
        spec["activeDeadlineSeconds"] = int(timeout)
    return spec


def job(name: str, spec: dict, service_name: str) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "labels": labels(service_name)},
            "spec": spec}


def ps_lite_env(scheduler_host: str, workers: int, servers: int) -> list[dict]:
    return [{"name": "DMLC_PS_ROOT_URI", "value": scheduler_host},
            {"name": "DMLC_PS_ROOT_PORT", "value": str(SCHEDULER_PORT)},
            {"name": "DMLC_NUM_WORKER", "value": str(workers)}, {"name": "DMLC_NUM_SERVER", "value": str(servers)},
            {"name": "DMLC_USE_KUBERNETES", "value": "1"},  # the scheduler listens on every address of its pod
            {"name": "DMLC_NODE_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]


# A CronJob names its Jobs itself: their pods find the first one through the Job's name.
JOB_NAME = {"name": "JOB_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/job-name']"}}}


def first_pod(job_name: str | None, service_name: str) -> tuple[str, list[dict]]:
    """The DNS name of a Job's pod 0 and the variables it needs (``job_name`` None: the CronJob's Job)."""
    if job_name is None:
        return f"$(JOB_NAME)-0.{service_name}", [JOB_NAME]
    return f"{job_name}-0.{service_name}", []


def ps_lite_jobs(name, args, image, workers, servers, gpus=0, memory=None, cpus=None, timeout=None,
                 job_name: str | None = "") -> list[dict]:
    """MXNet's scheduler, servers and workers as one Indexed Job, or two when the workers take GPUs."""
    if gpus > 1:
        raise UsageError("an MXNet worker trains on one GPU (dist_device_sync); give --gpus-per-worker 1 and more "
                         "--workers")
    vols, mounts = volumes(name)
    first = f"{name}-ps" if gpus else job_name or name
    host, extra = first_pod(None if job_name is None else first, name)
    env = [*extra, *ps_lite_env(host, workers, servers)]

    def spec(pods: int, script: str, gpu: int) -> dict:
        main = container(image, ["/bin/sh", "-c", script, "cnnpipe"], args, env, resources(memory, cpus, gpu), mounts)
        return indexed_job(name, pods, main, vols, timeout)

    roles = ROLES.format(servers=servers)
    if not gpus:
        return [job(name, spec(1 + servers + workers, roles, 0), name)]
    return [job(first, spec(1 + servers, roles, 0), name), job(f"{name}-workers", spec(workers, WORKER, gpus), name)]


def torchrun_env(master_host: str, nodes: int, per_node: int) -> list[dict]:
    """torchrun's options as its ``PET_*`` variables; the node rank is the pod's completion index."""
    return [{"name": "PET_NNODES", "value": str(nodes)}, {"name": "PET_NPROC_PER_NODE", "value": str(per_node)},
            {"name": "PET_NODE_RANK", "valueFrom": {"fieldRef": {"fieldPath": INDEX}}},
            {"name": "PET_MASTER_ADDR", "value": master_host}, {"name": "PET_MASTER_PORT", "value": str(MASTER_PORT)}]


def shared_memory(vols: list, mounts: list) -> tuple[list, list]:
    """``/dev/shm`` as a memory volume: NCCL between the GPUs of one pod needs more than the runtime's 64 MiB."""
    return ([*vols, {"name": "dshm", "emptyDir": {"medium": "Memory"}}],
            [*mounts, {"name": "dshm", "mountPath": "/dev/shm"}])


TORCHRUN = ["torchrun", "--max-restarts", "0", "--no-python", "cnnpipe", "run"]


def nodes_of(workers: int, gpus: int) -> tuple[int, int]:
    """``(pods, ranks per pod)``: PyTorch runs one rank per GPU, so a pod with ``gpus`` GPUs runs that many."""
    per_node = max(1, gpus)
    if workers % per_node:
        raise UsageError(f"--workers {workers} is not a multiple of --gpus-per-worker {gpus} (PyTorch runs one rank "
                         f"per GPU, {gpus} to a pod)")
    return workers // per_node, per_node


def torchrun_job(name, args, image, workers, gpus=0, memory=None, cpus=None, timeout=None,
                 job_name: str | None = "") -> list[dict]:
    """PyTorch's ranks as an Indexed Job of torchrun pods: no operator needed."""
    nodes, per_node = nodes_of(workers, gpus)
    vols, mounts = volumes(name)
    if per_node > 1:
        vols, mounts = shared_memory(vols, mounts)
    host, extra = first_pod(None if job_name is None else job_name or name, name)
    main = container(image, list(TORCHRUN), args, [*extra, *torchrun_env(host, nodes, per_node)],
                     resources(memory, cpus, gpus), mounts)
    return [job(name, indexed_job(name, nodes, main, vols, timeout), name)]


def trainjob(name, args, image, workers, gpus=0, memory=None, cpus=None, timeout=None) -> dict:
    """PyTorch's ranks as a Kubeflow Trainer TrainJob on the ``torch-distributed`` runtime (which sets ``PET_*``)."""
    nodes, per_node = nodes_of(workers, gpus)
    vols, mounts = volumes(name)
    if per_node > 1:
        vols, mounts = shared_memory(vols, mounts)
    trainer = {"image": image, "command": list(TORCHRUN), "args": args, "numNodes": nodes, "numProcPerNode": per_node}
    limits = resources(memory, cpus, gpus)
    if limits:
        trainer["resourcesPerNode"] = limits
    pod = lock_down({"volumes": list(vols), "containers": [{"name": "node", "volumeMounts": list(mounts)}]})
    # Trainer v2.3's pod patch has no such field (the API server would prune it): the runtime's own pod template
    # decides, so an operator sets it on the ClusterTrainingRuntime.
    del pod["automountServiceAccountToken"]
    patch = {"manager": "cnnpipe", "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [
        {"name": "node", "template": {"spec": {"template": {"metadata": {"labels": {"cnnpipe.run": name}},
                                                            "spec": pod}}}}]}}}}
    spec = {"runtimeRef": {"name": TRAINER_RUNTIME}, "trainer": trainer, "runtimePatches": [patch]}
    if timeout:
        spec["activeDeadlineSeconds"] = int(timeout)
    return {"apiVersion": TRAINER_API, "kind": "TrainJob", "metadata": {"name": name, "labels": labels(name)},
            "spec": spec}


def manifests(config, launcher: str, args: list[str], *, name: str, image: str, gpus: int = 0, memory=None,
              cpus=None, timeout=None, operator: bool = False) -> dict:
    """The run ``config`` (container ``args``) as a ``v1`` List for ``kubectl apply -f``."""
    name = run_name(name)
    common = dict(gpus=gpus, memory=memory, cpus=cpus, timeout=timeout)
    if launcher == PS_LITE:
        if operator:
            raise UsageError("--trainjob is for PyTorch: Kubeflow Trainer has no MXNet runtime")
        items = ps_lite_jobs(name, args, image, config.workers, config.servers or 1, **common)
    elif operator:
        items = [trainjob(name, args, image, config.workers, **common)]
    else:
        items = torchrun_job(name, args, image, config.workers, **common)
    if not operator:
        items = [service(name), network_policy(name), *items]
    else:
        items = [network_policy(name), *items]  # the TrainJob's JobSet makes its own Service
    return {"apiVersion": "v1", "kind": "List", "items": items}


def scheduled(cronjob: dict, launcher: str, workers: int, servers: int | None, gpus: int, retries: int) -> dict:
    """A schedule's CronJob whose Jobs run the distributed run as an Indexed Job, with its Service and NetworkPolicy.

    ``gpus`` are the schedule's, shared by its workers: one each.
    """
    if retries:
        raise UsageError("a schedule with workers exports with --retries 0 only: a Job cannot restart one worker "
                         "of a running distributed run")
    if gpus and gpus != workers:
        raise UsageError(f"each worker of a scheduled run trains on one GPU: give the schedule --gpus {workers}")
    if gpus and launcher == PS_LITE:
        raise UsageError("a scheduled MXNet run on GPU workers needs two Jobs (workers with GPUs, scheduler and "
                         "servers without), which one CronJob cannot start; use cnnpipe manifest")
    name = run_name(cronjob["metadata"]["name"])
    spec = cronjob["spec"]["jobTemplate"]["spec"]
    (main,) = spec["template"]["spec"]["containers"]
    limits = main.get("resources", {}).get("limits", {})
    common = dict(gpus=1 if gpus else 0, memory=None, cpus=None, timeout=spec.get("activeDeadlineSeconds"),
                  job_name=None)
    if launcher == PS_LITE:
        (job_,) = ps_lite_jobs(name, main["args"], main["image"], workers, servers or 1, **common)
    else:
        (job_,) = torchrun_job(name, main["args"], main["image"], workers, **common)
    limits = {k: v for k, v in limits.items() if k != "nvidia.com/gpu"}
    if limits:  # the schedule's memory and CPU limits hold for each of the run's pods
        job_["spec"]["template"]["spec"]["containers"][0].setdefault("resources", {}).setdefault("limits", {}).update(limits)
    exported = {**cronjob, "metadata": {**cronjob["metadata"], "name": name}}
    exported["spec"] = {**cronjob["spec"], "jobTemplate": {"metadata": {"labels": labels(name)}, "spec": job_["spec"]}}
    return {"apiVersion": "v1", "kind": "List", "items": [service(name), network_policy(name), exported]}
