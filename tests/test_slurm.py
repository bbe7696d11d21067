"""``--runner slurm`` against the real one-node cluster that .ci/slurm-setup.sh starts (issue 22).

Nothing is mocked: jobs go through sbatch to slurmctld and run under slurmd on this machine.  Each run
is tiny (``--limit``, one or a few epochs).
"""

import json
import subprocess
import time

import pytest

from conftest import cli

pytestmark = [pytest.mark.slurm]
TINY = ["--limit", "1000", "--epochs", "1"]
ENDED = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL")


def job_state(job_id: str) -> str:
    shown = subprocess.run(["scontrol", "show", "job", "--oneliner", job_id], capture_output=True, text=True)
    states = [item.split("=", 1)[1] for item in shown.stdout.split() if item.startswith("JobState=")]
    assert states, shown.stderr
    return states[0] if len(states) == 1 else ",".join(sorted(set(states)))


def wait_for(job_id: str, until=ENDED, timeout=300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = job_state(job_id)
        if all(s in until for s in state.split(",")):
            return state
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {job_state(job_id)} after {timeout} s")


def submitted(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def only_folder(out):
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


def metrics(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_a_run_trains_as_a_slurm_job_in_the_folder_made_at_submission(real_data, tmp_path):
    out = tmp_path / "runs"
    job = submitted(cli("run", "lenet", "fashion-mnist", *TINY, "--runner", "slurm", "--out", str(out),
                        "--timeout", "600", "--cpus", "1", "--memory", "1g"))
    folder = only_folder(out)  # made before the job ran: its config is there whatever the queue does
    assert (folder / "config.json").is_file()
    assert wait_for(job) == "COMPLETED"
    assert json.loads((folder / "summary.json").read_text())["status"] == "succeeded"
    shown = subprocess.run(["scontrol", "show", "job", "--oneliner", job], capture_output=True, text=True).stdout
    assert "TimeLimit=00:10:00" in shown and "Requeue=1" in shown and "NumTasks=1" in shown
    log = (folder / f"slurm-{job}.out").read_text()
    assert "done: test acc" in log


@pytest.mark.parametrize("backend", ["mxnet", "torch"])
def test_workers_2_are_two_slurm_tasks_acting_as_ranks(real_data, tmp_path, backend):
    out = tmp_path / "runs"
    job = submitted(cli("run", "lenet", "fashion-mnist", *TINY, "--backend", backend, "--workers", "2",
                        "--runner", "slurm", "--out", str(out)))
    assert wait_for(job) == "COMPLETED"
    folder = only_folder(out)
    tasks = 2 + (2 if backend == "mxnet" else 0)  # ps-lite adds its scheduler and a server
    shown = subprocess.run(["scontrol", "show", "job", "--oneliner", job], capture_output=True, text=True).stdout
    assert f"NumTasks={tasks}" in shown
    log = (folder / f"slurm-{job}.out").read_text()
    assert "[rank 1] INFO finished after 1 epochs" in log  # rank 1 logs to its stream, rank 0 to run.log
    assert "rank 0: finished after 1 epochs" in (folder / "run.log").read_text()
    assert json.loads((folder / "config.json").read_text())["distributed"]["workers"] == 2
    assert json.loads((folder / "summary.json").read_text())["status"] == "succeeded"


def test_a_sweep_is_a_job_array_and_the_same_command_then_compares_it(real_data, tmp_path):
    out = tmp_path / "sweep"
    sweep = ["sweep", "lenet", "fashion-mnist", "--grid", "lr=0.1,0.3,0.6,0.9", "--limit", "500", "--epochs", "1",
             "--out", str(out)]
    job = submitted(cli(*sweep, "--runner", "slurm"))
    tasks = [f"{job}_{i}" for i in range(4)]
    for task in tasks:
        assert wait_for(task) == "COMPLETED"
    again = cli(*sweep, "--runner", "slurm")  # every point done: nothing submitted, the runs compared
    assert again.returncode == 0, again.stderr
    assert "4 done, 0 to continue, 0 to start" in again.stderr
    assert len([line for line in again.stdout.splitlines() if "lenet" in line]) == 4


def test_a_job_signalled_before_its_end_requeues_itself_and_resumes_to_the_numbers_of_an_uninterrupted_run(
        real_data, tmp_path):
    run = ["lenet", "fashion-mnist", "--limit", "6000", "--epochs", "4"]
    job = submitted(cli("run", *run, "--runner", "slurm", "--out", str(tmp_path / "slurm")))
    folder = only_folder(tmp_path / "slurm")
    deadline = time.monotonic() + 300
    while not (folder / "checkpoints" / "epoch-001" / "state.json").exists():
        assert time.monotonic() < deadline and job_state(job) in ("PENDING", "RUNNING", "CONFIGURING")
        time.sleep(0.2)
    # What Slurm sends --signal's seconds before the time limit (and what preemption sends).
    subprocess.run(["scancel", "--signal=USR1", "--batch", job], check=True)
    deadline = time.monotonic() + 120
    while "Restarts=1" not in (shown := subprocess.run(["scontrol", "show", "job", "--oneliner", job],
                                                         capture_output=True, text=True).stdout):
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
    log = (folder / f"slurm-{job}.out").read_text()
    assert "cnnpipe: interrupted; continue with" in log and "requeued to continue" in log
    assert len(metrics(folder)) < 4  # stopped early, at an epoch's checkpoint
    # Slurm holds a requeued job until its credential expired (10 s on the test cluster, 120 s by default).
    uninterrupted = cli("run", *run, "--out", str(tmp_path / "here"))
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    assert wait_for(job) == "COMPLETED"
    assert "resuming at epoch" in (folder / f"slurm-{job}.out").read_text()
    numbers = ("epoch", "train_loss", "train_acc", "test_acc")
    expected = [{k: m[k] for k in numbers} for m in metrics(only_folder(tmp_path / "here"))]
    assert [{k: m[k] for k in numbers} for m in metrics(folder)] == expected


def test_cancel_stops_the_job_through_scancel_and_jobs_shows_slurms_state(real_data, tmp_path):
    job = submitted(cli("run", "lenet", "fashion-mnist", "--limit", "6000", "--epochs", "20", "--runner", "slurm",
                        "--out", str(tmp_path / "runs")))
    wait_for(job, until=("RUNNING",))
    listed = cli("slurm", "jobs")
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:2] == [job, "RUNNING"] for line in listed.stdout.splitlines()), listed.stdout
    cancelled = cli("slurm", "cancel", job)
    assert cancelled.returncode == 0 and cancelled.stdout == f"cancelled Slurm job {job}\n", cancelled.stderr
    assert wait_for(job, timeout=60) == "CANCELLED"
    assert not (only_folder(tmp_path / "runs") / "model.params").exists()


def test_nothing_is_made_when_slurm_refuses_the_job(real_data, tmp_path):
    out = tmp_path / "runs"
    result = cli("run", "lenet", "fashion-mnist", *TINY, "--runner", "slurm", "--partition", "nosuch",
                 "--out", str(out))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.startswith("cnnpipe: error: sbatch failed:") and "partition" in result.stderr.lower()
    assert not out.exists() or not any(out.iterdir())


def test_manifest_slurm_prints_the_batch_script_that_sbatch_runs(real_data, tmp_path):
    script = tmp_path / "job.sh"
    made = cli("manifest", "lenet", "fashion-mnist", "--slurm", "--backend", "torch", "--workers", "2", *TINY,
               "--out", str(tmp_path / "runs"), "--timeout", "3600", "--cpus", "1", "--memory", "2g", "-o", str(script))
    assert made.returncode == 0, made.stderr
    text = script.read_text()
    folder = only_folder(tmp_path / "runs")
    for line in ("#SBATCH --ntasks=2", "#SBATCH --time=60", "#SBATCH --cpus-per-task=1", "#SBATCH --mem=2048M",
                 "#SBATCH --requeue", "#SBATCH --signal=B:USR1@120", f"folders=({folder})"):
        assert line in text.splitlines(), line
    assert "-m cnnpipe.slurm.task torchrun 0" in text
    job = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True, check=True).stdout.strip()
    assert wait_for(job) == "COMPLETED"
    assert json.loads((folder / "summary.json").read_text())["status"] == "succeeded"


@pytest.mark.parametrize("args, message", [
    (["--runner", "slurm", "--gpus", "all"], "--gpus with --runner slurm takes a number of GPUs per node, got 'all'"),
    (["--runner", "slurm", "--image", "x"], "--image only apply with --runner docker"),
    (["--partition", "debug"], "--partition only apply with --runner slurm"),
    (["--runner", "slurm", "--port", "2000"], "--port applies to runs started here; a slurm job picks its own port"),
])
def test_bad_slurm_options_are_one_line_and_make_nothing(tmp_path, args, message):
    result = cli("run", "lenet", "fashion-mnist", *TINY, "--out", str(tmp_path / "runs"), *args)
    assert result.returncode == 2 and result.stderr == f"cnnpipe: error: {message}\n"
    assert not (tmp_path / "runs").exists()


def test_a_schedule_on_slurm_has_the_scheduler_submit_each_due_job_with_sbatch(real_data, tmp_path):
    env = {"CNNPIPE_HOME": str(tmp_path / "home"), "CNNPIPE_GPUS": "none"}
    added = cli("schedule", "add", "nightly", "--cron", "0 2 * * *", "--on", "slurm", "--", "lenet", "fashion-mnist",
                *TINY, env=env, cwd=tmp_path)
    assert added.returncode == 0 and "(on slurm)" in added.stdout, added.stderr
    assert cli("schedule", "run-now", "nightly", env=env, cwd=tmp_path).returncode == 0
    deadline = time.monotonic() + 300
    while True:
        passed = cli("scheduler", "--once", env=env, cwd=tmp_path)
        assert passed.returncode == 0, passed.stderr
        listed = cli("jobs", "list", env=env, cwd=tmp_path).stdout
        if "succeeded" in listed or "failed" in listed or "lost" in listed:
            break
        assert time.monotonic() < deadline, listed
        time.sleep(1)
    assert " succeeded " in listed and "exit 0" in listed, listed
    (job_folder,) = (tmp_path / "runs" / "nightly").iterdir()
    script = (job_folder / "slurm-job.sh").read_text()
    assert "#SBATCH --requeue" in script  # the scheduler submitted the script of cnnpipe manifest --slurm
    run = only_folder(job_folder)
    assert json.loads((run / "summary.json").read_text())["status"] == "succeeded"
    assert "done: test acc" in (job_folder / "job.log").read_text()


def test_schedule_on_slurm_refuses_what_it_cannot_do_in_one_line(tmp_path):
    env = {"CNNPIPE_HOME": str(tmp_path / "home"), "CNNPIPE_GPUS": "none"}
    added = cli("schedule", "add", "n", "--cron", "@daily", "--on", "slurm", "--grid", "lr=0.1,0.2", "--", "lenet",
                "fashion-mnist", env=env, cwd=tmp_path)
    assert added.returncode == 2
    assert added.stderr == "cnnpipe: error: --grid does not apply to schedule add --on slurm (yet: one CPU run per job)\n"
