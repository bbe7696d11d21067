"""What ``--runner docker`` adds to a short run: ``python benchmarks/docker_overhead.py`` writes
``docker_overhead.json`` and ``docker_overhead.md`` next to itself (or into ``--out``).

The same ``cnnpipe run`` is timed locally and with ``--runner docker``, each in a fresh process, in
interleaved rounds (the order alternates) so that a busy shared machine slows both alike.  The added
time of a round is its docker time minus its local time; the figure is their median.  The container's
own lifetime comes from ``container.json`` in the run folder (the engine's start and stop times).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
CNNPIPE = [str(Path(sys.executable).parent / "cnnpipe")]
DATA = "/usr/share/datasets/fashion-mnist"


def machine() -> dict:
    """CPU (with its AVX-512 flags), cores, load, and the versions of what was measured."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name")),
                 platform.processor())
    versions = {}
    for dist in ("cnnpipe", "mxnet", "numpy", "docker"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    engine = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True)
    versions["docker engine"] = engine.stdout.strip() or None
    return {
        "cpu": model,
        "avx512": sorted(set(re.findall(r"avx512[a-z]*", info))),
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def timed(args: list[str], out: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([*CNNPIPE, *args, "--out", str(out)], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"failed: cnnpipe {' '.join(args)}\n{done.stderr[-2000:]}")
    return elapsed


def lifetime(out: Path) -> float | None:
    """Seconds between the container's start and stop, from the run folder's ``container.json``."""
    [run_dir] = [p for p in out.iterdir() if (p / "container.json").is_file()]
    ran = json.loads((run_dir / "container.json").read_text())

    def parse(stamp: str) -> float:  # RFC 3339 with nanoseconds: keep microseconds for fromisoformat
        head, _, frac = stamp.rstrip("Z").partition(".")
        return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00").timestamp()

    return parse(ran["finished"]) - parse(ran["started"]) if ran.get("started") and ran.get("finished") else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", default="lenet")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE)
    opts = parser.parse_args()

    run = ["run", opts.model, "fashion-mnist", "--limit", str(opts.limit), "--epochs", str(opts.epochs),
           "--data-dir", DATA]
    build = subprocess.run([*CNNPIPE, "image", "build", "-q"], capture_output=True, text=True)
    if build.returncode != 0:
        sys.exit(f"cnnpipe image build failed:\n{build.stderr}")
    image = build.stdout.strip()
    variants = {"local": run, "docker": [*run, "--runner", "docker", "--image", image]}
    load_start = os.getloadavg()[0]
    rounds = []
    with tempfile.TemporaryDirectory(prefix="cnnpipe-docker-overhead-") as tmp:
        for name, args in variants.items():  # warm-up: page cache, the dataset's decoded cache, the image's layers
            timed(args, Path(tmp) / f"warm-{name}")
        for i in range(opts.rounds):
            order = list(variants) if i % 2 == 0 else list(reversed(variants))
            seconds, life = {}, None
            for name in order:
                out = Path(tmp) / f"{i}-{name}"
                seconds[name] = timed(variants[name], out)
                if name == "docker":
                    life = lifetime(out)
                shutil.rmtree(out, ignore_errors=True)
            rounds.append({"order": order, "seconds": seconds, "added": seconds["docker"] - seconds["local"],
                           "container_lifetime": life})
            print(f"round {i + 1}: local {seconds['local']:.2f} s, docker {seconds['docker']:.2f} s, "
                  f"added {rounds[-1]['added']:.2f} s, container {life:.2f} s", file=sys.stderr)

    def median(key, sub=None):
        values = [r[key][sub] if sub else r[key] for r in rounds]
        return round(statistics.median(v for v in values if v is not None), 3)

    result = {
        "command": " ".join(["python", "benchmarks/docker_overhead.py", *sys.argv[1:]]),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {**machine(), "load_average_at_start": round(load_start, 2),
                    "load_average_at_end": round(os.getloadavg()[0], 2)},
        "image": image,
        "local_command": "cnnpipe " + " ".join(run) + " --out DIR",
        "docker_command": "cnnpipe " + " ".join(variants["docker"]) + " --out DIR",
        "rounds": rounds,
        "median": {"local": median("seconds", "local"), "docker": median("seconds", "docker"),
                   "added": median("added"), "container_lifetime": median("container_lifetime")},
        "added_range": [round(min(r["added"] for r in rounds), 3), round(max(r["added"] for r in rounds), 3)],
    }
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "docker_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    (opts.out / "docker_overhead.md").write_text(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    m, med = r["machine"], r["median"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    lines = [
        "# What `--runner docker` adds to a short run",
        "",
        f"Command: `{r['command']}` (JSON: `docker_overhead.json`), measured {r['measured']}.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, AVX-512: {', '.join(m['avx512']) or 'none'}; load average "
        f"{m['load_average_at_start']} at start, {m['load_average_at_end']} at end (a shared machine); "
        f"Python {m['python']}, {m['platform']}; {versions}.",
        "",
        f"Local: `{r['local_command']}`; Docker: `{r['docker_command']}`, image `{r['image']}`. Each in a fresh "
        f"process, {len(r['rounds'])} interleaved rounds after one warm-up run of each.",
        "",
        "| | median seconds |",
        "|---|---:|",
        f"| local run (wall time of the command) | {med['local']:.2f} |",
        f"| `--runner docker` (wall time of the command) | {med['docker']:.2f} |",
        f"| added by the Docker path (docker - local, per round) | {med['added']:.2f} "
        f"(range {r['added_range'][0]:.2f} to {r['added_range'][1]:.2f}) |",
        f"| the container's lifetime (engine start to stop) | {med['container_lifetime']:.2f} |",
        "",
        "| round | order | local s | docker s | added s | container s |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for i, rd in enumerate(r["rounds"], 1):
        life = "-" if rd["container_lifetime"] is None else f"{rd['container_lifetime']:.2f}"
        lines.append(f"| {i} | {', '.join(rd['order'])} | {rd['seconds']['local']:.2f} | {rd['seconds']['docker']:.2f} "
                     f"| {rd['added']:.2f} | {life} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
