"""Training on several workers: measured images/s here, bytes exchanged per step, and a cost model.

    python benchmarks/distributed.py [--rounds 3] [--limit 20000] [--out DIR]

writes ``benchmarks/distributed.json`` and ``benchmarks/distributed.md`` (see docs/distributed.md):

- images/s of LeNet on Fashion-MNIST with 1 and 2 workers, for each backend, through ``cnnpipe run``
  (``--workers 2`` starts MXNet's parameter server or torchrun on 127.0.0.1); the second epoch's figure
  from metrics.jsonl, median of interleaved rounds, and the median of each round's ratio to 1 worker;
- each network's trainable parameters and the bytes one worker pushes and pulls per step (4 per parameter);
- the compute time of one ResNet-18 step on this CPU, and the communication time of a step against
  workers and bandwidth (ResNet-18, 10, 25 and 100 Gb/s), with the speed-up it allows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import machine

HERE = Path(__file__).resolve().parent
BANDWIDTHS_GBPS = (10, 25, 100)
WORKER_COUNTS = (1, 2, 4, 8, 16)
RESNET18_PARAMS = 11.2e6  # the figure the cost model is stated for (cnnpipe's resnet18: see "networks")
LENET = ("lenet", "fashion-mnist", "--epochs", "2", "--device", "cpu", "--reporter", "console")


def cpu_flags() -> list[str]:
    """The AVX-512 flags of this CPU (MXNet's oneDNN picks kernels by them)."""
    try:
        words = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return []
    return sorted({w for w in words if w.startswith("avx512")})


# (backend, workers, extra environment): the 1-worker runs as users start them, and PyTorch on one thread too,
# since torchrun gives each of its ranks one thread (and cnnpipe's MXNet launcher cores / workers).
VARIANTS = (("mxnet", 1, {}), ("mxnet", 2, {}), ("torch", 1, {}), ("torch", 1, {"OMP_NUM_THREADS": "1"}),
            ("torch", 2, {}))


def label(backend: str, workers: int, env: dict) -> str:
    return f"{backend}, {workers} worker{'s' if workers > 1 else ''}" + "".join(f", {k}={v}" for k, v in env.items())


def run_lenet(backend: str, workers: int, env: dict, limit: int, out: Path) -> dict:
    """One ``cnnpipe run`` of LeNet; its second epoch's images/s and the run's wall time."""
    folder = Path(tempfile.mkdtemp(dir=out))
    args = [sys.executable, "-m", "cnnpipe", "run", *LENET, "--backend", backend, "--limit", str(limit),
            "--out", str(folder), *(["--workers", str(workers)] if workers > 1 else [])]
    clean = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1800, env={**clean, **env})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # every process of the run is reaped, so counted here
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    (run_dir,) = folder.iterdir()
    last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    return {"images_per_sec": last["images_per_sec"], "test_acc": last["test_acc"], "wall_seconds": wall,
            "cpu_seconds": cpu}


def measure(rounds: int, limit: int, out: Path) -> list[dict]:
    """Every variant once per round, rounds interleaved; the ratio to the backend's plain 1-worker run is taken
    within each round (a busy machine slows a round's runs alike), then the median."""
    samples = {v: [] for v in range(len(VARIANTS))}
    for _ in range(rounds):
        for i, (backend, workers, env) in enumerate(VARIANTS):
            samples[i].append(run_lenet(backend, workers, env, limit, out))
    rows = []
    for i, (backend, workers, env) in enumerate(VARIANTS):
        base = next(j for j, v in enumerate(VARIANTS) if v[0] == backend and v[1] == 1 and not v[2])
        runs = samples[i]
        rows.append({
            "variant": label(backend, workers, env), "backend": backend, "workers": workers, "env": env,
            "images_per_sec": statistics.median(r["images_per_sec"] for r in runs),
            "ratio_to_one_worker": statistics.median(r["images_per_sec"] / b["images_per_sec"]
                                                     for r, b in zip(runs, samples[base])),
            "wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs),
            "test_acc": statistics.median(r["test_acc"] for r in runs),
            "samples": [round(r["images_per_sec"]) for r in runs],
        })
    return rows


def networks() -> list[dict]:
    """Trainable parameters of every MXNet model at its Fashion-MNIST input size, and the bytes of one step."""
    import mxnet as mx

    from cnnpipe.backend import build_network
    from cnnpipe.registry import build_registry

    registry = build_registry()
    rows = []
    for name in registry.names("models"):
        spec = registry.model(name)
        if "mxnet" not in spec.builds or spec.task != "classification":
            continue
        recipe = spec.recipes.get("fashion-mnist")
        size = recipe.resize if recipe and recipe.resize else 28
        net = build_network(spec, "mxnet", dict(spec.arch), 10)
        net.initialize(mx.init.Xavier())
        net(mx.nd.zeros((1, 1, size, size)))
        params = sum(p.data().size for p in net.collect_params().values() if p.grad_req != "null")
        rows.append({"model": name, "input": size, "trainable_params": int(params), "push_bytes": 4 * int(params),
                     "push_and_pull_bytes": 8 * int(params)})
    return rows


def resnet_step_seconds(batch: int = 16, steps: int = 3) -> dict:
    """Seconds of one ResNet-18 training step of 256 images at 96x96 on this CPU, from ``steps`` steps of ``batch``."""
    import mxnet as mx
    from mxnet import autograd, gluon

    from cnnpipe.backend import build_network
    from cnnpipe.registry import build_registry

    spec = build_registry().model("resnet18")
    net = build_network(spec, "mxnet", dict(spec.arch), 10)
    net.initialize(mx.init.Xavier())
    net.hybridize(static_alloc=True)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.05})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    X, y = mx.nd.random.uniform(shape=(batch, 1, 96, 96)), mx.nd.zeros(batch)
    times = []
    for _ in range(steps + 1):  # the first step builds the graph
        start = time.perf_counter()
        with autograd.record():
            l = loss(net(X), y)
        l.backward()
        trainer.step(batch)
        mx.nd.waitall()
        times.append(time.perf_counter() - start)
    per_image = statistics.median(times[1:]) / batch
    return {"batch_measured": batch, "seconds_per_image": per_image, "seconds_per_step_of_256": per_image * 256}


def cost_model(params: float, compute_seconds: list[float]) -> dict:
    """Communication seconds of one step, and the speed-up of N workers, without overlap of compute and transfer.

    One worker pushes ``4 * params`` bytes and pulls as many.  A parameter server with S servers carries, per
    server link, N / S pushes in and N / S pulls out; ring all-reduce (DDP, NCCL) moves 2 (N-1) / N of the
    gradient in and out of each worker.  A step takes compute + communication; N workers process N batches.
    """
    size = 4 * params
    table = []
    for gbps in BANDWIDTHS_GBPS:
        rate = gbps * 1e9 / 8
        for n in WORKER_COUNTS:
            comm = {
                "ps_1_server": 2 * size * max(1, n) / rate if n > 1 else 0.0,
                "ps_n_servers": 2 * size / rate if n > 1 else 0.0,
                "ring_allreduce": 2 * (n - 1) / n * size / rate,
            }
            speedup = {f"{scheme}@{t:g}s": n * t / (t + c) for scheme, c in comm.items() for t in compute_seconds}
            table.append({"gbps": gbps, "workers": n, "comm_seconds": comm, "speedup": speedup})
    return {"params": params, "push_bytes": size, "compute_seconds": compute_seconds, "rows": table}


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# Training on several workers: measurements and cost model", "",
             f"Written by `{report['command']}` on {m['date']}.", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, AVX-512 flags: {', '.join(report['cpu_flags']) or 'none'}; "
             f"load average {m['load_average_at_start']} at start, {report['load_average_at_end']} at the end "
             f"(shared machine); Python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
             + ".", "",
             f"## LeNet on Fashion-MNIST, {report['limit']} training images, batch 256 per worker, "
             f"median of {report['rounds']} interleaved rounds", "",
             "| variant | images/s (2nd epoch) | / 1 worker, same round | per round | wall seconds of the run | "
             "CPU seconds of the run | test acc |", "|---|---:|---:|---|---:|---:|---:|"]
    for r in report["throughput"]:
        lines.append(f"| {r['variant']} | {r['images_per_sec']:,.0f} | {r['ratio_to_one_worker']:.2f} | "
                     f"{r['samples']} | {r['wall_seconds']:.1f} | {r['cpu_seconds']:.1f} | {r['test_acc']:.3f} |")
    lines += ["", "## Bytes each worker exchanges per step (4 bytes per trainable parameter, pushed and pulled)", "",
              "| model | input | trainable parameters | push | push + pull |", "|---|---:|---:|---:|---:|"]
    for r in report["networks"]:
        lines.append(f"| {r['model']} | {r['input']} | {r['trainable_params']:,} | {r['push_bytes'] / 1e6:.2f} MB | "
                     f"{r['push_and_pull_bytes'] / 1e6:.2f} MB |")
    c, step = report["cost_model"], report["resnet18_step"]
    lines += ["", f"## Cost model: ResNet-18, {c['params'] / 1e6:.1f} M parameters, {c['push_bytes'] / 1e6:.1f} MB "
              "per push", "",
              f"Measured here: one ResNet-18 step costs {step['seconds_per_image'] * 1e3:.1f} ms per image on this "
              f"CPU, {step['seconds_per_step_of_256']:.1f} s for 256 images.", "",
              "Communication seconds per step (no overlap with compute, no latency):", "",
              "| Gb/s | workers | parameter server, 1 server | parameter server, N servers | ring all-reduce |",
              "|---:|---:|---:|---:|---:|"]
    for r in c["rows"]:
        comm = r["comm_seconds"]
        lines.append(f"| {r['gbps']} | {r['workers']} | {comm['ps_1_server']:.3f} | {comm['ps_n_servers']:.3f} | "
                     f"{comm['ring_allreduce']:.3f} |")
    lines += ["", "Speed-up of N workers over one, N t / (t + communication), for a compute time t per step:", "",
              "| Gb/s | workers | " + " | ".join(f"t = {t:g} s, PS 1 server | t = {t:g} s, ring" for t in
                                                 c["compute_seconds"]) + " |",
              "|---:|---:|" + "---:|" * (2 * len(c["compute_seconds"]))]
    for r in c["rows"]:
        cells = [f"{r['speedup'][f'ps_1_server@{t:g}s']:.2f} | {r['speedup'][f'ring_allreduce@{t:g}s']:.2f}"
                 for t in c["compute_seconds"]]
        lines.append(f"| {r['gbps']} | {r['workers']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=20000)
    parser.add_argument("--out", default=None, help="Folder for the runs (default: a temporary one).")
    parser.add_argument("--json", default=str(HERE / "distributed.json"))
    parser.add_argument("--markdown", default=str(HERE / "distributed.md"))
    args = parser.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="cnnpipe-dist-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    report = {"command": "python benchmarks/distributed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "machine": machine(), "cpu_flags": cpu_flags(), "rounds": args.rounds, "limit": args.limit}
    report["throughput"] = measure(args.rounds, args.limit, out)
    report["networks"] = networks()
    report["resnet18_step"] = resnet_step_seconds()
    here = report["resnet18_step"]["seconds_per_step_of_256"]
    report["cost_model"] = cost_model(RESNET18_PARAMS, [0.05, 0.2, round(here, 2)])
    report["load_average_at_end"] = round(os.getloadavg()[0], 2)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    Path(args.markdown).write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
