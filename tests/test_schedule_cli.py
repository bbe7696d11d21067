"""``cnnpipe schedule`` / ``jobs``: every bad input gets one line and exit 2; the good paths print what they did."""

import json

import pytest
from click.testing import CliRunner

from cnnpipe.cli import main
from cnnpipe.schedule.store import Store
from schedule_support import cli, one_line_error  # noqa: F401  (cli is a fixture)

GOOD = ["--", "lenet", "fashion-mnist", "--epochs", "1", "--limit", "200"]


@pytest.mark.parametrize("args, message", [
    (["--cron", "61 2 * * *"], "invalid cron expression '61 2 * * *'"),
    (["--cron", "0 2 * *"], "give five fields"),
    (["--cron", "*/5 * * * * *"], "give five fields"),
    (["--cron", "@fortnightly"], "invalid cron expression"),
    (["--cron", "0 2 * * *", "--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    (["--cron", "0 2 * * *", "--gpus", "1"], "impossible GPU request: the schedule asks for 1 GPU(s) but the scheduler has none"),
    (["--cron", "0 2 * * *", "--gpus", "-1"], "--gpus must be 0 or more"),
    (["--cron", "0 2 * * *", "--concurrency", "sometimes"], "--concurrency must be one of allow, forbid, replace"),
    (["--cron", "0 2 * * *", "--timeout", "0"], "--timeout must be a positive number"),
    (["--cron", "0 2 * * *", "--starting-deadline", "-5"], "--starting-deadline must be a positive number"),
    (["--cron", "0 2 * * *", "--retries", "-1"], "must not be negative"),
    (["--cron", "0 2 * * *", "--retries", "99999999999999999999"], "--retries must be at most 1000"),
    (["--cron", "0 2 * * *", "--timeout", "1e10"], "--timeout must be at most 31622400 seconds"),
    (["--cron", "0 2 * * *", "--starting-deadline", "1e300"], "--starting-deadline must be at most 31622400 seconds"),
    (["--cron", "0 2 * * *", "--backoff", "1e300"], "--backoff must be at most 31622400 seconds"),
    # croniter reads these, Kubernetes' cron parser does not: a schedule must mean the same in both.
    (["--cron", "0 2 L * *"], "Kubernetes"),
    (["--cron", "0 2 * * 5#3"], "Kubernetes"),
    (["--cron", "0 2 15W * *"], "Kubernetes"),
    (["--cron", "0 2 * * 5L"], "invalid cron expression"),
    (["--cron", "0 2 * * 7"], "Kubernetes"),
    (["--cron", "H 2 * * *"], "invalid cron expression"),
])
def test_bad_schedule_settings_are_refused(cli, args, message):
    line = one_line_error(cli("schedule", "add", "nightly", *args, *GOOD, code=2))
    assert message in line
    assert Store().schedules() == []


@pytest.mark.parametrize("run_args, message", [
    (["resnet-9000", "fashion-mnist"], "unknown model 'resnet-9000'"),
    (["lenet", "imagenet-21k"], "unknown dataset 'imagenet-21k'"),
    (["lenet"], "give MODEL and DATASET after --"),
    (["lenet", "fashion-mnist", "--bogus", "1"], "No such option '--bogus'"),
    (["lenet", "fashion-mnist", "--epochs", "many"], "bad run options after --"),
    (["lenet", "fashion-mnist", "--lr", "-1"], "lr must be a positive number"),
    (["lenet", "fashion-mnist", "--resume", "runs/x"], "--resume cannot be scheduled"),
    (["lenet", "fashion-mnist", "--device", "gpu"], "--device gpu needs GPUs"),
    (["lenet", "fashion-mnist", "--set", "arch.nope=1"], "no architecture argument 'nope'"),
    (["lenet", "fashion-mnist", "--runner", "local"], "scheduled jobs always run in containers"),
    (["lenet", "fashion-mnist", "--gpus", "1"], "give the GPU count before --"),
    (["lenet", "fashion-mnist", "--memory", "lots"], "--memory takes a size like 512m or 4g"),
    (["lenet", "fashion-mnist", "--cpus", "-2"], "--cpus must be positive"),
    (["lenet", "fashion-mnist", "--cpus", "1e-12"], "--cpus must be between 0.01 and 8192"),
    (["lenet", "fashion-mnist", "--cpus", "1e300"], "--cpus must be between 0.01 and 8192"),
    (["lenet", "fashion-mnist", "--timeout", "1e10"], "--timeout must be at most 31622400 seconds"),
    (["lenet", "fashion-mnist", "--data-dir", "/nonexistent"], "lacks the Fashion-MNIST file(s)"),
])
def test_bad_run_options_are_refused(cli, run_args, message):
    line = one_line_error(cli("schedule", "add", "nightly", "--cron", "0 2 * * *", "--", *run_args, code=2))
    assert message in line


@pytest.mark.real_data  # the dataset's folder must exist on the host
def test_bad_names_and_ids_are_refused(cli, monkeypatch):
    assert "a schedule name uses letters" in one_line_error(cli("schedule", "add", "a b", "--cron", "@daily", *GOOD, code=2))
    cli("schedule", "add", "nightly", "--cron", "@daily", *GOOD)
    assert "already exists" in one_line_error(cli("schedule", "add", "nightly", "--cron", "@daily", *GOOD, code=2))
    for command in ("show", "remove", "pause", "resume", "run-now"):
        line = one_line_error(cli("schedule", command, "weekly", code=2))
        assert "no schedule named 'weekly'; schedules: nightly" in line
    assert "a job id is a number" in one_line_error(cli("jobs", "show", "first", code=2))
    assert "no job with id 7" in one_line_error(cli("jobs", "logs", "7", code=2))
    monkeypatch.delenv("CNNPIPE_IMAGE")  # then the engine is asked for the newest job image
    assert "cannot reach a Docker engine" in one_line_error(cli("schedule", "add", "i", "--cron", "@daily", *GOOD, code=3))
    monkeypatch.setenv("CNNPIPE_GPUS", "0,0")
    assert "CNNPIPE_GPUS takes GPU ids" in one_line_error(cli("schedule", "add", "g", "--cron", "@daily", "--gpus", "1", *GOOD, code=2))
    monkeypatch.setenv("CNNPIPE_HOME", "/dev/null/home")
    assert "cannot open the scheduler store" in one_line_error(cli("schedule", "list", code=2))


@pytest.mark.real_data  # the dataset's folder must exist on the host
def test_a_gpu_schedule_within_the_configured_gpus_is_accepted(cli, monkeypatch):
    monkeypatch.setenv("CNNPIPE_GPUS", "0,1")
    cli("schedule", "add", "big", "--cron", "@daily", "--gpus", "2", *GOOD)
    assert "impossible GPU request" in one_line_error(
        cli("schedule", "add", "bigger", "--cron", "@daily", "--gpus", "3", *GOOD, code=2))
    request = Store().schedule("big").request
    assert request.gpus == 2 and request.args[request.args.index("--device") + 1] == "gpu"


@pytest.mark.real_data  # the dataset's folder must exist on the host
def test_add_list_show_pause_resume_run_now_and_remove(cli, tmp_path):
    out = cli("schedule", "add", "nightly", "--cron", "0 2 * * *", "--timezone", "Europe/Berlin",
              "--retries", "2", *GOOD, "--data-dir", "/usr/share/datasets/fashion-mnist")
    assert out.startswith("added schedule nightly: lenet on fashion-mnist, next slot ") and "02:00:00 CE" in out
    s = Store().schedule("nightly")
    assert s.request.out_dir == str(tmp_path / "runs")
    assert s.request.data_dir == "/usr/share/datasets/fashion-mnist"
    args = s.request.args
    assert args[:2] == ["lenet", "fashion-mnist"] and args[-4:] == ["--data-dir", "/data", "--out", "/runs"]
    assert [args[args.index(flag) + 1] for flag in ("--device", "--epochs", "--limit", "--lr")] == ["cpu", "1", "200", "0.9"]
    assert "nightly" in cli("schedule", "list") and "no jobs yet" in cli("schedule", "list")
    shown = cli("schedule", "show", "nightly")
    assert "Europe/Berlin" in shown and "container args     cnnpipe run lenet fashion-mnist" in shown
    assert cli("schedule", "pause", "nightly") == "paused schedule nightly\n"
    assert "paused" in cli("schedule", "list")
    cli("schedule", "resume", "nightly")
    assert cli("schedule", "run-now", "nightly") == "queued job 1\n"
    listed = cli("jobs", "list")
    assert "nightly" in listed and "queued" in listed
    assert "trigger    manual" in cli("jobs", "show", "1")
    assert cli("jobs", "cancel", "1") == "cancelled job 1\n"
    assert "only queued or running jobs can be cancelled" in one_line_error(cli("jobs", "cancel", "1", code=2))
    assert "job 1 has no logs" in one_line_error(cli("jobs", "logs", "1", code=2))
    cli("schedule", "remove", "nightly")
    assert "no schedules" in cli("schedule", "list")
    assert "cancelled" in cli("jobs", "list")  # the history outlives the schedule


@pytest.mark.real_data  # the dataset's folder must exist on the host
def test_a_config_file_is_resolved_on_the_host_into_the_arguments(cli, tmp_path):
    (tmp_path / "c.toml").write_text('lr = 0.5\nbatch_size = 64\n[arch]\nactivation = "relu"\n')
    (tmp_path / "c.toml").chmod(0o600)  # private: the container never needs to read it
    cli("schedule", "add", "n", "--cron", "@daily", *GOOD, "--config", str(tmp_path / "c.toml"))
    args = Store().schedule("n").request.args
    assert "--config" not in args
    assert [args[args.index(flag) + 1] for flag in ("--lr", "--batch-size")] == ["0.5", "64"]
    assert 'arch.activation="relu"' in args


@pytest.mark.real_data  # the dataset's folder must exist on the host
def test_export_writes_the_cronjob(cli, tmp_path):
    cli("schedule", "add", "nightly", "--cron", "0 2 * * *", *GOOD)
    printed = json.loads(cli("schedule", "export", "nightly", "--kubernetes"))
    cli("schedule", "export", "nightly", "--kubernetes", "-o", str(tmp_path / "cj.json"))
    assert json.loads((tmp_path / "cj.json").read_text()) == printed
    assert printed["kind"] == "CronJob"


def test_help_and_listing_import_neither_mxnet_nor_docker_nor_croniter(tmp_path):
    import subprocess
    import sys

    code = ("import sys; from click.testing import CliRunner; from cnnpipe.cli import main\n"
            "for args in (['--help'], ['schedule', '--help'], ['jobs', 'list'], ['schedule', 'list']):\n"
            "    assert CliRunner().invoke(main, args).exit_code == 0, args\n"
            "print(sorted(m for m in ('mxnet', 'docker', 'croniter') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"CNNPIPE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.real_data  # the dataset's folder must exist on the host
def test_cancelling_a_running_job_without_an_engine_leaves_the_stop_to_the_scheduler(cli, monkeypatch):
    cli("schedule", "add", "nightly", "--cron", "@daily", *GOOD)
    cli("schedule", "run-now", "nightly")
    store = Store()
    with store.tx() as db:
        store.update_job(db, 1, "queued", state="running", container="abc", out_dir="/nonexistent")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    out = cli("jobs", "cancel", "1")
    assert out.startswith("cancelled job 1; its container is stopped on the scheduler's next pass")
    assert store.job(1).state == "cancelled"


def test_the_scheduler_refuses_bad_settings_and_a_missing_engine(cli, monkeypatch):
    assert "--interval must be a positive number of seconds" in one_line_error(cli("scheduler", "--interval", "0", code=2))
    assert "--interval must be at most 31622400 seconds" in one_line_error(cli("scheduler", "--interval", "1e12", code=2))
    assert "--gpus takes GPU ids" in one_line_error(cli("scheduler", "--once", "--gpus", "0,,1", code=2))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert "cannot reach a Docker engine" in one_line_error(cli("scheduler", "--once", code=3))
