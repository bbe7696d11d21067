"""How large the CPU job images are and how long ``cnnpipe image build`` takes: ``python benchmarks/image_sizes.py``
writes ``image_sizes.json`` and ``image_sizes.md`` next to itself (or into ``--out``).

For each backend, ``cnnpipe image build --cpu --backend B -q`` runs in a fresh process (an image already built from
the same code is reused, and the table says so); the size is the engine's for the image it names.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docker_overhead import machine  # noqa: E402  (CPU, cores, load and versions, as the other benchmarks)

HERE = Path(__file__).resolve().parent
CNNPIPE = [str(Path(sys.executable).parent / "cnnpipe")]


def build(backend: str) -> dict:
    command = [*CNNPIPE, "image", "build", "--cpu", "--backend", backend, "-q"]
    start = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {done.stderr.strip().splitlines()[-1:]}")
    name = done.stdout.strip().splitlines()[-1]
    import docker

    image = docker.from_env().images.get(name)
    return {"backend": backend, "image": name, "reused": "(reused)" in done.stderr,
            "size_bytes": image.attrs["Size"], "build_seconds": round(seconds, 1),
            "command": " ".join(["cnnpipe", *command[1:]])}


def markdown(result: dict) -> str:
    m = result["machine"]
    rows = "".join(f"| {r['backend']} | `{r['image']}` | {r['size_bytes'] / 1e9:.2f} GB | "
                   f"{'reused' if r['reused'] else str(r['build_seconds']) + ' s'} | `{r['command']}` |\n"
                   for r in result["images"])
    return (f"# Job image sizes\n\nWritten by `python benchmarks/image_sizes.py` on {result['date']}: {m['cpu']}, "
            f"{m['cores']} cores, load average {m['load_average_at_start']} at start (a shared machine); "
            f"versions {', '.join(f'{k} {v}' for k, v in m['versions'].items())}.\n\n"
            "| backend | image | size | build time | command |\n|---|---|---|---|---|\n" + rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="mxnet,torch")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    load = float(Path("/proc/loadavg").read_text().split()[0])
    images = [build(b) for b in args.backends.split(",")]
    result = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": {**machine(), "load_average_at_start": load}, "images": images}
    (args.out / "image_sizes.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "image_sizes.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
