"""The README's fresh-machine commands, verbatim, in minimal Debian root filesystems.

Each command is taken from README.md itself: the fenced block after a ``<!-- fresh: SUITE KIND -->``
line.  A root filesystem is built with mmdebstrap from Debian's packages only (python3 and
ca-certificates: no venv module, no pip), imported into Docker, and the command runs inside as root
on a copy of the checkout, with the host's network and CA store and nothing else of the host.

    python benchmarks/fresh_machine.py [bookworm trixie]

times each main command with empty caches and writes benchmarks/fresh-machine.json and .md
(the figures the README quotes).  tests/test_fresh_machine.py uses the same functions.

    python benchmarks/fresh_machine.py test-command [SECONDS]

runs the README's test command in a fresh Debian 12 with its own Docker engine (with CI=true, as
.ci/run does; the whole suite's time, or stopped after SECONDS) and writes benchmarks/fresh-test-command.log.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CA = "/etc/ssl/certs/ca-certificates.crt"
PYTHONS = {"bookworm": "Debian 12", "trixie": "Debian 13"}
MARK = re.compile(r"<!--\s*fresh:\s*(\S+)\s+(\S+)\s*-->\s*\n+```[a-z]*\n(.*?)\n```", re.S)
# What a run downloaded: apt's "Fetched N MB" lines (package lists and .deb files) and pip's "Downloading
# NAME (N MB)" lines (pip's HTTP cache stays empty here: the index's answers are not cacheable).
ENGINE_INSIDE = ("--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined")
FETCHED = re.compile(r"^Fetched ([0-9.,]+) ([kMG]?)B in", re.M)
DOWNLOADING = re.compile(r"^\s*Downloading \S+ \(([0-9.,]+) ([kMG]?)B\)", re.M)
UNITS = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}


def readme_commands(readme: Path = ROOT / "README.md") -> dict[tuple[str, str], str]:
    """``{(suite, kind): command}`` for every marked command block of the README."""
    found = {(suite, kind): body.strip() for suite, kind, body in MARK.findall(readme.read_text())}
    if not found:
        raise LookupError(f"{readme} has no '<!-- fresh: SUITE KIND -->' command block")
    return found


def image_name(suite: str) -> str:
    return f"cnnpipe-fresh:{suite}"


def build_rootfs(suite: str, include: str = "python3,ca-certificates") -> str:
    """A minimal Debian ``suite`` imported as a Docker image (about two minutes); returns its name."""
    name = image_name(suite)
    subprocess.run(
        f"set -o pipefail; mmdebstrap --quiet --variant=minbase --include={include} {suite} - "
        f"| docker import --change 'ENV LANG=C.UTF-8' - {name}",
        shell=True, check=True, executable="/bin/bash", stdout=subprocess.DEVNULL)
    return name


def checkout_tar(folder: Path) -> Path:
    """The checkout's files (tracked and untracked, not ignored ones) as ``folder/checkout.tar``."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    path = folder / "checkout.tar"
    with tarfile.open(path, "w") as tar:
        for name in filter(None, listed):
            if (ROOT / name).exists():
                tar.add(ROOT / name, arcname=name, recursive=False)
    return path


def run_inside(image: str, script: str, tar: Path, *, pip_cache: Path | None = None, timeout: float = 3600):
    """Runs ``script`` with bash in a fresh container of ``image``, in a copy of the checkout at /root/cnnpipe.

    Returns ``(exit code, output)``.  Only the CA store, the checkout and (when given) a pip download
    cache are mounted; the network is the host's, for apt and pip.
    """
    mounts = ["-v", f"{CA}:/ca.crt:ro", "-v", f"{tar}:/mnt/checkout.tar:ro"]
    if pip_cache is not None:
        mounts += ["-v", f"{pip_cache}:/root/.cache/pip"]
    setup = "mkdir -p /root/cnnpipe && tar -xf /mnt/checkout.tar -C /root/cnnpipe && cd /root/cnnpipe"
    command = ["docker", "run", "--rm", "--network", "host", *mounts, "-e", "PIP_CERT=/ca.crt",
               "-e", "SSL_CERT_FILE=/ca.crt", "-e", "DEBIAN_FRONTEND=noninteractive", image,
               "bash", "-c", f"{setup} && {script}"]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return done.returncode, done.stdout


def final_accuracy(output: str) -> float | None:
    """The test accuracy on the ``done: test acc X after N epochs`` line, if any."""
    found = re.findall(r"^done: test acc ([0-9.]+) after", output, re.M)
    return float(found[-1]) if found else None


def measure(suite: str, command: str, tar: Path) -> dict:
    """One timed run of ``command`` with empty caches, and what it downloaded."""
    start = time.monotonic()
    code, shown = run_inside(image_name(suite), command, tar)
    seconds = time.monotonic() - start
    parts = {tool: sum(float(n.replace(",", "")) * UNITS[u] for n, u in pattern.findall(shown))
             for tool, pattern in (("apt", FETCHED), ("pip", DOWNLOADING))}
    return {
        "suite": suite, "system": PYTHONS.get(suite, suite), "command": command, "exit_code": code,
        "seconds": round(seconds, 1), "downloaded_mb": round(sum(parts.values()) / 1e6, 1),
        "downloaded_parts_mb": {k: round(v / 1e6, 1) for k, v in parts.items()},
        "test_acc": final_accuracy(shown), "last_lines": shown.strip().splitlines()[-8:],
    }


def machine() -> dict:
    """What the figures were measured on."""
    cpu = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpu)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": commit,
        "cpu": model.group(1) if model else platform.processor(), "cores": os.cpu_count(),
        "avx512": sorted(set(re.findall(r"avx512[a-z]*", cpu))),
        "load_average": list(os.getloadavg()), "kernel": platform.release(),
    }


def write_report(runs: list[dict], out: Path = ROOT / "benchmarks") -> None:
    """``fresh-machine.json`` and the table of ``fresh-machine.md``; runs of other suites already there are kept."""
    path = out / "fresh-machine.json"
    kept = json.loads(path.read_text())["runs"] if path.exists() else []
    runs = [r for r in kept if r["suite"] not in {n["suite"] for n in runs}] + runs
    for run in runs:
        run.setdefault("machine", machine())
    record = {"script": "python benchmarks/fresh_machine.py " + " ".join(r["suite"] for r in runs),
              "machine": machine(), "runs": runs}
    for run in runs:
        run["minutes"] = round(run["seconds"] / 60, 1)
    (out / "fresh-machine.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "fresh-machine.md").write_text(markdown(record))


def markdown(record: dict) -> str:
    """``fresh-machine.md`` as rendered from its record."""
    m, runs = record["machine"], record["runs"]
    lines = [
        "# The README's main commands on fresh Debian machines",
        "",
        f"Written by `{record['script']}` on {m['date']} (commit {m['commit'][:10]}): each command taken from",
        "README.md, run verbatim as root in a minimal Debian root filesystem (mmdebstrap minbase with python3 and",
        "ca-certificates only) with empty apt and pip caches, the host's network and CA store.",
        f"Machine: {m['cpu']}, {m['cores']} cores, AVX-512: {', '.join(m['avx512']) or 'none'},",
        "Other work shared the cores: the load average after each run is in the table.",
        "Downloaded = apt's \"Fetched\" lines (package lists and .deb files) + pip's \"Downloading NAME (SIZE)\" lines.",
        "",
        "| system | exit | time | downloaded | final test acc | load after | measured |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(f"| {r['system']} | {r['exit_code']} | {r['minutes']:.1f} min | {r['downloaded_mb']:.0f} MB "
                     f"| {r['test_acc']} | {r['machine']['load_average'][0]:.1f} | {r['machine']['date']} |")
    for r in runs:
        lines += ["", f"## {r['system']}", "", "```", r["command"], "```", "", "```", *r["last_lines"], "```"]
    return "\n".join(lines) + "\n"


def run_test_command(tar: Path, timeout: float | None = None,
                     log: Path = ROOT / "benchmarks" / "fresh-test-command.log") -> int:
    """The README's test command, verbatim, in a fresh Debian 12 that runs its own Docker engine.

    The container may do what an engine inside needs (:data:`ENGINE_INSIDE`: this host's engine refuses
    --privileged) and keeps the engine's storage in a volume of its own (removed with it); the log starts
    with the date, commit and command and ends with the exit code and time.
    """
    command = readme_commands()[("bookworm", "test")]
    setup = "mkdir -p /root/cnnpipe && tar -xf /mnt/checkout.tar -C /root/cnnpipe && cd /root/cnnpipe"
    start, m = time.monotonic(), machine()
    with open(log, "w") as out:
        out.write(f"# {m['date']} commit {m['commit']}\n# {m['cpu']}, {m['cores']} cores, AVX-512: "
                  f"{' '.join(m['avx512']) or 'none'}\n# README test command, verbatim: {command}\n")
        out.flush()
        name = f"cnnpipe-fresh-test-{os.getpid()}"
        command_line = [
            "docker", "run", "--rm", "--name", name, *ENGINE_INSIDE, "--network", "host", "-v", "/var/lib/docker",
            "-v", f"{CA}:/ca.crt:ro", "-v", f"{tar}:/mnt/checkout.tar:ro", "-e", "PIP_CERT=/ca.crt",
            "-e", "SSL_CERT_FILE=/ca.crt", "-e", "CI=true", image_name("bookworm"),
            "bash", "-c", f"{setup} && {command}"]
        try:
            code = subprocess.run(command_line, stdout=out, stderr=subprocess.STDOUT, timeout=timeout).returncode
            end = f"exit {code}"
        except subprocess.TimeoutExpired:
            subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True)
            code, end = 124, "NOT FINISHED: stopped at the time limit"
        out.write(f"# {end} after {time.monotonic() - start:.0f} s, load average {os.getloadavg()[0]:.1f}\n")
    return code


def main(suites: list[str]) -> int:
    commands = readme_commands()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        tar = checkout_tar(Path(tmp))
        if suites[:1] == ["test-command"]:
            return run_test_command(tar, float(suites[1]) if suites[1:] else None)
        for suite in suites:
            if subprocess.run(["docker", "image", "inspect", image_name(suite)], capture_output=True).returncode:
                build_rootfs(suite)
            run = measure(suite, commands[(suite, "main")], tar)
            run["machine"] = machine()
            print(json.dumps(run, indent=1), flush=True)
            runs.append(run)
    write_report(runs)
    return 0 if all(r["exit_code"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["bookworm", "trixie"]))
