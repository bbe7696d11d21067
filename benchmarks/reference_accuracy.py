"""Train every installed model with its book recipe and set the results beside the book's accuracies.

Registry-driven: every installed model with a recipe for the dataset is trained through the normal
cnnpipe pipeline (the same ``prepare``/``execute`` the ``cnnpipe run`` command uses, so each row
has a run folder). For a CPU-only machine, reduce the work and every row records what was run:

    python benchmarks/reference_accuracy.py --epochs 1 --resize-cap 28 --limit 5000 --device cpu

Each invocation is one run, added to the JSON record (``--json``): its rows replace older rows of the
same model trained the same way, other rows are kept.  The markdown page (``--markdown``) is written
from the whole record, so every figure on it comes from the JSON.
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
    p.add_argument("--backend", help="train with this backend (default: each model's own default)")
    p.add_argument("--precision", help="fp32 (default), bf16 or fp16 (the torch backend)")
    p.add_argument("--device", default="auto", help="auto, cpu, gpu or gpu:N")
    p.add_argument("--seed", default="0", help="a seed, or several (0,1,2): one row per model and seed")
    p.add_argument("--out", default="runs/reference-accuracy", help="folder for the run folders")
    p.add_argument("--note", default="", help="one line saying why this run was made, shown as its heading")
    p.add_argument("--markdown", default=str(HERE / "REFERENCE.md"), help="the page, written from the whole record")
    p.add_argument("--json", default=str(HERE / "REFERENCE.json"), help="the record this run is added to")
    p.add_argument("--render", action="store_true", help="train nothing: rewrite the page from the record")
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
    (as ``backend`` builds it, else its first)."""
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
    options = {
        "epochs": args.epochs or recipe.epochs,
        "resize": resize,
        "limit": args.limit,
        "device": args.device,
        "out": args.out,
        "reporters": [],  # the run folder's records are written whatever reporters observe
    }
    for key in ("backend", "precision"):
        if getattr(args, key):
            options[key] = getattr(args, key)
    return options


def seeds(args) -> list[int]:
    """The seeds of ``--seed``; a UsageError when one is not a whole number."""
    from cnnpipe.errors import UsageError

    try:
        found = [int(s) for s in str(args.seed).split(",") if s.strip()]
    except ValueError:
        found = []
    if not found:
        raise UsageError(f"--seed takes whole numbers separated by commas, got '{args.seed}'")
    return found


def train_one(registry, name, args, seed: int = 0) -> dict:
    """Train ``name`` through the pipeline; the row of the table (with ``error`` when it failed)."""
    from cnnpipe.pipeline import prepare, resolve
    from cnnpipe.driver import execute

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
        sec_per_epoch=sum(m["time"] for m in history) / len(history),
        images_per_sec=sum(m["images_per_sec"] for m in history) / len(history),
        history=history,  # every epoch, as cnnpipe run prints it
    )
    return row


def vars_of(recipe) -> dict:
    from dataclasses import asdict

    return asdict(recipe)


def machine() -> dict:
    """What the numbers were measured on: CPU (with its AVX-512 flags, which set MXNet's speed), load, versions."""
    import numpy as np

    from cnnpipe import __version__

    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    names = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    found = {
        "platform": platform.platform(),
        "cpu": names[0].strip() if names else "",
        "cpu_flags": sorted(set(re.findall(r"\bavx512[a-z_0-9]*", cpuinfo))),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cnnpipe": __version__,
    }
    try:
        import mxnet as mx

        found.update(mxnet=mx.__version__, gpus_visible_to_mxnet=mx.context.num_gpus())
    except ImportError:
        pass
    try:
        import torch

        found.update(torch=torch.__version__, gpus_visible_to_torch=torch.cuda.device_count())
    except ImportError:
        pass
    return found


def fmt(value, spec):
    return "—" if value is None else format(value, spec)


INTRO = """\
# Reference accuracy

Every model of the chapter trained with its book recipe through the normal cnnpipe pipeline, beside
the test accuracy *Dive into Deep Learning* (MXNet edition) printed after its full 5-epoch recipe.
A CPU cannot run the book's full recipes for the deep networks in reasonable time, so most runs below
take reductions (fewer epochs, smaller images, a subset), and every row says exactly what it ran.
Reduced rows are not comparable with the book's numbers; they show that each network trains through
the same pipeline. Batch-norm networks trained for only a few dozen steps can show a train accuracy
far above their test accuracy: their moving statistics (momentum 0.9) have not caught up with the
weights yet.

Written by `benchmarks/reference_accuracy.py` from `REFERENCE.json`, which holds every run below.
A new run adds its rows and replaces only the rows of the same model trained the same way:

    python benchmarks/reference_accuracy.py [--models a,b] [--backend B] [--precision P] [--seed 0,1,2] [--epochs N]
        [--resize-cap N] [--limit N] [--note TEXT]
"""


def row_key(row) -> tuple:
    """What makes two rows measurements of the same thing: the model and everything it was trained with."""
    ran = row.get("ran", {})
    settings = {k: v for k, v in ran.items() if k not in ("device", "train_examples", "test_examples", "input_shape")}
    settings.setdefault("backend", ran.get("trainer"))  # records before cnnpipe 0.2 said "trainer"
    settings.pop("trainer", None)
    return row["model"], json.dumps(settings, sort_keys=True)


def merge(runs: list, report: dict) -> list:
    """``runs`` with ``report`` added last; older rows it measures again are dropped, then runs left empty."""
    new = {row_key(r) for r in report["rows"]}
    kept = []
    for old in runs:
        rows = [r for r in old["rows"] if row_key(r) not in new]
        replaced = sorted({*old.get("replaced", []), *(r["model"] for r in old["rows"] if row_key(r) in new)})
        if rows:
            kept.append({**old, "rows": rows, **({"replaced": replaced} if replaced else {})})
    return kept + [report]


def read_runs(path: Path) -> list:
    """The runs recorded in ``path`` (none when it does not exist yet)."""
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    if isinstance(data, list):
        return data  # a list before the record merged runs
    return data["runs"] if "runs" in data else [data]  # one report alone, as the first versions wrote it


def describe_machine(m: dict) -> str:
    if "cpu_flags" not in m:
        flags = "CPU flags not recorded"
    else:
        flags = ", ".join(m["cpu_flags"]) or "no AVX-512"
    gpus = m.get("gpus_visible_to_mxnet", m.get("gpus_visible_to_torch"))
    frameworks = ", ".join(f"{k} {m[k]}" for k in ("mxnet", "torch") if m.get(k))
    return (f"{m['cpu'] or 'unknown CPU'} ({flags}), {m['cpu_count']} cores (load average at start "
            f"{m['load_average_at_start'][0]:.1f}, shared), {gpus} GPU(s); {m['platform']}; Python {m['python']}, "
            f"{frameworks}, numpy {m['numpy']}, cnnpipe {m['cnnpipe']}"
            + (f"; OMP_NUM_THREADS={m['omp_num_threads']}" if m.get("omp_num_threads") else "") + ".")


def recipe_epochs(recipe: dict) -> int:
    return recipe.get("epochs", recipe.get("num_epochs"))  # "num_epochs" before cnnpipe 0.2


def markdown(runs: list) -> str:
    """The page: every recorded run, its command, machine and rows."""
    lines = [INTRO]
    for n, report in enumerate(runs, 1):
        lines += [
            f"## Run {n}: {report.get('note') or report['command']}",
            "",
            f"Command (from the repository root, {report['started']} to {report['finished']}):",
            "",
            "    " + report["command"],
            "",
            f"Machine: {describe_machine(report['machine'])}",
            f"Plugins: {', '.join(f'{k} {v}' for k, v in sorted(report['plugins'].items()))}.",
            *([f"Measured again by a later run, and taken out here: {', '.join(report['replaced'])}."]
              if report.get("replaced") else []),
            "",
            "| model | backend | seed | loss | train acc | test acc | book test acc | sec/epoch | images/sec | epochs | lr "
            "| batch | resize | train/test examples |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in report["rows"]:
            ran = r.get("ran", {})
            backend = ran.get("backend", ran.get("trainer", ""))
            if ran.get("precision", "fp32") != "fp32":
                backend += f" {ran['precision']}"
            seed = ran.get("seed", "")
            if "error" in r:
                lines.append(f"| {r['model']} | {backend} | {seed} | failed: {r['error'].replace('|', '/')} | | "
                             f"| {fmt(r['book_test_acc'], '.3f')} | | | {ran.get('epochs', '')} | | | {ran.get('resize', '')} | |")
                continue
            lines.append(
                f"| {r['model']} | {backend} | {seed} | {fmt(r['train_loss'], '.4f')} | {fmt(r['train_acc'], '.3f')} "
                f"| {fmt(r['test_acc'], '.3f')} | {fmt(r['book_test_acc'], '.3f')} | {r['sec_per_epoch']:.1f} "
                f"| {r['images_per_sec']:,.0f} | {ran['epochs']} of {recipe_epochs(r['recipe'])} | {ran['lr']:g} "
                f"| {ran['batch_size']} | {ran['resize'] or 'none'} (book {r['recipe']['resize'] or 'none'}) "
                f"| {ran['train_examples']:,}/{ran['test_examples']:,} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    from cnnpipe.errors import UsageError
    from cnnpipe.files import atomic_path
    from cnnpipe.pipeline import plugin_versions
    from cnnpipe.registry import build_registry

    if args.render:
        with atomic_path(Path(args.markdown)) as tmp:
            tmp.write_text(markdown(read_runs(Path(args.json))))
        return 0
    registry = build_registry()
    try:
        registry.dataset(args.dataset)
        names = pick_models(registry, args.models, args.dataset)
        if args.backend:
            registry.backend(args.backend)
        chosen_seeds = seeds(args)
        previous = read_runs(Path(args.json))
    except UsageError as exc:
        print(f"reference_accuracy: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"reference_accuracy: cannot read the record {args.json}: {exc}", file=sys.stderr)
        return 2
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    report = {
        "command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__)] + argv),
        "note": args.note,
        "started": started,
        "machine": machine(),
        "plugins": plugin_versions(registry),
        "rows": [],
    }
    for name, seed in [(n, s) for n in names for s in chosen_seeds]:
        print(f"reference_accuracy: training {name} (seed {seed})", file=sys.stderr, flush=True)
        row = train_one(registry, name, args, seed)
        print(f"reference_accuracy: {name}: " + json.dumps({k: v for k, v in row.items() if k not in ("recipe", "ran", "history")}),
              file=sys.stderr, flush=True)
        report["rows"].append(row)
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    runs = merge(previous, report)
    with atomic_path(Path(args.json)) as tmp:
        tmp.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    with atomic_path(Path(args.markdown)) as tmp:
        tmp.write_text(markdown(runs))
    print(f"reference_accuracy: added {len(report['rows'])} row(s) to {args.json}; wrote {args.markdown}",
          file=sys.stderr)
    return 1 if any("error" in r for r in report["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
