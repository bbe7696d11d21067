"""Train every installed model with its book recipe and set the results beside the book's accuracies.

Registry-driven: every installed model with a recipe for the dataset is trained through the normal
cnnpipe pipeline (the same ``prepare``/``execute`` the ``cnnpipe run`` command uses, so each row
has a run folder). For a CPU-only machine, reduce the work and every row records what was run:

    python benchmarks/reference_accuracy.py --epochs 1 --resize-cap 28 --limit 5000 --device cpu

Writes a markdown table and a JSON file (``--markdown``, ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path

# The test accuracy the book (d2l, MXNet edition, chapter 5) prints after 5 epochs on Fashion-MNIST.
BOOK_TEST_ACC = {
    "lenet": 0.754,
    "lenet-bn-scratch": 0.870,
    "lenet-bn": 0.881,
    "alexnet": 0.867,
    "vgg": 0.909,
    "vgg11": 0.909,
    "nin": 0.812,
    "googlenet": 0.883,
    "resnet18": 0.913,
    "resnet": 0.913,
    "densenet": 0.879,
}
HERE = Path(__file__).resolve().parent


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", help="comma-separated model names (default: every model with a recipe for the dataset)")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--epochs", type=int, help="train this many epochs instead of the recipe's")
    p.add_argument("--resize-cap", type=int,
                   help="resize images to at most this size, or the smallest size above it a network accepts")
    p.add_argument("--limit", type=int, help="use only the first N examples of each split")
    p.add_argument("--device", default="auto", help="auto, cpu, gpu or gpu:N")
    p.add_argument("--backend", help="mxnet, torch, ... (default: each model's first)")
    p.add_argument("--precision", help="fp32 (default), bf16 or fp16 (torch)")
    p.add_argument("--seed", default="0", help="a seed, or several (0,1,2): one row per model and seed")
    p.add_argument("--out", default="runs/reference-accuracy", help="folder for the run folders")
    p.add_argument("--markdown", default=str(HERE / "REFERENCE.md"))
    p.add_argument("--json", default=str(HERE / "REFERENCE.json"))
    p.add_argument("--render", metavar="JSON", help="only rewrite --markdown from a JSON file this script wrote")
    return p.parse_args(argv)


def pick_models(registry, names, dataset):
    """The models to train: those named (each must exist) or every one with a recipe for ``dataset``."""
    from cnnpipe.errors import UsageError

    if names:
        chosen = [n.strip() for n in names.split(",") if n.strip()]
        for name in chosen:
            spec = registry.model(name)
            if dataset not in spec.recipes:
                raise UsageError(f"model '{name}' has no recipe for dataset '{dataset}'")
        return chosen
    return [n for n in registry.names("models") if dataset in registry.model(n).recipes]


def smallest_size(registry, spec, low, high, channels, backend=None):
    """The smallest square size from ``low`` up to ``high`` (in steps of 4) that the network accepts
    (as built by ``backend``, else its first)."""
    backend = registry.backend(backend or spec.backends[0]).load()
    for size in [*range(low, high, 4), high]:
        try:
            backend.describe(spec, spec.arch, (1, channels, size, size))
            return size
        except Exception:  # too small for the architecture: shapes shrink to nothing
            continue
    return high


def options_for(registry, name, recipe, args) -> dict:
    """The run options: the recipe, reduced as asked.

    A capped size too small for the architecture (DenseNet's transitions, AlexNet's strides) is
    raised to the smallest one it accepts, never above the recipe's.
    """
    resize = recipe.resize
    if args.resize_cap and resize and resize > args.resize_cap:
        channels = registry.dataset(args.dataset).input_shape[0] or 1
        resize = smallest_size(registry, registry.model(name), args.resize_cap, recipe.resize, channels, args.backend)
    return {
        "epochs": args.epochs or recipe.epochs,
        "resize": resize,
        "limit": args.limit,
        "device": args.device,
        "backend": args.backend,
        "precision": args.precision,
        "out": args.out,
        "reporters": [],  # the run folder's records are written whatever reporters observe
    }


def seeds(args) -> list[int]:
    """The seeds of ``--seed``; a UsageError when one is not a whole number."""
    from cnnpipe.errors import UsageError

    try:
        return [int(s) for s in str(args.seed).split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--seed takes whole numbers separated by commas, got '{args.seed}'")


def train_one(registry, name, args, seed=0) -> dict:
    """Train ``name`` through the pipeline; the row of the table (with ``error`` when it failed)."""
    from cnnpipe.pipeline import prepare, resolve
    from cnnpipe.run import execute

    recipe = registry.model(name).recipes[args.dataset]
    row = {"model": name, "book_test_acc": BOOK_TEST_ACC.get(name), "recipe": vars_of(recipe)}
    options = {**options_for(registry, name, recipe, args), "seed": seed}
    try:
        run, reporters = prepare(registry, resolve(registry, name, args.dataset, options=options))
        row["run_dir"] = str(run.run_dir.path)
        row["ran"] = {k: getattr(run.config, k) for k in
                      ("epochs", "lr", "batch_size", "optimizer", "init", "resize", "limit", "device", "seed", "backend",
                       "precision")}
        row["ran"].update(train_examples=len(run.data.train_X), test_examples=len(run.data.test_X),
                          input_shape=list(run.data.input_shape))
        execute(run, reporters)
    except Exception as exc:  # one failing model must not stop the table
        row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return row
    history = run.history
    last = history[-1]
    row.update(
        train_loss=last["train_loss"],
        train_acc=last["train_acc"],
        test_acc=last["test_acc"],
        test_acc_by_epoch=[m["test_acc"] for m in history],
        sec_per_epoch=sum(m["time"] for m in history) / len(history),
        images_per_sec=sum(m["images_per_sec"] for m in history) / len(history),
    )
    return row


def vars_of(recipe) -> dict:
    from dataclasses import asdict

    return asdict(recipe)


def frameworks() -> dict:
    """The version and visible GPUs of each installed framework (``None`` where one is missing)."""
    found = {}
    try:
        import mxnet as mx

        found["mxnet"], found["gpus_visible_to_mxnet"] = mx.__version__, mx.context.num_gpus()
    except ImportError:
        found["mxnet"] = None
    try:
        import torch

        found["torch"], found["gpus_visible_to_torch"] = torch.__version__, torch.cuda.device_count()
    except ImportError:
        found["torch"] = None
    return found


def machine() -> dict:
    """What the numbers were measured on."""
    import numpy as np

    from cnnpipe import __version__

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average_at_start": list(os.getloadavg()),
        "cpu_flags": cpu_flags(),
        "python": platform.python_version(),
        **frameworks(),
        "numpy": np.__version__,
        "cnnpipe": __version__,
    }


def cpu_flags() -> list[str]:
    """The CPU's AVX-512 flags (oneDNN's kernels, and so MXNet's speed, depend on them)."""
    try:
        return sorted(set(re.findall(r"\bavx512[a-z0-9_]*", Path("/proc/cpuinfo").read_text())))
    except OSError:
        return []


def fmt(value, spec):
    return "—" if value is None else format(value, spec)


def markdown(report) -> str:
    """The report as a markdown page."""
    m = report["machine"]
    lines = [
        "# Reference accuracy",
        "",
        f"Command (run from the repository root, {report['started']} to {report['finished']}):",
        "",
        "    " + report["command"],
        "",
        f"Machine: {m['cpu'] or 'unknown CPU'}, {m['cpu_count']} cores (load average at start "
        f"{m['load_average_at_start'][0]:.1f}, shared), AVX-512: {', '.join(m.get('cpu_flags') or ['none'])}; "
        f"{m['platform']}; Python {m['python']}, "
        + ", ".join(f"{k} {m[k]}" for k in ("mxnet", "torch") if m.get(k))
        + f", numpy {m['numpy']}, cnnpipe {m['cnnpipe']}; GPUs visible: "
        + (", ".join(f"{m[k]} ({k[len('gpus_visible_to_'):]})" for k in m if k.startswith("gpus_visible_to_")) or "none")
        + (f"; OMP_NUM_THREADS={m['omp_num_threads']}" if m.get("omp_num_threads") else "") + ".",
        f"Plugins: {', '.join(f'{k} {v}' for k, v in sorted(report['plugins'].items()))}.",
        "",
        "Book: the test accuracy *Dive into Deep Learning* (MXNet edition) prints after its full 5-epoch recipe.",
        "Rows trained with reductions (fewer epochs, smaller images, a subset) are not comparable with it;",
        "the columns on the right say exactly what each row ran.",
        "",
        "| model | backend | seed | loss | train acc | test acc | book test acc | sec/epoch | images/sec | epochs | lr | batch | resize | train/test examples |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        ran = r.get("ran", {})
        if "error" in r:
            lines.append(f"| {r['model']} | {ran.get('backend', '')} | {ran.get('seed', '')} | failed: {r['error'].replace('|', '/')} | | | {fmt(r['book_test_acc'], '.3f')} | | | "
                         f"{ran.get('epochs', '')} | | | {ran.get('resize', '')} | |")
            continue
        lines.append(
            f"| {r['model']} | {ran['backend']}{'' if ran.get('precision', 'fp32') == 'fp32' else ' ' + ran['precision']} | {ran['seed']} | {fmt(r['train_loss'], '.4f')} | {fmt(r['train_acc'], '.3f')} | {fmt(r['test_acc'], '.3f')} "
            f"| {fmt(r['book_test_acc'], '.3f')} | {r['sec_per_epoch']:.1f} | {r['images_per_sec']:,.0f} "
            f"| {ran['epochs']} of {r['recipe']['epochs']} | {ran['lr']:g} | {ran['batch_size']} "
            f"| {ran['resize'] or 'none'} (book {r['recipe']['resize'] or 'none'}) "
            f"| {ran['train_examples']:,}/{ran['test_examples']:,} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.render:
        Path(args.markdown).write_text(markdown(json.loads(Path(args.render).read_text())))
        return 0
    from cnnpipe.errors import UsageError
    from cnnpipe.files import atomic_path
    from cnnpipe.pipeline import plugin_versions
    from cnnpipe.registry import build_registry

    registry = build_registry()
    try:
        registry.dataset(args.dataset)
        names = pick_models(registry, args.models, args.dataset)
        seeds(args)
    except UsageError as exc:
        print(f"reference_accuracy: {exc}", file=sys.stderr)
        return 2
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    report = {
        "command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__)] + argv),
        "started": started,
        "machine": machine(),
        "plugins": plugin_versions(registry),
        "rows": [],
    }
    for name, seed in [(n, s) for n in names for s in seeds(args)]:
        print(f"reference_accuracy: training {name} (seed {seed})", file=sys.stderr, flush=True)
        row = train_one(registry, name, args, seed)
        print(f"reference_accuracy: {name}: " + json.dumps({k: v for k, v in row.items() if k not in ("recipe", "ran")}),
              file=sys.stderr, flush=True)
        report["rows"].append(row)
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    with atomic_path(Path(args.json)) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    with atomic_path(Path(args.markdown)) as tmp:
        tmp.write_text(markdown(report))
    print(f"reference_accuracy: wrote {args.markdown} and {args.json}", file=sys.stderr)
    return 1 if any("error" in r for r in report["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
