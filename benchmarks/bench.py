"""cnnpipe's benchmark suite: ``python benchmarks/bench.py`` prints a table and writes JSON and markdown.

Every figure is a median over several runs, each in a fresh process.  Compared variants are
interleaved (A B C, A B C, ...) so that a busy shared machine slows them alike, and each comparison
is the median of the ratios measured side by side in one round.  See ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKERS = HERE / "workers.py"
MANAGED = ("OMP_NUM_THREADS", "MXNET_ENGINE_TYPE")  # unset for every variant unless it sets them itself
EPOCH_VARIANTS = ("cnnpipe", "cnnpipe-no-plot", "cnnpipe-torch", "cnnpipe-torch-one-thread", "cnnpipe-torch-compile",
                  "gluon", "gluon-per-batch-copy", "gluon-one-thread", "torch", "torch-one-thread")
# The loaded-machine comparison: cnnpipe (threads from the usable CPUs, waiting passively) against the
# hand-written loop with PyTorch's default threads, with CPU-bound neighbours running and without.
LOADED_VARIANTS = ("cnnpipe-torch", "torch")
NEIGHBOUR = "while True: pass"
BACKENDS = ("mxnet", "torch")
RATIOS = (  # (name, numerator, denominator, target): the figure is numerator time / denominator time
    ("cnnpipe / bare Gluon loop", "cnnpipe", "gluon", "<= 1.05"),
    ("cnnpipe --backend torch / hand-written PyTorch loop", "cnnpipe-torch", "torch", "<= 1.00"),
    ("cnnpipe --backend torch --compile / hand-written PyTorch loop", "cnnpipe-torch-compile", "torch", "<= 0.75"),
    # PyTorch's default threads wait for each other at every operation, which a busy machine punishes
    # unevenly; on one thread each the comparison is of the loops alone.
    ("cnnpipe --backend torch / hand-written PyTorch loop, both on one thread", "cnnpipe-torch-one-thread",
     "torch-one-thread", "<= 1.00"),
    ("cnnpipe --backend torch / cnnpipe (MXNet), both without the plot reporter", "cnnpipe-torch", "cnnpipe-no-plot",
     "(depends on AVX-512)"),
    ("cnnpipe (MXNet) / PyTorch", "cnnpipe", "torch", "(depends on AVX-512)"),
    ("cnnpipe without the plot reporter / bare Gluon loop", "cnnpipe-no-plot", "gluon", "<= 1.05"),
    ("bare Gluon / PyTorch, both on one thread", "gluon-one-thread", "torch-one-thread", "(same threads)"),
    ("bare Gluon with per-batch copies (cnnpipe before) / bare Gluon", "gluon-per-batch-copy", "gluon",
     "> 1: converting once helps"),
    ("bare Gluon on one thread / bare Gluon on MXNet's default threads", "gluon-one-thread", "gluon",
     "< 1: one thread helps"),
)


def cpu_flags() -> list[str]:
    """The CPU's AVX-512 flags: oneDNN picks MXNet's max-pool kernel by them."""
    try:
        return sorted(set(re.findall(r"\bavx512[a-z0-9_]*", Path("/proc/cpuinfo").read_text())))
    except OSError:
        return []


def machine() -> dict:
    """The CPU, its AVX-512 flags, cores, load and library versions the figures were measured with."""
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("cnnpipe", "cnnpipe-mxnet", "cnnpipe-torch", "mxnet", "numpy", "torch", "pluggy", "click"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "cpu": model,
        "cpu_flags": cpu_flags(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "user_settings": {k: os.environ[k] for k in MANAGED if k in os.environ},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def worker(args, env=None, timeout=1800) -> dict:
    """Run one measurement in a fresh process; its last stdout line is JSON."""
    proc = subprocess.run([sys.executable, str(WORKERS), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=HERE)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def base_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in MANAGED}
    env["MXNET_STORAGE_FALLBACK_LOG_VERBOSE"] = "0"
    return env


def variant_env(variant) -> dict:
    """Each library with its own defaults, except the ``-one-thread`` variants."""
    env = base_env()
    if variant.endswith("-one-thread"):
        env["OMP_NUM_THREADS"] = "1"
    return env


def bench_epochs(rounds, limit, variants, out) -> dict:
    """LeNet, one epoch plus the test pass, each variant once per round, interleaved."""
    times = {v: [] for v in variants}
    runs = {v: [] for v in variants}
    for r in range(rounds):
        for v in variants:
            result = worker(["epoch", v, limit or 0, out], variant_env(v))
            times[v].append(result["seconds"])
            runs[v].append(result)
            print(f"  round {r + 1}/{rounds} {v:20s} {result['seconds']:7.1f} s  test acc {result['test_acc']:.3f}",
                  flush=True)
    ratios = []
    for name, a, b, target in RATIOS:
        if a in times and b in times:
            paired = [x / y for x, y in zip(times[a], times[b])]
            ratios.append({"name": name, "ratio": statistics.median(paired), "per_round": paired,
                           "target": target})
    return {"seconds": {v: statistics.median(t) for v, t in times.items()}, "all_seconds": times,
            "runs": runs, "ratios": ratios, "rounds": rounds, "limit": limit}


def bench_loaded(rounds, limit, neighbours, out) -> dict:
    """LeNet epochs with ``neighbours`` CPU-bound processes running, interleaved with quiet ones."""
    quiet = {v: [] for v in LOADED_VARIANTS}
    loaded = {v: [] for v in LOADED_VARIANTS}
    for r in range(rounds):
        for v in LOADED_VARIANTS:
            quiet[v].append(worker(["epoch", v, limit or 0, out], variant_env(v))["seconds"])
        busy = [subprocess.Popen([sys.executable, "-c", NEIGHBOUR]) for _ in range(neighbours)]
        try:
            for v in LOADED_VARIANTS:
                loaded[v].append(worker(["epoch", v, limit or 0, out], variant_env(v))["seconds"])
        finally:
            for p in busy:
                p.kill()
                p.wait()
        print(f"  round {r + 1}/{rounds} " + ", ".join(f"{v} {quiet[v][-1]:.1f} s quiet, {loaded[v][-1]:.1f} s loaded"
                                                       for v in LOADED_VARIANTS), flush=True)
    med = lambda xs: statistics.median(xs)  # noqa: E731
    return {"neighbours": neighbours, "rounds": rounds, "limit": limit, "quiet": quiet, "loaded": loaded,
            "slowdown": {v: med([b / a for a, b in zip(quiet[v], loaded[v])]) for v in LOADED_VARIANTS},
            "loaded_ratio": med([a / b for a, b in zip(loaded["cnnpipe-torch"], loaded["torch"])])}


def bench_docker(rounds, out) -> dict:
    """``docker_overhead.py``'s figures (its own files go to ``out``)."""
    proc = subprocess.run([sys.executable, str(HERE / "docker_overhead.py"), "--rounds", str(rounds), "--out", str(out)],
                          env=base_env(), capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"docker_overhead.py failed:\n{proc.stderr[-3000:]}")
    result = json.loads((Path(out) / "docker_overhead.json").read_text())
    print(f"  added by --runner docker: {result['median']['added']:.2f} s (median of {rounds})", flush=True)
    return result


def bench_throughput(repeats, steps, size_cap, backends) -> list:
    """Training and inference images per second of every installed classifier in each backend, interleaved."""
    from cnnpipe.registry import build_registry

    reg = build_registry()
    rows = []
    models = [n for n in reg.names("models") if reg.model(n).task == "classification"]
    pairs = [(n, b) for n in models for b in backends if b in reg.model(n).backends]
    samples = {pair: [] for pair in pairs}
    for _ in range(repeats):
        for name, backend in pairs:
            samples[name, backend].append(worker(["throughput", name, steps, size_cap, backend], base_env()))
    for name, backend in pairs:
        s = samples[name, backend]
        rows.append({"model": name, "backend": backend, "input": s[0]["shape"],
                     "train_ips": statistics.median(x["train_ips"] for x in s),
                     "infer_ips": statistics.median(x["infer_ips"] for x in s)})
        print(f"  {name:16s} {backend:6s} {str(s[0]['shape']):20s} train {rows[-1]['train_ips']:8.0f} img/s  "
              f"inference {rows[-1]['infer_ips']:8.0f} img/s", flush=True)
    return rows


def timed_command(argv, repeats) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, env=base_env(), capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_startup(repeats, out) -> dict:
    """Wall time of ``cnnpipe --help`` and ``cnnpipe list``, and from launch to the first trained batch."""
    exe = str(Path(sys.executable).with_name("cnnpipe"))
    result = {"cnnpipe --help": timed_command([exe, "--help"], repeats),
              "cnnpipe list": timed_command([exe, "list"], repeats)}
    first = [worker(["first-batch", time.time(), out], base_env())["seconds"] for _ in range(repeats)]
    result["cnnpipe run: launch to first trained batch"] = statistics.median(first)
    for k, v in result.items():
        print(f"  {k:45s} {v:6.2f} s", flush=True)
    return result


def bench_dataset(repeats) -> dict:
    """Fashion-MNIST load: first (decode the .gz files into an empty cache) and cached."""
    first, cached = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            env = {**base_env(), "CNNPIPE_CACHE_DIR": cache}
            first.append(worker(["load"], env)["seconds"])
            cached.append(worker(["load"], env)["seconds"])
    result = {"first load (decode .gz, fill cache)": statistics.median(first),
              "cached load": statistics.median(cached)}
    for k, v in result.items():
        print(f"  {k:45s} {v:6.2f} s", flush=True)
    return result


def reached(ratio) -> str:
    """``yes``/``no`` for a ``<= x`` target, else empty."""
    target = ratio["target"]
    if not target.startswith("<="):
        return ""
    return "yes" if ratio["ratio"] <= float(target[2:]) else "no"


def markdown(results, command) -> str:
    m = results["machine"]
    v = m["versions"]
    lines = [
        "# cnnpipe benchmark results", "",
        f"Command: `{command}`", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, AVX-512: {', '.join(m.get('cpu_flags') or ['none'])}; "
        f"load average {m['load_average_at_start']} at start and {m.get('load_average_at_end', '?')} at the end "
        f"(shared machine), Python {m['python']}, {m['platform']}; "
        + ", ".join(f"{k} {val}" for k, val in v.items() if val) + f"; measured {m['date']}.", "",
        "Each variant runs with its library's default threads and engine (removed from its environment: "
        + (", ".join(f"`{k}={val}`" for k, val in m["user_settings"].items()) or "nothing was set")
        + ") unless its name says otherwise.", "",
    ]
    e = results.get("epochs")
    if e:
        n = "60 000 training and 10 000 test images" if not e["limit"] else f"{e['limit']} training and test images"
        lines += [f"## LeNet epoch ({n}, lr 0.9, batch 256), median of {e['rounds']} interleaved rounds", "",
                  "| variant | seconds | test acc (median) |", "|---|---:|---:|"]
        for var, sec in e["seconds"].items():
            acc = statistics.median(r["test_acc"] for r in e["runs"][var])
            lines.append(f"| {var} | {sec:.1f} | {acc:.3f} |")
        lines += ["", "| ratio (time / time, same round) | median | per round | target | reached |",
                  "|---|---:|---|---|---|"]
        for r in e["ratios"]:
            per = ", ".join(f"{x:.2f}" for x in r["per_round"])
            lines.append(f"| {r['name']} | {r['ratio']:.2f} | {per} | {r['target']} | {reached(r)} |")
        lines.append("")
    lo = results.get("loaded")
    if lo:
        n = "60 000 training and 10 000 test images" if not lo["limit"] else f"{lo['limit']} training and test images"
        lines += [f"## LeNet epoch with {lo['neighbours']} CPU-bound neighbours ({n}), {lo['rounds']} interleaved rounds",
                  "", "| variant | quiet seconds | loaded seconds | loaded / quiet (median) | target |",
                  "|---|---:|---:|---:|---|"]
        for v in lo["quiet"]:
            target = "<= 1.5" if v == "cnnpipe-torch" else ""
            lines.append(f"| {v} | {statistics.median(lo['quiet'][v]):.1f} | {statistics.median(lo['loaded'][v]):.1f} "
                         f"| {lo['slowdown'][v]:.2f} | {target} |")
        lines += ["", f"Loaded: cnnpipe --backend torch / hand-written loop on default threads, same round: "
                      f"{lo['loaded_ratio']:.2f} (target < 1).", ""]
    dk = results.get("docker")
    if dk:
        med = dk["median"]
        lines += ["## --runner docker overhead (docker_overhead.py)", "",
                  f"`{dk['local_command']}` against `{dk['docker_command']}`, {len(dk['rounds'])} interleaved rounds: "
                  f"local {med['local']:.2f} s, docker {med['docker']:.2f} s, added {med['added']:.2f} s "
                  f"(range {dk['added_range'][0]:.2f} to {dk['added_range'][1]:.2f}; target <= 1), "
                  f"container lifetime {med['container_lifetime']:.2f} s.", ""]
    t = results.get("throughput")
    if t:
        lines += throughput_table(t, results.get("throughput_size_cap"))
    for key, title, target in (("startup", "Start-up (wall seconds, median)", 0.5),
                               ("dataset", "Fashion-MNIST load (seconds in process, median)", 0.5)):
        if results.get(key):
            lines += [f"## {title}", "", f"| what | seconds | under {target} s |", "|---|---:|---|"]
            for k, val in results[key].items():
                goal = "yes" if val < target else "no"
                if "first trained batch" in k or "first load" in k:
                    goal = "(no target)"
                lines.append(f"| {k} | {val:.2f} | {goal} |")
            lines.append("")
    return "\n".join(lines)


def throughput_table(rows, size_cap) -> list[str]:
    """One row per model: images per second, training and inference, in each backend, and torch / mxnet."""
    cap = (f"images at most {size_cap} pixels a side (or the smallest size a network accepts) instead of the "
           f"recipe's, " if size_cap else "")
    lines = [f"## Images per second: the recipe's batch size, {cap}random data, median of the repeats", "",
             "| model | input (batch, C, H, W) | mxnet training | torch training | torch / mxnet | mxnet inference "
             "| torch inference | torch / mxnet |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    by_model: dict = {}
    for r in rows:
        by_model.setdefault(r["model"], {})[r.get("backend", "mxnet")] = r
    for model, found in by_model.items():
        mx, tc = found.get("mxnet"), found.get("torch")
        shape = tuple((mx or tc)["input"])
        cells = []
        for key in ("train_ips", "infer_ips"):
            a, b = (mx or {}).get(key), (tc or {}).get(key)
            cells += [f"{a:.0f}" if a else "-", f"{b:.0f}" if b else "-", f"{b / a:.2f}" if a and b else "-"]
        lines.append(f"| {model} | {shape} | " + " | ".join(cells) + " |")
    return lines + [""]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the epoch comparison")
    parser.add_argument("--repeats", type=int, default=5, help="runs per start-up, load and throughput figure")
    parser.add_argument("--steps", type=int, default=5, help="timed batches per throughput figure")
    parser.add_argument("--size-cap", type=int, default=0,
                        help="throughput: images at most this many pixels a side (0: the recipe's size)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="throughput: backends to measure")
    parser.add_argument("--limit", type=int, default=0, help="examples per split for the epoch (0: all)")
    parser.add_argument("--variants", default=",".join(EPOCH_VARIANTS), help="epoch variants to compare")
    parser.add_argument("--only", default="epochs,loaded,throughput,startup,dataset,docker", help="sections to run")
    parser.add_argument("--neighbours", type=int, default=2, help="loaded: CPU-bound neighbour processes")
    parser.add_argument("--docker-rounds", type=int, default=5, help="docker: interleaved rounds")
    parser.add_argument("--out", default=str(HERE), help="folder for results.json and RESULTS.md")
    parser.add_argument("--render", metavar="JSON", help="only rewrite RESULTS.md from a results.json")
    args = parser.parse_args(argv)
    if args.render:
        results = json.loads(Path(args.render).read_text())
        text = markdown(results, results.pop("command"))
        (Path(args.out) / "RESULTS.md").write_text(text + "\n")
        print(text)
        return
    only = set(args.only.split(","))
    variants = [v for v in args.variants.split(",") if v]
    if any("torch" in v for v in variants):
        try:
            metadata.version("torch")
        except metadata.PackageNotFoundError:
            print("PyTorch is not installed (pip install -r benchmarks/requirements.txt); skipping its variants")
            variants = [v for v in variants if "torch" not in v]
    results = {"machine": machine()}
    with tempfile.TemporaryDirectory() as runs:
        if "epochs" in only:
            print("LeNet epoch:", flush=True)
            results["epochs"] = bench_epochs(args.rounds, args.limit, variants, runs)
        if "loaded" in only and "torch" in " ".join(variants):
            print(f"LeNet epoch, {args.neighbours} CPU-bound neighbours:", flush=True)
            results["loaded"] = bench_loaded(args.rounds, args.limit, args.neighbours, runs)
        if "throughput" in only:
            print("Throughput:", flush=True)
            results["throughput"] = bench_throughput(args.repeats, args.steps, args.size_cap,
                                                     [b for b in args.backends.split(",") if b])
            results["throughput_size_cap"] = args.size_cap
        if "startup" in only:
            print("Start-up:", flush=True)
            results["startup"] = bench_startup(args.repeats, runs)
        if "dataset" in only:
            print("Dataset:", flush=True)
            results["dataset"] = bench_dataset(args.repeats)
        if "docker" in only:
            print("Docker:", flush=True)
            results["docker"] = bench_docker(args.docker_rounds, args.out)
    results["machine"]["load_average_at_end"] = round(os.getloadavg()[0], 2)
    command = "python benchmarks/bench.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"command": command, **results}, indent=2) + "\n")
    text = markdown(results, command)
    (out / "RESULTS.md").write_text(text + "\n")
    print()
    print(text)


if __name__ == "__main__":
    main()
