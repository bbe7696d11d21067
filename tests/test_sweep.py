"""``cnnpipe sweep`` here: one run per combination, interrupted and resumed without re-training what finished."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cnnpipe.testing import started
from conftest import cli

TINY = ["--batch-size", "50", "--set", "arch.activation=relu"]


def folders(out):
    return sorted(p for p in out.iterdir() if (p / "config.json").is_file())


def config_of(folder):
    return json.loads((folder / "config.json").read_text())["config"]


def snapshot(folder):
    """Every file of a run folder with its modification time and size."""
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in folder.rglob("*") if p.is_file() and p.name != ".lock"}


def test_a_resumed_sweep_retrains_nothing_that_finished(tiny_dataset, tmp_path):
    out = tmp_path / "sweep"
    args = ["sweep", "lenet", tiny_dataset, *TINY, "--epochs", "60", "--grid", "lr=0.5,0.2", "--out", str(out)]
    with started([sys.executable, "-m", "cnnpipe", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                 start_new_session=True) as proc:
        # Interrupt once the second run has a checkpoint: the first has finished by then.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if any(config_of(f)["lr"] == 0.2 and (f / "checkpoints" / "epoch-001" / "state.json").is_file()
                   for f in folders(out)) if out.is_dir() else False:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "cnnpipe: sweep interrupted; run the same command again to continue it"
    first, second = sorted(folders(out), key=lambda f: -config_of(f)["lr"])
    assert json.loads((first / "summary.json").read_text())["status"] == "succeeded"
    assert json.loads((second / "summary.json").read_text())["status"] == "interrupted"
    finished = snapshot(first)
    # The checkpoints say where it resumes (metrics.jsonl is written just after them and may lag by a line).
    done_before = max(int(p.parent.name.split("-")[1]) for p in (second / "checkpoints").glob("epoch-*/state.json"))

    again = cli(*args)
    assert again.returncode == 0, again.stderr
    assert "sweep of 2 runs in" in again.stderr and "1 done, 1 to continue, 0 to start" in again.stderr
    assert f"continuing {second}" in again.stderr
    assert folders(out) == sorted([first, second])  # no new folder
    assert snapshot(first) == finished  # not a file of the finished run was touched
    log = (second / "run.log").read_text()
    assert f"resuming at epoch {done_before + 1}" in log
    metrics = [json.loads(line) for line in (second / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == list(range(1, 61))
    table = again.stdout.strip().splitlines()
    assert table[0].split()[:2] == ["RUN", "lr"]
    accs = [float(line.split()[-3]) for line in table[1:]]
    assert accs == sorted(accs, reverse=True) and len(accs) == 2

    third = cli(*args)
    assert third.returncode == 0 and "2 done, 0 to continue, 0 to start" in third.stderr
    assert snapshot(first) == finished and folders(out) == sorted([first, second])


def test_parallel_runs_prefix_their_lines(tiny_dataset, tmp_path):
    out = tmp_path / "sweep"
    # The grid's values take precedence over the options (--seed 9, --epochs 5).
    result = cli("sweep", "lenet", tiny_dataset, *TINY, "--epochs", "5", "--lr", "0.3", "--grid", "seed=1,2,3",
                 "--grid", "epochs=2", "--seed", "9", "--parallel", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert len(folders(out)) == 3 and {config_of(f)["seed"] for f in folders(out)} == {1, 2, 3}
    for seed in (1, 2, 3):
        assert f"[seed={seed} epochs=2] epoch 2, loss" in result.stderr
    assert all(config_of(f)["lr"] == 0.3 and config_of(f)["epochs"] == 2 for f in folders(out))


def test_the_default_folder_and_a_failed_run(tiny_dataset, tmp_path, install_plugin):
    install_plugin("boom-reporter", {"boom_reporter": '''
from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import ReporterSpec

class Boom:
    def __init__(self, run):
        self.seed = run.config.seed

    @hookimpl
    def cnnpipe_on_epoch_end(self, run, metrics):
        if self.seed == 2 and metrics["epoch"] == 1:
            raise RuntimeError("boom")

@hookimpl
def cnnpipe_register_reporters(register):
    register(ReporterSpec("boom", Boom))
'''}, {"boom": "boom_reporter"})
    args = ["sweep", "lenet", tiny_dataset, *TINY, "--epochs", "2", "--lr", "0.3", "--grid", "seed=1,2",
            "--reporter", "boom"]
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == ("cnnpipe: error: 1 of 2 runs of the sweep did not succeed; "
                                                      "run the same command again to continue them")
    out = tmp_path / "runs" / f"sweep-lenet-{tiny_dataset}"
    assert len(folders(out)) == 2
    assert "failed" in result.stdout and "succeeded" in result.stdout


def test_bad_grids_are_one_line_before_anything_runs(tiny_dataset, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    base = ["sweep", "lenet", tiny_dataset, "--epochs", "1", "--lr", "0.1", "--batch-size", "50"]
    cases = [
        ([], "a sweep needs at least one --grid KEY=VALUE,VALUE..."),
        (["--grid", "lr"], "--grid takes KEY=VALUE,VALUE..., got 'lr'"),
        (["--grid", "seed=1,,2"], "--grid seed has an empty value"),
        (["--grid", "seed=1,1"], "--grid seed lists a value twice"),
        (["--grid", "seed=1", "--grid", "seed=2"], "--grid names seed twice"),
        (["--grid", "out=a,b"], "--grid cannot vary out"),
        (["--grid", "speed=1,2"], "unknown setting 'speed' in --grid"),
        (["--grid", "batch-size=10,ten"], "batch-size must be a whole number of at least 1, got 'ten' (in --grid)"),
        (["--grid", "arch.width=1,2"], "model 'lenet' has no architecture argument 'width'"),
        (["--grid", "backend=mxnet,jax"], "model 'lenet' has no jax build"),
        # Values only a backend can judge: every combination is built before the first run starts.
        (["--grid", "arch.activation=relu,bogus"], "model 'lenet' rejected its architecture arguments"),
        (["--grid", "backend=mxnet,torch", "--grid", "arch.activation=relu,bogus"], "unknown activation 'bogus'"),
        (["--grid", "optimizer=sgd,nosuch"], "unknown optimizer 'nosuch'"),
        (["--grid", "resize=28,2"], "model 'lenet' cannot take (1, 2, 2) inputs"),
        (["--grid", "seed=1", "--resume", "x"], "a sweep continues by itself"),
        (["--grid", "seed=1", "--memory", "1g"], "--memory only apply with --runner docker or --runner slurm"),
    ]
    for extra, message in cases:
        result = cli(*base, *extra, cwd=work)
        assert result.returncode == 2, (extra, result.stderr)
        assert message in result.stderr and result.stderr.count("\n") == 1, (extra, result.stderr)
    assert list(work.iterdir()) == []
