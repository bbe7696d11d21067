"""What cnnpipe's safety checks cost on the real Fashion-MNIST: ``python benchmarks/checks.py``.

Measures, in interleaved rounds in this one process (the figures are medians):

- checking the loaded ``Data`` before a run folder exists (``cnnpipe.datacheck.check_data``), for the
  uint8 images the plugin gives and for the same images as float32 (which adds the NaN scan);
- a cached Fashion-MNIST load with the cache's fingerprints verified, against loading the same four
  ``.npy`` files with no verification;
- fingerprinting a checkpoint file (size and SHA-256, once per saved file), as MB/s.

Writes ``results-checks.json`` and ``CHECKS.md`` next to this file (or under ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import machine  # noqa: E402


def cpu_flags() -> list[str]:
    """The CPU flags that decide these speeds: AVX-512 (numpy) and SHA extensions (hashlib)."""
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags |= {f for f in line.split(":", 1)[1].split() if f.startswith("avx512") or f in ("sha_ni", "avx2")}
    return sorted(flags)


def seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def run(rounds: int, cache: Path) -> dict:
    from cnnpipe.datacheck import check_data
    from cnnpipe.files import fingerprint
    from cnnpipe.registry import build_registry
    from cnnpipe_fashion_mnist import loader

    os.environ["CNNPIPE_CACHE_DIR"] = str(cache)
    registry = build_registry()
    dataset, model = registry.dataset("fashion-mnist"), registry.model("lenet")
    loader.load(cache=cache / "fashion-mnist")  # decode once and write the cache
    (decoded,) = (cache / "fashion-mnist").glob("decoded-*")
    base = dataset.load()
    as_arrays = [np.ascontiguousarray(a) for a in (base.train_X, base.train_y, base.test_X, base.test_y)]
    float_images = [a.astype(np.float32) / 255 for a in (as_arrays[0], as_arrays[2])]

    def fresh(float32: bool):
        data = dataset.load()
        data.train_X, data.train_y, data.test_X, data.test_y = as_arrays
        if float32:
            data.train_X, data.test_X = float_images
        return data

    with tempfile.NamedTemporaryFile(dir=cache) as big:
        big.write(os.urandom(64 << 20))
        big.flush()
        samples = {"check_data uint8": [], "check_data float32": [], "cached load, verified": [],
                   "cached load, not verified": [], "fingerprint 64 MiB": []}
        for _ in range(rounds):
            uint8, float32 = fresh(False), fresh(True)
            samples["check_data uint8"].append(seconds(lambda: check_data(uint8, dataset, model)))
            samples["check_data float32"].append(seconds(lambda: check_data(float32, dataset, model)))
            samples["cached load, verified"].append(seconds(
                lambda: [np.asarray(a).sum() for a in loader.load(cache=cache / "fashion-mnist")]))
            samples["cached load, not verified"].append(seconds(
                lambda: [np.load(p, mmap_mode="r").sum() for p in sorted(decoded.glob("*.npy"))]))
            samples["fingerprint 64 MiB"].append(seconds(lambda: fingerprint(big.name)))
    medians = {k: statistics.median(v) for k, v in samples.items()}
    return {"seconds": medians, "all_seconds": samples, "rounds": rounds,
            "fingerprint_mb_per_s": 64 * 1.048576 / medians["fingerprint 64 MiB"],
            "examples": {"train": len(base.train_X), "test": len(base.test_X)}}


def markdown(results: dict, command: str) -> str:
    m = results["machine"]
    v = ", ".join(f"{k} {x}" for k, x in m["versions"].items() if x)
    s = results["checks"]["seconds"]
    rows = "\n".join(f"| {name} | {secs * 1000:.1f} |" for name, secs in s.items())
    extra = s["cached load, verified"] - s["cached load, not verified"]
    return f"""# What the safety checks cost

Written by `{command}`; JSON: `results-checks.json`.

Machine: {m['cpu']}, {m['cores']} cores, CPU flags {', '.join(results['cpu_flags'])}.
Load average {m['load_average_at_start']} at start and {m['load_average_at_end']} at the end (a shared machine: the
figures are slower than on an idle one). Python {m['python']}; {v}; measured {m['date']}.

Real Fashion-MNIST ({results['checks']['examples']['train']:,} training and {results['checks']['examples']['test']:,}
test images), median of {results['checks']['rounds']} interleaved rounds. Loads touch every byte (a sum), as a run does.

| step | milliseconds |
|---|---:|
{rows}

Verifying the decoded cache costs {extra * 1000:.0f} ms per run; fingerprinting checkpoint files runs at
{results['checks']['fingerprint_mb_per_s']:.0f} MB/s (a LeNet checkpoint is 0.2 MB).
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    command = "python benchmarks/checks.py" + (f" --rounds {args.rounds}" if args.rounds != 7 else "")
    results = {"command": command, "machine": machine(), "cpu_flags": cpu_flags()}
    with tempfile.TemporaryDirectory() as cache:
        results["checks"] = run(args.rounds, Path(cache))
    results["machine"]["load_average_at_end"] = round(os.getloadavg()[0], 2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results-checks.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "CHECKS.md").write_text(markdown(results, command))
    print(markdown(results, command))


if __name__ == "__main__":
    main()
