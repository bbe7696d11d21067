"""GPU configuration and detection, the CPU-job limit, and the service loop."""

import os

import pytest

from cnnpipe.errors import UsageError
from cnnpipe.schedule import resources, scheduler


def test_gpus_come_from_the_option_then_the_environment(monkeypatch):
    monkeypatch.setenv("CNNPIPE_GPUS", "2,3")
    monkeypatch.setenv("CNNPIPE_CPU_JOBS", "4")
    assert resources.configured() == resources.Resources(("2", "3"), 4)
    assert resources.configured("none", 1) == resources.Resources((), 1)
    assert resources.configured("GPU-71b3", 2).gpus == ("GPU-71b3",)


@pytest.mark.parametrize("gpus, cpu, env, message", [
    ("0,0", None, {}, "--gpus takes GPU ids"),
    ("0;1", None, {}, "--gpus takes GPU ids"),
    (None, None, {"CNNPIPE_GPUS": "a b"}, "CNNPIPE_GPUS takes GPU ids"),
    ("none", 0, {}, "the CPU job limit must be at least 1"),
    ("none", None, {"CNNPIPE_CPU_JOBS": "two"}, "CNNPIPE_CPU_JOBS must be a whole number"),
])
def test_bad_resource_settings_are_refused(monkeypatch, gpus, cpu, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(UsageError, match=message):
        resources.configured(gpus, cpu)


def test_gpus_are_detected_with_nvidia_smi(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    # The real one, asked --query-gpu=index --format=csv,noheader on an H200 host, printed "0".
    fake.write_text('#!/bin/sh\n[ "$1" = --query-gpu=index ] && printf "0\\n1\\n"\n')
    fake.chmod(0o755)
    monkeypatch.delenv("CNNPIPE_GPUS", raising=False)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert resources.configured().gpus == ("0", "1")
    fake.write_text("#!/bin/sh\nexit 9\n")
    assert resources.detect_gpus() == ()


def test_no_nvidia_smi_means_no_gpus(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert resources.detect_gpus() == ()


def test_the_loop_survives_a_failed_pass_and_stops_when_told():
    passes = []

    class Flaky:
        def tick(self):
            passes.append(1)
            if len(passes) == 1:
                raise RuntimeError("engine hiccup")
            if len(passes) == 2:
                raise UsageError("image gone")

    scheduler.loop(Flaky(), interval=0.01, stop=lambda: len(passes) >= 3)
    assert len(passes) == 3
