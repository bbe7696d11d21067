"""``schedule export --kubernetes``: the CronJob is valid against the Kubernetes schema and says the same as the schedule."""

import json

import kubernetes_validate
import pytest
from click.testing import CliRunner

from cnnpipe.cli import main
from cnnpipe.kube.cronjob import cronjob, cronjob_name as k8s_name
from cnnpipe.schedule.store import Store

VERSION = "1.30.0"  # CronJob.spec.timeZone is stable since 1.27


@pytest.fixture
def exported(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNPIPE_HOME", str(tmp_path))
    monkeypatch.setenv("CNNPIPE_GPUS", "0,1")
    monkeypatch.setenv("CNNPIPE_IMAGE", "cnnpipe-job:cpu")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # images for a cluster, not checked here
    data = tmp_path / "data"  # the dataset's four files, so that the schedule is accepted without real data
    data.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (data / name).write_bytes(b"")

    def export(*add_args, run_args=()):
        add = CliRunner().invoke(main, ["schedule", "add", "Nightly_ResNet", *add_args, "--", "lenet",
                                        "fashion-mnist", "--epochs", "10", "--data-dir", str(data), *run_args])
        assert add.exit_code == 0, add.output
        out = CliRunner().invoke(main, ["schedule", "export", "Nightly_ResNet", "--kubernetes"])
        assert out.exit_code == 0, out.output
        return json.loads(out.output)

    return export


def test_a_gpu_schedule_exports_a_valid_cronjob(exported):
    manifest = exported("--cron", "0 2 * * *", "--timezone", "Europe/Berlin", "--gpus", "2", "--concurrency",
                        "replace", "--starting-deadline", "900", "--retries", "3", "--timeout", "7200",
                        "--image", "cnnpipe:cuda", run_args=("--memory", "4g", "--cpus", "2.5"))
    kubernetes_validate.validate(manifest, VERSION, strict=True)
    spec = manifest["spec"]
    assert manifest["metadata"]["name"] == "nightly-resnet"
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == ("0 2 * * *", "Europe/Berlin", "Replace")
    assert spec["startingDeadlineSeconds"] == 900 and spec["suspend"] is False
    job = spec["jobTemplate"]["spec"]
    assert (job["backoffLimit"], job["activeDeadlineSeconds"]) == (3, 7200)
    assert job["ttlSecondsAfterFinished"] == 7 * 24 * 3600
    assert job["template"]["spec"]["automountServiceAccountToken"] is False
    [container] = job["template"]["spec"]["containers"]
    assert container["image"] == "cnnpipe:cuda"
    assert container["resources"]["limits"] == {"nvidia.com/gpu": 2, "memory": "4Gi", "cpu": "2500m"}
    args = container["args"]
    assert container["command"] == ["cnnpipe", "run"] and args[:2] == ["lenet", "fashion-mnist"]
    assert [args[args.index(flag) + 1] for flag in ("--device", "--epochs")] == ["gpu", "10"]
    assert args[-4:] == ["--data-dir", "/data", "--out", "/runs"]


def test_a_paused_cpu_schedule_exports_a_suspended_cronjob_without_gpus(exported):
    exported("--cron", "@daily", "--concurrency", "forbid")
    Store().set_paused("Nightly_ResNet", True, 0)
    manifest = cronjob(Store().schedule("Nightly_ResNet"))
    kubernetes_validate.validate(manifest, VERSION, strict=True)
    assert manifest["spec"]["suspend"] is True and manifest["spec"]["concurrencyPolicy"] == "Forbid"
    assert "resources" not in manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]


def test_the_schema_check_catches_a_broken_manifest(exported):
    manifest = exported("--cron", "@daily")
    manifest["spec"]["concurrencyPolicy"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, VERSION, strict=True)


def test_names_become_dns_labels():
    assert k8s_name("Nightly_ResNet.v2") == "nightly-resnet-v2"
    assert len(k8s_name("x" * 80)) == 52


def test_pods_get_the_lockdown_of_a_docker_job(exported):
    manifest = exported("--cron", "@daily", "--gpus", "1", run_args=("--memory", "2g"))
    kubernetes_validate.validate(manifest, VERSION, strict=True)
    pod = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                      "fsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}}
    [container] = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]} and security["runAsNonRoot"] is True
    assert security["seccompProfile"] == {"type": "RuntimeDefault"} and security["privileged"] is False
    [tmp] = [v for v in pod["volumes"] if v["name"] == "tmp"]
    assert tmp["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Gi"}
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "HOME", "value": "/tmp"} in container["env"]


def test_lock_down_serves_any_pod_spec():
    from cnnpipe.kube.pods import lock_down

    pod = lock_down({"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]})
    assert all(c["securityContext"]["readOnlyRootFilesystem"] for c in pod["containers"])
    assert [v["name"] for v in pod["volumes"]] == ["tmp"]
