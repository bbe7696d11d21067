"""``cnnpipe manifest`` and ``schedule export --kubernetes`` for runs of several workers: valid against the Kubernetes
schema (strict) and the Kubeflow Trainer v2.3.0 TrainJob CRD, and saying the same as the run."""

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
from click.testing import CliRunner

from cnnpipe.cli import main

VERSION = "1.30.0"
TRAINJOB_SCHEMA = Path(__file__).resolve().parent / "data" / "kubeflow-trainer-v2.3.0-trainjob.schema.json"


def manifest(*args, expect=0):
    result = CliRunner().invoke(main, ["manifest", *args])
    assert result.exit_code == expect, result.output
    return json.loads(result.output) if expect == 0 else result.output


def items(listing, kind):
    return [item for item in listing["items"] if item["kind"] == kind]


def validate_core(listing):
    assert listing["apiVersion"] == "v1" and listing["kind"] == "List"
    for item in listing["items"]:
        if item["apiVersion"].startswith("trainer.kubeflow.org/"):
            validate_trainjob(item)
        else:
            kubernetes_validate.validate(item, VERSION, strict=True)


def strict_fields(value, schema, path="$"):
    """Fields the CRD's structural schema does not know (the API server would prune or, strictly, refuse them)."""
    if isinstance(value, dict) and "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        unknown = [f"{path}.{key}" for key in value if key not in schema["properties"]]
        return unknown + [field for key, child in value.items() if key in schema["properties"]
                          for field in strict_fields(child, schema["properties"][key], f"{path}.{key}")]
    if isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        return [field for key, child in value.items()
                for field in strict_fields(child, schema["additionalProperties"], f"{path}.{key}")]
    if isinstance(value, list) and "items" in schema:
        return [field for i, child in enumerate(value) for field in strict_fields(child, schema["items"], f"{path}[{i}]")]
    return []


def validate_trainjob(item):
    schema = json.loads(TRAINJOB_SCHEMA.read_text())
    jsonschema.validate(item, schema)
    assert strict_fields(item, schema) == []


def container_of(job):
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


def env_of(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def roles(script, count, tmp_path):
    """The DMLC_ROLE each completion index gets, by running the pod's command in a real shell."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "cnnpipe").write_text('#!/bin/sh\necho "$DMLC_ROLE $*"\n')
    (fake / "cnnpipe").chmod(0o755)
    seen = []
    for index in range(count):
        env = {**os.environ, "JOB_COMPLETION_INDEX": str(index), "PATH": f"{fake}:{os.environ['PATH']}"}
        out = subprocess.run(script + ["lenet"], capture_output=True, text=True, env=env, check=True).stdout
        seen.append(out.strip())
    return seen


def test_mxnet_is_an_indexed_job_behind_a_headless_service(tmp_path):
    listing = manifest("lenet", "fashion-mnist", "--workers", "3", "--servers", "2", "--image", "reg/cnnpipe:1",
                       "--memory", "4g", "--cpus", "2", "--timeout", "3600", "--epochs", "7")
    validate_core(listing)
    (svc,), (policy,), (job,) = items(listing, "Service"), items(listing, "NetworkPolicy"), items(listing, "Job")
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"] is True
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 6, 6)
    assert spec["backoffLimit"] == 0 and spec["activeDeadlineSeconds"] == 3600
    pod = spec["template"]["spec"]
    assert pod["subdomain"] == svc["metadata"]["name"] == "lenet-fashion-mnist"
    assert svc["spec"]["selector"] == policy["spec"]["podSelector"]["matchLabels"]
    assert svc["spec"]["selector"].items() <= spec["template"]["metadata"]["labels"].items()
    container = container_of(job)
    env = env_of(container)
    assert env["DMLC_PS_ROOT_URI"] == "lenet-fashion-mnist-0.lenet-fashion-mnist"
    assert (env["DMLC_NUM_WORKER"], env["DMLC_NUM_SERVER"], env["DMLC_USE_KUBERNETES"]) == ("3", "2", "1")
    args = container["args"]
    assert args[:2] == ["lenet", "fashion-mnist"] and args[-4:] == ["--data-dir", "/data", "--out", "/runs"]
    assert [args[args.index(f) + 1] for f in ("--workers", "--servers", "--epochs", "--device")] == ["3", "2", "7", "cpu"]
    assert container["resources"] == {"limits": {"memory": "4Gi", "cpu": "2000m"}}
    assert roles(container["command"], 6, tmp_path) == [
        "scheduler run lenet", "server run lenet", "server run lenet", "worker run lenet", "worker run lenet",
        "worker run lenet"]


def test_pods_are_locked_down_like_the_docker_job():
    listing = manifest("lenet", "fashion-mnist", "--workers", "2", "--backend", "torch", "--image", "reg/cnnpipe:1")
    (job,) = items(listing, "Job")
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    security = container_of(job)["securityContext"]
    assert {k: security[k] for k in ("allowPrivilegeEscalation", "privileged", "readOnlyRootFilesystem", "capabilities")} == {
        "allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]}}
    assert security["runAsNonRoot"] is True and security["seccompProfile"] == {"type": "RuntimeDefault"}
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in container_of(job)["volumeMounts"]}
    assert mounts == {"/runs": False, "/data": True, "/tmp": False}


def test_mxnet_gpu_workers_get_a_job_of_their_own(tmp_path):
    listing = manifest("lenet", "fashion-mnist", "--workers", "2", "--gpus-per-worker", "1", "--image", "r/c:cuda")
    validate_core(listing)
    ps, workers = items(listing, "Job")
    assert (ps["metadata"]["name"], workers["metadata"]["name"]) == ("lenet-fashion-mnist-ps", "lenet-fashion-mnist-workers")
    assert ps["spec"]["completions"] == 2 and "resources" not in container_of(ps)
    assert workers["spec"]["completions"] == 2
    assert container_of(workers)["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert env_of(container_of(workers))["DMLC_PS_ROOT_URI"] == "lenet-fashion-mnist-ps-0.lenet-fashion-mnist"
    assert roles(container_of(ps)["command"], 2, tmp_path) == ["scheduler run lenet", "server run lenet"]
    assert roles(container_of(workers)["command"], 2, tmp_path) == ["worker run lenet", "worker run lenet"]
    args = container_of(workers)["args"]
    assert args[args.index("--device") + 1] == "gpu"


def test_pytorch_is_an_indexed_job_of_torchrun_pods():
    listing = manifest("lenet", "fashion-mnist", "--backend", "torch", "--workers", "4", "--gpus-per-worker", "2",
                       "--image", "reg/cnnpipe:cuda", "--name", "Nightly_LeNet")
    validate_core(listing)
    (job,) = items(listing, "Job")
    assert job["metadata"]["name"] == "nightly-lenet" and job["spec"]["completions"] == 2
    container = container_of(job)
    assert container["command"][0] == "torchrun" and container["command"][-2:] == ["cnnpipe", "run"]
    env = env_of(container)
    assert (env["PET_NNODES"], env["PET_NPROC_PER_NODE"], env["PET_MASTER_ADDR"]) == ("2", "2", "nightly-lenet-0.nightly-lenet")
    assert "job-completion-index" in env["PET_NODE_RANK"]["fieldRef"]["fieldPath"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2


def test_every_job_is_deleted_a_week_after_it_finished_and_its_pods_mount_no_token():
    listing = manifest("lenet", "fashion-mnist", "--workers", "2", "--image", "reg/cnnpipe:1")
    trainjob = manifest("lenet", "fashion-mnist", "--backend", "torch", "--workers", "2", "--trainjob", "--image", "r/c")
    (job,) = items(listing, "Job")
    validate_core(listing)
    assert job["spec"]["ttlSecondsAfterFinished"] == 7 * 24 * 3600
    assert job["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    # The TrainJob's pod patch cannot carry it (Trainer v2.3's CRD has no such field there): still strictly valid.
    validate_core(trainjob)


def test_a_pod_of_several_gpus_gets_dev_shm_as_a_memory_volume():
    several = manifest("lenet", "fashion-mnist", "--backend", "torch", "--workers", "4", "--gpus-per-worker", "2",
                       "--image", "reg/cnnpipe:1")
    validate_core(several)
    (job,) = items(several, "Job")
    pod = job["spec"]["template"]["spec"]
    assert {"name": "dshm", "emptyDir": {"medium": "Memory"}} in pod["volumes"]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container_of(job)["volumeMounts"]
    one = manifest("lenet", "fashion-mnist", "--backend", "torch", "--workers", "2", "--gpus-per-worker", "1",
                   "--image", "reg/cnnpipe:1")
    (job,) = items(one, "Job")
    assert "dshm" not in {v["name"] for v in job["spec"]["template"]["spec"]["volumes"]}
    operator = manifest("lenet", "fashion-mnist", "--backend", "torch", "--workers", "4", "--gpus-per-worker", "2",
                        "--trainjob", "--image", "reg/cnnpipe:1")
    validate_core(operator)
    (trainjob,) = items(operator, "TrainJob")
    patch = trainjob["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"][0]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in patch["template"]["spec"]["template"]["spec"]["containers"][0][
        "volumeMounts"]


def test_a_misspelt_field_in_one_item_fails_strict_validation():
    listing = manifest("lenet", "fashion-mnist", "--workers", "2", "--image", "reg/cnnpipe:1")
    (job,) = items(listing, "Job")
    kubernetes_validate.validate(job, VERSION, strict=True)
    job["spec"]["backofLimit"] = job["spec"].pop("backoffLimit")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, VERSION, strict=True)


def test_pytorch_as_a_trainjob_is_valid_against_the_trainer_crd():
    listing = manifest("lenet", "fashion-mnist", "--backend", "torch", "--workers", "2", "--trainjob",
                       "--image", "reg/cnnpipe:1", "--cpus", "2", "--timeout", "600")
    validate_core(listing)
    (trainjob,) = items(listing, "TrainJob")
    spec = trainjob["spec"]
    assert trainjob["apiVersion"] == "trainer.kubeflow.org/v1alpha1" and spec["runtimeRef"] == {"name": "torch-distributed"}
    assert (spec["trainer"]["numNodes"], spec["trainer"]["numProcPerNode"]) == (2, 1)
    assert spec["trainer"]["resourcesPerNode"] == {"limits": {"cpu": "2000m"}} and spec["activeDeadlineSeconds"] == 600
    pod = spec["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_trainjob_check_catches_a_broken_one():
    listing = manifest("lenet", "fashion-mnist", "--backend", "torch", "--workers", "2", "--trainjob", "--image", "r/c")
    (trainjob,) = items(listing, "TrainJob")
    trainjob["spec"]["trainer"]["numNodes"] = "two"
    with pytest.raises(jsonschema.ValidationError):
        validate_trainjob(trainjob)
    trainjob["spec"]["trainer"]["numNodes"] = 2
    trainjob["spec"]["trainer"]["gpus"] = 1
    assert strict_fields(trainjob, json.loads(TRAINJOB_SCHEMA.read_text())) == ["$.spec.trainer.gpus"]


@pytest.mark.parametrize("args, message", [
    (["--workers", "2", "--image", "r/c", "--trainjob"], "--trainjob is for PyTorch"),
    (["--workers", "2"], "give --image"),
    (["--image", "r/c"], "give --workers N"),
    (["--workers", "2", "--image", "r/c", "--gpus", "1"], "--gpus does not apply to cnnpipe manifest; give --gpus-per-worker"),
    (["--workers", "2", "--image", "r/c", "--gpus-per-worker", "2"], "an MXNet worker trains on one GPU"),
    (["--workers", "3", "--image", "r/c", "--gpus-per-worker", "2", "--backend", "torch"], "not a multiple"),
    (["--workers", "2", "--image", "r/c", "--device", "gpu"], "--device gpu needs GPUs"),
])
def test_bad_manifest_options_are_one_line(args, message):
    output = manifest("lenet", "fashion-mnist", *args, expect=2)
    assert output.startswith("cnnpipe: error: ") and message in output and len(output.strip().splitlines()) == 1


@pytest.fixture
def schedule_export(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPIPE_HOME", str(tmp_path))
    monkeypatch.setenv("CNNPIPE_IMAGE", "reg/cnnpipe:cpu")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # images for a cluster, not checked here
    monkeypatch.setenv("CNNPIPE_GPUS", "0,1")
    data = tmp_path / "data"
    data.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (data / name).write_bytes(b"")

    def export(*add_args, run_args=(), expect=0):
        add = CliRunner().invoke(main, ["schedule", "add", "nightly", "--cron", "@daily", *add_args, "--", "lenet",
                                        "fashion-mnist", "--data-dir", str(data), *run_args])
        assert add.exit_code == 0, add.output
        out = CliRunner().invoke(main, ["schedule", "export", "nightly", "--kubernetes"])
        assert out.exit_code == expect, out.output
        return json.loads(out.output) if expect == 0 else out.output

    return export


def test_a_schedule_with_workers_exports_a_cronjob_of_indexed_jobs(schedule_export):
    listing = schedule_export("--timeout", "1800", run_args=("--workers", "2", "--memory", "2g"))
    validate_core(listing)
    (cron,) = items(listing, "CronJob")
    job = cron["spec"]["jobTemplate"]["spec"]
    assert (job["completionMode"], job["completions"], job["activeDeadlineSeconds"]) == ("Indexed", 4, 1800)
    (container,) = job["template"]["spec"]["containers"]
    names = [e["name"] for e in container["env"]]
    assert names.index("JOB_NAME") < names.index("DMLC_PS_ROOT_URI")  # defined before it is referred to
    assert env_of(container)["DMLC_PS_ROOT_URI"] == "$(JOB_NAME)-0.nightly"
    assert container["resources"]["limits"]["memory"] == "2Gi"
    assert container["args"][container["args"].index("--workers") + 1] == "2"


def test_a_gpu_schedule_of_pytorch_workers_gives_each_one_gpu(schedule_export):
    listing = schedule_export("--gpus", "2", run_args=("--workers", "2", "--backend", "torch"))
    validate_core(listing)
    (cron,) = items(listing, "CronJob")
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert env_of(container)["PET_MASTER_ADDR"] == "$(JOB_NAME)-0.nightly"


def test_a_schedule_with_workers_and_retries_is_refused(schedule_export):
    output = schedule_export("--retries", "2", run_args=("--workers", "2"), expect=2)
    assert "--retries 0 only" in output
